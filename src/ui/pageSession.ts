/**
 * The page's machine session options, in one place: each machine in its own Worker, warmed up
 * with v86.wasm (served next to the guest: vite.config.ts); files fetched; storage, disks and the
 * pre-booted state the page's; boots kept per hardware; v86's JIT held while a machine started from a state is set up.
 */
import { fetchAssetLoader, openPageBootCaches, type GuestManifest, type SessionOptions } from "../core/index.ts";
import type { AppEntry } from "./appGlobal.ts";
import { pagePrebooted } from "./offThreadDecode.ts";
import { byId } from "./panels.ts";
import type { StorageController } from "./storage/StorageController.ts";
import { createWorkerBackendFactory } from "./workerBackend.ts";
import { pageClock } from "./pageClock.ts";

export function pageSessionOptions(storage: StorageController, guestBase: string, entry: Pick<AppEntry, "early" | "keptBoot">, manifest: () => Promise<GuestManifest>): SessionOptions {
  const wasm = { name: "v86.wasm", url: new URL("v86/v86.wasm.gz", document.baseURI).href, encoding: "gzip" as const };
  return {
    backend: createWorkerBackendFactory({ wasm, guestBase }),
    loader: fetchAssetLoader,
    wasm,
    clock: pageClock(),
    wallTime: () => Date.now(),
    guest: { base: guestBase, manifest },
    images: storage.stores.images,
    diskStore: storage.stores.disks,
    disks: storage,
    prebooted: pagePrebooted(guestBase, location.search, entry.early),
    // Boots kept per hardware: a device switch boots once, then restores (this machine's, read unpacked).
    ...openPageBootCaches(),
    ...(entry.keptBoot === undefined ? {} : { unpackedBoot: entry.keptBoot }),
    screenContainer: byId("vga"),
    // v86's JIT off while a machine started from a state is set up, on once it is (the core's holdJitWhileSettingUp).
    holdJitWhileSettingUp: true,
  };
}
