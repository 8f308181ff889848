import { describe, expect, it } from "vitest";
import { jitComparison, type JitRun } from "./trapSteps.ts";

const run = (jit: boolean, seconds: number): JitRun => ({ jit, seconds, mips: 0, exitCode: 0 });

describe("jitComparison", () => {
  it.each([
    ["the JIT wins: the interpreted run against the faster JIT run", [run(true, 2), run(false, 8), run(true, 1.6)], "Same machine, same shell, no restart: interpreted, the command took 5.0× as long as its faster run with the JIT."],
    [
      "the JIT loses (a Chromium on 2 cores, a shell loop): said plainly, not as a ratio below one",
      [run(true, 4.32), run(false, 2.22), run(true, 3.76)],
      "Same machine, same shell, no restart: interpreted, the command took 0.6× as long as its faster run with the JIT. Here translating cost more than it saved: the JIT gains most on code that runs the same instructions over and over.",
    ],
    [
      "the JIT barely wins",
      [run(true, 2), run(false, 2.2), run(true, 2.1)],
      "Same machine, same shell, no restart: interpreted, the command took 1.1× as long as its faster run with the JIT. Here translating cost about as much as it saved: the JIT gains most on code that runs the same instructions over and over.",
    ],
    ["no interpreted run to compare", [run(true, 2)], "Same machine, same shell, no restart: one of the runs did not finish, so there is nothing to compare."],
  ])("%s", (_name, runs, words) => {
    expect(jitComparison(runs)).toBe(words);
  });
});
