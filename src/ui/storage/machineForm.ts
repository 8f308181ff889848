/** The machine editor's fields as plain strings, to and from a MachineRecord (pure, tested). */
import { AppError, DISK_SLOTS, memoryAdvice, NEW_LINUX_CMDLINE, type DiskSlot, type DiskSource, type ImageRecord, type MachineRecord } from "../../core/index.ts";
import { formatBytes } from "./guests.ts";

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
    cmdline: boot.kind === "linux" ? boot.cmdline : NEW_LINUX_CMDLINE,
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

export interface MemoryHint {
  /** The guest's memory next to the size of its images. */
  readonly facts: string;
  /** More memory to suggest, and why; undefined when the memory fits the images. */
  readonly suggestion: { readonly memoryMiB: number; readonly text: string } | undefined;
}

/** The form's memory line: what the core's memoryAdvice says about these values, in words. */
export function memoryHint(values: MachineFormValues, images: readonly ImageRecord[]): MemoryHint {
  const size = (id: string): number | undefined => images.find((i) => i.id === id)?.size;
  const linux = values.boot === "linux";
  const kernelBytes = linux ? size(values.kernelImageId) : undefined;
  const initrdBytes = linux ? size(values.initrdImageId) : undefined;
  const diskBytes = DISK_SLOTS.flatMap((slot) => {
    const choice = values.slots[slot];
    const bytes = choice === "blank" ? Number(values.blankMiB[slot]) * MIB : choice === "" ? undefined : size(choice);
    return bytes === undefined || !Number.isFinite(bytes) ? [] : [bytes];
  });
  const memoryMiB = Number(values.memoryMiB);
  const advice = memoryAdvice({ memoryMiB, kernelBytes, initrdBytes, diskBytes });
  const parts = [
    ...(kernelBytes === undefined ? [] : [`kernel ${formatBytes(kernelBytes)}`]),
    ...(initrdBytes === undefined ? [] : [`initrd ${formatBytes(initrdBytes)}`]),
    ...(diskBytes.length === 0 ? [] : [`drives ${formatBytes(diskBytes.reduce((a, b) => a + b, 0))}`]),
  ];
  const memory = Number.isFinite(memoryMiB) ? `${memoryMiB} MiB` : "?";
  const facts = parts.length === 0 ? `Memory ${memory}; no images chosen yet.` : `Memory ${memory}; images: ${parts.join(" + ")}.`;
  if (advice.suggestMiB === undefined) return { facts, suggestion: undefined };
  const text =
    advice.reason === "installer"
      ? `This kernel + initrd look like an installer: give it ${advice.suggestMiB} MiB (installers stop with a low-memory warning at 256 MiB and below).`
      : `This initrd needs about ${advice.suggestMiB} MiB: v86 places it at 64 MiB, and it unpacks into memory above that.`;
  return { facts, suggestion: { memoryMiB: advice.suggestMiB, text } };
}
