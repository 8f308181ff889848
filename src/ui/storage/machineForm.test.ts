import { describe, expect, it } from "vitest";
import { DEFAULT_MACHINE, machineProblems, type ImageRecord, type MachineRecord } from "../../core/index.ts";
import { formFromRecord, memoryHint, recordFromForm } from "./machineForm.ts";

const iso: ImageRecord = { id: "i1", name: "grub.iso", kind: "cdrom", evidence: "", size: 4096, sha256: "", chunkSize: 4096, chunkCount: 1, addedAt: 1 };

describe("machine form", () => {
  it("the default machine round-trips", () => {
    expect(recordFromForm(formFromRecord(DEFAULT_MACHINE), DEFAULT_MACHINE)).toEqual(DEFAULT_MACHINE);
  });

  it("a CD-ROM machine with a blank hard disk", () => {
    const base: MachineRecord = { ...DEFAULT_MACHINE, id: "m1", builtIn: false, name: "", disks: {}, boot: { kind: "disk", bootFrom: "cdrom" } };
    const form = formFromRecord(base);
    const record = recordFromForm(
      { ...form, name: " GRUB ", memoryMiB: "64", boot: "cdrom", slots: { ...form.slots, cdrom: "i1", hda: "blank" }, blankMiB: { ...form.blankMiB, hda: "32" } },
      base,
    );
    expect(record).toMatchObject({ id: "m1", name: "GRUB", profile: { memoryMiB: 64 }, boot: { kind: "disk", bootFrom: "cdrom" } });
    expect(record.disks).toEqual({ cdrom: { kind: "image", imageId: "i1" }, hda: { kind: "blank", sizeBytes: 32 * 1024 * 1024 } });
    expect(machineProblems(record, [iso])).toEqual([]);
  });

  it("a kernel + initrd machine keeps its command line", () => {
    const form = formFromRecord(DEFAULT_MACHINE);
    const record = recordFromForm({ ...form, boot: "linux", kernelImageId: "k", initrdImageId: "r", cmdline: " console=ttyS0 quiet " }, DEFAULT_MACHINE);
    expect(record.boot).toEqual({ kind: "linux", kernelImageId: "k", initrdImageId: "r", cmdline: "console=ttyS0 quiet" });
  });

  it("a new machine switched to kernel + initrd starts with the serial console, without the kernel's crypto self-tests or stall detectors", () => {
    const fresh: MachineRecord = { ...DEFAULT_MACHINE, id: "m2", builtIn: false, name: "", disks: {}, boot: { kind: "disk", bootFrom: "cdrom" } };
    const form = formFromRecord(fresh);
    const record = recordFromForm({ ...form, name: "Mine", boot: "linux", kernelImageId: "k", initrdImageId: "r" }, fresh);
    expect(record.boot).toEqual({ kind: "linux", kernelImageId: "k", initrdImageId: "r", cmdline: "console=ttyS0 cryptomgr.notests nowatchdog rcupdate.rcu_cpu_stall_suppress=1" });
  });

  it("bad memory or disk sizes are refused with a reason", () => {
    const form = formFromRecord(DEFAULT_MACHINE);
    expect(() => recordFromForm({ ...form, memoryMiB: "lots" }, DEFAULT_MACHINE)).toThrow(/Memory must be/);
    expect(() => recordFromForm({ ...form, memoryMiB: "4096" }, DEFAULT_MACHINE)).toThrow(/between 16 and 2048/);
    expect(() => recordFromForm({ ...form, blankMiB: { ...form.blankMiB, hda: "-1" } }, DEFAULT_MACHINE)).toThrow(/needs a size/);
  });
});

describe("memory hint", () => {
  const MIB = 1024 * 1024;
  const image = (id: string, kind: ImageRecord["kind"], size: number): ImageRecord => ({ ...iso, id, name: id, kind, size });
  const images = [image("k", "kernel", 6 * MIB), image("big", "initrd", 30 * MIB), image("small", "initrd", 3 * MIB), iso];
  const linux = { ...formFromRecord(DEFAULT_MACHINE), boot: "linux" as const, kernelImageId: "k" };

  it("shows the memory next to the image sizes", () => {
    expect(memoryHint({ ...linux, initrdImageId: "small" }, images)).toEqual({ facts: "Memory 256 MiB; images: kernel 6.0 MiB + initrd 3.0 MiB + drives 64.0 MiB.", suggestion: undefined });
  });

  it("suggests more for an installer-sized kernel + initrd, and stops once the memory is raised", () => {
    const hint = memoryHint({ ...linux, initrdImageId: "big" }, images);
    expect(hint.suggestion?.memoryMiB).toBe(512);
    expect(hint.suggestion?.text).toMatch(/installer/);
    expect(memoryHint({ ...linux, initrdImageId: "big", memoryMiB: "512" }, images).suggestion).toBeUndefined();
  });

  it("a drive boot lists its images and suggests nothing", () => {
    const form = formFromRecord(DEFAULT_MACHINE);
    const hint = memoryHint({ ...form, boot: "cdrom", slots: { ...form.slots, cdrom: "i1", hda: "" } }, images);
    expect(hint).toEqual({ facts: "Memory 256 MiB; images: drives 4.0 KiB.", suggestion: undefined });
  });
});
