/**
 * Time reaches the core only through a Clock, so tests and benchmarks control it. The core's
 * tsconfig has no DOM or Node types; host timers come from host.ts.
 */
import { toDisposable, type Disposable } from "./events.ts";
import { host } from "./host.ts";

export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Run `fn` after `ms` milliseconds; dispose to cancel. */
  after(ms: number, fn: () => void): Disposable;
}

export const systemClock: Clock = {
  now: () => host.performance.now(),
  after(ms, fn) {
    const handle = host.setTimeout(fn, ms);
    return toDisposable(() => host.clearTimeout(handle));
  },
};

/** A clock driven by hand, for unit tests. */
export class ManualClock implements Clock {
  private time = 0;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 0;

  now(): number {
    return this.time;
  }

  after(ms: number, fn: () => void): Disposable {
    const id = this.nextId++;
    this.timers.push({ at: this.time + ms, fn, id });
    return toDisposable(() => {
      this.timers = this.timers.filter((t) => t.id !== id);
    });
  }

  advance(ms: number): void {
    const target = this.time + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (due === undefined) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.time = due.at;
      due.fn();
    }
    this.time = target;
  }
}
