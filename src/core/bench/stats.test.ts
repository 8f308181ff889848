import { describe, expect, it } from "vitest";
import { formatTable, summarize } from "./stats.ts";

describe("summarize", () => {
  it("takes the median of odd and even sample counts", () => {
    expect(summarize([9, 1, 5])).toEqual({ runs: 3, median: 5, min: 1, max: 9, spread: 8 / 5 });
    expect(summarize([4, 1, 3, 2]).median).toBe(2.5);
  });

  it("refuses empty or non-finite samples instead of printing NaN", () => {
    expect(() => summarize([])).toThrow(RangeError);
    expect(() => summarize([1, Number.NaN])).toThrow(RangeError);
  });
});

describe("formatTable", () => {
  it("aligns columns", () => {
    expect(formatTable(["case", "s"], [["boot", "8.50"], ["boot, interpreter", "40.10"]])).toBe(
      ["case               s", "-----------------  -----", "boot               8.50", "boot, interpreter  40.10"].join("\n"),
    );
  });
});
