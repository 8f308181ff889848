import { describe, expect, it } from "vitest";
import { NO_FRAME_FLUSH_MS, OutputQueue, type OutputTimers } from "./terminalOutput.ts";

const text = (s: string) => new TextEncoder().encode(s);
const decode = (b: Uint8Array) => new TextDecoder().decode(b);

/** A page whose frames and timers run when the test says, and an xterm that parses when told. */
function rig(limits = { backlogLimit: 100, holdLimit: 40 }) {
  const frames = new Set<() => void>();
  const timers = new Set<{ ms: number; run: () => void }>();
  const timersApi: OutputTimers = {
    nextFrame: (run) => {
      frames.add(run);
      return () => frames.delete(run);
    },
    after: (ms, run) => {
      const timer = { ms, run };
      timers.add(timer);
      return () => timers.delete(timer);
    },
  };
  const written: string[] = [];
  const unparsed: (() => void)[] = [];
  const queue = new OutputQueue(
    (bytes, done) => {
      written.push(decode(bytes));
      unparsed.push(done);
    },
    timersApi,
    (skipped) => text(`[${skipped} skipped]`),
    limits,
  );
  return {
    queue,
    written,
    frame: () => [...frames].forEach((run) => run()),
    timer: () => [...timers].forEach((t) => t.run()),
    timerDelays: () => [...timers].map((t) => t.ms),
    parseAll: () => unparsed.splice(0).forEach((done) => done()),
    scheduled: () => frames.size + timers.size,
  };
}

describe("OutputQueue", () => {
  it("writes what came in one piece at the next frame, and cancels the timer", () => {
    const r = rig();
    r.queue.push(text("ab"));
    r.queue.push(text("cd\r\n"));
    expect(r.written).toEqual([]);
    expect(r.timerDelays()).toEqual([NO_FRAME_FLUSH_MS]);
    r.frame();
    expect(r.written).toEqual(["abcd\r\n"]);
    expect(r.scheduled()).toBe(0);
  });

  it("a hidden page (no frames) still gets its output by the timer", () => {
    const r = rig();
    r.queue.push(text("hidden\r\n"));
    r.timer();
    expect(r.written).toEqual(["hidden\r\n"]);
    expect(r.scheduled()).toBe(0);
  });

  it("holds output while xterm is behind, and writes it once xterm has parsed", () => {
    const r = rig({ backlogLimit: 10, holdLimit: 1000 });
    r.queue.push(text("0123456789ab\n"));
    r.frame();
    r.queue.push(text("next\n"));
    r.frame();
    expect(r.written).toEqual(["0123456789ab\n"]);
    expect(r.queue.sizes).toEqual({ held: 5, backlog: 13, skipped: 0 });
    r.parseAll();
    r.timer();
    expect(r.written).toEqual(["0123456789ab\n", "next\n"]);
    expect(r.queue.sizes.held).toBe(0);
  });

  it("past the hold limit skips the oldest output up to a line's start, says how much, keeps the newest", () => {
    const r = rig({ backlogLimit: 1, holdLimit: 12 });
    r.queue.push(text("x\n"));
    r.frame(); // xterm is now behind: the rest is held
    r.queue.push(text("line1\nli"));
    r.queue.push(text("ne2\nline3\n"));
    r.queue.push(text("line4\n"));
    // 8 + 10 + 6 = 24 held past 12: the first chunk goes, then the rest of "line2"'s line.
    expect(r.queue.sizes).toEqual({ held: 12, backlog: 2, skipped: 12 });
    r.parseAll();
    r.frame();
    expect(r.written).toEqual(["x\n", "[12 skipped]", "line3\nline4\n"]);
    expect(r.queue.sizes).toEqual({ held: 0, backlog: 12 + "[12 skipped]".length, skipped: 0 });
  });

  it("never skips the newest piece, however large", () => {
    const r = rig({ backlogLimit: 1, holdLimit: 4 });
    r.queue.push(text("x"));
    r.frame();
    r.queue.push(text("a long line with no end"));
    expect(r.queue.sizes).toMatchObject({ held: 23, skipped: 0 });
  });

  it("memory stays bounded however long xterm cannot keep up", () => {
    const r = rig({ backlogLimit: 50, holdLimit: 200 });
    for (let i = 0; i < 10_000; i++) {
      r.queue.push(text(`output line ${i}\r\n`));
      if (i % 100 === 0) r.timer(); // a hidden page's flush; xterm never parses
    }
    const { held, backlog, skipped } = r.queue.sizes;
    expect(held).toBeLessThanOrEqual(200);
    expect(backlog).toBeLessThanOrEqual(50 + 200); // at most one held batch past the limit
    expect(skipped).toBeGreaterThan(100_000);
    r.parseAll();
    r.frame();
    expect(r.written.at(-1)).toMatch(/^output line \d+\r\n.*output line 9999\r\n$/s);
  });

  it("an output flushed always (a notice must follow it) ignores the backlog; clear forgets it all", () => {
    const r = rig({ backlogLimit: 1, holdLimit: 100 });
    r.queue.push(text("a"));
    r.frame();
    r.queue.push(text("b"));
    r.queue.flush(true);
    expect(r.written).toEqual(["a", "b"]);
    r.queue.push(text("c"));
    r.queue.clear();
    expect(r.scheduled()).toBe(0);
    r.parseAll(); // xterm's late word about the run before
    expect(r.queue.sizes).toEqual({ held: 0, backlog: 0, skipped: 0 });
  });
});
