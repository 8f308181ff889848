/**
 * The page's one element builder and its async button: every panel builds its DOM with these
 * (kit/confirm, kit/rename and kit/download build on them).
 */
import { toDisposable, type Disposable } from "../../core/index.ts";

type Props = Record<string, string | boolean | number | undefined | ((event: Event) => void)>;

/**
 * `h("button", { type: "button", testid: "x", onClick }, "Label")`: a function prop `onX` listens
 * to event `x`, `testid` sets `data-testid`, `data-*` and unknown names are attributes, the rest
 * properties; `undefined` and `false` set nothing.
 */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: (Node | string | undefined)[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === false) continue;
    if (typeof value === "function") el.addEventListener(key.slice(2).toLowerCase(), value);
    else if (key === "testid") el.dataset["testid"] = String(value);
    else if (key.startsWith("data-")) el.setAttribute(key, String(value));
    else if (key in el) (el as unknown as Record<string, unknown>)[key] = value;
    else el.setAttribute(key, String(value));
  }
  for (const child of children) if (child !== undefined) el.append(child);
  return el;
}

/**
 * For a toolbar button's `mousedown`: a click does not take the focus from where the user types
 * (the terminal, the VGA screen), so the next key goes to the guest, not to the button (Enter
 * would press it again: Resume, then Enter, paused the machine). Tab and the keyboard still
 * focus and press it as any button.
 */
export function keepFocusOnClick(event: Event): void {
  event.preventDefault();
}

/** A button that runs an async job, reporting its error instead of dropping it. */
export function actionButton(label: string, testid: string | undefined, job: () => Promise<void> | void, report: (error: unknown) => void, title?: string): HTMLButtonElement {
  const button = h("button", { type: "button", testid, title }, label);
  button.addEventListener("click", () => {
    void (async () => {
      try {
        await job();
      } catch (error) {
        report(error);
      }
    })();
  });
  return button;
}

/** Listen on a target outside the panel (document, window) until the returned handle is disposed. */
export function listen<E extends Event = Event>(target: EventTarget, type: string, listener: (event: E) => void, options?: AddEventListenerOptions): Disposable {
  const handler = listener as (event: Event) => void;
  target.addEventListener(type, handler, options);
  return toDisposable(() => target.removeEventListener(type, handler, options));
}

const FOCUSABLE = "a[href], button, input, select, textarea, summary, [tabindex]";

const reachable = (e: HTMLElement): boolean => e.tabIndex >= 0 && !e.matches(":disabled") && e.getClientRects().length > 0;

/** Focus the first control after `element` (not inside it) that Tab would reach. */
export function focusFirstAfter(element: Element): void {
  const after = [...element.ownerDocument.querySelectorAll<HTMLElement>(FOCUSABLE)].find(
    (e) => (element.compareDocumentPosition(e) & Node.DOCUMENT_POSITION_FOLLOWING) !== 0 && !element.contains(e) && reachable(e),
  );
  after?.focus();
}

/** Whether the keys go to a text field of the page (not a terminal's input, not a button). */
export function typingInField(doc: Document): boolean {
  const e = doc.activeElement;
  if (e instanceof HTMLTextAreaElement) return e.closest(".xterm") === null;
  if (e instanceof HTMLInputElement) return !["button", "checkbox", "radio", "submit", "reset", "file", "range", "color"].includes(e.type);
  return e instanceof HTMLElement && e.isContentEditable;
}

/** Whether the keyboard's focus is nowhere (on the body: the element that had it was removed). */
export function focusLost(doc: Document): boolean {
  return doc.activeElement === null || doc.activeElement === doc.body;
}

/**
 * Run `job` (an answer to an inline question, which redraws the place it was asked in); if that
 * took the keyboard's focus away, it goes to the first control Tab reaches in the nearest place
 * around `anchor` (as it was when the job began) that is still in the page and has one: the
 * control that asked, drawn again; the list a deleted item was in; else its panel.
 */
export async function keepingFocusNear(anchor: Element, job: () => Promise<void> | void): Promise<void> {
  const places: Element[] = [];
  for (let at = anchor.parentElement; at !== null; at = at.parentElement) places.push(at);
  try {
    await job();
  } finally {
    if (focusLost(anchor.ownerDocument)) refocusWithin(places);
  }
}

function refocusWithin(places: readonly Element[]): void {
  for (const place of places) {
    const control = place.isConnected ? [...place.querySelectorAll<HTMLElement>(FOCUSABLE)].find(reachable) : undefined;
    if (control === undefined) continue;
    control.focus();
    return;
  }
}

/**
 * A wide element (a table) in a box that scrolls sideways on its own when the page is narrower
 * than it (a projector's zoom), instead of widening the page. While it scrolls the box takes the
 * focus, so the keyboard scrolls it too (named after what it holds); else it is no Tab stop.
 */
export function scrollBox(label: string, content: HTMLElement): HTMLElement {
  const box = h("div", { className: "scroll-box", role: "region", "aria-label": label, tabIndex: -1 }, content);
  const observer = new ResizeObserver(() => {
    box.tabIndex = box.scrollWidth > box.clientWidth ? 0 : -1;
  });
  observer.observe(box);
  observer.observe(content);
  return box;
}
