/**
 * Where the page tells the user things: the error box (one message per failure, in the words of
 * messages.ts, mirrored in the terminal) and the notice line (lines that are not errors).
 */
import { isAppError } from "../core/index.ts";
import { toUserMessage } from "./messages.ts";

function byId(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`The page is missing #${id}.`);
  return el;
}

/** Said when the page was loaded again after the browser discarded the tab. */
export const DISCARDED_NOTICE =
  "The browser closed this tab while it was in the background, to save memory, and opened it again: the machine started anew. Its disks kept what was saved on them; the programs it ran are gone (a snapshot, Alt+Shift+S, keeps those too).";

export interface MessageAreaHost {
  /** Also write the line to the terminal. */
  toTerminal(line: string): void;
  /** Buttons under an image-missing error (edit the machine, add the image). */
  missingImageActions(): HTMLElement;
}

export class MessageArea {
  private readonly box = byId("error");
  private readonly noticeLine = byId("notice");
  private readonly notices: string[] = [];
  /** Every error shown on this page, for the test proxy. */
  readonly errors: string[] = [];

  constructor(private readonly host: MessageAreaHost) {
    // A tab left in the background can be discarded by the browser to save memory (Chromium's
    // memory saver, a Chromebook short of it) and is loaded anew when the user comes back: the
    // machine starts afresh, and without a word the student wonders where their programs went.
    if ((document as { wasDiscarded?: boolean }).wasDiscarded === true) this.showNotice(DISCARDED_NOTICE);
  }

  showError(error: unknown): void {
    const message = toUserMessage(error);
    const title = Object.assign(document.createElement("strong"), { textContent: message.title });
    const detail = Object.assign(document.createElement("p"), { textContent: message.detail });
    const hint = Object.assign(document.createElement("p"), { className: "hint", textContent: message.hint });
    this.box.replaceChildren(title, detail, hint);
    if (isAppError(error) && error.code === "image-missing") this.box.append(this.host.missingImageActions());
    this.box.hidden = false;
    this.errors.push(`${message.title}: ${message.detail}`);
    this.host.toTerminal(`${message.title}: ${message.detail}`);
  }

  clearError(): void {
    this.box.hidden = true;
  }

  /** A line for the user that is not an error (ignored link settings, a copied link); lines add up. */
  showNotice(text: string): void {
    if (!this.notices.includes(text)) this.notices.push(text);
    this.noticeLine.replaceChildren(...this.notices.map((line) => Object.assign(document.createElement("span"), { textContent: line })));
    this.noticeLine.hidden = false;
  }

  /** Replace the notices with one link line. */
  showLink(text: string, url: string): void {
    this.notices.length = 0;
    this.showNotice(text);
    this.noticeLine.dataset["link"] = url;
  }
}
