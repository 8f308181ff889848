/**
 * The terminal answers some queries of the guest by itself: busybox's line editor asks for the
 * cursor position (ESC [6n) when it prints a prompt, and xterm.js replies ESC [row;col R as if it
 * were typed. When a command is sent by virtlab (a lesson step, a benchmark, a test) right after
 * the prompt, the reply arrives after the command line, lands in the running command's input and
 * is echoed into its output ("^[[7;17R"). Those replies are dropped while such a command runs.
 */
const ESC = "\u001b";
const REPORT_BODY = /^\[\d+;\d+R$/;

export function isCursorPositionReport(data: string): boolean {
  return data.startsWith(ESC) && REPORT_BODY.test(data.slice(1));
}
