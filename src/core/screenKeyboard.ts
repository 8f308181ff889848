/**
 * What a guest's PS/2 keyboard gets for the keys typed while its VGA screen has them.
 *
 * A PS/2 keyboard sends where a key is, not what it types: the guest's own layout makes the
 * character. The guests a VGA screen is for (a BIOS, GRUB, an installer before it asks, the
 * default guest's console) have a US layout, so a student whose keyboard is Italian, Spanish,
 * French or German typing by position got other characters: on an Italian keyboard, `ls /`
 * (the `/` is Shift+7 there) reached GRUB as `ls &`. So by default ("typed") a key whose
 * character is not the one a US keyboard types at the same place is sent as the key presses
 * that type that character on a US keyboard, Shift (and AltGr) held or let go around it as that
 * needs and put back after; Ctrl and Alt shortcuts keep their modifiers (Ctrl+Z on a German
 * keyboard is Ctrl+Z, not Ctrl+Y; a shortcut on a letter no US key types, Ctrl+С on a Russian
 * layout, goes by position). A character no US key types (é, ò) sends nothing. Keys that type no
 * character (Enter, the arrows, F-keys), the modifiers themselves and every key of a US layout go
 * by position, held while held, as before. "position" sends every key by position: for a guest
 * set to the user's own layout.
 *
 * The keys pressed and not yet released are tracked, so that they can all be let go when the
 * page loses the keys (the window left with Alt+Tab: the guest would keep Alt held).
 */
import { keyForCharacter, scancodesFor, usCharacter } from "./scancodes.ts";

export type ScreenKeyMode = "typed" | "position";
export const SCREEN_KEY_MODES: readonly ScreenKeyMode[] = ["typed", "position"];

/** What the page knows of a key event: KeyboardEvent's fields of the same names. */
export interface KeyStroke {
  readonly type: "keydown" | "keyup";
  readonly code: string;
  readonly key: string;
  readonly shiftKey: boolean;
  readonly ctrlKey: boolean;
  readonly altKey: boolean;
  /** `getModifierState("AltGraph")`: the key types its layout's third character (AltGr). */
  readonly altGraph: boolean;
}

type Role = "shift" | "control" | "alt";
const ROLES: readonly Role[] = ["shift", "control", "alt"];
const MODIFIERS: Readonly<Record<string, Role | "meta">> = {
  ShiftLeft: "shift",
  ShiftRight: "shift",
  ControlLeft: "control",
  ControlRight: "control",
  AltLeft: "alt",
  AltRight: "alt",
  MetaLeft: "meta",
  MetaRight: "meta",
};
const LEFT_KEY: Readonly<Record<Role, string>> = { shift: "ShiftLeft", control: "ControlLeft", alt: "AltLeft" };
/** The keys the keypad is with Num Lock off, named as KeyboardEvent.key and .code both name them. */
const NAVIGATION_KEYS = new Set(["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "Home", "End", "PageUp", "PageDown", "Insert", "Delete"]);
/** In "typed" mode the host keeps these: what they change is already in the characters it reports. */
const HOST_LOCKS = new Set(["CapsLock", "NumLock"]);

/** The one character a key typed, or undefined for a named key ("Enter", "Dead", "Process"). */
function typedCharacter(key: string): string | undefined {
  const chars = [...key];
  return chars.length === 1 && key >= " " && key !== "\u007f" ? key : undefined;
}

export class ScreenKeyboard {
  /** Keys the guest holds, pressed by position. */
  private readonly held = new Set<string>();
  /** Keys whose press was sent as a character typed: their release sends nothing. */
  private readonly typed = new Set<string>();
  /** Keypad keys sent as the navigation key they are with Num Lock off, by their code. */
  private readonly standIns = new Map<string, string>();

  constructor(public mode: ScreenKeyMode = "typed") {}

  /**
   * The scan codes for a key event; an empty list when the key is the screen's but sends
   * nothing (a dead key, a character no US key types, a lock key the host keeps), undefined
   * for a key this keyboard does not have.
   */
  translate(stroke: KeyStroke): number[] | undefined {
    return stroke.type === "keyup" ? this.release(stroke.code) : this.press(stroke);
  }

  /** Let go of every key the guest holds (the page lost the keys). */
  releaseAll(): number[] {
    const codes = [...this.held, ...this.standIns.values()].flatMap((code) => scancodesFor(code, false) ?? []);
    this.held.clear();
    this.typed.clear();
    this.standIns.clear();
    return codes;
  }

  private press(stroke: KeyStroke): number[] | undefined {
    if (this.mode === "position" || stroke.code in MODIFIERS) return this.pressByPosition(stroke.code);
    if (HOST_LOCKS.has(stroke.code)) return [];
    if (stroke.key === "Dead") return [];
    // The keypad with the host's Num Lock off: its arrows and Home are the host's, whatever the guest's lock says.
    if (stroke.code.startsWith("Numpad") && NAVIGATION_KEYS.has(stroke.key)) return this.pressAs(stroke.code, stroke.key);
    const char = typedCharacter(stroke.key);
    // A character made with AltGr is never the US key's own (Italian AltGr+è is '[' at the US '[' key).
    if (char === undefined || (!stroke.altGraph && usCharacter(stroke.code, stroke.shiftKey) === char)) return this.pressByPosition(stroke.code);
    const shortcut = (stroke.ctrlKey || stroke.altKey) && !stroke.altGraph;
    const target = keyForCharacter(char);
    // Ctrl+C on a Russian or Greek layout names a letter no US key types: the shortcut is the key's.
    if (target === undefined && shortcut) return this.pressByPosition(stroke.code);
    this.typed.add(stroke.code);
    if (target === undefined) return [];
    return this.tap(target.code, { shift: target.shift, control: shortcut && stroke.ctrlKey, alt: shortcut && stroke.altKey });
  }

  private pressByPosition(code: string): number[] | undefined {
    const codes = scancodesFor(code, true);
    if (codes !== undefined) this.held.add(code);
    return codes;
  }

  /** `code` pressed as the key `as` (held while held, released as it). */
  private pressAs(code: string, as: string): number[] | undefined {
    const codes = scancodesFor(as, true);
    if (codes !== undefined) this.standIns.set(code, as);
    return codes;
  }

  private release(code: string): number[] | undefined {
    if (this.typed.delete(code)) return [];
    const standIn = this.standIns.get(code);
    if (standIn !== undefined) {
      this.standIns.delete(code);
      return scancodesFor(standIn, false);
    }
    this.held.delete(code);
    if (this.mode === "typed" && HOST_LOCKS.has(code)) return [];
    return scancodesFor(code, false);
  }

  /** The key pressed and released with exactly the modifiers asked for held, the guest's held ones put back after. */
  private tap(code: string, want: Readonly<Record<Role, boolean>>): number[] {
    const letGo = [...this.held].filter((key) => MODIFIERS[key] !== undefined && MODIFIERS[key] !== "meta" && !want[MODIFIERS[key]]);
    const hold = ROLES.filter((role) => want[role] && ![...this.held].some((key) => MODIFIERS[key] === role)).map((role) => LEFT_KEY[role]);
    const keys = (codes: readonly string[], pressed: boolean): number[] => codes.flatMap((key) => scancodesFor(key, pressed)!);
    return [...keys(letGo, false), ...keys(hold, true), ...keys([code], true), ...keys([code], false), ...keys([...hold].reverse(), false), ...keys([...letGo].reverse(), true)];
  }
}
