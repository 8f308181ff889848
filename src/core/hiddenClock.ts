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

/** From the page's clock to the timer Worker. */
export type ToTimers = { readonly type: "set"; readonly id: number; readonly ms: number } | { readonly type: "clear"; readonly id: number };
/** From the timer Worker: timer `id` is due. */
export interface FromTimers {
  readonly type: "fire";
  readonly id: number;
}

/** One end of the page ↔ timer Worker channel. */
export interface TimerPort<In, Out> {
  post(message: Out): void;
  onMessage(listener: (message: In) => void): Disposable;
}

/** The host's own timers, as the Worker has them. */
export interface HostTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * The page's side: a Clock whose timers run in the Worker at the other end of `port`. Should the
 * Worker fail (its script did not load), `fail` hands every waiting timer, and every later one, to
 * `fallback`, due when it was due: late in a hidden tab, but never lost.
 */
export class RelayedClock implements Clock, Disposable {
  private readonly due = new Map<number, { readonly fn: () => void; readonly dueAt: number }>();
  private nextId = 1;
  private readonly listening: Disposable;
  private fallback: Clock | undefined;
  private readonly fellBack = new Set<Disposable>();
  /** Timers `fail` moved to the fallback, by their id (a dispose of one goes there). */
  private readonly moved = new Map<number, Disposable>();

  constructor(
    private readonly port: TimerPort<FromTimers, ToTimers>,
    readonly now: () => number,
  ) {
    this.listening = port.onMessage((message) => {
      const entry = this.due.get(message.id);
      if (entry === undefined) return;
      this.due.delete(message.id);
      entry.fn();
    });
  }

  after(ms: number, fn: () => void): Disposable {
    if (this.fallback !== undefined) return this.onFallback(this.fallback, ms, fn);
    const id = this.nextId++;
    this.due.set(id, { fn, dueAt: this.now() + ms });
    this.port.post({ type: "set", id, ms });
    return toDisposable(() => {
      if (this.due.delete(id)) this.port.post({ type: "clear", id });
      else {
        this.moved.get(id)?.dispose();
        this.moved.delete(id);
      }
    });
  }

  /** The Worker is gone: its timers, and all later ones, run on `fallback`. */
  fail(fallback: Clock): void {
    if (this.fallback !== undefined) return;
    this.fallback = fallback;
    for (const [id, entry] of this.due) this.moved.set(id, this.onFallback(fallback, Math.max(0, entry.dueAt - this.now()), entry.fn));
    this.due.clear();
  }

  /** Timers not yet due: none of them runs after this. */
  dispose(): void {
    for (const id of this.due.keys()) this.port.post({ type: "clear", id });
    this.due.clear();
    for (const timer of this.fellBack) timer.dispose();
    this.fellBack.clear();
    this.listening.dispose();
  }

  private onFallback(clock: Clock, ms: number, fn: () => void): Disposable {
    const timer = clock.after(ms, () => {
      this.fellBack.delete(timer);
      fn();
    });
    this.fellBack.add(timer);
    return toDisposable(() => {
      this.fellBack.delete(timer);
      timer.dispose();
    });
  }
}

/** The Worker's side: runs each timer the page sets and says when it is due. */
export function serveTimers(port: TimerPort<ToTimers, FromTimers>, timers: HostTimers): Disposable {
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
  /** Timers that keep their time while the page is hidden: asked for the first time it is hidden. */
  readonly whileHidden: () => Clock;
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
 * visible and still waiting when the page is hidden moves over, due when it was due.
 */
export class VisibilityClock implements Clock, Disposable {
  private readonly pending = new Set<Pending>();
  private relay: Clock | undefined;
  private readonly listening: Disposable;

  constructor(private readonly options: VisibilityClockOptions) {
    this.listening = options.onVisibilityChange(() => {
      if (!options.hidden()) return;
      for (const entry of this.pending) {
        if (!entry.onOwn) continue;
        entry.timer.dispose();
        this.arm(entry, false);
      }
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

  private arm(entry: Pending, own: boolean): void {
    const clock = own ? this.options.own : (this.relay ??= this.options.whileHidden());
    entry.onOwn = own;
    entry.timer = clock.after(Math.max(0, entry.dueAt - this.now()), () => {
      if (!this.pending.delete(entry)) return;
      entry.fn();
    });
  }
}
