/**
 * Device profiles and guest descriptions are data. `toEmulatorConfig` is the one pure function
 * that turns them (plus loaded bytes) into the options object handed to v86.
 */
import { AppError } from "./errors.ts";

export type CpuMode = "jit" | "interpreter";
export type NicModel = "none" | "ne2k" | "virtio";
export type ConsoleModel = "uart" | "virtio";

/** The machine's hardware, as the device lab toggles it. */
export interface DeviceProfile {
  readonly memoryMiB: number;
  readonly vgaMemoryMiB: number;
  readonly cpu: CpuMode;
  readonly nic: NicModel;
  /** Where the user's terminal is attached: 8250 UART (ttyS0) or virtio-console (hvc0). */
  readonly console: ConsoleModel;
  // --- device lab (issue 5): optional devices, absent in the default profile ---
  /** A virtio-9p shared filesystem (empty, in the emulator's memory), mount tag `host9p`. */
  readonly share9p?: boolean;
  /** A blank IDE hard disk of this many MiB (all zeros) for the guest to format: the lab's IDE side. */
  readonly scratchDiskMiB?: number;
  /** MTU of the virtio-net card (v86's default is 1500). Ignored for other NICs. */
  readonly nicMtu?: number;
  // --- end device lab ---
  /** A virtio-balloon device: the host can ask the guest for memory back while it runs. */
  readonly balloon?: boolean;
}

/** What the balloon must leave the guest, so its kernel keeps running. */
const MIN_GUEST_MIB_BESIDE_BALLOON = 64;

/** The most the balloon may take from a guest with this profile's memory. */
export function maxBalloonMiB(profile: DeviceProfile): number {
  return profile.memoryMiB - MIN_GUEST_MIB_BESIDE_BALLOON;
}

export const DEFAULT_PROFILE: DeviceProfile = {
  memoryMiB: 256,
  vgaMemoryMiB: 8,
  cpu: "jit",
  nic: "none",
  console: "uart",
};

/** A file the machine needs, fetched by URL (browser) or read by path (Node). */
export interface AssetRef {
  /** Shown to the user in progress and errors, e.g. "bzImage". */
  readonly name: string;
  readonly url: string;
  readonly size?: number;
  readonly sha256?: string;
  /**
   * The file as served is gzip'd (the emulator's wasm: 2.1 MB, 0.4 MB gzip'd, whatever the server
   * compresses); it is unpacked after the download, unless the transport did (Content-Encoding).
   * `size` and `sha256` are of the unpacked bytes.
   */
  readonly encoding?: "gzip";
}

/** A Linux guest booted from its kernel (and an initrd, as the default guest is; without one the kernel mounts its root itself). */
export interface LinuxGuest {
  readonly kind: "linux";
  readonly bios: AssetRef;
  readonly vgaBios: AssetRef;
  readonly kernel: AssetRef;
  readonly initrd?: AssetRef;
  readonly cmdline: string;
  /** Regular expression (source) that matches the shell prompt line. */
  readonly prompt: string;
  /** The kernel release the guest reports (`uname -r`), when known. */
  readonly kernelRelease?: string;
  /** The guest runs virtlab's agent on its second serial port (agent.ts): the machine gets one. */
  readonly agent?: "serial1";
}

/** A guest the BIOS boots from one of the machine's disks: an ISO, a hard disk, a floppy. */
export interface DiskGuest {
  readonly kind: "disk";
  readonly bios: AssetRef;
  readonly vgaBios: AssetRef;
  /** The drive the BIOS tries first. */
  readonly bootFrom: "cdrom" | "hda" | "fda";
  /** Regular expression (source) of a serial shell prompt, if the guest offers one. */
  readonly prompt?: string;
}

export type GuestSpec = LinuxGuest | DiskGuest;

export type AssetRole = "bios" | "vgaBios" | "kernel" | "initrd";

export function guestAssets(guest: GuestSpec): ReadonlyArray<readonly [AssetRole, AssetRef]> {
  const firmware: [AssetRole, AssetRef][] = [
    ["bios", guest.bios],
    ["vgaBios", guest.vgaBios],
  ];
  if (guest.kind !== "linux") return firmware;
  return [...firmware, ["kernel", guest.kernel], ...(guest.initrd === undefined ? [] : [["initrd", guest.initrd] as const])];
}

/** The files a start loaded: none of them when it restores a saved state (see `toEmulatorConfig`). */
export type LoadedAssets = Readonly<{ bios?: ArrayBuffer; vgaBios?: ArrayBuffer; kernel?: ArrayBuffer; initrd?: ArrayBuffer }>;

/** v86's boot_order values: which drive the BIOS tries first. */
const BOOT_ORDER: Readonly<Record<DiskGuest["bootFrom"], number>> = { cdrom: 0x213, hda: 0x132, fda: 0x321 };

/**
 * A disk v86 reads and writes through an object of ours instead of a buffer it owns: what
 * storage/disk.ts's OverlayDisk provides (copy-on-write over an image, saved in IndexedDB).
 */
export interface DiskDevice {
  readonly byteLength: number;
  onload: ((event: object) => void) | undefined;
  load(): void;
  get(start: number, length: number, callback: (data: Uint8Array) => void): void;
  get_and_cache(start: number, length: number, callback: (data: Uint8Array) => void): void;
  get_from_cache(start: number, length: number): Uint8Array | undefined;
  set(start: number, data: Uint8Array, callback: () => void): void;
  get_state(): unknown[];
  set_state(state: unknown[]): void;
}

/** Where a disk is attached: IDE primary master/slave, the CD-ROM drive, the first floppy. */
export type DiskSlot = "hda" | "hdb" | "cdrom" | "fda";
export const DISK_SLOTS: readonly DiskSlot[] = ["hda", "hdb", "cdrom", "fda"];
/** A disk held whole in memory and written in place by v86 (for tests and benchmarks). */
export interface BufferDisk {
  readonly buffer: ArrayBuffer;
}
export type AttachedDisks = Readonly<Partial<Record<DiskSlot, DiskDevice | BufferDisk>>>;

/** Options handed to v86, in v86's own names. Kept as our own type so only v86.ts sees v86's. */
export interface EmulatorConfig {
  readonly memory_size: number;
  readonly vga_memory_size: number;
  readonly bios?: { readonly buffer: ArrayBuffer };
  readonly vga_bios?: { readonly buffer: ArrayBuffer };
  readonly bzimage?: { readonly buffer: ArrayBuffer };
  readonly initrd?: { readonly buffer: ArrayBuffer };
  readonly cmdline?: string;
  readonly boot_order?: number;
  /** A saved state to start from instead of booting. The backend takes the buffer: a Worker's is sent over, and it is empty here afterwards. */
  readonly initial_state?: { readonly buffer: ArrayBuffer };
  readonly disable_jit: boolean;
  readonly net_device: { readonly type: NicModel; readonly mtu?: number };
  readonly virtio_console: boolean;
  /** A second 8250 UART (COM2, 0x2F8): the guest agent's channel. */
  readonly uart1?: boolean;
  readonly virtio_balloon?: boolean;
  readonly autostart: boolean;
  readonly disable_keyboard: boolean;
  readonly disable_mouse: boolean;
  readonly disable_speaker: boolean;
  readonly fastboot: boolean;
  readonly acpi: boolean;
  // --- device lab (issue 5) ---
  readonly filesystem?: Record<string, never>;
  readonly hda?: BufferDisk | DiskDevice;
  // --- end device lab ---
  readonly hdb?: BufferDisk | DiskDevice;
  readonly cdrom?: BufferDisk | DiskDevice;
  readonly fda?: BufferDisk | DiskDevice;
}

const MIB = 1024 * 1024;
/** v86 loads the initrd at 64 MiB, so kernel + initrd guests need room above that. */
export const MIN_LINUX_MEMORY_MIB = 128;
export const MAX_MEMORY_MIB = 2048;

/** Reasons a profile cannot run a guest; empty when it can. */
export function profileProblems(profile: DeviceProfile, guest: GuestSpec): string[] {
  const problems: string[] = [];
  if (!Number.isInteger(profile.memoryMiB) || profile.memoryMiB <= 0 || profile.memoryMiB > MAX_MEMORY_MIB) {
    problems.push(`memory must be a whole number of MiB between 1 and ${MAX_MEMORY_MIB}`);
  } else if (guest.kind === "linux" && guest.initrd !== undefined && profile.memoryMiB < MIN_LINUX_MEMORY_MIB) {
    problems.push(`a kernel + initrd guest needs at least ${MIN_LINUX_MEMORY_MIB} MiB (v86 loads the initrd at 64 MiB)`);
  }
  if (!Number.isInteger(profile.vgaMemoryMiB) || profile.vgaMemoryMiB < 1 || profile.vgaMemoryMiB > 128) {
    problems.push("VGA memory must be between 1 and 128 MiB");
  }
  problems.push(...labDeviceProblems(profile));
  if (guest.prompt !== undefined) {
    try {
      new RegExp(guest.prompt);
    } catch {
      problems.push(`the prompt pattern ${JSON.stringify(guest.prompt)} is not a valid regular expression`);
    }
  }
  return problems;
}

/**
 * `restoring`: the emulator starts from a saved state, whose memory holds the booted kernel and
 * the BIOSes as the boot left them, so the guest may come without its files: v86 only copies
 * them into memory the state overwrites (and maps the BIOS high for a boot to come, which a
 * restored machine never makes: a reset or reboot starts a fresh emulator with the files).
 */
export function toEmulatorConfig(profile: DeviceProfile, guest: GuestSpec, assets: LoadedAssets, disks: AttachedDisks = {}, options: { readonly restoring?: boolean } = {}): EmulatorConfig {
  const problems = profileProblems(profile, guest);
  if (disks.hda !== undefined && disks.hdb !== undefined && profile.scratchDiskMiB !== undefined) {
    problems.push("both IDE disks (hda, hdb) are taken: there is no room for the lab's scratch disk");
  }
  if (problems.length > 0) {
    throw new AppError("bad-profile", `This machine cannot start: ${problems.join("; ")}.`, { details: { problems } });
  }
  return {
    memory_size: profile.memoryMiB * MIB,
    vga_memory_size: profile.vgaMemoryMiB * MIB,
    ...firmware(assets, options.restoring === true),
    ...bootOptions(guest, assets, options.restoring === true),
    disable_jit: profile.cpu === "interpreter",
    // v86 adds an NE2000 when net_device is missing; a type it does not know ("none") adds no NIC.
    net_device: profile.nic === "virtio" && profile.nicMtu !== undefined ? { type: profile.nic, mtu: profile.nicMtu } : { type: profile.nic },
    virtio_console: profile.console === "virtio",
    ...(guest.kind === "linux" && guest.agent === "serial1" ? { uart1: true } : {}),
    ...(profile.balloon === true ? { virtio_balloon: true } : {}),
    autostart: true,
    disable_keyboard: true,
    disable_mouse: true,
    disable_speaker: true,
    fastboot: true,
    acpi: false,
    ...labDevices(profile, disks.hda !== undefined ? "hdb" : "hda"),
    ...disks,
  };
}

function firmware(assets: LoadedAssets, restoring: boolean): Pick<EmulatorConfig, "bios" | "vga_bios"> {
  if (assets.bios !== undefined && assets.vgaBios !== undefined) return { bios: { buffer: assets.bios }, vga_bios: { buffer: assets.vgaBios } };
  if (restoring && assets.bios === undefined && assets.vgaBios === undefined) return {};
  throw new AppError("bad-profile", "A machine that boots needs its BIOS and VGA BIOS loaded.");
}

function bootOptions(guest: GuestSpec, assets: LoadedAssets, restoring: boolean): Pick<EmulatorConfig, "bzimage" | "initrd" | "cmdline" | "boot_order"> {
  if (guest.kind === "disk") return { boot_order: BOOT_ORDER[guest.bootFrom] };
  if (restoring && assets.kernel === undefined && assets.initrd === undefined) return { cmdline: guest.cmdline };
  if (assets.kernel === undefined || (guest.initrd !== undefined && assets.initrd === undefined)) {
    throw new AppError("bad-profile", guest.initrd === undefined ? "A Linux guest needs its kernel loaded." : "A kernel + initrd guest needs both files loaded.");
  }
  return { bzimage: { buffer: assets.kernel }, ...(assets.initrd === undefined ? {} : { initrd: { buffer: assets.initrd } }), cmdline: guest.cmdline };
}

// --- device lab (issue 5) ---
export const MAX_SCRATCH_DISK_MIB = 512;

function labDeviceProblems(profile: DeviceProfile): string[] {
  const problems: string[] = [];
  const disk = profile.scratchDiskMiB;
  if (disk !== undefined && (!Number.isInteger(disk) || disk < 1 || disk > MAX_SCRATCH_DISK_MIB)) {
    problems.push(`the scratch disk must be a whole number of MiB between 1 and ${MAX_SCRATCH_DISK_MIB}`);
  }
  const mtu = profile.nicMtu;
  if (mtu !== undefined && (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535)) {
    problems.push("the NIC's MTU must be a whole number between 68 and 65535");
  }
  return problems;
}

/** v86 options for the lab's optional devices; empty for profiles that use none. */
function labDevices(profile: DeviceProfile, scratchSlot: "hda" | "hdb"): { filesystem?: Record<string, never>; hda?: { buffer: ArrayBuffer }; hdb?: { buffer: ArrayBuffer } } {
  return {
    // An empty `filesystem` object is v86's empty in-memory 9p filesystem.
    ...(profile.share9p === true ? { filesystem: {} } : {}),
    // The scratch disk takes the primary master, or the slave when the machine's own disk has it.
    ...(profile.scratchDiskMiB === undefined ? {} : { [scratchSlot]: { buffer: new ArrayBuffer(profile.scratchDiskMiB * MIB) } }),
  };
}
// --- end device lab ---
