/**
 * An inline confirmation: a question and two buttons in place of the row or control that asked,
 * instead of a modal dialog. Test ids follow one pattern: `<testid>-question`, `-confirm`, `-cancel`.
 */
import { actionButton, focusLost, h, keepingFocusNear } from "./dom.ts";

export interface InlineConfirm {
  /** The prefix of the three test ids, e.g. "image-delete". */
  readonly testid: string;
  readonly question: string;
  /** The button that does it, e.g. "Yes, delete". */
  readonly confirm: string;
  /** The button that leaves things as they are (default "Cancel"). */
  readonly cancel?: string;
  onConfirm(): Promise<void> | void;
  onCancel(): Promise<void> | void;
  report(error: unknown): void;
  /** The question as a paragraph of its own (default: inline, beside the buttons). */
  readonly block?: boolean;
}

let questions = 0;

/**
 * The question, the confirm button and the cancel button, in that order, for the caller to put
 * where the asking control was. The keyboard's focus was on that control, which they replace: it
 * goes to the cancel button (the harmless answer), which a screen reader reads with the question.
 * Once answered, a focus lost to the redraw stays near (`keepingFocusNear`). Before, the focus
 * fell to the page's body at each step.
 */
export function inlineConfirm(ask: InlineConfirm): [HTMLElement, HTMLButtonElement, HTMLButtonElement] {
  const id = `confirm-question-${++questions}`;
  const question = h(ask.block === true ? "p" : "span", { id, testid: `${ask.testid}-question` }, ask.question);
  const confirm = actionButton(ask.confirm, `${ask.testid}-confirm`, () => keepingFocusNear(question, () => ask.onConfirm()), ask.report);
  const cancel = actionButton(ask.cancel ?? "Cancel", `${ask.testid}-cancel`, () => keepingFocusNear(question, () => ask.onCancel()), ask.report);
  for (const button of [confirm, cancel]) button.setAttribute("aria-describedby", id);
  // After the caller has put them in place (it does so in the same task).
  queueMicrotask(() => {
    if (cancel.isConnected && focusLost(document)) cancel.focus();
  });
  return [question, confirm, cancel];
}
