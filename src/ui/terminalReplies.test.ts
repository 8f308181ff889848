import { describe, expect, it } from "vitest";
import { isCursorPositionReport } from "./terminalReplies.ts";

describe("terminal replies", () => {
  it("recognises xterm's cursor position report and nothing a user types", () => {
    expect(isCursorPositionReport("\x1b[7;17R")).toBe(true);
    expect(isCursorPositionReport("\x1b[124;1R")).toBe(true);
    expect(isCursorPositionReport("\x1b[A")).toBe(false);
    expect(isCursorPositionReport("ls\r")).toBe(false);
    expect(isCursorPositionReport("\x1b[7;17Rls")).toBe(false);
  });
});
