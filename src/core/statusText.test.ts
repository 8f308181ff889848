import { describe, expect, it } from "vitest";
import { AppError } from "./errors.ts";
import type { MachineStatus } from "./machine.ts";
import { describeSessionStatus, describeStatus, runDivider, type StatusContext } from "./statusText.ts";

const status = (change: Partial<MachineStatus>): MachineStatus => ({ stage: "booting", running: true, mips: undefined, error: undefined, shell: "waiting", ...change });

describe("describeStatus", () => {
  it("says 'Shell ready.' only when a shell was seen", () => {
    expect(describeStatus(status({ stage: "ready", shell: "ready" }))).toMatchObject({ stageText: "ready", progressText: "Shell ready.", step: "ready", complete: true });
    expect(describeStatus(status({ stage: "ready", shell: "ready" }), { readyDetail: "started from the pre-booted state in 1.2 s" }).progressText).toBe(
      "Shell ready: started from the pre-booted state in 1.2 s.",
    );
    // A GRUB CD (no serial shell known) runs, but has no shell.
    const grub = describeStatus(status({ stage: "ready", shell: "none" }), { guestKind: "disk" });
    expect(grub.stageText).toBe("running (no shell)");
    expect(grub.progressText).toMatch(/^Running \(no shell detected\)/);
    expect(grub.progressText).not.toMatch(/Shell ready/);
    // A kernel + initrd whose own program has the console.
    const own = describeStatus(status({ stage: "ready", shell: "not-detected" }));
    expect(own.stageText).toBe("running (no shell)");
    expect(own.progressText).toMatch(/no shell detected.*Type to it/);
  });

  it("never says ready after a crash or a failure: stage word and progress line agree", () => {
    const error = new AppError("emulator-crashed", "The emulator stopped with an internal error.");
    for (const shell of ["ready", "none", "waiting"] as const) {
      const crashed = describeStatus(status({ stage: "crashed", running: false, error, shell }), { readyDetail: "started in 1 s" });
      expect(crashed.stageText).toBe("crashed");
      expect(crashed.progressText).toMatch(/crashed/);
      expect(crashed.progressText).not.toMatch(/ready/i);
      expect(crashed.complete).toBe(false);
    }
    expect(describeStatus(status({ stage: "failed", running: false, error })).progressText).toMatch(/could not start/);
    expect(describeStatus(status({ stage: "disposed", running: false })).progressText).toBe("Stopped.");
  });

  it("a guest that powered itself off is 'powered off', not underway, and says how to start it again", () => {
    const off = describeStatus(status({ stage: "off", running: false, shell: "waiting" }), { readyDetail: "started in 1 s" });
    expect(off).toMatchObject({ stageText: "powered off", complete: false, underway: false, step: undefined });
    expect(off.progressText).toBe("The guest powered itself off (poweroff or halt): Reset starts it again, with what it wrote to its disks.");
  });

  it("a guest whose kernel panicked says so with the kernel's reason, that the emulator did not crash, and how to start it again", () => {
    const view = describeStatus(status({ stage: "panicked", running: false, shell: "waiting", panic: "VFS: Unable to mount root fs on unknown-block(0,0)" }));
    expect(view).toMatchObject({ stageText: "kernel panic", complete: false, underway: false, step: undefined });
    expect(view.progressText).toBe("The guest's kernel panicked (VFS: Unable to mount root fs on unknown-block(0,0)): the guest has stopped, the emulator did not crash. Reset starts it again, with what it wrote to its disks.");
  });

  it("a restored machine that is still settling is booting for the user", () => {
    const view = describeStatus(status({ stage: "ready", shell: "ready" }), { settling: true });
    expect(view).toMatchObject({ stage: "booting", stageText: "booting", progressText: "Starting from the saved state…", complete: false });
  });

  it("is underway while starting, downloading, booting or settling, and not once ready, failed, crashed or stopped", () => {
    const error = new AppError("emulator-crashed", "The emulator stopped with an internal error.");
    const underway = (machine: MachineStatus, context: StatusContext = {}): boolean => describeStatus(machine, context).underway;
    expect(underway(status({ stage: "idle", running: false }))).toBe(true);
    expect(underway(status({ stage: "downloading" }))).toBe(true);
    expect(underway(status({ stage: "booting" }))).toBe(true);
    expect(underway(status({ stage: "ready", shell: "ready" }), { settling: true, keepingBoot: true })).toBe(true);
    expect(underway(status({ stage: "ready", shell: "ready" }))).toBe(false);
    expect(underway(status({ stage: "ready", shell: "none" }))).toBe(false);
    expect(underway(status({ stage: "failed", running: false, error }))).toBe(false);
    expect(underway(status({ stage: "crashed", running: false, error }))).toBe(false);
    expect(underway(status({ stage: "disposed", running: false }))).toBe(false);
  });

  it("a session's status reads as its machine's with the session's context", () => {
    const session = { machine: status({ stage: "ready", shell: "ready" }), settling: false, keepingBoot: false, readyDetail: "booted in 12.3 s", detail: undefined, downloading: false, guestKind: "linux" as const };
    expect(describeSessionStatus(session)).toEqual(describeStatus(session.machine, { readyDetail: "booted in 12.3 s", guestKind: "linux" }));
    expect(describeSessionStatus({ ...session, settling: true, keepingBoot: true }).progressText).toBe("Booted; keeping this boot so the next start of this hardware takes a second…");
  });

  it("booting and downloading lines", () => {
    expect(describeStatus(status({ stage: "booting" }), { guestKind: "linux" }).progressText).toBe("Booting Linux…");
    expect(describeStatus(status({ stage: "booting", shell: "none" }), { guestKind: "disk" }).progressText).toBe("Booting…");
    expect(describeStatus(status({ stage: "downloading" }), { detail: "Downloading bzImage: 1.0 of 5.4 MiB" })).toMatchObject({ step: "downloading", progressText: "Downloading bzImage: 1.0 of 5.4 MiB" });
    expect(describeStatus(status({ stage: "idle", running: false }), { detail: "GRUB is open in another tab." }).progressText).toBe("GRUB is open in another tab.");
    // The pre-booted state downloading before there is an emulator: the stage word and the strip say
    // so too (before: "starting", no step, for the whole download on a slow network).
    const idle = { machine: status({ stage: "idle", running: false }), settling: false, keepingBoot: false, readyDetail: undefined, detail: "Downloading the pre-booted machine: 3.0 of 7.6 MiB", downloading: true, guestKind: "linux" as const };
    expect(describeSessionStatus(idle)).toMatchObject({ stage: "downloading", stageText: "downloading", step: "downloading", progressText: "Downloading the pre-booted machine: 3.0 of 7.6 MiB", underway: true });
    expect(describeSessionStatus({ ...idle, downloading: false, detail: undefined })).toMatchObject({ stage: "idle", stageText: "starting", step: undefined, progressText: "Preparing…" });
  });
});

describe("runDivider", () => {
  it("names the machine and how its run started", () => {
    expect(runDivider("Debian 6.1 + busybox (built in)", { kind: "cold-boot" })).toBe("── Debian 6.1 + busybox (built in) · cold boot ──");
    expect(runDivider("GRUB", { kind: "boot" })).toBe("── GRUB · boot ──");
    expect(runDivider("GRUB", { kind: "reboot" })).toBe("── GRUB · reboot ──");
    expect(runDivider("Lab", { kind: "snapshot", name: "before rm" })).toBe('── Lab · snapshot "before rm" ──');
    expect(runDivider("  ", { kind: "pre-booted" })).toBe("── machine · pre-booted state ──");
    expect(runDivider("Lab", { kind: "arrived", fromTab: "af36d4a3" })).toBe("── Lab · moved here from tab af36d4a3, running ──");
  });

});
