/**
 * PS/2 keyboard scan codes (set 1) for a key's physical position, named as KeyboardEvent.code
 * names it: what the page sends to a guest's keyboard when the user types into the VGA view (the
 * emulator runs in a Worker, where v86's own keyboard adapter has no DOM to listen to).
 */
import type { Clock } from "./clock.ts";
import type { Disposable } from "./events.ts";
const LETTERS = "QWERTYUIOP|ASDFGHJKL|ZXCVBNM";
const BASE: Record<string, number> = {
  Escape: 0x01,
  Minus: 0x0c,
  Equal: 0x0d,
  Backspace: 0x0e,
  Tab: 0x0f,
  BracketLeft: 0x1a,
  BracketRight: 0x1b,
  Enter: 0x1c,
  ControlLeft: 0x1d,
  Semicolon: 0x27,
  Quote: 0x28,
  Backquote: 0x29,
  ShiftLeft: 0x2a,
  Backslash: 0x2b,
  Comma: 0x33,
  Period: 0x34,
  Slash: 0x35,
  ShiftRight: 0x36,
  AltLeft: 0x38,
  Space: 0x39,
  CapsLock: 0x3a,
  NumLock: 0x45,
  ScrollLock: 0x46,
  NumpadMultiply: 0x37,
  Numpad7: 0x47,
  Numpad8: 0x48,
  Numpad9: 0x49,
  NumpadSubtract: 0x4a,
  Numpad4: 0x4b,
  Numpad5: 0x4c,
  Numpad6: 0x4d,
  NumpadAdd: 0x4e,
  Numpad1: 0x4f,
  Numpad2: 0x50,
  Numpad3: 0x51,
  Numpad0: 0x52,
  NumpadDecimal: 0x53,
  // The key left of Z on ISO keyboards (`<>` on Italian, Spanish, German and French ones).
  IntlBackslash: 0x56,
  F11: 0x57,
  F12: 0x58,
};
/** Keys sent with the 0xE0 prefix. */
const EXTENDED: Record<string, number> = {
  ControlRight: 0x1d,
  AltRight: 0x38,
  Home: 0x47,
  ArrowUp: 0x48,
  PageUp: 0x49,
  ArrowLeft: 0x4b,
  ArrowRight: 0x4d,
  End: 0x4f,
  ArrowDown: 0x50,
  PageDown: 0x51,
  Insert: 0x52,
  Delete: 0x53,
  NumpadEnter: 0x1c,
  NumpadDivide: 0x35,
  MetaLeft: 0x5b,
  MetaRight: 0x5c,
  ContextMenu: 0x5d,
};

function baseCode(code: string): number | undefined {
  if (code in BASE) return BASE[code];
  const letter = /^Key([A-Z])$/.exec(code)?.[1];
  if (letter !== undefined) {
    // Rows of the keyboard: Q..P from 0x10, A..L from 0x1E, Z..M from 0x2C.
    const [top, middle, bottom] = LETTERS.split("|") as [string, string, string];
    if (top.includes(letter)) return 0x10 + top.indexOf(letter);
    if (middle.includes(letter)) return 0x1e + middle.indexOf(letter);
    return 0x2c + bottom.indexOf(letter);
  }
  const digit = /^Digit([0-9])$/.exec(code)?.[1];
  if (digit !== undefined) return digit === "0" ? 0x0b : 0x01 + Number(digit);
  const f = /^F([1-9]|10)$/.exec(code)?.[1];
  if (f !== undefined) return 0x3a + Number(f);
  return undefined;
}

/** The scan codes of pressing (or releasing) the key; undefined for a key this table does not know. */
export function scancodesFor(code: string, pressed: boolean): number[] | undefined {
  const release = pressed ? 0 : 0x80;
  const extended = EXTENDED[code];
  if (extended !== undefined) return [0xe0, extended | release];
  const base = baseCode(code);
  return base === undefined ? undefined : [base | release];
}

/** Characters typed without Shift on a US keyboard, by the key that types them. */
const PLAIN_CHARACTERS: Record<string, string> = {
  " ": "Space",
  "\t": "Tab",
  "\n": "Enter",
  "\r": "Enter",
  "-": "Minus",
  "=": "Equal",
  "[": "BracketLeft",
  "]": "BracketRight",
  "\\": "Backslash",
  ";": "Semicolon",
  "'": "Quote",
  "`": "Backquote",
  ",": "Comma",
  ".": "Period",
  "/": "Slash",
};
/** Characters typed with Shift on a US keyboard. */
const SHIFTED_CHARACTERS: Record<string, string> = {
  "!": "Digit1",
  "@": "Digit2",
  "#": "Digit3",
  $: "Digit4",
  "%": "Digit5",
  "^": "Digit6",
  "&": "Digit7",
  "*": "Digit8",
  "(": "Digit9",
  ")": "Digit0",
  _: "Minus",
  "+": "Equal",
  "{": "BracketLeft",
  "}": "BracketRight",
  "|": "Backslash",
  ":": "Semicolon",
  '"': "Quote",
  "~": "Backquote",
  "<": "Comma",
  ">": "Period",
  "?": "Slash",
};

/** The key that types `char` on a US keyboard, and whether Shift is held for it. */
export function keyForCharacter(char: string): { readonly code: string; readonly shift: boolean } | undefined {
  if (/^[a-z]$/.test(char)) return { code: `Key${char.toUpperCase()}`, shift: false };
  if (/^[A-Z]$/.test(char)) return { code: `Key${char}`, shift: true };
  if (/^[0-9]$/.test(char)) return { code: `Digit${char}`, shift: false };
  const plain = PLAIN_CHARACTERS[char];
  if (plain !== undefined) return { code: plain, shift: false };
  const shifted = SHIFTED_CHARACTERS[char];
  return shifted === undefined ? undefined : { code: shifted, shift: true };
}

const US_CHARACTERS = new Map<string, { plain: string; shifted: string }>();
for (let c = 0x20; c < 0x7f; c++) {
  const char = String.fromCharCode(c);
  const key = keyForCharacter(char)!;
  const known = US_CHARACTERS.get(key.code) ?? { plain: "", shifted: "" };
  US_CHARACTERS.set(key.code, key.shift ? { ...known, shifted: char } : { ...known, plain: char });
}

/** The character the key types on a US keyboard, with Shift held or not; undefined for a key that types none. */
export function usCharacter(code: string, shift: boolean): string | undefined {
  const chars = US_CHARACTERS.get(code);
  return chars === undefined ? undefined : shift && chars.shifted !== "" ? chars.shifted : chars.plain;
}

/**
 * The scan codes that type one character on a US keyboard: its key pressed and released, inside
 * Shift (and Ctrl, when `control`) where asked. A touch screen's keyboard names no key, only the
 * text it typed; this is how that text reaches a guest's PS/2 keyboard. Undefined for a character
 * no key of that keyboard types (an accented letter, an emoji).
 */
export function scancodesForCharacter(char: string, control = false): number[] | undefined {
  const key = keyForCharacter(char);
  return key === undefined ? undefined : scancodesForTap(key.code, { shift: key.shift, control });
}

/**
 * The scan codes of a key pressed and released (KeyboardEvent.code names it), inside Shift and
 * Ctrl when asked (Ctrl outermost); undefined for a key the table does not know.
 */
export function scancodesForTap(code: string, held: { readonly shift?: boolean; readonly control?: boolean } = {}): number[] | undefined {
  const press = scancodesFor(code, true);
  const release = scancodesFor(code, false);
  if (press === undefined || release === undefined) return undefined;
  const around = (modifier: string, inner: number[]): number[] => [...scancodesFor(modifier, true)!, ...inner, ...scancodesFor(modifier, false)!];
  const shifted = held.shift === true ? around("ShiftLeft", [...press, ...release]) : [...press, ...release];
  return held.control === true ? around("ControlLeft", shifted) : shifted;
}

/** A fast typist's pace (50 keys a second), well within what a guest reading through the BIOS takes. */
export const TYPED_KEY_INTERVAL_MS = 20;

/**
 * Key presses given to a guest's keyboard in order, one at once and the next every
 * TYPED_KEY_INTERVAL_MS. Text given at once (a touch keyboard's word, a suggestion taken) sent at
 * once overran a guest reading through the BIOS, whose keyboard buffer holds 15 keys: GRUB kept
 * "echo typed-by-t" of "echo typed-by-touch". A person's keys come one by one and need none of it.
 */
export class PacedKeys {
  private queue: (readonly number[])[] = [];
  private timer: Disposable | undefined;

  constructor(
    private readonly send: (codes: readonly number[]) => void,
    private readonly clock: Clock,
  ) {}

  /** Queue key presses (each its scan codes). */
  press(presses: readonly (readonly number[])[]): void {
    this.queue.push(...presses);
    if (this.timer === undefined) this.next();
  }

  private next(): void {
    this.timer = undefined;
    const press = this.queue.shift();
    if (press === undefined) return;
    this.send(press);
    this.timer = this.clock.after(TYPED_KEY_INTERVAL_MS, () => this.next());
  }

  /** Forget the keys not sent yet. */
  dispose(): void {
    this.timer?.dispose();
    this.timer = undefined;
    this.queue = [];
  }
}
