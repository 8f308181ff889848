import { describe, expect, it } from "vitest";
import { AppError, ERROR_CODES } from "../core/index.ts";
import { repeatedCrashText, toUserMessage } from "./messages.ts";

describe("toUserMessage", () => {
  it("has plain words for every error code", () => {
    for (const code of ERROR_CODES) {
      const message = toUserMessage(new AppError(code, "specific reason"));
      expect(message.title.length, code).toBeGreaterThan(10);
      expect(message.hint.length, code).toBeGreaterThan(10);
      expect(message.title).not.toContain(code);
    }
  });

  it("keeps the specific reason and its cause chain, naming the file", () => {
    const error = new AppError("asset-load-failed", "Could not download bzImage.", { cause: new TypeError("Failed to fetch"), details: { subject: "bzImage" } });
    const message = toUserMessage(error);
    expect(message.title).toMatch(/could not be loaded/);
    expect(message.detail).toBe("Could not download bzImage. (Failed to fetch)");
  });

  it("still says something for errors that are not ours", () => {
    const message = toUserMessage(new RangeError("Maximum call stack size exceeded"));
    expect(message.title).toBe("Something went wrong");
    expect(message.detail).toContain("Maximum call stack");
  });
});

describe("repeatedCrashText", () => {
  it("says the reset crashed again and that another will not help, then offers or advises", () => {
    expect(repeatedCrashText(2.34, true)).toMatch(/^It crashed again 2\.3 s after the reset: .*another reset will not help\. Boot a machine that last ran fine/);
    expect(repeatedCrashText(1, false)).toMatch(/boot another machine\.$/);
  });
});
