import { describe, expect, it } from "vitest";
import { scancodesFor } from "./scancodes.ts";

describe("scancodesFor", () => {
  it("gives set-1 make and break codes by key position", () => {
    expect(scancodesFor("KeyA", true)).toEqual([0x1e]);
    expect(scancodesFor("KeyA", false)).toEqual([0x9e]);
    expect(scancodesFor("KeyQ", true)).toEqual([0x10]);
    expect(scancodesFor("KeyM", true)).toEqual([0x32]);
    expect(scancodesFor("Digit1", true)).toEqual([0x02]);
    expect(scancodesFor("Digit0", true)).toEqual([0x0b]);
    expect(scancodesFor("Enter", true)).toEqual([0x1c]);
    expect(scancodesFor("F1", true)).toEqual([0x3b]);
    expect(scancodesFor("F10", true)).toEqual([0x44]);
  });

  it("prefixes the extended keys with 0xE0, and knows nothing of unknown keys", () => {
    expect(scancodesFor("ArrowDown", true)).toEqual([0xe0, 0x50]);
    expect(scancodesFor("ArrowDown", false)).toEqual([0xe0, 0xd0]);
    expect(scancodesFor("Delete", true)).toEqual([0xe0, 0x53]);
    expect(scancodesFor("MediaPlayPause", true)).toBeUndefined();
  });
});
