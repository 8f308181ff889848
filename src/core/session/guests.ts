/**
 * From a saved machine to what the core boots: the GuestSpec for its boot source, and an
 * AssetLoader that reads `image:<id>` references from the image library (everything else goes to
 * the loader it wraps: fetch in the browser, files in Node).
 */
import type { AssetLoader } from "../assets.ts";
import { AppError } from "../errors.ts";
import { decodeText, host } from "../host.ts";
import { defaultGuest, type GuestManifest } from "../guest.ts";
import type { AssetRef, GuestSpec } from "../profile.ts";
import type { ImageRecord, ImageStore } from "../storage/images.ts";
import type { MachineRecord } from "../storage/machines.ts";

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
    ...(boot.initrdImageId === "" ? {} : { initrd: imageAsset(find(boot.initrdImageId, "initrd")) }),
    cmdline: boot.cmdline,
    prompt: GENERIC_PROMPT,
  };
}

/** Reads `image:<id>` from the library, hands anything else to `fallback`. */
export function libraryAssetLoader(images: Pick<ImageStore, "get" | "reader">, fallback: AssetLoader): AssetLoader {
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

/** The built-in guest's manifest (`<base>guest.json`), fetched fresh (a rebuilt guest has new sums). */
export async function fetchGuestManifest(base: string): Promise<GuestManifest> {
  const url = base.endsWith("/") ? `${base}guest.json` : `${base}/guest.json`;
  let response: Awaited<ReturnType<typeof host.fetch>>;
  try {
    response = await host.fetch(url, { cache: "no-cache" });
  } catch (error) {
    throw new AppError("asset-load-failed", "Could not download guest.json.", { cause: error, details: { subject: "guest.json" } });
  }
  if (!response.ok) throw new AppError("asset-load-failed", `Could not download guest.json: the server answered ${response.status}.`, { details: { subject: "guest.json" } });
  try {
    return JSON.parse(decodeText(new Uint8Array(await response.arrayBuffer()))) as GuestManifest;
  } catch (error) {
    throw new AppError("asset-load-failed", "guest.json is not valid JSON.", { cause: error, details: { subject: "guest.json" } });
  }
}
