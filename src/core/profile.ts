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
}

/** A Linux guest booted from kernel + initrd, as the default guest is. */
export interface LinuxGuest {
  readonly kind: "linux";
  readonly bios: AssetRef;
  readonly vgaBios: AssetRef;
  readonly kernel: AssetRef;
  readonly initrd: AssetRef;
  readonly cmdline: string;
  /** Regular expression (source) that matches the shell prompt line. */
  readonly prompt: string;
  /** The kernel release the guest reports (`uname -r`), when known. */
  readonly kernelRelease?: string;
}

export type GuestSpec = LinuxGuest;

export type AssetRole = "bios" | "vgaBios" | "kernel" | "initrd";

export function guestAssets(guest: GuestSpec): ReadonlyArray<readonly [AssetRole, AssetRef]> {
  return [
    ["bios", guest.bios],
    ["vgaBios", guest.vgaBios],
    ["kernel", guest.kernel],
    ["initrd", guest.initrd],
  ];
}

export type LoadedAssets = Readonly<Record<AssetRole, ArrayBuffer>>;

/** Options handed to v86, in v86's own names. Kept as our own type so only v86.ts sees v86's. */
export interface EmulatorConfig {
  readonly memory_size: number;
  readonly vga_memory_size: number;
  readonly bios: { readonly buffer: ArrayBuffer };
  readonly vga_bios: { readonly buffer: ArrayBuffer };
  readonly bzimage: { readonly buffer: ArrayBuffer };
  readonly initrd: { readonly buffer: ArrayBuffer };
  readonly cmdline: string;
  readonly disable_jit: boolean;
  readonly net_device: { readonly type: NicModel };
  readonly virtio_console: boolean;
  readonly autostart: boolean;
  readonly disable_keyboard: boolean;
  readonly disable_mouse: boolean;
  readonly disable_speaker: boolean;
  readonly fastboot: boolean;
  readonly acpi: boolean;
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
  } else if (guest.kind === "linux" && profile.memoryMiB < MIN_LINUX_MEMORY_MIB) {
    problems.push(`a kernel + initrd guest needs at least ${MIN_LINUX_MEMORY_MIB} MiB (v86 loads the initrd at 64 MiB)`);
  }
  if (!Number.isInteger(profile.vgaMemoryMiB) || profile.vgaMemoryMiB < 1 || profile.vgaMemoryMiB > 128) {
    problems.push("VGA memory must be between 1 and 128 MiB");
  }
  try {
    new RegExp(guest.prompt);
  } catch {
    problems.push(`the prompt pattern ${JSON.stringify(guest.prompt)} is not a valid regular expression`);
  }
  return problems;
}

export function toEmulatorConfig(profile: DeviceProfile, guest: GuestSpec, assets: LoadedAssets): EmulatorConfig {
  const problems = profileProblems(profile, guest);
  if (problems.length > 0) {
    throw new AppError("bad-profile", `This machine cannot start: ${problems.join("; ")}.`, { details: { problems } });
  }
  return {
    memory_size: profile.memoryMiB * MIB,
    vga_memory_size: profile.vgaMemoryMiB * MIB,
    bios: { buffer: assets.bios },
    vga_bios: { buffer: assets.vgaBios },
    bzimage: { buffer: assets.kernel },
    initrd: { buffer: assets.initrd },
    cmdline: guest.cmdline,
    disable_jit: profile.cpu === "interpreter",
    // v86 adds an NE2000 when net_device is missing; a type it does not know ("none") adds no NIC.
    net_device: { type: profile.nic },
    virtio_console: profile.console === "virtio",
    autostart: true,
    disable_keyboard: true,
    disable_mouse: true,
    disable_speaker: true,
    fastboot: true,
    acpi: false,
  };
}
