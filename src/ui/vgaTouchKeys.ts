/**
 * Typing to the VGA screen on a touch screen. The screen takes keys by their position
 * (KeyboardEvent.code → PS/2 scan codes), and a touch screen's keyboard names no key: it types
 * text into a field, and only comes up for one. So where the main pointer is a finger, the
 * screen's toolbar has a Keyboard button, which puts the focus in a field of its own (the
 * keyboard comes up); what is typed there is sent as the key presses that type it on a US
 * keyboard (`scancodesForCharacter`), Backspace and Enter as theirs, at a typist's pace
 * (`PacedKeys`: a word given at once overran GRUB), and the field is emptied again. Beside it,
 * the keys a touch keyboard lacks (Esc, Tab, Ctrl held for the next key, the arrows), as under a
 * terminal. A hardware keyboard typing in the field goes as the screen's other keys do
 * (RemoteScreenView's listener takes the key and the field never sees it).
 */
import { type Disposable } from "../core/index.ts";
import { PacedKeys, scancodesForCharacter, scancodesForTap } from "../core/scancodes.ts";
import type { TouchKey } from "./comfort/touchKeys.ts";
import { h } from "./kit/dom.ts";
import { TouchKeyBar } from "./touchKeyBar.ts";
import { pageClock } from "./pageClock.ts";

/** Marks the field: keys typed in it go to the screen. */
export const VGA_INPUT_ATTRIBUTE = "data-vga-input";

const KEY_CODES: Record<Exclude<TouchKey, "ctrl">, string> = { esc: "Escape", tab: "Tab", up: "ArrowUp", down: "ArrowDown", left: "ArrowLeft", right: "ArrowRight" };

/** Left in the field, so that a keyboard's Backspace has something to delete (and fires). */
const KEEP = " ";

export class VgaTouchKeys implements Disposable {
  private readonly field: HTMLTextAreaElement;
  private readonly parts: HTMLElement[];
  private readonly row: TouchKeyBar;
  private readonly paced: PacedKeys;

  constructor(
    toolbar: HTMLElement,
    keys: (codes: readonly number[]) => void,
  ) {
    this.paced = new PacedKeys(keys, pageClock());
    this.field = h("textarea", { className: "vga-touch-input", "aria-label": "Typing to the machine's keyboard", [VGA_INPUT_ATTRIBUTE]: "", testid: "vga-touch-input", autocapitalize: "off", autocomplete: "off", rows: 1 });
    this.field.spellcheck = false;
    this.field.tabIndex = -1;
    this.field.value = KEEP;
    this.field.addEventListener("input", (event) => this.typed(event as InputEvent));
    // A keyboard that composes words (suggestions) gives the word when it is done.
    this.field.addEventListener("compositionend", () => this.typed(undefined));
    const keyboard = h("button", { type: "button", className: "vga-touch-keyboard", testid: "vga-keyboard", onClick: () => this.focus() }, "Keyboard");
    this.row = new TouchKeyBar({ press: (key, ctrl) => this.press(KEY_CODES[key], ctrl), testidPrefix: "vga-", inToolbar: true });
    this.parts = [keyboard, this.field, this.row.element];
    toolbar.append(...this.parts);
  }

  private focus(): void {
    this.field.focus();
    this.field.setSelectionRange(this.field.value.length, this.field.value.length);
  }

  private press(code: string, control: boolean): void {
    this.paced.press([scancodesForTap(code, { control })!]);
  }

  private typed(event: InputEvent | undefined): void {
    if (event?.isComposing === true) return;
    const value = this.field.value;
    this.field.value = KEEP;
    if (event?.inputType === "deleteContentBackward" || !value.startsWith(KEEP)) return this.press("Backspace", this.row.takeCtrl());
    if (event?.inputType === "insertLineBreak" || event?.inputType === "insertParagraph") return this.press("Enter", this.row.takeCtrl());
    const presses: number[][] = [];
    for (const char of value.slice(KEEP.length)) {
      const codes = scancodesForCharacter(char, this.row.takeCtrl());
      if (codes !== undefined) presses.push(codes);
    }
    this.paced.press(presses);
  }

  dispose(): void {
    this.paced.dispose();
    for (const part of this.parts) part.remove();
  }
}
