/** A Linux guest description for unit tests: made-up assets (nothing is loaded), a plain prompt. */
import type { LinuxGuest } from "../profile.ts";

export function testGuest(cmdline = "console=ttyS0"): LinuxGuest {
  return {
    kind: "linux",
    bios: { name: "bios.bin", url: "", sha256: "a".repeat(64) },
    vgaBios: { name: "vgabios.bin", url: "", sha256: "b".repeat(64) },
    kernel: { name: "bzImage", url: "", sha256: "c".repeat(64) },
    initrd: { name: "initramfs.cpio", url: "", sha256: "d".repeat(64) },
    cmdline,
    prompt: "# $",
  };
}
