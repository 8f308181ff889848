import { describe, expect, it } from "vitest";
import { defaultSnapshotName } from "./SnapshotPanel.ts";

describe("snapshot names", () => {
  it("names a snapshot by date and time", () => {
    expect(defaultSnapshotName(new Date(2026, 10, 22, 9, 5))).toBe("Snapshot 2026-11-22 09:05");
  });
});
