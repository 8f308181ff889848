import { describe, expect, it } from "vitest";
import { DEFAULT_MACHINE, DEFAULT_PROFILE, machineFingerprint, type ImageRecord, type MachineRecord } from "../index.ts";
import { machineForSnapshot } from "./match.ts";
import { guestBuildDiffers } from "./fingerprint.ts";
import { AppError } from "../errors.ts";
import { notForThisEmulator, snapshotDifferences } from "./compat.ts";
import { testGuest } from "../testing/guest.ts";

const builtIn = testGuest("console=ttyS0 quiet virtlab.data=0:0:0:0");
const draft: MachineRecord = { ...DEFAULT_MACHINE, id: "m-new", name: "For the snapshot", builtIn: false, createdAt: 5 };
const iso: ImageRecord = { id: "img1", name: "tools.iso", kind: "cdrom", evidence: "", size: 4096, sha256: "e".repeat(64), chunkSize: 4096, chunkCount: 1, addedAt: 0 };

describe("a machine that matches a snapshot", () => {
  it("takes the snapshot's hardware and disks, booting the built-in guest", () => {
    const fingerprint = machineFingerprint({ ...DEFAULT_PROFILE, nic: "virtio", memoryMiB: 192 }, builtIn, {
      hda: { size: 64 << 20, base: "blank" },
      cdrom: { size: 4096, base: { sha256: "e".repeat(64) } },
    });
    const match = machineForSnapshot(fingerprint, builtIn, [iso], draft);
    expect(match.ok).toBe(true);
    if (!match.ok) return;
    expect(match.record).toMatchObject({ id: "m-new", boot: { kind: "default-guest" }, disks: { hda: { kind: "blank", sizeBytes: 64 << 20 }, cdrom: { kind: "image", imageId: "img1" } } });
    expect(match.record.profile).toMatchObject({ nic: "virtio", memoryMiB: 192, console: "uart" });
    // The machine it makes has the snapshot's fingerprint.
    const again = machineFingerprint(match.record.profile, builtIn, { hda: { size: 64 << 20, base: "blank" }, cdrom: { size: 4096, base: { sha256: "e".repeat(64) } } });
    expect(again).toEqual(fingerprint);
  });

  it("says why none can be made: another kernel, an image not in the library", () => {
    const otherKernel = machineFingerprint(DEFAULT_PROFILE, { ...builtIn, kernel: { ...builtIn.kernel, sha256: "f".repeat(64) } });
    expect(machineForSnapshot(otherKernel, builtIn, [], draft)).toEqual({ ok: false, reason: expect.stringContaining("another kernel") });
    const missingImage = machineFingerprint(DEFAULT_PROFILE, builtIn, { cdrom: { size: 4096, base: { sha256: "e".repeat(64) } } });
    expect(machineForSnapshot(missingImage, builtIn, [], draft)).toEqual({ ok: false, reason: expect.stringContaining("not in the library") });
  });
});

describe("another build of a guest", () => {
  it("is another kernel, initrd or command line; other hardware is not", () => {
    const saved = machineFingerprint(DEFAULT_PROFILE, builtIn);
    expect(guestBuildDiffers(saved, machineFingerprint(DEFAULT_PROFILE, builtIn))).toBe(false);
    expect(guestBuildDiffers(saved, machineFingerprint({ ...DEFAULT_PROFILE, nic: "virtio" }, builtIn))).toBe(false);
    expect(guestBuildDiffers(saved, machineFingerprint(DEFAULT_PROFILE, { ...builtIn, initrd: { ...builtIn.initrd!, sha256: "f".repeat(64) } }))).toBe(true);
    expect(guestBuildDiffers(saved, machineFingerprint(DEFAULT_PROFILE, { ...builtIn, kernel: { ...builtIn.kernel, sha256: "f".repeat(64) } }))).toBe(true);
    expect(guestBuildDiffers(saved, machineFingerprint(DEFAULT_PROFILE, { ...builtIn, cmdline: `${builtIn.cmdline} quiet2` }))).toBe(true);
  });
});

describe("emulator versions", () => {
  it("refuses states of another v86 or another state format, in plain words", () => {
    expect(notForThisEmulator("0.5.462", 6, "0.5.462", 6)).toBeUndefined();
    expect(notForThisEmulator("0.5.500", 7, "0.5.462", 6)?.message).toMatch(/state format 7.*cannot read it/);
    expect(notForThisEmulator("0.5.470", 6, "0.5.462", 6)?.message).toMatch(/exact emulator version/);
  });
});

describe("a refusal's differences", () => {
  it("are read typed from a snapshot-mismatch error, and empty for anything else", () => {
    expect(snapshotDifferences(new AppError("snapshot-mismatch", "x", { details: { differences: ["memory size: saved with 256, this machine has 128"] } }))).toEqual([
      "memory size: saved with 256, this machine has 128",
    ]);
    // No machine can take it: a reason, no list of fields.
    expect(snapshotDifferences(new AppError("snapshot-mismatch", "x", { details: { reason: "it was saved with another BIOS" } }))).toEqual([]);
    expect(snapshotDifferences(new AppError("bad-snapshot", "x", { details: { subject: "a.vlsnap" } }))).toEqual([]);
    expect(snapshotDifferences(new Error("x"))).toEqual([]);
  });
});
