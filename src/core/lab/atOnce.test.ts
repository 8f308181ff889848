import { describe, expect, it } from "vitest";
import { eachAtOnce } from "./atOnce.ts";

/** A task per item that ends when the test says so, recording what ran when. */
function controlled(count: number) {
  const ends: { resolve(): void; reject(e: unknown): void }[] = [];
  const started: number[] = [];
  let runningNow = 0;
  let mostAtOnce = 0;
  const waiters: (() => void)[] = [];
  const task = (_item: number, index: number): Promise<void> => {
    started.push(index);
    runningNow++;
    mostAtOnce = Math.max(mostAtOnce, runningNow);
    for (const w of waiters.splice(0)) w();
    return new Promise<void>((resolve, reject) => {
      ends[index] = {
        resolve: () => {
          runningNow--;
          resolve();
        },
        reject: (e) => {
          runningNow--;
          reject(e);
        },
      };
    });
  };
  /** Resolves once `n` tasks have started. */
  const startedCount = async (n: number): Promise<void> => {
    while (started.length < n) await new Promise<void>((r) => waiters.push(r));
  };
  return { items: Array.from({ length: count }, (_, i) => i), task, started, ends, startedCount, mostAtOnce: () => mostAtOnce, running: () => runningNow };
}

describe("eachAtOnce", () => {
  it("runs every item, at most `limit` at once, started in order", async () => {
    const c = controlled(5);
    const all = eachAtOnce(c.items, 2, c.task);
    await c.startedCount(2);
    expect(c.started).toEqual([0, 1]);
    c.ends[1]?.resolve();
    await c.startedCount(3);
    expect(c.started).toEqual([0, 1, 2]);
    c.ends[0]?.resolve();
    await c.startedCount(4);
    c.ends[2]?.resolve();
    await c.startedCount(5);
    c.ends[3]?.resolve();
    c.ends[4]?.resolve();
    await all;
    expect(c.started).toEqual([0, 1, 2, 3, 4]);
    expect(c.mostAtOnce()).toBe(2);
  });

  it("runs one at a time with a limit of 1, and all at once with a limit above the count", async () => {
    const one = controlled(3);
    const a = eachAtOnce(one.items, 1, one.task);
    for (let i = 0; i < 3; i++) {
      await one.startedCount(i + 1);
      expect(one.running()).toBe(1);
      one.ends[i]?.resolve();
    }
    await a;
    const many = controlled(3);
    const b = eachAtOnce(many.items, 8, many.task);
    await many.startedCount(3);
    expect(many.running()).toBe(3);
    for (const end of many.ends) end.resolve();
    await b;
  });

  it("after a failure starts nothing more, stops the rest once, and rejects with the first failure after they end", async () => {
    const c = controlled(6);
    const failures: unknown[] = [];
    const all = eachAtOnce(c.items, 3, c.task, (error) => {
      failures.push(error);
      // What the lab does: end the running ones, which then fail in their turn.
      for (const i of [0, 2]) c.ends[i]?.reject(new Error(`stopped ${i}`));
    });
    let settled = false;
    void all.then(
      () => (settled = true),
      () => (settled = true),
    );
    await c.startedCount(3);
    const first = new Error("machine 2 failed");
    c.ends[1]?.reject(first);
    await expect(all).rejects.toBe(first);
    expect(settled).toBe(true);
    expect(failures).toEqual([first]);
    expect(c.started).toEqual([0, 1, 2]);
    expect(c.running()).toBe(0);
  });

  it("waits for a running task to end before rejecting", async () => {
    const c = controlled(2);
    const all = eachAtOnce(c.items, 2, c.task);
    let settled = false;
    void all.catch(() => undefined).then(() => (settled = true));
    await c.startedCount(2);
    c.ends[0]?.reject(new Error("boom"));
    await Promise.resolve();
    await Promise.resolve();
    expect(settled).toBe(false);
    c.ends[1]?.resolve();
    await expect(all).rejects.toThrow("boom");
  });

  it("refuses a limit below one", async () => {
    await expect(eachAtOnce([1], 0, async () => undefined)).rejects.toThrow(RangeError);
  });
});
