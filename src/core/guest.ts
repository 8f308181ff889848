/**
 * The default guest as the image build describes it (images/out/guest.json), turned into a
 * GuestSpec whose files are fetched from `baseUrl`.
 */
import { AppError } from "./errors.ts";
import type { AssetRef, LinuxGuest } from "./profile.ts";

export interface GuestManifest {
  readonly kernelRelease: string;
  readonly cmdline: string;
  readonly files: Readonly<Record<string, { readonly size: number; readonly sha256: string }>>;
}

/** The prompt the default guest's /init sets: PS1='root@virtlab:\w\$ '. */
export const DEFAULT_GUEST_PROMPT = "root@virtlab:[^\\r\\n]*# $";

export const DEFAULT_GUEST_FILES = {
  bios: "bios.bin",
  vgaBios: "vgabios.bin",
  kernel: "bzImage",
  initrd: "initramfs.cpio",
} as const;

export function defaultGuest(manifest: GuestManifest, baseUrl: string): LinuxGuest {
  const ref = (name: string): AssetRef => {
    const file = manifest.files[name];
    if (file === undefined) {
      throw new AppError("asset-load-failed", `The guest description lists no ${name}.`, { details: { subject: name } });
    }
    return { name, url: joinUrl(baseUrl, name), size: file.size, sha256: file.sha256 };
  };
  return {
    kind: "linux",
    bios: ref(DEFAULT_GUEST_FILES.bios),
    vgaBios: ref(DEFAULT_GUEST_FILES.vgaBios),
    kernel: ref(DEFAULT_GUEST_FILES.kernel),
    initrd: ref(DEFAULT_GUEST_FILES.initrd),
    cmdline: manifest.cmdline,
    prompt: DEFAULT_GUEST_PROMPT,
    kernelRelease: manifest.kernelRelease,
  };
}

function joinUrl(base: string, name: string): string {
  return base.endsWith("/") ? base + name : `${base}/${name}`;
}
