import { describe, expect, it } from "vitest";
import { ScreenKeyboard, type KeyStroke, type ScreenKeyMode } from "./screenKeyboard.ts";
import { scancodesFor } from "./scancodes.ts";

interface Held { shift?: boolean; ctrl?: boolean; alt?: boolean; altGraph?: boolean }
const down = (code: string, key: string, held: Held = {}): KeyStroke => ({ type: "keydown", code, key, shiftKey: held.shift ?? false, ctrlKey: held.ctrl ?? false, altKey: held.alt ?? false, altGraph: held.altGraph ?? false });
const up = (code: string, key: string, held: Held = {}): KeyStroke => ({ ...down(code, key, held), type: "keyup" });

/** Each stroke in turn, with what it sent. */
function play(strokes: readonly KeyStroke[], mode: ScreenKeyMode = "typed"): (number[] | undefined)[] {
  const keyboard = new ScreenKeyboard(mode);
  return strokes.map((stroke) => keyboard.translate(stroke));
}

const SHIFT = 0x2a;
const SHIFT_UP = 0xaa;
const CTRL = 0x1d;
const CTRL_UP = 0x9d;

describe("ScreenKeyboard: a US layout goes by position, as before", () => {
  const usKeys: [string, string, string][] = [
    ["KeyA", "a", "A"],
    ["Digit7", "7", "&"],
    ["Slash", "/", "?"],
    ["Semicolon", ";", ":"],
    ["Quote", "'", '"'],
    ["Backquote", "`", "~"],
    ["Space", " ", " "],
  ];
  it.each(usKeys)("%s types %j, with Shift %j: pressed and released where it is", (code, plain, shifted) => {
    expect(play([down(code, plain), up(code, plain)])).toEqual([scancodesFor(code, true), scancodesFor(code, false)]);
    expect(play([down("ShiftLeft", "Shift"), down(code, shifted, { shift: true }), up(code, shifted, { shift: true }), up("ShiftLeft", "Shift")])).toEqual([[SHIFT], scancodesFor(code, true), scancodesFor(code, false), [SHIFT_UP]]);
  });

  it("keys that type nothing go by position, modifiers held as they are (Shift+PageUp, Ctrl+Alt+Delete)", () => {
    expect(play([down("ShiftLeft", "Shift"), down("PageUp", "PageUp", { shift: true }), up("PageUp", "PageUp", { shift: true })])).toEqual([[SHIFT], [0xe0, 0x49], [0xe0, 0xc9]]);
    expect(play([down("ControlLeft", "Control"), down("AltLeft", "Alt", { ctrl: true }), down("Delete", "Delete", { ctrl: true, alt: true })])).toEqual([[CTRL], [0x38], [0xe0, 0x53]]);
    expect(play([down("Enter", "Enter"), down("F2", "F2"), down("Escape", "Escape")])).toEqual([[0x1c], [0x3c], [0x01]]);
  });

  it("a shortcut on a key of the same letter stays by position (Ctrl+C)", () => {
    expect(play([down("ControlLeft", "Control"), down("KeyC", "c", { ctrl: true }), up("KeyC", "c", { ctrl: true }), up("ControlLeft", "Control")])).toEqual([[CTRL], [0x2e], [0xae], [CTRL_UP]]);
  });
});

describe("ScreenKeyboard: another layout types its characters on the guest's US keyboard", () => {
  it("Italian Shift+7 is '/': Shift let go around the US '/' key and pressed again; the key's release sends nothing", () => {
    expect(play([down("ShiftLeft", "Shift"), down("Digit7", "/", { shift: true }), up("Digit7", "/", { shift: true }), up("ShiftLeft", "Shift")])).toEqual([[SHIFT], [SHIFT_UP, 0x35, 0xb5, SHIFT], [], [SHIFT_UP]]);
  });

  it("Italian '-' (the US '/' key's place) types '-', and its Shift+'_' holds Shift as it is", () => {
    expect(play([down("Slash", "-"), up("Slash", "-")])).toEqual([[0x0c, 0x8c], []]);
    expect(play([down("ShiftLeft", "Shift"), down("Slash", "_", { shift: true })])).toEqual([[SHIFT], [0x0c, 0x8c]]);
  });

  it("a character that needs Shift on a US keyboard gets it (French AZERTY's '!' and digits)", () => {
    // AZERTY: '!' is the key at the US '/' place, unshifted; '1' is Shift+& (Digit1).
    expect(play([down("Slash", "!")])).toEqual([[SHIFT, 0x02, 0x82, SHIFT_UP]]);
    expect(play([down("ShiftLeft", "Shift"), down("Digit1", "1", { shift: true })])).toEqual([[SHIFT], [SHIFT_UP, 0x02, 0x82, SHIFT]]);
  });

  it("German QWERTZ: 'z' at the US Y key types z, and Ctrl+Z is Ctrl+Z (Ctrl held as it is)", () => {
    expect(play([down("KeyY", "z"), up("KeyY", "z")])).toEqual([[0x2c, 0xac], []]);
    expect(play([down("ControlLeft", "Control"), down("KeyY", "z", { ctrl: true }), up("KeyY", "z", { ctrl: true }), up("ControlLeft", "Control")])).toEqual([[CTRL], [0x2c, 0xac], [], [CTRL_UP]]);
  });

  it("AltGr (Linux: AltRight) is let go around the character it makes, '@' with Shift, and held again after", () => {
    expect(play([down("AltRight", "AltGraph"), down("KeyQ", "@", { altGraph: true }), up("KeyQ", "@", { altGraph: true }), up("AltRight", "AltGraph")])).toEqual([[0xe0, 0x38], [0xe0, 0xb8, SHIFT, 0x03, 0x83, SHIFT_UP, 0xe0, 0x38], [], [0xe0, 0xb8]]);
  });

  it("AltGr as Windows reports it (Ctrl and Alt held, AltGraph set): both let go around the character", () => {
    const sent = play([down("ControlLeft", "Control"), down("AltRight", "AltGraph", { ctrl: true, alt: true }), down("BracketLeft", "[", { ctrl: true, alt: true, altGraph: true })]);
    expect(sent[2]).toEqual([CTRL_UP, 0xe0, 0xb8, 0x1a, 0x9a, 0xe0, 0x38, CTRL]);
  });

  it("a dead key and a character no US key types (é, ò, €) send nothing; the next key types as usual", () => {
    expect(play([down("BracketLeft", "Dead"), down("KeyE", "ê"), up("KeyE", "ê"), up("BracketLeft", "Dead"), down("KeyE", "e")])).toEqual([[], [], [], scancodesFor("BracketLeft", false), [0x12]]);
    expect(play([down("Semicolon", "ò"), up("Semicolon", "ò"), down("KeyE", "€", { altGraph: true })])).toEqual([[], [], []]);
  });

  it("a shortcut on a letter no US key types goes by position (Ctrl+С on a Russian layout is Ctrl+C)", () => {
    expect(play([down("ControlLeft", "Control"), down("KeyC", "с", { ctrl: true }), up("KeyC", "с", { ctrl: true })])).toEqual([[CTRL], [0x2e], [0xae]]);
    expect(play([down("KeyF", "а")])).toEqual([[]]);
  });

  it("Caps Lock stays the host's: its capitals arrive as Shift+letter, and the guest's own lock is never toggled", () => {
    expect(play([down("CapsLock", "CapsLock"), up("CapsLock", "CapsLock"), down("KeyA", "A"), up("KeyA", "A")])).toEqual([[], [], [SHIFT, 0x1e, 0x9e, SHIFT_UP], []]);
  });

  it("the numeric keypad types its digits and signs; its Enter is Enter", () => {
    expect(play([down("Numpad7", "7"), down("NumpadAdd", "+"), down("NumpadEnter", "Enter")])).toEqual([[0x08, 0x88], [SHIFT, 0x0d, 0x8d, SHIFT_UP], [0xe0, 0x1c]]);
  });

  it("the keypad with the host's Num Lock off is the arrows and Home it is there, held while held, whatever the guest's lock", () => {
    expect(play([down("Numpad8", "ArrowUp"), down("Numpad8", "ArrowUp"), up("Numpad8", "ArrowUp"), down("Numpad7", "Home")])).toEqual([[0xe0, 0x48], [0xe0, 0x48], [0xe0, 0xc8], [0xe0, 0x47]]);
    const keyboard = new ScreenKeyboard();
    keyboard.translate(down("Numpad2", "ArrowDown"));
    expect(keyboard.releaseAll()).toEqual([0xe0, 0xd0]);
  });

  it("by position, every key goes where it is, whatever it types (a guest set to the user's layout)", () => {
    expect(play([down("ShiftLeft", "Shift"), down("Digit7", "/", { shift: true }), up("Digit7", "/", { shift: true }), down("CapsLock", "CapsLock"), down("Semicolon", "ò")], "position")).toEqual([[SHIFT], [0x08], [0x88], [0x3a], [0x27]]);
  });
});

describe("ScreenKeyboard.releaseAll (the page lost the keys)", () => {
  it("lets go of every key the guest holds, once; a typed key's late release still sends nothing", () => {
    const keyboard = new ScreenKeyboard();
    keyboard.translate(down("AltLeft", "Alt"));
    keyboard.translate(down("ShiftLeft", "Shift", { alt: true }));
    keyboard.translate(down("ArrowUp", "ArrowUp", { alt: true, shift: true }));
    expect(keyboard.releaseAll()).toEqual([0xb8, SHIFT_UP, 0xe0, 0xc8]);
    expect(keyboard.releaseAll()).toEqual([]);
  });

  it("a key never pressed through it has nothing to let go", () => {
    expect(new ScreenKeyboard().releaseAll()).toEqual([]);
  });
});
