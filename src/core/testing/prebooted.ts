/** Test fixtures: the fake guest's manifest, and a pre-booted state file saved for a profile. */
import type { GuestManifest } from "../guest.ts";
import { sha256Hex } from "../host.ts";
import { DEFAULT_MACHINE } from "../storage/machines.ts";
import type { DeviceProfile } from "../profile.ts";
import { machineFingerprint } from "../snapshot/fingerprint.ts";
import { concatParts, encodeSnapshot } from "../snapshot/format.ts";
import { guestFor } from "../session/guests.ts";
import type { PrebootedSource } from "../session/prebooted.ts";
import { V86_PACKAGE_VERSION } from "../v86Version.ts";
import { PROMPT, fakeV86State, files } from "./fakeShell.ts";

async function entry(name: string): Promise<{ size: number; sha256: string }> {
  const bytes = files[name] ?? new Uint8Array();
  return { size: bytes.length, sha256: await sha256Hex(bytes) };
}

/** guest.json of the fake guest (fakeShell's files). */
export const fakeManifest: GuestManifest = {
  kernelRelease: "6.1.0",
  cmdline: "console=ttyS0",
  files: Object.fromEntries(await Promise.all(["bios.bin", "vgabios.bin", "bzImage", "initramfs.cpio"].map(async (name) => [name, await entry(name)] as const))),
};

/**
 * A pre-booted state file saved with `profile`; `asked` counts the reads of its description, `read`
 * those of the file. Its description names the hardware, as set-up writes it, unless
 * `fingerprintInManifest` is false (an older set-up's).
 */
export async function prebootedFor(profile: DeviceProfile, { fingerprintInManifest = true } = {}): Promise<PrebootedSource & { asked: number; read: number; readonly bytes: Uint8Array }> {
  const guest = guestFor(DEFAULT_MACHINE, fakeManifest, "guest/", []);
  const fingerprint = machineFingerprint(profile, guest, { hda: { size: "any", base: "blank" } });
  // Saved at the prompt, as set-up saves it (its last line is shown again after the restore).
  const { parts } = await encodeSnapshot(fakeV86State("prebooted-state"), { app: "test", v86: V86_PACKAGE_VERSION, fingerprint, name: "p", createdAt: 0, shellReady: true, preview: PROMPT });
  const file = concatParts(parts);
  const source = {
    asked: 0,
    read: 0,
    bytes: file,
    async manifest() {
      source.asked++;
      return { file: "p.vlsnap", size: file.length, sha256: "", v86: V86_PACKAGE_VERSION, ...(fingerprintInManifest ? { fingerprint } : {}) };
    },
    async file(_: unknown, onProgress: (loaded: number, total: number) => void) {
      source.read++;
      onProgress(file.length, file.length);
      return file;
    },
  };
  return source;
}
