import { describe, expect, it } from "vitest";
import { fromWire } from "./remote/client.ts";
import { toWire } from "./remote/server.ts";
import { AppError, isAppError, toAppError } from "./errors.ts";

describe("typed error details", () => {
  it("isAppError with a code narrows to that code's details, and answers no for another code", () => {
    const error: unknown = new AppError("timeout", "Gave up.", { details: { deadlineMs: 5000, recentOutput: "Kernel panic" } });
    expect(isAppError(error, "snapshot-mismatch")).toBe(false);
    if (!isAppError(error, "timeout")) return expect.fail("not a timeout");
    expect(error.details.deadlineMs).toBe(5000);
    expect(error.details.recentOutput).toBe("Kernel panic");
  });

  it("toAppError keeps an AppError as it is and wraps anything else with the code's details", () => {
    const mine = new AppError("storage-full", "full", { details: { subject: "disk" } });
    expect(toAppError(mine, "storage-failed", "other")).toBe(mine);
    const wrapped = toAppError(new TypeError("boom"), "storage-failed", "The disk could not be read.", { subject: "m-1/hda", page: 7 });
    expect(wrapped).toMatchObject({ code: "storage-failed", message: "The disk could not be read.", details: { subject: "m-1/hda", page: 7 } });
    expect(wrapped.cause).toBeInstanceOf(TypeError);
    expect(toAppError("x", "emulator-crashed", "crashed").details).toEqual({});
  });

  it("cross the Worker boundary with their code and details (what the page reads after a refusal)", () => {
    const refusal = new AppError("snapshot-mismatch", "does not fit", { details: { differences: ["disks: hda saved with 64 MiB blank, this machine has 2 GiB blank"] } });
    // Through JSON, stricter than the structured clone postMessage does.
    const back = fromWire(JSON.parse(JSON.stringify(toWire(refusal))) as ReturnType<typeof toWire>);
    if (!isAppError(back, "snapshot-mismatch")) return expect.fail("code lost");
    expect(back.details).toEqual(refusal.details);
    // An unknown code becomes the fallback, without details of another shape.
    expect(fromWire({ code: "no-such-code", message: "m", details: { x: 1 }, cause: undefined })).toMatchObject({ code: "emulator-crashed", details: {} });
  });
});
