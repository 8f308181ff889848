import { describe, expect, it } from "vitest";
import { DEFAULT_FONT_SIZE, initialFontSize, initialTheme, stepFontSize } from "./preferences.ts";
import { clipboardCommand, formatShortcut, isPageChord, matchShortcut } from "./shortcuts.ts";

const chord = (code: string, mods: Partial<{ altKey: boolean; shiftKey: boolean; ctrlKey: boolean; metaKey: boolean; key: string }> = {}) => ({
  altKey: false,
  shiftKey: false,
  ctrlKey: false,
  metaKey: false,
  code,
  type: "keydown",
  ...mods,
});

describe("shortcuts", () => {
  const actions = [{ id: "pause", shortcut: "KeyP" }, { id: "help", shortcut: "KeyH" }, { id: "vga" }];

  it("only Alt+Shift+key is the page's; everything else goes to the guest", () => {
    expect(matchShortcut(chord("KeyP", { altKey: true, shiftKey: true }), actions)?.id).toBe("pause");
    expect(matchShortcut(chord("KeyP", { altKey: true }), actions)).toBeUndefined();
    expect(matchShortcut(chord("KeyP", { ctrlKey: true, shiftKey: true }), actions)).toBeUndefined();
    expect(matchShortcut(chord("KeyP", { altKey: true, shiftKey: true, ctrlKey: true }), actions)).toBeUndefined();
    expect(matchShortcut(chord("KeyX", { altKey: true, shiftKey: true }), actions)).toBeUndefined();
    expect(isPageChord(chord("KeyC", { ctrlKey: true }))).toBe(false);
  });

  it("a letter is the one the key types, on any layout; other keys, and letters a layout has none of, go by place", () => {
    const page = { altKey: true, shiftKey: true };
    const more = [...actions, { id: "microscope", shortcut: "KeyM" }, { id: "bigger", shortcut: "Equal" }];
    // French AZERTY: M is where a US keyboard has ';'; its ',' key (the US M's place) types '?'.
    expect(matchShortcut(chord("Semicolon", { ...page, key: "M" }), more)?.id).toBe("microscope");
    expect(matchShortcut(chord("KeyM", { ...page, key: "?" }), more)?.id).toBe("microscope");
    // A US keyboard, as before; Russian (no Latin letter) and macOS's Option (another character) by place.
    expect(matchShortcut(chord("KeyP", { ...page, key: "P" }), more)?.id).toBe("pause");
    expect(matchShortcut(chord("KeyP", { ...page, key: "З" }), more)?.id).toBe("pause");
    expect(matchShortcut(chord("KeyP", { ...page, key: "∏" }), more)?.id).toBe("pause");
    // Alt+Shift+= is '+' on a US keyboard: the place.
    expect(matchShortcut(chord("Equal", { ...page, key: "+" }), more)?.id).toBe("bigger");
    // Dvorak: C is at the US I's place.
    expect(clipboardCommand(chord("KeyI", { ctrlKey: true, shiftKey: true, key: "C" }))).toBe("copy");
    expect(clipboardCommand(chord("KeyC", { ctrlKey: true, shiftKey: true, key: "J" }))).toBeUndefined();
  });

  it("names keys the way the help shows them", () => {
    expect(["KeyS", "Digit0", "Equal", "Minus", "Slash"].map(formatShortcut)).toEqual(["Alt+Shift+S", "Alt+Shift+0", "Alt+Shift+=", "Alt+Shift+-", "Alt+Shift+/"]);
  });

  it("clipboard keys: Ctrl+Shift+C/V and Shift+Insert; Ctrl+C stays the guest's", () => {
    expect(clipboardCommand(chord("KeyC", { ctrlKey: true, shiftKey: true }))).toBe("copy");
    expect(clipboardCommand(chord("KeyV", { ctrlKey: true, shiftKey: true }))).toBe("paste");
    expect(clipboardCommand(chord("Insert", { shiftKey: true }))).toBe("paste");
    expect(clipboardCommand(chord("KeyC", { ctrlKey: true }))).toBeUndefined();
    expect(clipboardCommand(chord("KeyV", { ctrlKey: true }))).toBeUndefined();
    expect(clipboardCommand({ ...chord("KeyV", { ctrlKey: true, shiftKey: true }), type: "keyup" })).toBeUndefined();
  });
});

describe("preferences", () => {
  it("zoom steps up and down through fixed sizes and stops at the ends", () => {
    expect(stepFontSize(15, 1)).toBe(17);
    expect(stepFontSize(15, -1)).toBe(13);
    expect(stepFontSize(32, 1)).toBe(32);
    expect(stepFontSize(11, -1)).toBe(11);
    expect(stepFontSize(28, 0)).toBe(DEFAULT_FONT_SIZE);
    expect(stepFontSize(16, 1)).toBe(17);
    expect(stepFontSize(16, -1)).toBe(15);
  });

  it("a stored choice wins; otherwise the system's theme; junk gives defaults", () => {
    expect(initialTheme("light", false)).toBe("light");
    expect(initialTheme(null, true)).toBe("light");
    expect(initialTheme("purple", false)).toBe("dark");
    expect(initialFontSize("24")).toBe(24);
    expect(initialFontSize("23")).toBe(DEFAULT_FONT_SIZE);
    expect(initialFontSize(null)).toBe(DEFAULT_FONT_SIZE);
  });
});
