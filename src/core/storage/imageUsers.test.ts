import { describe, expect, it } from "vitest";
import { DEFAULT_MACHINE, imagesUsed, machinesUsingImage, type MachineRecord } from "./machines.ts";

const cdMachine: MachineRecord = { ...DEFAULT_MACHINE, id: "cd", name: "Rescue CD", builtIn: false, boot: { kind: "disk", bootFrom: "cdrom" }, disks: { cdrom: { kind: "image", imageId: "img-iso" }, hda: { kind: "blank", sizeBytes: 1 << 20 } } };
const linuxMachine: MachineRecord = { ...DEFAULT_MACHINE, id: "lx", name: "Own kernel", builtIn: false, boot: { kind: "linux", kernelImageId: "img-k", initrdImageId: "img-i", cmdline: "img-iso" }, disks: {} };

describe("which machines use an image", () => {
  it("lists drives, kernel and initrd, and not blank disks", () => {
    expect(imagesUsed(cdMachine)).toEqual([{ what: "cdrom", imageId: "img-iso" }]);
    expect(imagesUsed(linuxMachine)).toEqual([
      { what: "kernel", imageId: "img-k" },
      { what: "initrd", imageId: "img-i" },
    ]);
  });

  it("finds the machines by the image's id, not by text that happens to contain it (a command line)", () => {
    const machines = [DEFAULT_MACHINE, cdMachine, linuxMachine];
    expect(machinesUsingImage(machines, "img-iso")).toEqual([{ machineId: "cd", machineName: "Rescue CD", as: ["cdrom"] }]);
    expect(machinesUsingImage(machines, "img-i")).toEqual([{ machineId: "lx", machineName: "Own kernel", as: ["initrd"] }]);
    expect(machinesUsingImage(machines, "img-none")).toEqual([]);
  });

  it("names every role one image has in a machine", () => {
    const twice: MachineRecord = { ...cdMachine, id: "two", name: "Two drives", disks: { hda: { kind: "image", imageId: "img-disk" }, hdb: { kind: "image", imageId: "img-disk" } } };
    expect(machinesUsingImage([twice, cdMachine], "img-disk")).toEqual([{ machineId: "two", machineName: "Two drives", as: ["hda", "hdb"] }]);
  });
});
