import { describe, expect, it } from "vitest";
import { AppError } from "./errors.ts";
import { DEFAULT_PROFILE, guestAssets, profileProblems, toEmulatorConfig, type DiskDevice, type LinuxGuest, type LoadedAssets } from "./profile.ts";

const guest: LinuxGuest = {
  kind: "linux",
  bios: { name: "bios.bin", url: "/g/bios.bin" },
  vgaBios: { name: "vgabios.bin", url: "/g/vgabios.bin" },
  kernel: { name: "bzImage", url: "/g/bzImage" },
  initrd: { name: "initramfs.cpio", url: "/g/initramfs.cpio" },
  cmdline: "console=ttyS0 quiet",
  prompt: "# $",
};

const assets = {
  bios: new ArrayBuffer(1),
  vgaBios: new ArrayBuffer(2),
  kernel: new ArrayBuffer(3),
  initrd: new ArrayBuffer(4),
} satisfies LoadedAssets;

describe("toEmulatorConfig", () => {
  it("maps the default profile to v86 options", () => {
    const config = toEmulatorConfig(DEFAULT_PROFILE, guest, assets);
    expect(config.memory_size).toBe(256 * 1024 * 1024);
    expect(config.vga_memory_size).toBe(8 * 1024 * 1024);
    expect(config.bios?.buffer).toBe(assets.bios);
    expect(config.vga_bios?.buffer).toBe(assets.vgaBios);
    expect(config.bzimage?.buffer).toBe(assets.kernel);
    expect(config.initrd?.buffer).toBe(assets.initrd);
    expect(config.boot_order).toBeUndefined();
    expect(config.cmdline).toBe("console=ttyS0 quiet");
    expect(config.disable_jit).toBe(false);
    expect(config.virtio_console).toBe(false);
    expect(config.autostart).toBe(true);
  });

  it("restores a saved state without the BIOSes, kernel or initrd, but boots with none of them missing", () => {
    const restoring = toEmulatorConfig(DEFAULT_PROFILE, guest, {}, {}, { restoring: true });
    expect(restoring).not.toHaveProperty("bios");
    expect(restoring).not.toHaveProperty("vga_bios");
    expect(restoring).not.toHaveProperty("bzimage");
    expect(restoring.cmdline).toBe("console=ttyS0 quiet");
    const { bios: _bios, ...noBios } = assets;
    expect(() => toEmulatorConfig(DEFAULT_PROFILE, guest, noBios)).toThrow(expect.objectContaining({ code: "bad-profile", message: "A machine that boots needs its BIOS and VGA BIOS loaded." }));
    expect(() => toEmulatorConfig(DEFAULT_PROFILE, guest, { vgaBios: assets.vgaBios }, {}, { restoring: true })).toThrow(expect.objectContaining({ code: "bad-profile" }));
  });

  it("says 'no NIC' explicitly, because v86 adds an NE2000 when net_device is missing", () => {
    expect(toEmulatorConfig({ ...DEFAULT_PROFILE, nic: "none" }, guest, assets).net_device).toEqual({ type: "none" });
    expect(toEmulatorConfig({ ...DEFAULT_PROFILE, nic: "ne2k" }, guest, assets).net_device).toEqual({ type: "ne2k" });
    expect(toEmulatorConfig({ ...DEFAULT_PROFILE, nic: "virtio" }, guest, assets).net_device).toEqual({ type: "virtio" });
  });

  it("turns the interpreter and virtio console choices into v86 flags", () => {
    const config = toEmulatorConfig({ ...DEFAULT_PROFILE, cpu: "interpreter", console: "virtio" }, guest, assets);
    expect(config.disable_jit).toBe(true);
    expect(config.virtio_console).toBe(true);
  });

  it("adds v86's virtio-balloon only when the profile asks for one", () => {
    expect(toEmulatorConfig({ ...DEFAULT_PROFILE, balloon: true }, guest, assets).virtio_balloon).toBe(true);
    expect(toEmulatorConfig({ ...DEFAULT_PROFILE, balloon: false }, guest, assets)).not.toHaveProperty("virtio_balloon");
    expect(toEmulatorConfig(DEFAULT_PROFILE, guest, assets)).not.toHaveProperty("virtio_balloon");
  });

  it("is pure: the same input gives equal output and the profile is untouched", () => {
    const profile = { ...DEFAULT_PROFILE };
    const a = toEmulatorConfig(profile, guest, assets);
    const b = toEmulatorConfig(profile, guest, assets);
    expect(a).toEqual(b);
    expect(profile).toEqual(DEFAULT_PROFILE);
  });

  it("refuses too little memory for a kernel + initrd guest with a typed error naming the reason", () => {
    const run = (): unknown => toEmulatorConfig({ ...DEFAULT_PROFILE, memoryMiB: 64 }, guest, assets);
    expect(run).toThrow(AppError);
    try {
      run();
    } catch (error) {
      expect((error as AppError).code).toBe("bad-profile");
      expect((error as AppError).message).toMatch(/at least 128 MiB/);
    }
  });
});

describe("toEmulatorConfig for a kernel without an initrd", () => {
  const kernelOnly: LinuxGuest = { kind: "linux", bios: guest.bios, vgaBios: guest.vgaBios, kernel: guest.kernel, cmdline: "console=ttyS0 root=/dev/sda", prompt: "# $" };

  it("loads no initrd and boots the kernel alone; below 128 MiB too (nothing is placed at 64 MiB)", () => {
    expect(guestAssets(kernelOnly).map(([role]) => role)).toEqual(["bios", "vgaBios", "kernel"]);
    const config = toEmulatorConfig({ ...DEFAULT_PROFILE, memoryMiB: 64 }, kernelOnly, { bios: assets.bios, vgaBios: assets.vgaBios, kernel: assets.kernel });
    expect(config.bzimage?.buffer).toBe(assets.kernel);
    expect(config).not.toHaveProperty("initrd");
    expect(config.cmdline).toBe("console=ttyS0 root=/dev/sda");
  });

  it("still needs the kernel", () => {
    expect(() => toEmulatorConfig(DEFAULT_PROFILE, kernelOnly, { bios: assets.bios, vgaBios: assets.vgaBios })).toThrow("A Linux guest needs its kernel loaded.");
  });
});

describe("toEmulatorConfig for a guest booted from a disk", () => {
  const diskGuest = { kind: "disk", bios: guest.bios, vgaBios: guest.vgaBios, bootFrom: "cdrom" } as const;

  it("passes no kernel, and tells the BIOS which drive to try first", () => {
    const config = toEmulatorConfig(DEFAULT_PROFILE, diskGuest, { bios: assets.bios, vgaBios: assets.vgaBios });
    expect(config.bzimage).toBeUndefined();
    expect(config.cmdline).toBeUndefined();
    expect(config.boot_order).toBe(0x213);
    expect(toEmulatorConfig(DEFAULT_PROFILE, { ...diskGuest, bootFrom: "hda" }, assets).boot_order).toBe(0x132);
    expect(toEmulatorConfig(DEFAULT_PROFILE, { ...diskGuest, bootFrom: "fda" }, assets).boot_order).toBe(0x321);
  });

  it("attaches the caller's disks in their slots", () => {
    const disk = { byteLength: 512 } as unknown as DiskDevice;
    const config = toEmulatorConfig(DEFAULT_PROFILE, diskGuest, assets, { cdrom: disk, hda: disk });
    expect(config.cdrom).toBe(disk);
    expect(config.hda).toBe(disk);
    expect(config.fda).toBeUndefined();
  });
});

describe("profileProblems", () => {
  it("accepts the default profile", () => {
    expect(profileProblems(DEFAULT_PROFILE, guest)).toEqual([]);
  });

  it("lists every problem at once", () => {
    const problems = profileProblems({ ...DEFAULT_PROFILE, memoryMiB: 1.5, vgaMemoryMiB: 0 }, { ...guest, prompt: "(" });
    expect(problems).toHaveLength(3);
    expect(problems.join(" ")).toMatch(/whole number/);
    expect(problems.join(" ")).toMatch(/VGA/);
    expect(problems.join(" ")).toMatch(/regular expression/);
  });
});
