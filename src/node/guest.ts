/**
 * Node side of the core: read the default guest and the emulator's wasm from disk (session.ts
 * makes the page's session with them). Used by boot tests, benchmarks and command-line tools.
 */
import { createV86Backend } from "../core/v86.ts";
import { existsSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  AppError,
  DEFAULT_PROFILE,
  Machine,
  defaultGuest,
  type AssetLoader,
  type AttachedDisks,
  type DeviceProfile,
  type GuestManifest,
  type LinuxGuest,
} from "../core/index.ts";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const GUEST_DIR = resolve(REPO_ROOT, "images/out");
export const WASM_PATH = resolve(REPO_ROOT, "node_modules/v86/build/v86.wasm");

/** Reads asset URLs as file paths. */
export const fileAssetLoader: AssetLoader = {
  async load(ref, onProgress) {
    try {
      const bytes = await readFile(ref.url);
      onProgress(bytes.length, bytes.length);
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    } catch (error) {
      throw new AppError("asset-load-failed", `Could not read ${ref.name} from ${ref.url}.`, { cause: error, details: { subject: ref.name } });
    }
  },
};

export function guestIsBuilt(dir = GUEST_DIR): boolean {
  return existsSync(resolve(dir, "guest.json"));
}

export function readGuestManifest(dir = GUEST_DIR): GuestManifest {
  return JSON.parse(readFileSync(resolve(dir, "guest.json"), "utf8")) as GuestManifest;
}

export function loadDefaultGuest(dir = GUEST_DIR, options: { dataDisk?: boolean } = {}): LinuxGuest {
  return defaultGuest(readGuestManifest(dir), dir, options);
}

export interface HeadlessOptions {
  readonly profile?: Partial<DeviceProfile>;
  readonly guest?: LinuxGuest;
  readonly disks?: AttachedDisks;
  readonly initialState?: { readonly state: Uint8Array; readonly shellReady: boolean };
}

/**
 * A raw Machine for the default guest, not yet started: for tests about the Machine itself (a cold
 * boot with special devices, traps, the agent). Anything that starts the page's machine goes
 * through the page's session instead (src/node/session.ts: nodeSession, startNodeScratch).
 */
export function headlessMachine(options: HeadlessOptions = {}): Machine {
  return new Machine({
    profile: { ...DEFAULT_PROFILE, ...options.profile },
    guest: options.guest ?? loadDefaultGuest(),
    wasm: { name: "v86.wasm", url: WASM_PATH },
    loader: fileAssetLoader,
    backend: createV86Backend,
    ...(options.disks === undefined ? {} : { disks: options.disks }),
    ...(options.initialState === undefined ? {} : { initialState: options.initialState }),
  });
}
