import { describe, expect, it } from "vitest";
import { describeOffline } from "./offlineState.ts";

describe("offline badge", () => {
  it("says what the browser can do without a network, with progress while storing", () => {
    expect(describeOffline({ kind: "caching", doneBytes: 12_300_000, totalBytes: 33_400_000 }, true)).toBe("Storing for offline use: 12.3 of 33.4 MB");
    expect(describeOffline({ kind: "caching", doneBytes: 0, totalBytes: 0 }, true)).toBe("Storing for offline use…");
    expect(describeOffline({ kind: "ready" }, true)).toBe("Offline-ready");
    expect(describeOffline({ kind: "ready" }, false)).toBe("Offline: running from this browser's copy");
    expect(describeOffline({ kind: "unsupported", reason: "needs HTTPS" }, true)).toBe("Online only: needs HTTPS");
    expect(describeOffline({ kind: "failed", reason: "quota" }, true)).toBe("Not available offline: quota");
  });
});
