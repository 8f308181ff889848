/**
 * An inline confirmation: a question and two buttons in place of the row or control that asked,
 * instead of a modal dialog. Test ids follow one pattern: `<testid>-question`, `-confirm`, `-cancel`.
 */
import { actionButton, h } from "./dom.ts";

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

/** The question, the confirm button and the cancel button, in that order. */
export function inlineConfirm(ask: InlineConfirm): [HTMLElement, HTMLButtonElement, HTMLButtonElement] {
  const question = h(ask.block === true ? "p" : "span", { testid: `${ask.testid}-question` }, ask.question);
  return [
    question,
    actionButton(ask.confirm, `${ask.testid}-confirm`, () => ask.onConfirm(), ask.report),
    actionButton(ask.cancel ?? "Cancel", `${ask.testid}-cancel`, () => ask.onCancel(), ask.report),
  ];
}
