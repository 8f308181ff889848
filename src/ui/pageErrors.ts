/** Which uncaught page errors reach the user (main.ts); kept apart from messages.ts, which the page's entry must not load. */

/**
 * An uncaught page error that is no failure: the browser's "ResizeObserver loop completed with
 * undelivered notifications" (older: "… limit exceeded") only says it deferred some size changes
 * to the next frame, as when the terminal refits while the page's layout moves. It comes with no
 * error object; shown, it would tell the user something broke when nothing did.
 */
export function isBenignPageError(event: { readonly error: unknown; readonly message: string }): boolean {
  return (event.error === null || event.error === undefined) && event.message.startsWith("ResizeObserver loop");
}
