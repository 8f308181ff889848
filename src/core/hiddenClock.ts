/**
 * A page's timers while its tab is hidden. Chromium runs a hidden page's timers at most once a
 * second (after five minutes hidden, chained ones once a minute), while a Worker's run on time and
 * a message from a Worker reaches a hidden page at once. Measured in a real hidden tab (Chromium
 * 156 under Xvfb, a second tab in front): chained 10 ms timers ran 7 times in 5 s in the page
 * against 486 in a Worker; a ping over a network-lab link with 20 ms latency took 1.0-2.0 s
 * instead of ~45 ms, for as long as the tab stayed hidden. So the page's clock hands its timers to
 * a timer Worker while the page is hidden (`VisibilityClock`), over a small protocol
 * (`RelayedClock` in the page, `serveTimers` in the Worker); visible, it keeps the page's own.
 * No DOM here: the page supplies the Worker's port and the visibility (src/ui/pageClock.ts).
 */
import type { Clock } from "./clock.ts";
import { toDisposable, type Disposable } from "./events.ts";
import type { Port } from "./remote/protocol.ts";

/** From the page's clock to the timer Worker. */
export type ToTimers = { readonly type: "set"; readonly id: number; readonly ms: number } | { readonly type: "clear"; readonly id: number };
/** From the timer Worker: timer `id` is due. */
export interface FromTimers {
  readonly type: "fire";
  readonly id: number;
}

/** The host's own timers, as the Worker has them. */
export interface HostTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The page's side: a Clock whose timers run in the Worker at the other end of `port`. */
export class RelayedClock implements Clock, Disposable {
  private readonly due = new Map<number, () => void>();
  private nextId = 1;
  private readonly listening: Disposable;

  constructor(
    private readonly port: Port<FromTimers, ToTimers>,
    readonly now: () => number,
  ) {
    this.listening = port.onMessage((message) => {
      const fn = this.due.get(message.id);
      if (fn === undefined) return;
      this.due.delete(message.id);
      fn();
    });
  }

  after(ms: number, fn: () => void): Disposable {
    const id = this.nextId++;
    this.due.set(id, fn);
    this.port.post({ type: "set", id, ms });
    return toDisposable(() => {
      if (this.due.delete(id)) this.port.post({ type: "clear", id });
    });
  }

  /** Timers not yet due: none of them runs after this. */
  dispose(): void {
    for (const id of this.due.keys()) this.port.post({ type: "clear", id });
    this.due.clear();
    this.listening.dispose();
  }
}

/** The Worker's side: runs each timer the page sets and says when it is due. */
export function serveTimers(port: Port<ToTimers, FromTimers>, timers: HostTimers): Disposable {
  const running = new Map<number, unknown>();
  const listening = port.onMessage((message) => {
    if (message.type === "clear") {
      if (running.has(message.id)) timers.clearTimeout(running.get(message.id));
      running.delete(message.id);
      return;
    }
    const { id } = message;
    running.set(
      id,
      timers.setTimeout(() => {
        running.delete(id);
        port.post({ type: "fire", id });
      }, message.ms),
    );
  });
  return toDisposable(() => {
    listening.dispose();
    for (const handle of running.values()) timers.clearTimeout(handle);
    running.clear();
  });
}

export interface VisibilityClockOptions {
  /** The page's own timers (used while it is visible). */
  readonly own: Clock;
  /**
   * Timers that keep their time while the page is hidden: asked for the first time it is hidden.
   * `lost` says they stopped working (a Worker whose script did not load).
   */
  readonly whileHidden: (lost: () => void) => Clock;
  readonly hidden: () => boolean;
  readonly onVisibilityChange: (listener: () => void) => Disposable;
}

interface Pending {
  readonly fn: () => void;
  readonly dueAt: number;
  timer: Disposable;
  onOwn: boolean;
}

/**
 * The page's own timers while it is visible, `whileHidden`'s while it is hidden; a timer set while
 * visible and still waiting when the page is hidden moves over, due when it was due. Should
 * `whileHidden`'s timers be lost, the waiting ones, and every later one, go back to the page's own,
 * due when they were due: late in a hidden tab, but never lost.
 */
export class VisibilityClock implements Clock, Disposable {
  private readonly pending = new Set<Pending>();
  private relay: Clock | undefined;
  private relayLost = false;
  private readonly listening: Disposable;

  constructor(private readonly options: VisibilityClockOptions) {
    this.listening = options.onVisibilityChange(() => {
      if (options.hidden()) this.moveAll(false);
    });
  }

  now(): number {
    return this.options.own.now();
  }

  after(ms: number, fn: () => void): Disposable {
    const entry: Pending = { fn, dueAt: this.now() + ms, timer: { dispose: () => undefined }, onOwn: true };
    this.pending.add(entry);
    this.arm(entry, !this.options.hidden());
    return toDisposable(() => {
      if (!this.pending.delete(entry)) return;
      entry.timer.dispose();
    });
  }

  dispose(): void {
    this.listening.dispose();
    for (const entry of this.pending) entry.timer.dispose();
    this.pending.clear();
  }

  private lose(): void {
    if (this.relayLost) return;
    this.relayLost = true;
    this.moveAll(true);
  }

  /** Every waiting timer not yet there to the page's own clock (`toOwn`) or to the other. */
  private moveAll(toOwn: boolean): void {
    for (const entry of this.pending) {
      if (entry.onOwn === toOwn) continue;
      entry.timer.dispose();
      this.arm(entry, toOwn);
    }
  }

  private arm(entry: Pending, ownWanted: boolean): void {
    const own = ownWanted || this.relayLost;
    const clock = own ? this.options.own : (this.relay ??= this.options.whileHidden(() => this.lose()));
    entry.onOwn = own;
    entry.timer = clock.after(Math.max(0, entry.dueAt - this.now()), () => {
      if (!this.pending.delete(entry)) return;
      entry.fn();
    });
  }
}
