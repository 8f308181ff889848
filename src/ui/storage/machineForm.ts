/** The machine editor's fields as plain strings, to and from a MachineRecord (pure, tested). */
import { AppError, DISK_SLOTS, type DiskSlot, type DiskSource, type MachineRecord } from "../../core/index.ts";

export type BootChoice = "default-guest" | "cdrom" | "hda" | "fda" | "linux";

export interface MachineFormValues {
  readonly name: string;
  readonly memoryMiB: string;
  readonly boot: BootChoice;
  readonly kernelImageId: string;
  readonly initrdImageId: string;
  readonly cmdline: string;
  /** Per slot: "" (empty), "blank", or an image id. */
  readonly slots: Readonly<Record<DiskSlot, string>>;
  /** Size of a blank disk in MiB, per slot. */
  readonly blankMiB: Readonly<Record<DiskSlot, string>>;
}

export const DEFAULT_CMDLINE = "console=ttyS0";
const MIB = 1024 * 1024;

export function formFromRecord(record: MachineRecord): MachineFormValues {
  const slots = {} as Record<DiskSlot, string>;
  const blankMiB = {} as Record<DiskSlot, string>;
  for (const slot of DISK_SLOTS) {
    const source = record.disks[slot];
    slots[slot] = source === undefined ? "" : source.kind === "blank" ? "blank" : source.imageId;
    blankMiB[slot] = source?.kind === "blank" ? String(source.sizeBytes / MIB) : "64";
  }
  const boot = record.boot;
  return {
    name: record.name,
    memoryMiB: String(record.profile.memoryMiB),
    boot: boot.kind === "disk" ? boot.bootFrom : boot.kind,
    kernelImageId: boot.kind === "linux" ? boot.kernelImageId : "",
    initrdImageId: boot.kind === "linux" ? boot.initrdImageId : "",
    cmdline: boot.kind === "linux" ? boot.cmdline : DEFAULT_CMDLINE,
    slots,
    blankMiB,
  };
}

/** The record the form describes, keeping `base`'s id, creation time and other devices. */
export function recordFromForm(values: MachineFormValues, base: MachineRecord): MachineRecord {
  const memory = Number(values.memoryMiB);
  if (!Number.isInteger(memory) || memory < 16 || memory > 2048) {
    throw new AppError("bad-profile", "Memory must be a whole number of MiB between 16 and 2048.", { details: { subject: "memory" } });
  }
  const disks: Partial<Record<DiskSlot, DiskSource>> = {};
  for (const slot of DISK_SLOTS) {
    const choice = values.slots[slot];
    if (choice === "") continue;
    if (choice === "blank") {
      const mib = Number(values.blankMiB[slot]);
      if (!Number.isFinite(mib) || mib <= 0) throw new AppError("bad-profile", `The blank disk at ${slot} needs a size in MiB.`, { details: { subject: slot } });
      disks[slot] = { kind: "blank", sizeBytes: Math.round(mib * 2048) * 512 };
    } else {
      disks[slot] = { kind: "image", imageId: choice };
    }
  }
  const boot: MachineRecord["boot"] =
    values.boot === "default-guest"
      ? { kind: "default-guest" }
      : values.boot === "linux"
        ? { kind: "linux", kernelImageId: values.kernelImageId, initrdImageId: values.initrdImageId, cmdline: values.cmdline.trim() }
        : { kind: "disk", bootFrom: values.boot };
  return { ...base, name: values.name.trim(), profile: { ...base.profile, memoryMiB: memory }, boot, disks };
}
