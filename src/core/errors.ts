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
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorDetails {
  /** A file or asset the error is about, named so the user can act on it. */
  readonly subject?: string;
  /** Extra machine-readable context (e.g. the deadline in ms, the tail of the console). */
  readonly [key: string]: unknown;
}

export class AppError extends Error {
  override readonly name = "AppError";
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: ErrorDetails } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
  }
}

export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}

/** Wrap anything thrown into an AppError with the given code, keeping AppErrors as they are. */
export function toAppError(value: unknown, code: ErrorCode, message: string, details?: ErrorDetails): AppError {
  if (isAppError(value)) return value;
  return new AppError(code, message, details === undefined ? { cause: value } : { cause: value, details });
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
