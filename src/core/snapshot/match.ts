/**
 * "Create a matching machine": from a snapshot's fingerprint to a saved machine it can be
 * restored on, when this virtlab has what it needs (the built-in guest's files, the images
 * its disks were based on). Pure, so it is unit-tested.
 */
import { DEFAULT_PROFILE, type DiskSlot, type GuestSpec } from "../profile.ts";
import type { ImageRecord } from "../storage/images.ts";
import type { DiskSource, MachineRecord } from "../storage/machines.ts";
import type { MachineFingerprint } from "./fingerprint.ts";

export type Match = { readonly ok: true; readonly record: MachineRecord } | { readonly ok: false; readonly reason: string };

const SLOTS: readonly DiskSlot[] = ["hda", "hdb", "cdrom", "fda"];

/**
 * A machine like `draft` (its id, name and time) with the snapshot's hardware and disks, booting
 * the built-in guest. `builtIn` is the built-in guest as this app serves it (with the data disk).
 */
export function machineForSnapshot(fingerprint: MachineFingerprint, builtIn: GuestSpec, images: readonly ImageRecord[], draft: MachineRecord): Match {
  if (builtIn.kind !== "linux") return { ok: false, reason: "the built-in guest is not available" };
  if (fingerprint.boot.kind !== "kernel-initrd" || fingerprint.kernel !== builtIn.kernel.sha256 || fingerprint.initrd !== (builtIn.initrd?.sha256 ?? null)) {
    return { ok: false, reason: "it was saved on a guest this virtlab does not have (another kernel or initrd)" };
  }
  if (fingerprint.bios !== builtIn.bios.sha256 || fingerprint.vgaBios !== builtIn.vgaBios.sha256) {
    return { ok: false, reason: "it was saved with another BIOS" };
  }
  const disks: Partial<Record<DiskSlot, DiskSource>> = {};
  for (const [name, { size, base }] of Object.entries(fingerprint.disks)) {
    const slot = SLOTS.find((s) => s === name);
    if (slot === undefined) return { ok: false, reason: `it has a disk in an unknown slot (${name})` };
    // Only the pre-booted state is saved so (its data disk unmounted): the built-in machine takes it.
    if (size === "any") return { ok: false, reason: `its ${slot} was saved as a disk of any size, which only the built-in machine takes` };
    if (base === "missing") return { ok: false, reason: `its ${slot} was based on an image that had been deleted from the library` };
    if (base === "blank") disks[slot] = { kind: "blank", sizeBytes: size };
    else {
      const image = images.find((i) => i.sha256 === base.sha256 && i.size === size);
      if (image === undefined) return { ok: false, reason: `its ${slot} was based on an image that is not in the library (add it first)` };
      disks[slot] = { kind: "image", imageId: image.id };
    }
  }
  // The built-in guest's command line differs only by the data-disk word, which follows hda.
  const expectedCmdline = builtIn.cmdline.replace(/ virtlab\.data=\S+/, "");
  const savedCmdline = (fingerprint.cmdline ?? "").replace(/ virtlab\.data=\S+/, "");
  if (savedCmdline !== expectedCmdline) return { ok: false, reason: "it was saved with another kernel command line" };
  const record: MachineRecord = {
    ...draft,
    boot: { kind: "default-guest" },
    disks,
    profile: {
      ...DEFAULT_PROFILE,
      memoryMiB: fingerprint.memoryMiB,
      vgaMemoryMiB: fingerprint.vgaMemoryMiB,
      nic: fingerprint.nic,
      console: fingerprint.console,
      ...(fingerprint.share9p ? { share9p: true } : {}),
      ...(fingerprint.scratchDiskMiB === null ? {} : { scratchDiskMiB: fingerprint.scratchDiskMiB }),
      ...(fingerprint.nicMtu === null ? {} : { nicMtu: fingerprint.nicMtu }),
    },
  };
  return { ok: true, record };
}
