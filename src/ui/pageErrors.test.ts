import { describe, expect, it } from "vitest";
import { isBenignPageError } from "./pageErrors.ts";

describe("isBenignPageError", () => {
  it.each([
    [{ error: null, message: "ResizeObserver loop completed with undelivered notifications." }, true],
    [{ error: undefined, message: "ResizeObserver loop limit exceeded" }, true],
    // A real error that happens to say the same is still shown; so is any other message.
    [{ error: new Error("ResizeObserver loop completed with undelivered notifications."), message: "Uncaught Error: ResizeObserver loop" }, false],
    [{ error: null, message: "Script error." }, false],
    [{ error: new TypeError("x is undefined"), message: "Uncaught TypeError: x is undefined" }, false],
  ])("%j → %s", (event, benign) => {
    expect(isBenignPageError(event)).toBe(benign);
  });
});
