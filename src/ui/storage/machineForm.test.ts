import { describe, expect, it } from "vitest";
import { DEFAULT_MACHINE, machineProblems, type ImageRecord, type MachineRecord } from "../../core/index.ts";
import { formFromRecord, recordFromForm } from "./machineForm.ts";

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

  it("bad memory or disk sizes are refused with a reason", () => {
    const form = formFromRecord(DEFAULT_MACHINE);
    expect(() => recordFromForm({ ...form, memoryMiB: "lots" }, DEFAULT_MACHINE)).toThrow(/Memory must be/);
    expect(() => recordFromForm({ ...form, memoryMiB: "4096" }, DEFAULT_MACHINE)).toThrow(/between 16 and 2048/);
    expect(() => recordFromForm({ ...form, blankMiB: { ...form.blankMiB, hda: "-1" } }, DEFAULT_MACHINE)).toThrow(/needs a size/);
  });
});
