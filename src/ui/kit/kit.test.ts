import { describe, expect, it } from "vitest";
import { fileStem } from "./download.ts";
import { renameKey } from "./rename.ts";

describe("ui kit", () => {
  it("Enter saves a rename, Escape cancels it, other keys type", () => {
    expect(renameKey("Enter")).toBe("save");
    expect(renameKey("Escape")).toBe("cancel");
    expect(renameKey("a")).toBeUndefined();
    expect(renameKey("Tab")).toBeUndefined();
  });

  it("a download's file name keeps letters, digits and ._- of the user's name", () => {
    expect(fileStem("Snapshot 2026-11-30 23:50", "snapshot")).toBe("Snapshot-2026-11-30-23-50");
    expect(fileStem("  my disk (copy).img ", "machine")).toBe("my-disk-copy-.img");
    expect(fileStem("Ünïcødé", "machine")).toBe("n-c-d");
    expect(fileStem("///", "machine")).toBe("machine");
  });
});
