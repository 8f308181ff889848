import { describe, expect, it } from "vitest";
import { AppError, ERROR_CODES } from "../core/index.ts";
import { handedOverLine, labMoveLine, repeatedCrashText, requirementLine, toUserMessage } from "./messages.ts";

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

  it("says a snapshot of another build of the built-in guest is that, not other hardware to make", () => {
    const rebuilt = toUserMessage(new AppError("snapshot-mismatch", '"x" does not fit Debian: initrd: saved with 1…, this machine has 2….', { details: { differences: ["initrd: saved with 1…, this machine has 2…"], otherGuestBuild: true } }));
    expect(rebuilt.title).toBe("This snapshot was saved with another build of the built-in guest");
    expect(rebuilt.hint).toMatch(/boot it normally/);
    const hardware = toUserMessage(new AppError("snapshot-mismatch", '"x" does not fit Debian: network card: saved with none, this machine has virtio.', { details: { differences: ["network card: saved with none, this machine has virtio"] } }));
    expect(hardware.title).toBe("This snapshot was made for a different machine");
  });

  it("says a machine still starting is starting, not that it does not run", () => {
    const starting = toUserMessage(new AppError("not-running", "The machine is still starting: a snapshot can be saved once it runs.", { details: { starting: true } }));
    expect(starting.title).toBe("The machine is still starting");
    expect(starting.hint).toMatch(/^Wait until it runs/);
    const none = toUserMessage(new AppError("not-running", "There is no running machine to save."));
    expect(none.title).toBe("The machine is not running");
    expect(none.hint).toBe("Start the machine first, then try again.");
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

describe("the move's lines", () => {
  it("say what holds when the core says it, and what differs when refused", () => {
    expect(requirementLine({ requirement: "network", refusal: undefined, holds: "on the bridged switch of tab a1; the target tab b2 is on the same trunk" })).toBe(
      "✓ The same network (the LAN the machine is on, or a network for its card): on the bridged switch of tab a1; the target tab b2 is on the same trunk",
    );
    expect(requirementLine({ requirement: "clock", refusal: undefined })).toBe("✓ Clocks close enough for the guest's time to run on");
    expect(requirementLine({ requirement: "network", refusal: { requirement: "network", differences: ["network: the target tab's lab is in nat mode, not bridged"] } })).toBe(
      "✗ The same network (the LAN the machine is on, or a network for its card): network: the target tab's lab is in nat mode, not bridged",
    );
  });

  it("the tab a machine left says in its terminal where it runs now", () => {
    expect(handedOverLine("ad80b7f5")).toBe("This machine moved to tab ad80b7f5 and runs there now; it is stopped here.");
  });

  it("tell both tabs of a lab move where the machine is", () => {
    const base = { tab: "b2", method: "pre-copy", rounds: [], paused: false } as const;
    expect(labMoveLine({ ...base, role: "source" }, "vm2")).toBe("Moving vm2 to tab b2 (pre-copy)…");
    expect(labMoveLine({ ...base, role: "source", outcome: { kind: "failed", message: "Tab b2 is gone." } }, "vm2")).toBe("The move to tab b2 failed; the machine runs on here, on this switch. Tab b2 is gone.");
    expect(labMoveLine({ ...base, role: "target", outcome: { kind: "done", report: undefined } }, undefined)).toBe("Arrived from tab b2: the machine runs here on this tab's switch, announced by gratuitous ARP.");
  });
});
