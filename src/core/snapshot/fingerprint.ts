/**
 * What a saved state depends on. v86 restores any state onto any machine and then misbehaves if
 * they differ; virtlab compares fingerprints first and names what differs.
 */
import type { DeviceProfile, GuestSpec } from "../profile.ts";

export interface MachineFingerprint {
  readonly memoryMiB: number;
  readonly vgaMemoryMiB: number;
  readonly nic: string;
  readonly console: string;
  readonly share9p: boolean;
  readonly scratchDiskMiB: number | null;
  readonly nicMtu: number | null;
  /** Present only on machines with a balloon, so states saved before it existed still match. */
  readonly balloon?: true;
  readonly boot: string;
  readonly bios: string | null;
  readonly vgaBios: string | null;
  readonly kernel: string | null;
  readonly initrd: string | null;
  readonly cmdline: string | null;
  /** Per attached disk slot: its size and what it is based on. */
  readonly disks: Readonly<Record<string, string>>;
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

export interface DiskIdentity {
  /** Bytes. */
  readonly size: number;
  /** sha256 of the base image, or "blank". */
  readonly base: string;
  /**
   * The state does not depend on the disk's size: the guest held nothing of the disk when it was
   * saved and probes it again after the restore (the pre-booted state: data disk unmounted,
   * /bin/virtlab-data re-reads a disk whose size differs; v86.ts gives the IDE drive the size of
   * the disk attached). Written "any size, <base>" and matched by any size with the same base.
   */
  readonly anySize?: boolean;
}

const ANY_SIZE = "any size, ";

export function machineFingerprint(profile: DeviceProfile, guest: GuestSpec, disks: Readonly<Record<string, DiskIdentity>> = {}): MachineFingerprint {
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
    boot: guest.kind === "linux" ? "kernel + initrd" : `BIOS from ${guest.bootFrom}`,
    bios: guest.bios.sha256 ?? null,
    vgaBios: guest.vgaBios.sha256 ?? null,
    kernel: linux?.kernel.sha256 ?? null,
    initrd: linux?.initrd.sha256 ?? null,
    cmdline: linux?.cmdline ?? null,
    disks: Object.fromEntries(
      Object.entries(disks)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([slot, d]) => [slot, d.anySize === true ? `${ANY_SIZE}${d.base}` : `${d.size} bytes, ${d.base}`]),
    ),
  };
}

/** The fields that differ, in words ("memory size: 256 → 128"). Empty when the machines match. */
export function fingerprintDifferences(saved: MachineFingerprint, current: MachineFingerprint): string[] {
  const out: string[] = [];
  for (const key of Object.keys(FINGERPRINT_LABELS) as (keyof MachineFingerprint)[]) {
    if (key === "disks" && disksMatch(saved.disks, current.disks)) continue;
    const a = JSON.stringify(saved[key] ?? null);
    const b = JSON.stringify(current[key] ?? null);
    if (a !== b) out.push(`${FINGERPRINT_LABELS[key]}: saved with ${short(a)}, this machine has ${short(b)}`);
  }
  return out;
}

/** Same slots; each disk the same, or saved as "any size, <base>" and now of that base. */
function disksMatch(saved: Readonly<Record<string, string>>, current: Readonly<Record<string, string>>): boolean {
  const slots = Object.keys(saved ?? {});
  if (slots.length !== Object.keys(current).length) return false;
  return slots.every((slot) => {
    const want = saved[slot];
    const have = current[slot];
    if (want === undefined || have === undefined) return false;
    return want === have || (want.startsWith(ANY_SIZE) && have.endsWith(`bytes, ${want.slice(ANY_SIZE.length)}`));
  });
}

function short(value: string): string {
  const plain = value.replace(/^"|"$/g, "");
  return /^[0-9a-f]{64}$/.test(plain) ? `${plain.slice(0, 12)}…` : plain;
}
