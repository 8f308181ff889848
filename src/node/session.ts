/**
 * The page's machine session, in Node: the same MachineSession the browser runs, with the guest
 * and the pre-booted state read from images/out, stores in memory, and v86 headless. Boot tests,
 * `images/prebooted.ts` and benchmarks drive it, so they take the page's start and restore path.
 */
import { readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  DEFAULT_MACHINE,
  DEFAULT_PROFILE,
  DiskStore,
  ImageStore,
  MachineSession,
  createV86Backend,
  memoryStore,
  openMachineDisks,
  systemClock,
  type BackendFactory,
  type DeviceProfile,
  type DiskSlot,
  type MachineRecord,
  type OpenedDisks,
  type PrebootedManifest,
  type PrebootedSource,
  type SessionDisks,
  type StartRequest,
} from "../core/index.ts";
import { GUEST_DIR, WASM_PATH, fileAssetLoader, readGuestManifest } from "./guest.ts";

export const PREBOOTED_FILE = "prebooted.vlsnap";
export const PREBOOTED_MANIFEST = "prebooted.json";

/** The pre-booted state as images/prebooted.ts wrote it. */
export function filePrebooted(dir = GUEST_DIR): PrebootedSource {
  return {
    async manifest() {
      const path = join(dir, PREBOOTED_MANIFEST);
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

/** A machine's disks opened from the stores, as the browser's StorageController does (no lock). */
export class StoreDisks implements SessionDisks {
  private opened: OpenedDisks | undefined;
  constructor(private readonly stores: { readonly images: ImageStore; readonly disks: DiskStore }) {}

  async prepare(record: MachineRecord): Promise<{ readonly kind: "ready"; readonly disks: OpenedDisks["attached"] }> {
    await this.close();
    this.opened = await openMachineDisks(record, this.stores, { clock: systemClock });
    return { kind: "ready", disks: this.opened.attached };
  }

  disk(slot: DiskSlot) {
    return this.opened?.attached[slot];
  }

  get view(): { readonly slots: readonly DiskSlot[] } {
    return { slots: this.opened === undefined ? [] : (Object.keys(this.opened.attached) as DiskSlot[]).filter((s) => s !== "cdrom") };
  }

  async save(): Promise<void> {
    await Promise.all((this.opened?.overlays ?? []).map((d) => d.flush()));
  }

  async close(): Promise<void> {
    const opened = this.opened;
    this.opened = undefined;
    if (opened === undefined) return;
    await Promise.all(opened.overlays.map((d) => d.flush().catch(() => undefined)));
    for (const disk of opened.overlays) disk.dispose();
  }
}

export interface NodeSessionOptions {
  /** Offer the pre-booted state to "auto" starts of the default machine (default: yes). */
  readonly prebooted?: boolean;
  readonly diskStore?: DiskStore;
  readonly images?: ImageStore;
  readonly backend?: BackendFactory;
}

/** The session the page runs, with Node's files and in-memory stores. */
export function nodeSession(options: NodeSessionOptions = {}): MachineSession {
  const diskStore = options.diskStore ?? new DiskStore(memoryStore());
  const images = options.images ?? new ImageStore(memoryStore(), { now: () => Date.now(), estimate: async () => undefined });
  return new MachineSession({
    backend: options.backend ?? createV86Backend,
    loader: fileAssetLoader,
    wasm: { name: "v86.wasm", url: WASM_PATH },
    clock: systemClock,
    wallTime: () => Date.now(),
    guest: { base: GUEST_DIR, manifest: async () => readGuestManifest() },
    images,
    diskStore,
    disks: new StoreDisks({ images, disks: diskStore }),
    ...(options.prebooted === false ? {} : { prebooted: filePrebooted() }),
  });
}

/** Start the default machine (or `record`) through a session; rejects when it does not start. */
export async function startSession(session: MachineSession, request: StartRequest = { kind: "auto" }, record: MachineRecord = DEFAULT_MACHINE, profile: Partial<DeviceProfile> = {}): Promise<void> {
  const outcome = await session.start({ record, profile: { ...DEFAULT_PROFILE, ...record.profile, ...profile }, request });
  if (outcome.kind === "failed") throw outcome.error;
  if (outcome.kind !== "started") throw new Error(`the machine did not start (${outcome.kind})`);
}
