/**
 * Keyboard shortcuts that never collide with the guest: the guest gets every plain, Ctrl and Alt
 * key (Ctrl+C, Alt+F2, ...), so the page's own keys are Alt+Shift+<key>, matched on the
 * key, named as `event.code` names it. A letter is the letter the key types (`event.key`) when
 * it types one (Alt+Shift+M is the M key of a French AZERTY keyboard, where a US keyboard has ';';
 * Ctrl+Shift+C on Dvorak is its C); other keys, and letters on a layout with no Latin letters or
 * where Alt changes the character (macOS's Option), are the key at that place.
 */
export interface KeyChord {
  readonly altKey: boolean;
  readonly shiftKey: boolean;
  readonly ctrlKey: boolean;
  readonly metaKey: boolean;
  readonly code: string;
  /** What the key typed (KeyboardEvent.key); absent, the key is named by its place alone. */
  readonly key?: string;
}

/** The key as shortcuts name it: `Key<letter>` for the Latin letter it types, else its place. */
export function chordKey(event: KeyChord): string {
  const letter = event.key !== undefined && /^[a-z]$/i.test(event.key) ? event.key.toUpperCase() : undefined;
  return letter === undefined ? event.code : `Key${letter}`;
}

/** Alt+Shift and nothing else: the page's modifier. */
export function isPageChord(event: KeyChord): boolean {
  return event.altKey && event.shiftKey && !event.ctrlKey && !event.metaKey;
}

/** The action whose shortcut this key press is, if any. */
export function matchShortcut<T extends { readonly shortcut?: string | undefined }>(event: KeyChord, actions: readonly T[]): T | undefined {
  if (!isPageChord(event)) return undefined;
  const key = chordKey(event);
  return actions.find((a) => a.shortcut === key);
}

const KEY_NAMES: Record<string, string> = { Equal: "=", Minus: "-", Slash: "/", Insert: "Insert", Enter: "Enter" };

/** "KeyS" → "Alt+Shift+S", "Digit0" → "Alt+Shift+0", "Equal" → "Alt+Shift+=". */
export function formatShortcut(code: string): string {
  const key = code.startsWith("Key") ? code.slice(3) : code.startsWith("Digit") ? code.slice(5) : (KEY_NAMES[code] ?? code);
  return `Alt+Shift+${key}`;
}

/** Terminal clipboard keys (handled by the terminal, listed in the help). */
export const CLIPBOARD_KEYS: readonly (readonly [string, string])[] = [
  ["Select with the mouse", "copies the selection"],
  ["Ctrl+Shift+C", "copies the selection"],
  ["Ctrl+Shift+V or Shift+Insert", "pastes into the terminal"],
  ["Ctrl+C", "goes to the guest (interrupts the running program)"],
];

/** Which terminal key press is a clipboard command (and not for the guest). */
export function clipboardCommand(event: KeyChord & { readonly type: string }): "copy" | "paste" | undefined {
  if (event.type !== "keydown" || event.altKey || event.metaKey) return undefined;
  if (event.ctrlKey && event.shiftKey && chordKey(event) === "KeyC") return "copy";
  if (event.ctrlKey && event.shiftKey && chordKey(event) === "KeyV") return "paste";
  if (!event.ctrlKey && event.shiftKey && event.code === "Insert") return "paste";
  return undefined;
}
