/**
 * The messages between a page and the Worker its machine's emulator runs in (issue 11). One
 * machine per Worker; the page holds a RemoteBackend (client.ts), the Worker serves a real
 * backend (server.ts). Plain postMessage with transferables: no SharedArrayBuffer, so a static
 * host without COOP/COEP headers runs it. No DOM here: the same code runs over an in-process
 * pair of ports in the unit tests.
 *
 * What is synchronous in EmulatorBackend (isRunning, instructionCounter, textScreen, jitEnabled,
 * the balloon's sizes, JIT counts) is mirrored on the page from pushed `status` messages.
 */
import type { ConsolePort, GuestLayout, HypercallRecord, JitCounts, MoveInOrder, MoveOutOrder, ScreenFrame, ScreenMode } from "../backend.ts";
import type { RoundRecord } from "../migration/planner.ts";
import type { GuestAtPause } from "../migration/protocol.ts";
import type { MigrationReport } from "../migration/source.ts";
import type { ArrivalReport } from "../migration/target.ts";
import type { Disposable, Event } from "../events.ts";
import type { ControlRegisters } from "../microscope/pagewalk.ts";
import type { TrapSnapshot } from "../microscope/traps.ts";
import type { DiskSlot, EmulatorConfig } from "../profile.ts";
import type { WarmUpRefs } from "./warmUp.ts";
import type { DiskReadPlan } from "../storage/disk.ts";

/** One side of a message channel (a Worker, the Worker's own scope, or a test's fake). */
export interface Port<In, Out> {
  post(message: Out, transfer?: ArrayBuffer[]): void;
  readonly onMessage: Event<In>;
}

/** A disk the page keeps (its write-back, its lock): the Worker reads and writes it by message. */
export interface RemoteDiskInfo {
  readonly slot: DiskSlot;
  readonly byteLength: number;
}

/** An error as it crosses: the page rebuilds an AppError from it. */
export interface WireError {
  readonly code: string | undefined;
  readonly message: string;
  readonly details: Readonly<Record<string, unknown>> | undefined;
  readonly cause: string | undefined;
}

/** What the started backend has, so the page offers the same optional parts. */
export interface Features {
  readonly balloon: boolean;
  readonly guestMemory: boolean;
  readonly microscope: boolean;
  readonly network: boolean;
  readonly share: boolean;
  readonly screen: boolean;
  readonly resize: boolean;
  readonly keyboard: boolean;
  /** The emulator can move its machine (v86.ts migration hooks). */
  readonly migration: boolean;
}

export type Call =
  | { readonly op: "run" }
  | { readonly op: "stop" }
  | { readonly op: "save-state" }
  | { readonly op: "restore-state"; readonly state: ArrayBuffer }
  | { readonly op: "read-shared-file"; readonly path: string }
  | { readonly op: "control-registers" }
  | { readonly op: "read-physical"; readonly address: number; readonly length: number }
  | { readonly op: "layout" }
  | { readonly op: "screen-frame"; readonly force: boolean }
  | { readonly op: "page-keys" };

/** What each call answers with. */
export interface CallResults {
  run: undefined;
  stop: undefined;
  "save-state": ArrayBuffer;
  "restore-state": undefined;
  "read-shared-file": Uint8Array;
  "control-registers": ControlRegisters;
  "read-physical": Uint8Array | undefined;
  layout: GuestLayout;
  "screen-frame": ScreenFrame | undefined;
  "page-keys": Float64Array;
}

/** What the Worker asks of the page during a move (backend.ts MovePageSide). */
export type MoveAsk = "release-disks" | "reclaim-disks" | "take-disks" | "landed";

/** A move's progress, Worker → page. */
export type MoveEvent =
  | { readonly kind: "listening" }
  | { readonly kind: "round"; readonly round: RoundRecord }
  | { readonly kind: "paused" }
  | { readonly kind: "ask"; readonly ask: number; readonly what: MoveAsk; readonly guest?: GuestAtPause }
  | { readonly kind: "done"; readonly report: MigrationReport | ArrivalReport }
  | { readonly kind: "failed"; readonly error: WireError };

/** Page → Worker. */
export type ToWorker =
  /** Warm the emulator up while no machine runs here yet (a Worker made ahead: warmUp.ts). */
  | { readonly type: "warm"; readonly files: WarmUpRefs }
  | {
      readonly type: "start";
      /** The configuration without the page's disk objects (functions do not cross). */
      readonly config: EmulatorConfig;
      readonly disks: readonly RemoteDiskInfo[];
      readonly wasm: ArrayBuffer;
    }
  | { readonly type: "call"; readonly id: number; readonly call: Call }
  | { readonly type: "write"; readonly port: ConsolePort; readonly bytes: Uint8Array }
  | { readonly type: "ctrl-alt-del" }
  | { readonly type: "scancodes"; readonly codes: readonly number[] }
  | { readonly type: "resize"; readonly cols: number; readonly rows: number }
  | { readonly type: "net-frame"; readonly frame: Uint8Array }
  | { readonly type: "balloon"; readonly pages: number }
  | { readonly type: "set-jit"; readonly enabled: boolean }
  | { readonly type: "watch"; readonly id: number; readonly what: "traps" | "jit" }
  | { readonly type: "unwatch"; readonly id: number }
  /**
   * A disk request done: a read's bytes, or (to a read that said `plan`) the bytes the page had at
   * hand and the saved pages the Worker reads from IndexedDB itself (`OverlayDisk.locate`); for a
   * write, its bytes given back once the page has taken them (the Worker copies the next write into
   * them, so neither thread leaves a buffer per write to the collector).
   */
  | { readonly type: "disk-done"; readonly id: number; readonly bytes?: Uint8Array; readonly plan?: DiskReadPlan }
  | { readonly type: "migrate-out"; readonly id: number; readonly order: MoveOutOrder }
  | { readonly type: "migrate-in"; readonly id: number; readonly order: MoveInOrder }
  /** The page's answer to a move's ask (after take-disks the Worker forgets what it read of the old disks). */
  | { readonly type: "move-answer"; readonly ask: number; readonly ok: boolean; readonly error?: WireError }
  | { readonly type: "dispose" };

/** The mirrored part of the backend's state. */
export interface MirrorState {
  readonly running: boolean;
  readonly counter: number;
  /** When the Worker read `counter`, ms on its clock (only differences between two are used). */
  readonly counterAt: number;
  readonly jit: boolean;
  readonly balloon: { readonly target: number; readonly actual: number } | undefined;
  readonly mode: ScreenMode | undefined;
  /** The VGA text screen, sent when it changed since the last status. */
  readonly text?: readonly string[];
}

/** Worker → page. */
export type FromWorker =
  | { readonly type: "started"; readonly features: Features; readonly state: MirrorState }
  | { readonly type: "start-failed"; readonly error: WireError }
  | { readonly type: "reply"; readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly type: "reply"; readonly id: number; readonly ok: false; readonly error: WireError }
  | { readonly type: "status"; readonly state: MirrorState }
  /**
   * Console bytes, with the instruction counter as they were emitted (and when, on the Worker's
   * clock): a section timed between two markers (the lab's MIPS) reads the counter at each marker,
   * not as the last status (every STATUS_INTERVAL_MS) left it.
   */
  | { readonly type: "output"; readonly port: ConsolePort; readonly bytes: Uint8Array; readonly counter: number; readonly counterAt: number }
  | { readonly type: "crash"; readonly error: WireError }
  | { readonly type: "reboot" }
  | { readonly type: "net-frame"; readonly frame: Uint8Array }
  | { readonly type: "hypercall"; readonly record: HypercallRecord }
  /** What a trap watch counted since its last message (sent before any console output, so a command's traps are there when its output is). */
  | { readonly type: "traps"; readonly id: number; readonly delta: TrapSnapshot }
  | { readonly type: "jit-counts"; readonly id: number; readonly counts: JitCounts }
  /** `plan`: the Worker can open the page's IndexedDB stores and read saved pages itself. */
  | { readonly type: "disk-get"; readonly id: number; readonly slot: DiskSlot; readonly start: number; readonly length: number; readonly plan: boolean }
  | { readonly type: "disk-set"; readonly id: number; readonly slot: DiskSlot; readonly start: number; readonly data: Uint8Array }
  | { readonly type: "move-event"; readonly id: number; readonly event: MoveEvent };

export type PagePort = Port<FromWorker, ToWorker>;
export type WorkerPort = Port<ToWorker, FromWorker>;

/** How often the Worker pushes the mirrored state while the machine runs. */
export const STATUS_INTERVAL_MS = 200;

/** Two ports joined in this thread (for tests): what one posts, the other receives, asynchronously like postMessage. */
export function portPair(queue: (fn: () => void) => void): { page: PagePort; worker: WorkerPort } & Disposable {
  const pageListeners = new Set<(m: FromWorker) => void>();
  const workerListeners = new Set<(m: ToWorker) => void>();
  let open = true;
  const event =
    <T>(set: Set<(m: T) => void>): Event<T> =>
    (listener) => {
      set.add(listener);
      return { dispose: () => set.delete(listener) };
    };
  return {
    page: { post: (m) => open && queue(() => open && workerListeners.forEach((l) => l(m))), onMessage: event(pageListeners) },
    worker: { post: (m) => open && queue(() => open && pageListeners.forEach((l) => l(m))), onMessage: event(workerListeners) },
    dispose: () => {
      open = false;
    },
  };
}
