/**
 * The keys a touch keyboard lacks (comfort/touchKeys.ts), in a row: under a terminal, and in the
 * VGA screen's toolbar. Shown only where the primary pointer is a finger (`pointer: coarse`,
 * style.css): a phone, a tablet. Its buttons never take the focus, so the on-screen keyboard
 * stays up and the next key typed still goes to the guest. Ctrl is held for the next key, of the
 * row or typed (`takeCtrl`).
 */
import { DisposableStore, type Disposable } from "../core/index.ts";
import { SWIPE_START_PX, TOUCH_KEYS, swipeLines, type TouchKey } from "./comfort/touchKeys.ts";
import { h, keepFocusOnClick, listen } from "./kit/dom.ts";

export interface TouchKeyBarOptions {
  /** A key of the row pressed, with Ctrl when it was pressed on the row first (then released). */
  press(key: Exclude<TouchKey, "ctrl">, ctrl: boolean): void;
  /** Before any key of the row, Ctrl included (the terminal takes the focus back). */
  beforePress?(): void;
  /** Test ids: `${prefix}touch-keys` for the row, `${prefix}touch-key-<key>` for its keys. */
  readonly testidPrefix?: string;
  /** Inside a toolbar of its own (the VGA screen's): a group, not a toolbar in a toolbar. */
  readonly inToolbar?: boolean;
}

export class TouchKeyBar {
  readonly element: HTMLElement;
  private readonly ctrlButton: HTMLButtonElement | undefined;
  private ctrl = false;

  constructor(options: TouchKeyBarOptions) {
    const prefix = options.testidPrefix ?? "";
    const buttons = TOUCH_KEYS.map(({ key, label, name }) =>
      h(
        "button",
        {
          type: "button",
          "aria-label": name,
          testid: `${prefix}touch-key-${key}`,
          ...(key === "ctrl" ? { "aria-pressed": "false" } : {}),
          onMousedown: keepFocusOnClick,
          onClick: () => {
            options.beforePress?.();
            if (key === "ctrl") return this.setCtrl(!this.ctrl);
            options.press(key, this.takeCtrl());
          },
        },
        label,
      ),
    );
    this.ctrlButton = buttons[TOUCH_KEYS.findIndex((k) => k.key === "ctrl")];
    const label = "Keys a touch keyboard lacks";
    this.element =
      options.inToolbar === true
        ? h("span", { className: "touch-keys", role: "group", "aria-label": label, testid: `${prefix}touch-keys` }, ...buttons)
        : h("div", { className: "touch-keys", role: "toolbar", "aria-label": label, testid: `${prefix}touch-keys` }, ...buttons);
  }

  /** Whether Ctrl was pressed on the row for the next key; it is released. */
  takeCtrl(): boolean {
    const held = this.ctrl;
    if (held) this.setCtrl(false);
    return held;
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
