import { describe, expect, it } from "vitest";
import { TOUCH_KEYS, swipeLines, touchKeyBytes, withControl } from "./touchKeys.ts";

describe("the touch keys", () => {
  it("send what an xterm sends: Esc, Tab, and arrows in the cursor-key mode the program chose", () => {
    expect(touchKeyBytes("esc", false)).toBe("\x1b");
    expect(touchKeyBytes("tab", false)).toBe("\t");
    expect(["up", "down", "right", "left"].map((k) => touchKeyBytes(k as "up", false))).toEqual(["\x1b[A", "\x1b[B", "\x1b[C", "\x1b[D"]);
    expect(["up", "down", "right", "left"].map((k) => touchKeyBytes(k as "up", true))).toEqual(["\x1bOA", "\x1bOB", "\x1bOC", "\x1bOD"]);
  });

  it("Ctrl makes a letter (either case) or @[\\]^_ its control code, a space NUL, ? DEL, and leaves the rest", () => {
    expect(withControl("c")).toBe("\x03");
    expect(withControl("C")).toBe("\x03");
    expect(withControl("d")).toBe("\x04");
    expect(withControl("[")).toBe("\x1b");
    expect(withControl("@")).toBe("\x00");
    expect(withControl("_")).toBe("\x1f");
    expect(withControl(" ")).toBe("\x00");
    expect(withControl("?")).toBe("\x7f");
    expect(withControl("5")).toBe("5");
    expect(withControl("é")).toBe("é");
    expect(withControl("cd")).toBe("cd");
  });

  it("has a label and a spoken name for every key, each key once", () => {
    expect(new Set(TOUCH_KEYS.map((k) => k.key)).size).toBe(TOUCH_KEYS.length);
    for (const k of TOUCH_KEYS) expect(k.label.length * k.name.length, k.key).toBeGreaterThan(0);
    // A name holds its label as a word (WCAG 2.5.3): "Ctrl" is said "Ctrl", not "Control"; "Esc" not only "Escape".
    for (const k of TOUCH_KEYS.filter((t) => /\w/.test(t.label))) expect(k.name, k.key).toMatch(new RegExp(`\\b${k.label}\\b`));
  });

  it("a swipe scrolls whole lines that follow the finger, each line once however the moves are cut", () => {
    expect(swipeLines(5, 20, 0)).toBe(0);
    expect(swipeLines(45, 20, 0)).toBe(-2);
    expect(swipeLines(61, 20, -2)).toBe(-1);
    expect(swipeLines(-61, 20, 0)).toBe(3);
    // Back towards where it began: the lines scrolled are given back.
    expect(swipeLines(10, 20, -3)).toBe(3);
    expect(swipeLines(100, 0, 0)).toBe(0);
  });
});
