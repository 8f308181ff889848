/**
 * The keys a touch keyboard lacks (comfort/touchKeys.ts), in a row under a terminal. Shown only
 * where the primary pointer is a finger (`pointer: coarse`, style.css): a phone, a tablet. Its
 * buttons never take the focus, so the on-screen keyboard stays up and the next key typed still
 * goes to the guest.
 */
import { TOUCH_KEYS, touchKeyBytes, withControl } from "./comfort/touchKeys.ts";
import { h, keepFocusOnClick } from "./kit/dom.ts";

export class TouchKeyBar {
  readonly element: HTMLElement;
  private readonly ctrlButton: HTMLButtonElement | undefined;
  private ctrl = false;

  /** `send` gets the bytes of a key; `applicationCursor` says which arrows the guest's program asked for. */
  constructor(send: (data: string) => void, applicationCursor: () => boolean, focusTerminal: () => void) {
    const buttons = TOUCH_KEYS.map(({ key, label, name }) =>
      h(
        "button",
        {
          type: "button",
          "aria-label": name,
          testid: `touch-key-${key}`,
          ...(key === "ctrl" ? { "aria-pressed": "false" } : {}),
          onMousedown: keepFocusOnClick,
          onClick: () => {
            focusTerminal();
            if (key === "ctrl") return this.setCtrl(!this.ctrl);
            this.setCtrl(false);
            send(touchKeyBytes(key, applicationCursor()));
          },
        },
        label,
      ),
    );
    this.ctrlButton = buttons[TOUCH_KEYS.findIndex((k) => k.key === "ctrl")];
    this.element = h("div", { className: "touch-keys", role: "toolbar", "aria-label": "Keys a touch keyboard lacks", testid: "touch-keys" }, ...buttons);
  }

  /** What the terminal's own keyboard typed, with Ctrl when it was pressed on the bar first (once). */
  typed(data: string): string {
    if (!this.ctrl) return data;
    this.setCtrl(false);
    return withControl(data);
  }

  private setCtrl(on: boolean): void {
    this.ctrl = on;
    this.ctrlButton?.setAttribute("aria-pressed", String(on));
  }
}
