/** Saved machines and sizes in words, for lists (what a machine boots is decided in core/session/guests.ts). */
import type { ImageRecord, MachineRecord } from "../../core/index.ts";

/** One line on how a machine boots, for lists. */
export function describeBoot(record: MachineRecord, images: readonly ImageRecord[]): string {
  const name = (id: string): string => images.find((i) => i.id === id)?.name ?? "(missing image)";
  const boot = record.boot;
  if (boot.kind === "default-guest") return "built-in Debian guest";
  if (boot.kind === "linux") return boot.initrdImageId === "" ? `kernel ${name(boot.kernelImageId)}, no initrd` : `kernel ${name(boot.kernelImageId)} + initrd ${name(boot.initrdImageId)}`;
  return `boots from ${boot.bootFrom}`;
}

/** The disks of a machine in words: "hda: blank 64 MiB, cdrom: grub.iso". */
export function describeDisks(record: MachineRecord, images: readonly ImageRecord[]): string {
  const parts = Object.entries(record.disks).map(([slot, source]) =>
    source.kind === "blank" ? `${slot}: blank ${formatBytes(source.sizeBytes)}` : `${slot}: ${images.find((i) => i.id === source.imageId)?.name ?? "(missing image)"}`,
  );
  return parts.length === 0 ? "no disks" : parts.join(", ");
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 * 1024 * 1024) return `${(bytes / 1048576).toFixed(1)} MiB`;
  return `${(bytes / 1073741824).toFixed(2)} GiB`;
}
