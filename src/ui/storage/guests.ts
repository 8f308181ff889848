/**
 * From a saved machine to what the core boots: the GuestSpec for its boot source, and an
 * AssetLoader that reads `image:<id>` references from the image library (everything else is
 * fetched as before).
 */
import {
  AppError,
  defaultGuest,
  type AssetLoader,
  type AssetRef,
  type GuestManifest,
  type GuestSpec,
  type ImageRecord,
  type ImageStore,
  type MachineRecord,
} from "../../core/index.ts";

const IMAGE_REF = "image:";

/** A library image as an asset the machine loads (kernel, initrd). */
export function imageAsset(image: ImageRecord): AssetRef {
  return { name: image.name, url: `${IMAGE_REF}${image.id}`, size: image.size, sha256: image.sha256 };
}

/** A prompt that fits most shells (`# ` or `$ ` at the end of a line), for kernels of the user's own. */
export const GENERIC_PROMPT = "[#$] $";

export function guestFor(record: MachineRecord, manifest: GuestManifest, guestBase: string, images: readonly ImageRecord[]): GuestSpec {
  // Firmware always comes from the built-in guest (SeaBIOS and its VGA BIOS).
  const builtIn = defaultGuest(manifest, guestBase, { dataDisk: record.disks.hda !== undefined });
  const boot = record.boot;
  if (boot.kind === "default-guest") return builtIn;
  if (boot.kind === "disk") return { kind: "disk", bios: builtIn.bios, vgaBios: builtIn.vgaBios, bootFrom: boot.bootFrom };
  const find = (id: string, what: string): ImageRecord => {
    const image = images.find((i) => i.id === id);
    if (image === undefined) throw new AppError("bad-image", `The ${what} of ${record.name} is no longer in the library.`, { details: { subject: what } });
    return image;
  };
  return {
    kind: "linux",
    bios: builtIn.bios,
    vgaBios: builtIn.vgaBios,
    kernel: imageAsset(find(boot.kernelImageId, "kernel")),
    initrd: imageAsset(find(boot.initrdImageId, "initrd")),
    cmdline: boot.cmdline,
    prompt: GENERIC_PROMPT,
  };
}

/** Reads `image:<id>` from the library, hands anything else to `fallback`. */
export function libraryAssetLoader(images: ImageStore, fallback: AssetLoader): AssetLoader {
  return {
    async load(ref, onProgress) {
      if (!ref.url.startsWith(IMAGE_REF)) return fallback.load(ref, onProgress);
      const record = await images.get(ref.url.slice(IMAGE_REF.length));
      if (record === undefined) throw new AppError("bad-image", `${ref.name} is no longer in the library.`, { details: { subject: ref.name } });
      const bytes = await images.reader(record).read(0, record.size);
      onProgress(bytes.length, bytes.length);
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    },
  };
}

/** One line on how a machine boots, for lists. */
export function describeBoot(record: MachineRecord, images: readonly ImageRecord[]): string {
  const name = (id: string): string => images.find((i) => i.id === id)?.name ?? "(missing image)";
  const boot = record.boot;
  if (boot.kind === "default-guest") return "built-in Debian guest";
  if (boot.kind === "linux") return `kernel ${name(boot.kernelImageId)} + initrd ${name(boot.initrdImageId)}`;
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
