import { describe, expect, it } from "vitest";
import { MAX_EXTRA_WARMUPS, runUntilSteady, stillWarming, testDataBytes } from "./runner.ts";

const MiB = 1024 * 1024;

describe("lab runner", () => {
  it("plans each machine's largest test data from its workloads", () => {
    expect(testDataBytes(["console", "storage", "network", "cpu"], "standard")).toBe(16 * MiB);
    expect(testDataBytes(["network"], "standard")).toBe(4 * MiB);
    expect(testDataBytes(["console"], "standard")).toBe(786_435);
    expect(testDataBytes(["network"], "quick")).toBe(256 * 1024);
    expect(testDataBytes(["cpu"], "standard")).toBe(0);
  });

  it.each([
    { seconds: [3.2, 1.8, 1.3], warming: true, why: "runs getting faster from the first to the last (a TCP upload in Chromium)" },
    { seconds: [1.5, 1.05, 1.13], warming: true, why: "the first run slower by more than a quarter" },
    { seconds: [1.1, 1.3, 1.0], warming: false, why: "noise in between" },
    { seconds: [1.0, 1.1, 1.2], warming: false, why: "runs getting slower" },
    { seconds: [1.2, 1.0], warming: false, why: "less than a quarter" },
    { seconds: [3.0], warming: false, why: "a single run shows no trend" },
  ])("still warming: $why", ({ seconds, warming }) => {
    expect(stillWarming(seconds)).toBe(warming);
  });

  /** runUntilSteady over runs that take these seconds, one after another. */
  async function steady(warmups: number, repetitions: number, seconds: number[]): Promise<{ warmup: number[]; timed: number[]; calls: number[] }> {
    const calls: number[] = [];
    const { runs, warmups: counted } = await runUntilSteady(warmups, repetitions, async (index) => {
      calls.push(index);
      return { sample: { value: 1, seconds: seconds[index] ?? 1, amount: 1 } };
    });
    return { warmup: runs.slice(0, counted).map((r) => r.sample.seconds), timed: runs.slice(counted).map((r) => r.sample.seconds), calls };
  }

  it("runs the warm-ups and repetitions only, when the timed runs are steady", async () => {
    expect(await steady(1, 3, [2.5, 1.0, 1.1, 0.95, 0.5])).toEqual({ warmup: [2.5], timed: [1.0, 1.1, 0.95], calls: [0, 1, 2, 3] });
  });

  it("runs again while the timed runs still get faster, the oldest becoming a warm-up", async () => {
    expect(await steady(1, 3, [8, 3.2, 1.8, 1.3, 1.25, 1.2])).toEqual({ warmup: [8, 3.2, 1.8], timed: [1.3, 1.25, 1.2], calls: [0, 1, 2, 3, 4, 5] });
    expect(await steady(1, 3, [4, 2.0, 1.2, 1.1, 1.05])).toEqual({ warmup: [4, 2.0], timed: [1.2, 1.1, 1.05], calls: [0, 1, 2, 3, 4] });
  });

  it(`adds at most ${MAX_EXTRA_WARMUPS} runs, however long the warming goes on`, async () => {
    const falling = Array.from({ length: 20 }, (_, i) => 10 / (i + 1));
    const { warmup, timed, calls } = await steady(1, 3, falling);
    expect(calls).toHaveLength(1 + 3 + MAX_EXTRA_WARMUPS);
    expect(warmup).toHaveLength(1 + MAX_EXTRA_WARMUPS);
    expect(timed).toEqual(falling.slice(1 + MAX_EXTRA_WARMUPS, 4 + MAX_EXTRA_WARMUPS));
  });

  it("adds nothing to a single timed run (no trend to see)", async () => {
    expect(await steady(0, 1, [5, 1])).toEqual({ warmup: [], timed: [5], calls: [0] });
  });
});
