/**
 * Typing to the VGA screen on a touch screen. The screen takes keys by their position
 * (KeyboardEvent.code → PS/2 scan codes), and a touch screen's keyboard names no key: it types
 * text into a field, and only comes up for one. So where the main pointer is a finger, the
 * screen's toolbar has a Keyboard button, which puts the focus in a field of its own (the
 * keyboard comes up); what is typed there is sent as the key presses that type it on a US
 * keyboard (`scancodesForCharacter`), Backspace and Enter as theirs, at a typist's pace
 * (`PacedKeys`: a word given at once overran GRUB), and the field is emptied again. Beside it,
 * the keys a touch keyboard lacks (Esc, Tab, Ctrl held for the next key, the arrows), as under a
 * terminal. A hardware keyboard typing in the field still goes by position (RemoteScreenView's
 * listener takes the key and the field never sees it).
 */
import { systemClock, type Disposable } from "../core/index.ts";
import { PacedKeys, scancodesFor, scancodesForCharacter } from "../core/scancodes.ts";
import { TOUCH_KEYS, type TouchKey } from "./comfort/touchKeys.ts";
import { h, keepFocusOnClick } from "./kit/dom.ts";

/** Marks the field: keys typed in it go to the screen. */
export const VGA_INPUT_ATTRIBUTE = "data-vga-input";

const KEY_CODES: Record<Exclude<TouchKey, "ctrl">, string> = { esc: "Escape", tab: "Tab", up: "ArrowUp", down: "ArrowDown", left: "ArrowLeft", right: "ArrowRight" };

/** Left in the field, so that a keyboard's Backspace has something to delete (and fires). */
const KEEP = " ";

/** A key pressed and released, inside Ctrl when `control`. */
function tap(code: string, control: boolean): number[] {
  const codes = [...scancodesFor(code, true)!, ...scancodesFor(code, false)!];
  return control ? [...scancodesFor("ControlLeft", true)!, ...codes, ...scancodesFor("ControlLeft", false)!] : codes;
}

export class VgaTouchKeys implements Disposable {
  private readonly field: HTMLTextAreaElement;
  private readonly parts: HTMLElement[];
  private readonly ctrlButton: HTMLButtonElement | undefined;
  private ctrl = false;
  private readonly paced: PacedKeys;

  constructor(
    toolbar: HTMLElement,
    keys: (codes: readonly number[]) => void,
  ) {
    this.paced = new PacedKeys(keys, systemClock);
    this.field = h("textarea", { className: "vga-touch-input", "aria-label": "Typing to the machine's keyboard", [VGA_INPUT_ATTRIBUTE]: "", testid: "vga-touch-input", autocapitalize: "off", autocomplete: "off", rows: 1 });
    this.field.spellcheck = false;
    this.field.tabIndex = -1;
    this.field.value = KEEP;
    this.field.addEventListener("input", (event) => this.typed(event as InputEvent));
    // A keyboard that composes words (suggestions) gives the word when it is done.
    this.field.addEventListener("compositionend", () => this.typed(undefined));
    const keyboard = h("button", { type: "button", className: "vga-touch-keyboard", testid: "vga-keyboard", onClick: () => this.focus() }, "Keyboard");
    const buttons = TOUCH_KEYS.map(({ key, label, name }) =>
      h(
        "button",
        {
          type: "button",
          "aria-label": name,
          testid: `vga-touch-key-${key}`,
          ...(key === "ctrl" ? { "aria-pressed": "false" } : {}),
          onMousedown: keepFocusOnClick,
          onClick: () => {
            if (key === "ctrl") return this.setCtrl(!this.ctrl);
            this.paced.press([tap(KEY_CODES[key], this.takeCtrl())]);
          },
        },
        label,
      ),
    );
    this.ctrlButton = buttons[TOUCH_KEYS.findIndex((k) => k.key === "ctrl")];
    const row = h("span", { className: "touch-keys", role: "group", "aria-label": "Keys a touch keyboard lacks", testid: "vga-touch-keys" }, ...buttons);
    this.parts = [keyboard, this.field, row];
    toolbar.append(...this.parts);
  }

  private focus(): void {
    this.field.focus();
    this.field.setSelectionRange(this.field.value.length, this.field.value.length);
  }

  private typed(event: InputEvent | undefined): void {
    if (event?.isComposing === true) return;
    const value = this.field.value;
    const presses: number[][] = [];
    if (event?.inputType === "deleteContentBackward" || !value.startsWith(KEEP)) presses.push(tap("Backspace", this.takeCtrl()));
    else if (event?.inputType === "insertLineBreak" || event?.inputType === "insertParagraph") presses.push(tap("Enter", this.takeCtrl()));
    else {
      for (const char of value.slice(KEEP.length)) {
        const codes = scancodesForCharacter(char, this.takeCtrl());
        if (codes !== undefined) presses.push(codes);
      }
    }
    this.field.value = KEEP;
    this.paced.press(presses);
  }

  private takeCtrl(): boolean {
    const held = this.ctrl;
    if (held) this.setCtrl(false);
    return held;
  }

  private setCtrl(on: boolean): void {
    this.ctrl = on;
    this.ctrlButton?.setAttribute("aria-pressed", String(on));
  }

  dispose(): void {
    this.paced.dispose();
    for (const part of this.parts) part.remove();
  }
}
