/**
 * The messages of a move between two sides, and the port they travel on. The port is ours: an
 * in-process pair here (inProcessPair), a MessageChannel or BroadcastChannel in the page later.
 * Every message is structured-clone safe (typed arrays, plain objects).
 */
import type { MigrationRequirement } from "../errors.ts";
import { Emitter, type Event } from "../events.ts";
import { systemClock, type Clock } from "../clock.ts";
import type { PageBatch } from "./pages.ts";
import type { Requirements } from "./requirements.ts";

export type MigrationMethod = "stop-and-copy" | "pre-copy";

/** Source to target. */
export type SourceMessage =
  | { readonly type: "hello"; readonly method: MigrationMethod; readonly requirements: Requirements; readonly memoryBytes: number }
  /** Memory sent while the guest runs. */
  | { readonly type: "pages"; readonly round: number; readonly batch: PageBatch }
  /**
   * The guest is paused. stop-and-copy: `state` is the whole v86 state. pre-copy: `state` is the
   * device state without memory, and `batch` the pages dirtied since the last round.
   */
  | { readonly type: "final"; readonly state: Uint8Array; readonly batch?: PageBatch; readonly guest: GuestAtPause }
  | { readonly type: "abort"; readonly reason: string };

/** Target to source. */
export type TargetMessage =
  | { readonly type: "ready" }
  | { readonly type: "refused"; readonly requirement: MigrationRequirement; readonly differences: readonly string[] }
  /** A batch of round `round` is in the target's memory image. */
  | { readonly type: "ack"; readonly round: number }
  /** The guest runs on the target (its monotonic time then). */
  | { readonly type: "resumed"; readonly at: number }
  | { readonly type: "failed"; readonly reason: string };

/** What the source knew of its guest at the pause: the target's status follows it. */
export interface GuestAtPause {
  readonly shellReady: boolean;
  /** Host wall-clock time at the pause (ms since 1970): the guest's clock runs on from there. */
  readonly wallTime: number;
}

/** One end of a move's channel. `onClose` fires once when the other end goes away or closes. */
export interface MigrationPort<In, Out> {
  send(message: Out): void;
  readonly onMessage: Event<In>;
  readonly onClose: Event<void>;
  close(): void;
}

export type SourcePort = MigrationPort<TargetMessage, SourceMessage>;
export type TargetPort = MigrationPort<SourceMessage, TargetMessage>;

/**
 * Two connected ports in one process. Messages arrive in a later task (as over a real channel)
 * and are copied, so neither side shares memory with the other. `bytes` counts what crossed.
 */
export function inProcessPair(clock: Clock = systemClock): { source: SourcePort; target: TargetPort; closeTarget(): void; readonly stats: { bytes: number } } {
  const stats = { bytes: 0 };
  const toTarget = new Emitter<SourceMessage>();
  const toSource = new Emitter<TargetMessage>();
  const sourceClosed = new Emitter<void>();
  const targetClosed = new Emitter<void>();
  let open = true;
  const closeBoth = (): void => {
    if (!open) return;
    open = false;
    clock.after(0, () => {
      sourceClosed.fire();
      targetClosed.fire();
    });
  };
  const deliver = <T>(emitter: Emitter<T>, message: T): void => {
    if (!open) return;
    const copy = copyMessage(message, stats);
    clock.after(0, () => {
      if (open) emitter.fire(copy);
    });
  };
  const source: SourcePort = { send: (m) => deliver(toTarget, m), onMessage: toSource.event, onClose: sourceClosed.event, close: closeBoth };
  const target: TargetPort = { send: (m) => deliver(toSource, m), onMessage: toTarget.event, onClose: targetClosed.event, close: closeBoth };
  return { source, target, closeTarget: closeBoth, stats };
}

/** A deep copy of typed arrays and plain objects, as structured clone makes; counts array bytes. */
function copyMessage<T>(value: T, stats: { bytes: number }): T {
  if (ArrayBuffer.isView(value)) {
    stats.bytes += value.byteLength;
    return (value as unknown as Uint8Array).slice() as T;
  }
  if (Array.isArray(value)) return value.map((v: unknown) => copyMessage(v, stats)) as T;
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, copyMessage(v, stats)])) as T;
  }
  return value;
}
