/**
 * The keys a touch keyboard lacks (comfort/touchKeys.ts), in a row under a terminal. Shown only
 * where the primary pointer is a finger (`pointer: coarse`, style.css): a phone, a tablet. Its
 * buttons never take the focus, so the on-screen keyboard stays up and the next key typed still
 * goes to the guest.
 */
import { DisposableStore, type Disposable } from "../core/index.ts";
import { SWIPE_START_PX, TOUCH_KEYS, swipeLines, touchKeyBytes, withControl } from "./comfort/touchKeys.ts";
import { h, keepFocusOnClick, listen } from "./kit/dom.ts";

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

/**
 * A finger swiped up or down over a terminal scrolls its scrollback. xterm did so until 6.0.0,
 * the release this app uses and the latest (its new scroll bar lost it: xtermjs/xterm.js#5489,
 * fixed for the next release); without it a phone's user could not read back past one screen.
 * Only a move more up or down than sideways, past SWIPE_START_PX, is taken (a tap still focuses
 * the terminal, a sideways move is the browser's), and once taken the page does not scroll with it.
 */
export function scrollOnSwipe(element: HTMLElement, rowHeight: () => number, scrollLines: (lines: number) => void): Disposable {
  const store = new DisposableStore();
  let swipe: { x: number; y: number; done: number; taken: boolean } | undefined;
  store.add(
    listen<TouchEvent>(element, "touchstart", (event) => {
      const touch = event.touches.length === 1 ? event.touches[0] : undefined;
      swipe = touch === undefined ? undefined : { x: touch.clientX, y: touch.clientY, done: 0, taken: false };
    }, { passive: true }),
  );
  store.add(
    listen<TouchEvent>(element, "touchmove", (event) => {
      const touch = event.touches.length === 1 ? event.touches[0] : undefined;
      if (swipe === undefined || touch === undefined) return void (swipe = undefined);
      const dy = touch.clientY - swipe.y;
      swipe.taken ||= Math.abs(dy) > SWIPE_START_PX && Math.abs(dy) > Math.abs(touch.clientX - swipe.x);
      if (!swipe.taken) return;
      if (event.cancelable) event.preventDefault();
      const lines = swipeLines(dy, rowHeight(), swipe.done);
      if (lines === 0) return;
      scrollLines(lines);
      swipe.done += lines;
    }, { passive: false }),
  );
  for (const type of ["touchend", "touchcancel"]) store.add(listen(element, type, () => (swipe = undefined)));
  return store;
}
