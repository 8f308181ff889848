import { describe, expect, it } from "vitest";
import { AppError, type DiskSaveState } from "../../core/index.ts";
import { diskIndicator } from "./diskStatus.ts";

const clean: DiskSaveState = { unsavedPages: 0, saving: false, error: undefined, readOnly: false };

describe("diskIndicator", () => {
  it("saved, saving soon, saving", () => {
    expect(diskIndicator([clean]).state).toBe("saved");
    expect(diskIndicator([clean, { ...clean, unsavedPages: 3 }]).state).toBe("unsaved");
    expect(diskIndicator([{ ...clean, unsavedPages: 3, saving: true }])).toEqual({ state: "saving", text: "saving…" });
    expect(diskIndicator([]).state).toBe("none");
  });

  it("a failed write-back names the reason from the message table", () => {
    const full = new AppError("storage-full", "The browser's storage for this site is full.");
    const indicator = diskIndicator([{ ...clean, unsavedPages: 2, saving: false, error: full }]);
    expect(indicator.state).toBe("not-saved");
    expect(indicator.text).toMatch(/^not saved: the browser's storage for virtlab is full\./);
    expect(indicator.text).toContain("saving is tried again at least every 30 s, and at the next write");
  });

  it("read-only and taken over win over everything else", () => {
    expect(diskIndicator([{ ...clean, readOnly: true, unsavedPages: 5 }]).state).toBe("read-only");
    expect(diskIndicator([clean], "taken-over").state).toBe("taken-over");
    // A move wrote every page before the lock went: nothing is lost, and the words say so.
    expect(diskIndicator([{ ...clean, unsavedPages: 5 }], "handed-over")).toEqual({ state: "handed-over", text: "saved, and handed over: the machine moved to another tab, which writes its disks now" });
  });
});
