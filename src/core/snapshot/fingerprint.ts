/**
 * What a saved state depends on. v86 restores any state onto any machine and then misbehaves if
 * they differ; virtlab compares fingerprints first and names what differs.
 *
 * Files of format 1 wrote the boot source and each disk as words ("kernel + initrd",
 * "67108864 bytes, blank", "any size, <sha256>"); `readFingerprint` turns those into the values
 * below, so snapshots saved before (files, IndexedDB, the shipped pre-booted state) still restore.
 */
import { AppError } from "../errors.ts";
import type { ConsoleModel, DeviceProfile, DiskGuest, GuestSpec, NicModel } from "../profile.ts";

/** What a disk is based on: nothing (blank), an image by its sha256, or an image the library no longer has. */
export type DiskBase = "blank" | "missing" | { readonly sha256: string };

/** One attached disk, as far as a saved state depends on it. */
export interface FingerprintDisk {
  /**
   * Bytes; or "any": the state does not depend on the disk's size, because the guest held nothing
   * of the disk when it was saved and probes it again after the restore (the pre-booted state:
   * data disk unmounted, /bin/virtlab-data re-reads a disk whose size differs; v86.ts gives the
   * IDE drive the size of the disk attached). Any size with the same base matches.
   */
  readonly size: number | "any";
  readonly base: DiskBase;
}

/** How the machine starts: the kernel and initrd loaded directly, or the BIOS from a drive. */
export type FingerprintBoot = { readonly kind: "kernel-initrd" } | { readonly kind: "bios"; readonly from: DiskGuest["bootFrom"] };

export interface MachineFingerprint {
  readonly memoryMiB: number;
  readonly vgaMemoryMiB: number;
  readonly nic: NicModel;
  readonly console: ConsoleModel;
  readonly share9p: boolean;
  readonly scratchDiskMiB: number | null;
  readonly nicMtu: number | null;
  /** Present only on machines with a balloon, so states saved before it existed still match. */
  readonly balloon?: true;
  readonly boot: FingerprintBoot;
  readonly bios: string | null;
  readonly vgaBios: string | null;
  readonly kernel: string | null;
  readonly initrd: string | null;
  readonly cmdline: string | null;
  /** Per attached disk slot (hda, cdrom…), sorted by slot. */
  readonly disks: Readonly<Record<string, FingerprintDisk>>;
}

export const FINGERPRINT_LABELS: Readonly<Record<keyof MachineFingerprint, string>> = {
  memoryMiB: "memory size",
  vgaMemoryMiB: "VGA memory size",
  nic: "network card",
  console: "console device",
  share9p: "9p shared folder",
  scratchDiskMiB: "lab scratch disk",
  nicMtu: "network MTU",
  balloon: "balloon device",
  boot: "boot source",
  bios: "BIOS",
  vgaBios: "VGA BIOS",
  kernel: "kernel",
  initrd: "initrd",
  cmdline: "kernel command line",
  disks: "disks",
};

const BOOT_DRIVES: readonly DiskGuest["bootFrom"][] = ["cdrom", "hda", "fda"];
const NICS: readonly NicModel[] = ["none", "ne2k", "virtio"];
const CONSOLES: readonly ConsoleModel[] = ["uart", "virtio"];

export function fingerprintBootOf(guest: GuestSpec): FingerprintBoot {
  return guest.kind === "linux" ? { kind: "kernel-initrd" } : { kind: "bios", from: guest.bootFrom };
}

export function machineFingerprint(profile: DeviceProfile, guest: GuestSpec, disks: Readonly<Record<string, FingerprintDisk>> = {}): MachineFingerprint {
  const linux = guest.kind === "linux" ? guest : undefined;
  return {
    memoryMiB: profile.memoryMiB,
    vgaMemoryMiB: profile.vgaMemoryMiB,
    nic: profile.nic,
    console: profile.console,
    share9p: profile.share9p === true,
    scratchDiskMiB: profile.scratchDiskMiB ?? null,
    nicMtu: profile.nic === "virtio" ? (profile.nicMtu ?? null) : null,
    ...(profile.balloon === true ? { balloon: true as const } : {}),
    boot: fingerprintBootOf(guest),
    bios: guest.bios.sha256 ?? null,
    vgaBios: guest.vgaBios.sha256 ?? null,
    kernel: linux?.kernel.sha256 ?? null,
    initrd: linux?.initrd?.sha256 ?? null,
    cmdline: linux?.cmdline ?? null,
    disks: Object.fromEntries(
      Object.entries(disks)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([slot, d]) => [slot, { size: d.size, base: d.base }]),
    ),
  };
}

/** Whether the two fingerprints boot different kernels, initrds or kernel command lines (another build of a guest). */
export function guestBuildDiffers(saved: MachineFingerprint, current: MachineFingerprint): boolean {
  return saved.kernel !== current.kernel || saved.initrd !== current.initrd || (saved.cmdline ?? null) !== (current.cmdline ?? null);
}

/** The fields that differ, in words ("memory size: saved with 256, this machine has 128"). Empty when the machines match. */
export function fingerprintDifferences(saved: MachineFingerprint, current: MachineFingerprint): string[] {
  const out: string[] = [];
  for (const key of Object.keys(FINGERPRINT_LABELS) as (keyof MachineFingerprint)[]) {
    if (key === "disks") out.push(...diskDifferences(saved.disks, current.disks));
    else if (key === "boot") {
      if (!sameBoot(saved.boot, current.boot)) out.push(`${FINGERPRINT_LABELS.boot}: saved with ${bootWords(saved.boot)}, this machine has ${bootWords(current.boot)}`);
    } else {
      const a = JSON.stringify(saved[key] ?? null);
      const b = JSON.stringify(current[key] ?? null);
      if (a !== b) out.push(`${FINGERPRINT_LABELS[key]}: saved with ${short(a)}, this machine has ${short(b)}`);
    }
  }
  return out;
}

export function sameBase(a: DiskBase, b: DiskBase): boolean {
  if (a === "missing" || b === "missing") return false;
  if (a === "blank" || b === "blank") return a === b;
  return a.sha256 === b.sha256;
}

/** A saved disk fits a current one: the same base, and the same size unless saved as "any". */
export function diskFits(saved: FingerprintDisk, current: FingerprintDisk): boolean {
  return sameBase(saved.base, current.base) && (saved.size === "any" || saved.size === current.size);
}

/** One entry per slot that differs ("disks: hda saved with 64 MiB blank, this machine has 2 GiB blank"). */
function diskDifferences(saved: Readonly<Record<string, FingerprintDisk>>, current: Readonly<Record<string, FingerprintDisk>>): string[] {
  const slots = [...new Set([...Object.keys(saved), ...Object.keys(current)])].sort((a, b) => a.localeCompare(b));
  const out: string[] = [];
  for (const slot of slots) {
    const want = saved[slot];
    const have = current[slot];
    if (want !== undefined && have !== undefined && diskFits(want, have)) continue;
    out.push(`${FINGERPRINT_LABELS.disks}: ${slot} saved with ${want === undefined ? "no disk" : diskWords(want)}, this machine has ${have === undefined ? "no disk" : diskWords(have)}`);
  }
  return out;
}

function sameBoot(a: FingerprintBoot, b: FingerprintBoot): boolean {
  return a.kind === b.kind && (a.kind !== "bios" || (b.kind === "bios" && a.from === b.from));
}

export function bootWords(boot: FingerprintBoot): string {
  return boot.kind === "kernel-initrd" ? "kernel + initrd" : `BIOS from ${boot.from}`;
}

/** "64 MiB blank", "any size blank", "1440 KiB image 3f2a9c01b7e4…". */
export function diskWords(disk: FingerprintDisk): string {
  if (disk.base === "missing") return "an image no longer in the library";
  const size = disk.size === "any" ? "any size" : sizeWords(disk.size);
  return `${size} ${disk.base === "blank" ? "blank" : `image ${short(disk.base.sha256)}`}`;
}

function sizeWords(bytes: number): string {
  for (const [unit, n] of [["GiB", 2 ** 30], ["MiB", 2 ** 20], ["KiB", 2 ** 10]] as const) {
    if (bytes >= n && bytes % n === 0) return `${bytes / n} ${unit}`;
  }
  return `${bytes} bytes`;
}

function short(value: string): string {
  const plain = value.replace(/^"|"$/g, "");
  return /^[0-9a-f]{64}$/.test(plain) ? `${plain.slice(0, 12)}…` : plain;
}

/**
 * A fingerprint as a snapshot header holds it, checked: format 1 (words) is read into the typed
 * form, format 2 is checked to be one. Throws a bad-snapshot error naming what it cannot read.
 */
export function readFingerprint(raw: unknown, format: number): MachineFingerprint {
  if (typeof raw !== "object" || raw === null) throw damaged("it has no machine description");
  const fields = raw as Record<string, unknown>;
  if (!NICS.some((n) => n === fields["nic"])) throw damaged("its network card");
  if (!CONSOLES.some((c) => c === fields["console"])) throw damaged("its console device");
  const boot = format === 1 ? bootFromWords(fields["boot"]) : fields["boot"];
  if (!isBootSource(boot)) throw damaged("its boot source");
  const disks = fields["disks"];
  if (typeof disks !== "object" || disks === null || Array.isArray(disks)) throw damaged("its disks");
  const typedDisks: Record<string, FingerprintDisk> = {};
  for (const [slot, disk] of Object.entries(disks as Record<string, unknown>)) {
    const typed = format === 1 ? diskFromWords(disk) : disk;
    if (!isFingerprintDisk(typed)) throw damaged(`its disk ${slot}`);
    typedDisks[slot] = { size: typed.size, base: typed.base };
  }
  return { ...(raw as MachineFingerprint), boot, disks: typedDisks };
}

function damaged(what: string): AppError {
  return new AppError("bad-snapshot", `The snapshot's machine description is damaged or in a form this virtlab does not read (${what}).`);
}

/** Format 1: "kernel + initrd" or "BIOS from cdrom". */
function bootFromWords(words: unknown): FingerprintBoot | undefined {
  if (words === "kernel + initrd") return { kind: "kernel-initrd" };
  const from = typeof words === "string" ? /^BIOS from (\S+)$/.exec(words)?.[1] : undefined;
  const drive = BOOT_DRIVES.find((d) => d === from);
  return drive === undefined ? undefined : { kind: "bios", from: drive };
}

/** Format 1: "<bytes> bytes, <base>" or "any size, <base>"; base "blank", "missing" or a sha256. */
function diskFromWords(words: unknown): FingerprintDisk | undefined {
  if (typeof words !== "string") return undefined;
  const match = /^(?:(\d+) bytes|any size), (\S+)$/.exec(words);
  if (match === null) return undefined;
  const base = baseFromWord(match[2] as string);
  if (base === undefined) return undefined;
  return { size: match[1] === undefined ? "any" : Number(match[1]), base };
}

/** The base as format 1 wrote it (also a snapshot disk's base in format 1). */
export function baseFromWord(word: string): DiskBase | undefined {
  if (word === "blank" || word === "missing") return word;
  return /^[0-9a-f]{64}$/.test(word) ? { sha256: word } : undefined;
}

export function isDiskBase(value: unknown): value is DiskBase {
  if (value === "blank" || value === "missing") return true;
  return typeof value === "object" && value !== null && typeof (value as { sha256?: unknown }).sha256 === "string";
}

function isFingerprintDisk(value: unknown): value is FingerprintDisk {
  if (typeof value !== "object" || value === null) return false;
  const { size, base } = value as { size?: unknown; base?: unknown };
  return (size === "any" || (typeof size === "number" && Number.isSafeInteger(size) && size >= 0)) && isDiskBase(base);
}

function isBootSource(value: unknown): value is FingerprintBoot {
  if (typeof value !== "object" || value === null) return false;
  const { kind, from } = value as { kind?: unknown; from?: unknown };
  return kind === "kernel-initrd" || (kind === "bios" && BOOT_DRIVES.some((d) => d === from));
}
