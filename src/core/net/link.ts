/**
 * One direction of the cable between a switch port and its endpoint, with the impairments a
 * teacher sets: loss (a Bernoulli draw per frame from the injected random source), a rate cap
 * (frames serialize one after another at `rateBytesPerSecond`; a bounded queue holds what
 * waits, overflow is dropped) and a fixed latency. Frames leave in the order they came in.
 * Without impairments a frame passes straight through, synchronously.
 */
import type { Clock } from "../clock.ts";
import type { Disposable } from "../events.ts";

export interface Impairments {
  /** 0–100: the chance, in percent, that a frame is lost on this link. */
  readonly lossPercent: number;
  /** Added one-way delay, milliseconds. */
  readonly latencyMs: number;
  /** Bytes per second the link carries; 0 means no cap. */
  readonly rateBytesPerSecond: number;
  /** Bytes that may wait for the rate cap before further frames are dropped ("queue-full"). */
  readonly queueBytes: number;
}

export const NO_IMPAIRMENTS: Impairments = { lossPercent: 0, latencyMs: 0, rateBytesPerSecond: 0, queueBytes: 64 * 1024 };

/** Why a frame did not get through. */
export type DropReason =
  | "runt" // shorter than an Ethernet header (14 bytes)
  | "oversize" // longer than the switch's maximum frame
  | "loss" // the link's loss impairment
  | "queue-full" // the rate cap's queue had no room
  | "filtered" // addressed to a MAC learned on the port it came from
  | "refused" // the endpoint threw when given the frame (a machine whose network is off)
  | "detached"; // the port left while the frame was on its link

export const DROP_REASONS: readonly DropReason[] = ["runt", "oversize", "loss", "queue-full", "filtered", "refused", "detached"];

/** Throws a RangeError naming the field: impairments come from a form, and a bad one is the caller's bug. */
export function checkImpairments(value: Impairments): Impairments {
  const finite = (name: string, n: number, max = Number.MAX_SAFE_INTEGER): void => {
    if (!Number.isFinite(n) || n < 0 || n > max) throw new RangeError(`${name} must be a number from 0 to ${max}, not ${n}`);
  };
  finite("lossPercent", value.lossPercent, 100);
  finite("latencyMs", value.latencyMs, 60_000);
  finite("rateBytesPerSecond", value.rateBytesPerSecond);
  finite("queueBytes", value.queueBytes);
  return { ...value };
}

interface Queued {
  readonly frame: Uint8Array;
  /** When the last byte has left the rate-capped sender. */
  readonly sentAt: number;
  readonly deliverAt: number;
}

export class Link implements Disposable {
  private settings: Impairments = NO_IMPAIRMENTS;
  private queue: Queued[] = [];
  private timer: Disposable | undefined;
  /** The sender is busy until then (rate cap). */
  private busyUntil = 0;
  private lastDeliverAt = 0;
  private disposed = false;

  constructor(
    private readonly clock: Clock,
    private readonly random: () => number,
    private readonly deliver: (frame: Uint8Array) => void,
    private readonly drop: (frame: Uint8Array, reason: DropReason) => void,
  ) {}

  get impairments(): Impairments {
    return this.settings;
  }

  /** New settings apply to frames sent from now on; frames already queued keep their times. */
  set impairments(value: Impairments) {
    this.settings = checkImpairments(value);
  }

  /** Frames on the link not yet delivered. */
  get inFlight(): number {
    return this.queue.length;
  }

  /** Bytes waiting for the rate-capped sender (not those only delayed by latency). */
  get backlogBytes(): number {
    const now = this.clock.now();
    let bytes = 0;
    for (const entry of this.queue) if (entry.sentAt > now) bytes += entry.frame.length;
    return bytes;
  }

  send(frame: Uint8Array): void {
    if (this.disposed) return this.drop(frame, "detached");
    const { lossPercent, latencyMs, rateBytesPerSecond, queueBytes } = this.settings;
    if (lossPercent > 0 && this.random() * 100 < lossPercent) return this.drop(frame, "loss");
    if (latencyMs === 0 && rateBytesPerSecond === 0 && this.queue.length === 0) return this.deliver(frame);
    const now = this.clock.now();
    let sentAt = now;
    if (rateBytesPerSecond > 0) {
      if (this.backlogBytes + frame.length > queueBytes) return this.drop(frame, "queue-full");
      sentAt = Math.max(now, this.busyUntil) + (frame.length * 1000) / rateBytesPerSecond;
      this.busyUntil = sentAt;
    }
    // Never overtake a frame sent earlier, even if the latency was lowered meanwhile.
    const deliverAt = Math.max(sentAt + latencyMs, this.lastDeliverAt);
    this.lastDeliverAt = deliverAt;
    this.queue.push({ frame, sentAt, deliverAt });
    this.arm();
  }

  private arm(): void {
    if (this.timer !== undefined || this.queue.length === 0 || this.disposed) return;
    const head = this.queue[0] as Queued;
    this.timer = this.clock.after(Math.max(0, head.deliverAt - this.clock.now()), () => {
      this.timer = undefined;
      this.flush();
    });
  }

  private flush(): void {
    const now = this.clock.now();
    while (!this.disposed && this.queue.length > 0 && (this.queue[0] as Queued).deliverAt <= now) {
      this.deliver((this.queue.shift() as Queued).frame);
    }
    this.arm();
  }

  /** Cancels the timer; frames still on the link are dropped as "detached". */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.timer?.dispose();
    this.timer = undefined;
    const left = this.queue;
    this.queue = [];
    for (const entry of left) this.drop(entry.frame, "detached");
  }
}

/** A small deterministic generator (mulberry32) for when no random source is given. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
