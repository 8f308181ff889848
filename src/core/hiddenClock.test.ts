import { describe, expect, it } from "vitest";
import { ManualClock } from "./clock.ts";
import { Emitter } from "./events.ts";
import { RelayedClock, VisibilityClock, serveTimers, type FromTimers, type HostTimers, type ToTimers } from "./hiddenClock.ts";
import type { Port } from "./remote/protocol.ts";

/** Host timers driven by a ManualClock (the Worker's, in a test). */
function manualTimers(clock: ManualClock): HostTimers & { readonly live: number } {
  const handles = new Map<number, { dispose(): void }>();
  let next = 0;
  return {
    setTimeout: (fn, ms) => {
      const id = next++;
      handles.set(
        id,
        clock.after(ms, () => {
          handles.delete(id);
          fn();
        }),
      );
      return id;
    },
    clearTimeout: (handle) => {
      handles.get(handle as number)?.dispose();
      handles.delete(handle as number);
    },
    get live() {
      return handles.size;
    },
  };
}

/** A page ↔ Worker channel whose messages arrive at once, counted. */
function channel(): { readonly page: Port<FromTimers, ToTimers>; readonly worker: Port<ToTimers, FromTimers>; readonly sent: ToTimers[] } {
  const toWorker = new Emitter<ToTimers>();
  const toPage = new Emitter<FromTimers>();
  const sent: ToTimers[] = [];
  return {
    page: {
      post: (message) => {
        sent.push(message);
        toWorker.fire(message);
      },
      onMessage: (listener) => toPage.event(listener),
    },
    worker: { post: (message) => toPage.fire(message), onMessage: (listener) => toWorker.event(listener) },
    sent,
  };
}

describe("RelayedClock and serveTimers (the page's timers run in a Worker)", () => {
  const setUp = () => {
    const workerTime = new ManualClock();
    const timers = manualTimers(workerTime);
    const { page, worker, sent } = channel();
    const served = serveTimers(worker, timers);
    const clock = new RelayedClock(page, () => workerTime.now());
    return { workerTime, timers, clock, served, sent };
  };

  it("runs each timer once, when the Worker's timer is due", () => {
    const { workerTime, clock } = setUp();
    const fired: string[] = [];
    clock.after(30, () => fired.push("b"));
    clock.after(10, () => fired.push("a"));
    workerTime.advance(9);
    expect(fired).toEqual([]);
    workerTime.advance(1);
    expect(fired).toEqual(["a"]);
    workerTime.advance(100);
    expect(fired).toEqual(["a", "b"]);
  });

  it("a timer disposed before it is due never runs, and the Worker lets its timer go", () => {
    const { workerTime, timers, clock, sent } = setUp();
    let ran = false;
    const timer = clock.after(10, () => (ran = true));
    timer.dispose();
    timer.dispose();
    workerTime.advance(20);
    expect(ran).toBe(false);
    expect(timers.live).toBe(0);
    expect(sent.filter((m) => m.type === "clear")).toHaveLength(1);
  });

  it("disposing the clock or the Worker's side cancels what waits", () => {
    const { workerTime, timers, clock } = setUp();
    let ran = 0;
    clock.after(10, () => ran++);
    clock.dispose();
    workerTime.advance(20);
    expect(ran).toBe(0);
    const second = setUp();
    second.clock.after(10, () => ran++);
    second.served.dispose();
    expect(second.timers.live).toBe(0);
    second.workerTime.advance(20);
    expect(ran).toBe(0);
    expect(timers.live).toBe(0);
  });
});

describe("VisibilityClock (own timers while visible, the Worker's while hidden)", () => {
  const setUp = (hiddenAtFirst = false) => {
    const time = new ManualClock();
    let own = 0;
    let relayed = 0;
    let relayMade = 0;
    const counting = (counter: () => void): ManualClock["after"] => (ms, fn) => {
      counter();
      return time.after(ms, fn);
    };
    let hidden = hiddenAtFirst;
    const change = new Emitter<void>();
    const clock = new VisibilityClock({
      own: { now: () => time.now(), after: counting(() => own++) },
      whileHidden: () => {
        relayMade++;
        return { now: () => time.now(), after: counting(() => relayed++) };
      },
      hidden: () => hidden,
      onVisibilityChange: (listener) => change.event(listener),
    });
    const setHidden = (value: boolean): void => {
      hidden = value;
      change.fire();
    };
    return { time, clock, setHidden, counts: () => ({ own, relayed, relayMade }) };
  };

  it("uses the page's own timers while visible and makes no Worker", () => {
    const { time, clock, counts } = setUp();
    let ran = 0;
    clock.after(5, () => ran++);
    time.advance(5);
    expect(ran).toBe(1);
    expect(counts()).toEqual({ own: 1, relayed: 0, relayMade: 0 });
  });

  it("sets timers in the Worker while hidden, and the page's own again once visible", () => {
    const { time, clock, setHidden, counts } = setUp(true);
    const fired: number[] = [];
    clock.after(5, () => fired.push(time.now()));
    expect(counts()).toEqual({ own: 0, relayed: 1, relayMade: 1 });
    setHidden(false);
    clock.after(5, () => fired.push(time.now()));
    expect(counts()).toEqual({ own: 1, relayed: 1, relayMade: 1 });
    time.advance(10);
    expect(fired).toEqual([5, 5]);
  });

  it("a timer waiting when the page is hidden moves to the Worker, due when it was due, and runs once", () => {
    const { time, clock, setHidden, counts } = setUp();
    const fired: number[] = [];
    clock.after(100, () => fired.push(time.now()));
    time.advance(40);
    setHidden(true);
    expect(counts()).toEqual({ own: 1, relayed: 1, relayMade: 1 });
    time.advance(200);
    expect(fired).toEqual([100]);
  });

  it("a moved timer disposed before it is due never runs", () => {
    const { time, clock, setHidden } = setUp();
    let ran = false;
    const timer = clock.after(100, () => (ran = true));
    setHidden(true);
    timer.dispose();
    time.advance(200);
    expect(ran).toBe(false);
  });

  it("a timer that already ran is not moved, and the Worker is made once", () => {
    const { time, clock, setHidden, counts } = setUp();
    clock.after(10, () => undefined);
    time.advance(10);
    setHidden(true);
    setHidden(false);
    setHidden(true);
    clock.after(10, () => undefined);
    clock.after(10, () => undefined);
    expect(counts()).toEqual({ own: 1, relayed: 2, relayMade: 1 });
  });

  it("disposed, it runs nothing more and stops following the page's visibility", () => {
    const { time, clock, setHidden, counts } = setUp();
    let ran = false;
    clock.after(10, () => (ran = true));
    clock.dispose();
    setHidden(true);
    time.advance(20);
    expect(ran).toBe(false);
    expect(counts().relayMade).toBe(0);
  });
});

describe("VisibilityClock whose Worker's timers were lost", () => {
  it("hands its waiting timers, due when they were due, and later ones to the page's own", () => {
    const time = new ManualClock();
    // The Worker's side never answers (its script did not load): only the page's own timers run.
    const posted: ToTimers[] = [];
    const silent: Port<FromTimers, ToTimers> = { post: (m) => void posted.push(m), onMessage: () => ({ dispose: () => undefined }) };
    let lose = (): void => undefined;
    const clock = new VisibilityClock({
      own: time,
      whileHidden: (lost) => {
        lose = lost;
        return new RelayedClock(silent, () => time.now());
      },
      hidden: () => true,
      onVisibilityChange: () => ({ dispose: () => undefined }),
    });
    const fired: string[] = [];
    clock.after(100, () => fired.push(`a@${time.now()}`));
    const cancelled = clock.after(50, () => fired.push("never"));
    time.advance(30);
    lose();
    cancelled.dispose();
    clock.after(10, () => fired.push(`b@${time.now()}`));
    time.advance(200);
    expect(fired).toEqual(["b@40", "a@100"]);
    expect(posted.filter((m) => m.type === "set")).toHaveLength(2);
  });
});
