/**
 * Typed errors of the core. Every failure the core reports is an AppError with a code from
 * this union; the UI turns codes into words in one place (src/ui/messages.ts).
 */
export const ERROR_CODES = [
  "asset-load-failed", // a BIOS, kernel, initrd or disk image could not be fetched or read
  "wasm-load-failed", // the emulator's WebAssembly module could not be loaded or compiled
  "emulator-start-failed", // v86 refused the configuration or threw while starting
  "emulator-crashed", // the emulator core threw while running
  "timeout", // a deadline passed (boot, prompt, command)
  "not-running", // an operation needs a started machine
  "disposed", // the machine was shut down while waiting
  "bad-profile", // a device profile or guest description is invalid
  "bad-image", // a file that is no image virtlab knows, empty, or too large
  "image-missing", // a machine uses an image that was deleted from the library (details: machineId, machineName, missing)
  "bad-snapshot", // a snapshot file that is damaged, cut short, or not a snapshot
  "snapshot-mismatch", // a snapshot made on other hardware or by another emulator version
  "download-failed", // a snapshot link could not be downloaded (no network, no CORS, an HTTP error)
  "storage-full", // the browser's quota for this site is exhausted
  "storage-failed", // IndexedDB refused or failed an operation
  "lab-failed", // a device-lab workload failed in the guest or its result did not check out
  "lesson-failed", // a lesson's file is broken, or a step cannot act (e.g. the snapshot it names is missing)
  "bad-capture", // a packet-capture file that is not a classic pcap file, or is cut short
  "bad-network", // a virtual network's settings cannot work (an address outside its subnet, an empty pool, two interfaces on one subnet)
  "no-nic", // a machine without a network card was asked to join a network (details: subject, the machine)
  "migration-refused", // a move was refused before anything moved: another v86, other hardware, disks out of reach or locked, no network, the clock
  "migration-failed", // a move stopped half-way (the other side went away, a step failed); the source machine runs on
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** An image a machine uses that the library no longer has (storage/machines.ts). */
interface MissingImageDetail {
  /** The slot (hda, cdrom, …), "kernel" or "initrd". */
  readonly what: string;
  readonly imageId: string;
  readonly name: string | undefined;
}

/** What the browser allowed when a quota refused a file (bytes). */
type QuotaDetails = { readonly size?: number; readonly usage?: number; readonly quota?: number };

/**
 * The machine-readable context of each code: what a reader may rely on, so none casts. `subject`
 * names the file, asset, machine or field the error is about, so the user can act on it.
 */
export interface ErrorDetailsByCode {
  "asset-load-failed": {
    readonly subject: string;
    readonly url?: string;
    /** The HTTP status the server answered. */
    readonly status?: number;
    readonly expectedSize?: number;
    readonly actualSize?: number;
    /** sha256 the guest description expects, and the one the file has. */
    readonly expected?: string;
    readonly actual?: string;
  };
  "wasm-load-failed": NoDetails;
  "emulator-start-failed": { readonly deadlineMs?: number };
  "emulator-crashed": NoDetails;
  timeout: { readonly deadlineMs: number; readonly recentOutput?: string };
  "not-running": {
    readonly subject?: string;
    /** A start is under way: the operation can be asked again once it runs. */
    readonly starting?: boolean;
  };
  disposed: NoDetails;
  "bad-profile": { readonly subject?: string; readonly problems?: readonly string[] };
  "bad-image": { readonly subject?: string; readonly size?: number };
  "image-missing": { readonly subject: string; readonly machineId: string; readonly machineName: string; readonly missing: readonly MissingImageDetail[] };
  "bad-snapshot": {
    readonly subject?: string;
    readonly headerLength?: number;
    readonly rawSize?: number;
    /** Bytes expected and found. */
    readonly expected?: number;
    readonly actual?: number;
    readonly chunk?: number;
    readonly limit?: number;
  };
  /** Either the fields that differ, in words, or why no machine here can take the snapshot. */
  "snapshot-mismatch":
    | {
        readonly differences: readonly string[];
        /** The machine boots the built-in guest and the snapshot was saved on another build of it (virtlab updated since): no machine here can take it. */
        readonly otherGuestBuild?: true;
      }
    | { readonly reason: string };
  "download-failed": {
    /** The link. */
    readonly subject?: string;
    /** The HTTP status the server answered: a download that got one is not retried. */
    readonly status?: number;
    /** fetch() failed on another origin: no network, or no CORS there. */
    readonly cors?: true;
    readonly loaded?: number;
    readonly size?: number;
  };
  "storage-full": { readonly subject?: string } & QuotaDetails;
  /** `page` of a disk, or `chunk` of an image, that storage lost. */
  "storage-failed": { readonly subject?: string; readonly page?: number; readonly chunk?: number };
  "lab-failed": { readonly command?: string; readonly output?: string };
  "lesson-failed": { readonly subject?: string };
  /** `record` (1-based) and its byte `offset` when a record is cut short or makes no sense. */
  "bad-capture": { readonly subject?: string; readonly record?: number; readonly offset?: number };
  /** `subject` names the host or interface; `problems` says what does not fit, in words. */
  "bad-network": { readonly subject: string; readonly problems: readonly string[] };
  /** The machine's name. */
  "no-nic": { readonly subject: string };
  /** Which requirement failed, and what differs (in words). */
  "migration-refused": { readonly requirement: MigrationRequirement; readonly differences: readonly string[] };
  /** The step the move was at when it stopped. */
  "migration-failed": { readonly phase: string };
}

/** The checks made before a machine moves (migration/requirements.ts). */
export type MigrationRequirement = "v86-version" | "hardware" | "disks" | "disk-lock" | "network" | "clock" | "busy";

type NoDetails = Record<never, never>;

/** Details may be left out only for codes whose details are all optional. */
type DetailsArgument<C extends ErrorCode> = NoDetails extends ErrorDetailsByCode[C] ? { readonly details?: ErrorDetailsByCode[C] } : { readonly details: ErrorDetailsByCode[C] };
export type AppErrorOptions<C extends ErrorCode> = { readonly cause?: unknown } & DetailsArgument<C>;
type OptionsArgument<C extends ErrorCode> = NoDetails extends ErrorDetailsByCode[C] ? [options?: AppErrorOptions<C>] : [options: AppErrorOptions<C>];

/**
 * An error of code C with that code's details. `AppError` alone is any of them: narrow it with
 * `isAppError(error, code)` to read a code's details.
 */
export class AppError<C extends ErrorCode = ErrorCode> extends Error {
  override readonly name = "AppError";
  readonly code: C;
  readonly details: ErrorDetailsByCode[C];

  constructor(code: C, message: string, ...[options]: OptionsArgument<C>) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    // Left out only when every detail of this code is optional (OptionsArgument): none is then right.
    this.details = options?.details ?? ({} as ErrorDetailsByCode[C]);
  }
}

export function isAppError(value: unknown): value is AppError;
/** An AppError of this code, its details typed. */
export function isAppError<C extends ErrorCode>(value: unknown, code: C): value is AppError<C>;
export function isAppError(value: unknown, code?: ErrorCode): boolean {
  return value instanceof AppError && (code === undefined || value.code === code);
}

/** Wrap anything thrown into an AppError with the given code, keeping AppErrors as they are. */
export function toAppError<C extends ErrorCode>(value: unknown, code: C, message: string, ...[details]: NoDetails extends ErrorDetailsByCode[C] ? [details?: ErrorDetailsByCode[C]] : [details: ErrorDetailsByCode[C]]): AppError {
  if (isAppError(value)) return value;
  const options = { cause: value, ...(details === undefined ? {} : { details }) } as AppErrorOptions<C>;
  return new AppError<C>(code, message, ...([options] as OptionsArgument<C>));
}

/** A one-line description of a cause chain, for logs and the "details" part of a message. */
export function describeCause(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    if (current instanceof Error) {
      parts.push(current.message);
      current = (current as { cause?: unknown }).cause;
    } else {
      parts.push(String(current));
      break;
    }
  }
  return parts.filter((p) => p.length > 0).join(": ");
}
