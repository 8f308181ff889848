import { describe, expect, it, vi } from "vitest";
import { DEFAULT_PROFILE, IDLE_STATUS, type SessionStatus, type StartOutcome } from "../../core/index.ts";
import type { Shell } from "../shell.ts";
import { lessonHost } from "./lessonHost.ts";

const settled: SessionStatus = { machine: { ...IDLE_STATUS, stage: "ready", running: true, shell: "ready" }, settling: false, keepingBoot: false, readyDetail: "booted in 12.3 s", detail: undefined, downloading: false, guestKind: "linux" };

function host(outcome: StartOutcome | undefined, machine: unknown) {
  const whenSettled = vi.fn(async () => settled);
  const shell = { profile: DEFAULT_PROFILE, restartWith: async () => outcome, session: { machine, whenSettled } } as unknown as Shell;
  return { host: lessonHost(shell, () => ({ lab: undefined, snapshots: undefined, addressWalk: undefined, network: undefined, changed: () => undefined })), whenSettled };
}

describe("lessonHost: a devices step", () => {
  it("ends when the machine is the student's and says how it came to be", async () => {
    const t = host({ kind: "started", from: "boot" }, { status: settled.machine });
    expect(await t.host.setDevices({ nic: "virtio" })).toMatch(/^The machine restarted with .*, 256 MiB of memory \(booted in 12\.3 s\)\.$/);
    expect(t.whenSettled).toHaveBeenCalledOnce();
  });

  it("a start that did not begin (the machine is open in another tab) is refused at once, without waiting for it", async () => {
    const t = host({ kind: "busy" }, undefined);
    await expect(t.host.setDevices({ nic: "virtio" })).rejects.toThrow("The machine did not start with the new hardware");
    expect(t.whenSettled).not.toHaveBeenCalled();
  });
});
