/**
 * Keys a touch screen's keyboard does not have and a shell needs: Esc (vi), Tab (completion), Ctrl
 * (Ctrl+C, Ctrl+D, Ctrl+R, ...) and the arrows (history, `less`, `top`). A student on a tablet
 * could not stop a `ping` without them. The bytes are what an xterm sends for the same keys.
 */
export type TouchKey = "esc" | "tab" | "ctrl" | "up" | "down" | "left" | "right";

export interface TouchKeyButton {
  readonly key: TouchKey;
  readonly label: string;
  /** What a screen reader says; it holds the label (what a voice-control user says). */
  readonly name: string;
}

export const TOUCH_KEYS: readonly TouchKeyButton[] = [
  { key: "esc", label: "Esc", name: "Esc (Escape)" },
  { key: "tab", label: "Tab", name: "Tab" },
  { key: "ctrl", label: "Ctrl", name: "Ctrl, held for the next key typed" },
  { key: "left", label: "←", name: "Left arrow" },
  { key: "up", label: "↑", name: "Up arrow" },
  { key: "down", label: "↓", name: "Down arrow" },
  { key: "right", label: "→", name: "Right arrow" },
];

const ARROW_LETTERS = { up: "A", down: "B", right: "C", left: "D" } as const;

/**
 * The bytes for a key of the bar. Arrows follow the cursor-key mode the guest's program chose
 * (`applicationCursor`, DECCKM: `vi` and `less` ask for ESC O A instead of ESC [ A).
 */
export function touchKeyBytes(key: Exclude<TouchKey, "ctrl">, applicationCursor: boolean): string {
  if (key === "esc") return "\x1b";
  if (key === "tab") return "\t";
  return `\x1b${applicationCursor ? "O" : "["}${ARROW_LETTERS[key]}`;
}

/**
 * One typed character with Ctrl held, as a terminal sends it: a letter (either case) and `@[\]^_`
 * give their control code (Ctrl+C is 0x03), a space 0x00, `?` DEL; anything else (a word from the
 * keyboard's suggestions, a digit) goes as it was typed.
 */
export function withControl(data: string): string {
  if (data.length !== 1) return data;
  if (data === " ") return "\x00";
  if (data === "?") return "\x7f";
  const code = data.toUpperCase().charCodeAt(0);
  return code >= 0x40 && code <= 0x5f ? String.fromCharCode(code & 0x1f) : data;
}

/** A finger must move this far, more up or down than sideways, before a touch is a swipe (a tap stays a tap). */
export const SWIPE_START_PX = 10;

/**
 * How many more lines to scroll a terminal for a finger now `dy` px below where it touched down
 * (negative: above), `done` lines scrolled so far in this swipe: the lines follow the finger, so
 * dragging down shows earlier ones (negative, as xterm's `scrollLines` counts).
 */
export function swipeLines(dy: number, rowHeight: number, done: number): number {
  if (!(rowHeight > 0)) return 0;
  // `|| 0`: no line is 0, not -0.
  return Math.trunc(-dy / rowHeight) - done || 0;
}
