import { describe, expect, it } from "vitest";
import { PacedKeys, TYPED_KEY_INTERVAL_MS, scancodesFor, scancodesForCharacter, scancodesForTap } from "./scancodes.ts";
import { ManualClock } from "./clock.ts";

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

  it.each([
    ["Numpad7", [0x47]],
    ["Numpad0", [0x52]],
    ["NumpadDecimal", [0x53]],
    ["NumpadMultiply", [0x37]],
    ["NumpadSubtract", [0x4a]],
    ["NumpadAdd", [0x4e]],
    ["NumpadDivide", [0xe0, 0x35]],
    ["NumpadEnter", [0xe0, 0x1c]],
    ["NumLock", [0x45]],
    ["IntlBackslash", [0x56]],
    ["MetaLeft", [0xe0, 0x5b]],
    ["ContextMenu", [0xe0, 0x5d]],
  ])("knows the keypad and the keys of ISO and Windows keyboards: %s", (code, codes) => {
    expect(scancodesFor(code, true)).toEqual(codes);
  });
});

describe("scancodesForCharacter (what a touch keyboard typed, as key presses)", () => {
  it.each([
    ["a", [0x1e, 0x9e]],
    ["z", [0x2c, 0xac]],
    ["1", [0x02, 0x82]],
    ["0", [0x0b, 0x8b]],
    [" ", [0x39, 0xb9]],
    ["\n", [0x1c, 0x9c]],
    ["-", [0x0c, 0x8c]],
    ["/", [0x35, 0xb5]],
    // Shift held around the key.
    ["A", [0x2a, 0x1e, 0x9e, 0xaa]],
    ["$", [0x2a, 0x05, 0x85, 0xaa]],
    ["?", [0x2a, 0x35, 0xb5, 0xaa]],
    ["|", [0x2a, 0x2b, 0xab, 0xaa]],
  ])("%j", (char, codes) => {
    expect(scancodesForCharacter(char)).toEqual(codes);
  });

  it("holds Ctrl around the key when asked (Ctrl+C), outside Shift", () => {
    expect(scancodesForCharacter("c", true)).toEqual([0x1d, 0x2e, 0xae, 0x9d]);
    expect(scancodesForCharacter("C", true)).toEqual([0x1d, 0x2a, 0x2e, 0xae, 0xaa, 0x9d]);
  });

  it("a key tapped (the touch row's): pressed and released, extended keys too, Ctrl around when held", () => {
    expect(scancodesForTap("Escape")).toEqual([0x01, 0x81]);
    expect(scancodesForTap("ArrowUp", { control: true })).toEqual([0x1d, 0xe0, 0x48, 0xe0, 0xc8, 0x9d]);
    expect(scancodesForTap("NoSuchKey")).toBeUndefined();
  });

  it("knows every printable ASCII character, and nothing a US keyboard does not type", () => {
    for (let c = 0x20; c < 0x7f; c++) expect(scancodesForCharacter(String.fromCharCode(c)), String.fromCharCode(c)).toBeDefined();
    for (const other of ["é", "€", "😀", "ab", ""]) expect(scancodesForCharacter(other)).toBeUndefined();
  });
});

describe("PacedKeys", () => {
  it("gives the first key at once and each next one a typist's interval later, in order; dispose drops the rest", () => {
    const clock = new ManualClock();
    const sent: (readonly number[])[] = [];
    const keys = new PacedKeys((codes) => sent.push(codes), clock);
    keys.press([[1], [2], [3]]);
    expect(sent).toEqual([[1]]);
    clock.advance(TYPED_KEY_INTERVAL_MS - 1);
    expect(sent).toEqual([[1]]);
    clock.advance(1);
    expect(sent).toEqual([[1], [2]]);
    keys.press([[4]]);
    clock.advance(TYPED_KEY_INTERVAL_MS);
    expect(sent).toEqual([[1], [2], [3]]);
    keys.dispose();
    clock.advance(10 * TYPED_KEY_INTERVAL_MS);
    expect(sent).toEqual([[1], [2], [3]]);
    // After a pause, a key goes at once again.
    const later = new PacedKeys((codes) => sent.push(codes), clock);
    later.press([[5]]);
    clock.advance(5 * TYPED_KEY_INTERVAL_MS);
    later.press([[6]]);
    expect(sent.at(-1)).toEqual([6]);
  });
});
