/**
 * The page's machine session, in Node: the same MachineSession the browser runs, with the guest
 * and the pre-booted state read from images/out, stores in memory, and v86 headless. Boot tests,
 * `images/prebooted.ts` and benchmarks drive it, so they take the page's start and restore path.
 */
import { createV86Backend } from "../core/v86.ts";
import { readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  DEFAULT_MACHINE,
  DEFAULT_PROFILE,
  DiskStore,
  ImageStore,
  LAB_PREBOOTED_NAMES,
  MachineSession,
  StoreDisks,
  labPrebooted,
  memoryStore,
  scratchSession,
  startScratch,
  systemClock,
  type BackendFactory,
  type BootCache,
  type DeviceProfile,
  type LabNic,
  type MachineRecord,
  type PrebootedManifest,
  type PrebootedSource,
  type ScratchMachine,
  type SessionOptions,
  type StartRequest,
} from "../core/index.ts";
import { GUEST_DIR, WASM_PATH, fileAssetLoader, readGuestManifest } from "./guest.ts";

export const PREBOOTED_FILE = "prebooted.vlsnap";
export const PREBOOTED_MANIFEST = "prebooted.json";

/** The pre-booted states images/prebooted.ts makes: the default machine's, and the network lab's (with either NIC). */
export const PREBOOTED_NAMES = { default: "prebooted", lab: LAB_PREBOOTED_NAMES.virtio, labNe2k: LAB_PREBOOTED_NAMES.ne2k } as const;

/** The network lab's pre-booted states as images/prebooted.ts wrote them, per NIC model. */
export function fileLabPrebooted(dir = GUEST_DIR): Record<LabNic, PrebootedSource> {
  return labPrebooted((name) => filePrebooted(dir, name));
}

/** The pre-booted state as images/prebooted.ts wrote it (`name`: "prebooted", or one of the network lab's). */
export function filePrebooted(dir = GUEST_DIR, name: string = PREBOOTED_NAMES.default): PrebootedSource {
  return {
    async manifest() {
      const path = join(dir, `${name}.json`);
      if (!existsSync(path)) return { none: "there is no pre-booted state (run npx tsx images/prebooted.ts)" };
      return JSON.parse(await readFile(path, "utf8")) as PrebootedManifest;
    },
    async file(manifest, onProgress) {
      const bytes = new Uint8Array(await readFile(join(dir, manifest.file)));
      onProgress(bytes.length, manifest.size);
      return bytes;
    },
  };
}

export interface NodeSessionOptions {
  /** Offer the pre-booted state to "auto" starts of the default machine (default: yes). */
  readonly prebooted?: boolean;
  readonly diskStore?: DiskStore;
  readonly images?: ImageStore;
  readonly backend?: BackendFactory;
  /** Keep boots per hardware, as the page does (none: every non-default start boots). */
  readonly bootCache?: BootCache;
}

/** The options of the session the page runs, with Node's files and in-memory stores. */
export function nodeSessionOptions(options: NodeSessionOptions = {}): SessionOptions {
  const diskStore = options.diskStore ?? new DiskStore(memoryStore());
  const images = options.images ?? new ImageStore(memoryStore(), { now: () => Date.now(), estimate: async () => undefined });
  return {
    backend: options.backend ?? createV86Backend,
    loader: fileAssetLoader,
    wasm: { name: "v86.wasm", url: WASM_PATH },
    clock: systemClock,
    wallTime: () => Date.now(),
    guest: { base: GUEST_DIR, manifest: async () => readGuestManifest() },
    images,
    diskStore,
    disks: new StoreDisks({ images, disks: diskStore }, systemClock),
    ...(options.prebooted === false ? {} : { prebooted: filePrebooted() }),
    ...(options.bootCache === undefined ? {} : { bootCache: options.bootCache }),
  };
}

/** The session the page runs, with Node's files and in-memory stores. */
export function nodeSession(options: NodeSessionOptions = {}): MachineSession {
  return new MachineSession(nodeSessionOptions(options));
}

/** A machine that keeps nothing (the lab's), booted from scratch with `profile` through a session of its own. */
export function startNodeScratch(profile: Partial<DeviceProfile> = {}): Promise<ScratchMachine> {
  return startScratch(scratchSession(nodeSessionOptions({ prebooted: false })), { ...DEFAULT_PROFILE, ...profile });
}

/** Start the default machine (or `record`) through a session; rejects when it does not start. */
export async function startSession(session: MachineSession, request: StartRequest = { kind: "auto" }, record: MachineRecord = DEFAULT_MACHINE, profile: Partial<DeviceProfile> = {}): Promise<void> {
  const outcome = await session.start({ record, profile: { ...DEFAULT_PROFILE, ...record.profile, ...profile }, request });
  if (outcome.kind === "failed") throw outcome.error;
  if (outcome.kind !== "started") throw new Error(`the machine did not start (${outcome.kind})`);
}
