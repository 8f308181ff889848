import { describe, expect, it } from "vitest";
import { notForThisEmulator } from "./compat.ts";

describe("which emulator a snapshot restores on", () => {
  it("only the exact v86 version and state format it was saved with, refused in plain words otherwise", () => {
    expect(notForThisEmulator("0.5.462", 6, "0.5.462", 6)).toBeUndefined();
    const otherFormat = notForThisEmulator("0.5.500", 7, "0.5.462", 6);
    expect(otherFormat?.code).toBe("bad-snapshot");
    expect(otherFormat?.message).toMatch(/state format 7.*cannot read it/);
    expect(notForThisEmulator("0.5.470", 6, "0.5.462", 6)?.message).toMatch(/exact emulator version/);
  });
});
