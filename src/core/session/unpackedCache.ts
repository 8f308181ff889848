/**
 * States this browser unpacked once, kept unpacked for the next visit. Unpacking the shipped
 * pre-booted file (8 MB of zstd, 35 MB of state) took about 0.9 s of a core on a class's 2-core
 * machine, most of a repeat visit's wait before the restore, and a kept boot (bootCache.ts) about
 * 0.6 s of the page's thread; reading an unpacked state back from IndexedDB takes about 0.2 s.
 *
 * Entries (`UnpackedEntry`):
 * - The pre-booted state (`prebootedEntry`), for the shipped file it came from (its sha256, from
 *   prebooted.json): a new set-up (another guest or v86) has another file, so the entry no longer
 *   matches and is replaced at that visit. The page's decoder Worker (src/worker/decode.worker.ts)
 *   asks here first and keeps what it unpacked once the machine started from it has settled.
 * - A kept boot, for the link that started it (`linkEntry`, unpackedBoot.ts: a device-switch link such as
 *   `?nic=virtio&console=virtio`, whose hardware has no pre-booted state): a Worker of the page's
 *   entry reads it while the page loads (src/worker/keptBoot.worker.ts), and the session uses it
 *   only when its header names the hardware and emulator the start needs (a link's machine can
 *   change: the entry is a guess, checked). At most `MAX_LINK_ENTRIES`, the oldest kept go first.
 * - A kept boot, for its hardware (`HARDWARE_SLOT`, named by bootCache.ts for the packed entry it
 *   was kept beside): kept with that entry by the page's own machine, and read instead of the
 *   packed file by the next start of that hardware (a device switch in the page). At most
 *   `MAX_HARDWARE_ENTRIES`, the oldest kept go first.
 *
 * Each entry is written in one transaction (the state and its description), so a tab closed
 * midway leaves the old entry or the new one. Checked as it is read (what it came from, its
 * length, v86's header) and, after the start it served, against its digest: a damaged entry is
 * deleted, so it is used at most once. It is a cache: a full quota only means nothing is kept.
 */
import { AppError } from "../errors.ts";
import { sha256Hex } from "../host.ts";
import { v86StateVersion, type DecodedSnapshot, type SnapshotHeader } from "../snapshot/format.ts";
import { openIndexedDbStore, type KeyValueStore } from "../storage/kv.ts";
import { systemClock, type Clock } from "../clock.ts";
import type { PrebootedManifest } from "./prebooted.ts";

/** Where the page keeps it: a database of its own (the states as Blobs). */
const UNPACKED_CACHE_DATABASE = "virtlab-unpacked";

/** The page's cache, opened by each of its Workers that reads or keeps an entry. */
export function openUnpackedStateCache(): UnpackedStateCache {
  return new UnpackedStateCache(openIndexedDbStore(UNPACKED_CACHE_DATABASE, "kv", { bytesAsBlobs: true }));
}

/** How many links' kept boots are kept unpacked (35 MB each for the default guest), beside the pre-booted state. */
export const MAX_LINK_ENTRIES = 2;

/** An entry: where it is kept (`slot`) and what it must have been unpacked from to be served (`source`). */
export interface UnpackedEntry {
  readonly slot: string;
  readonly source: string;
}

/** The pre-booted state unpacked from the file `manifest` describes (kept as "meta" and "state"). */
export function prebootedEntry(manifest: PrebootedManifest): UnpackedEntry {
  return { slot: "", source: manifest.sha256 };
}

/** Where links' kept boots are kept (unpackedBoot.ts names them). */
export const LINK_SLOT = "link:";
/** Where kept boots are kept by their hardware (bootCache.ts names them). */
export const HARDWARE_SLOT = "hw:";
/** How many kinds of hardware have their kept boot unpacked (35 MB each): the two a class switches between. */
export const MAX_HARDWARE_ENTRIES = 2;
/** What a link's entry is unpacked from: a kept boot (the session checks its header). */
export const KEPT_BOOT_SOURCE = "kept boot";

const metaKey = (slot: string): string => (slot === "" ? "meta" : `meta:${slot}`);
const stateKey = (slot: string): string => (slot === "" ? "state" : `state:${slot}`);

interface UnpackedMeta {
  /** What the state was unpacked from: the shipped file's sha256, or a kept boot. */
  readonly file: string;
  readonly header: SnapshotHeader;
  readonly stateBytes: number;
  readonly stateSha256: string;
  /** When it was kept (the clock's time): the oldest link entry goes first. */
  readonly keptAt?: number;
}

export class UnpackedStateCache {
  constructor(
    private readonly kv: KeyValueStore,
    private readonly clock: Clock = systemClock,
  ) {}

  /**
   * The state kept as `entry`, when it is there, unpacked from `entry.source`, and reads back whole
   * (undefined otherwise: the caller unpacks it). The digest is not checked here (up to half of
   * what the cache saves): `check` does it once the start no longer waits.
   */
  async find(entry: UnpackedEntry): Promise<DecodedSnapshot | undefined> {
    const kept = await this.read(entry);
    if (kept === undefined) return undefined;
    const { meta, state } = kept;
    if (!Array.isArray(meta.header.disks) || meta.header.disks.length > 0 || !(state instanceof Uint8Array) || state.length !== meta.stateBytes || meta.header.stateSize !== meta.stateBytes || !fromV86(state, meta.header.stateVersion)) {
      await this.forget(entry);
      return undefined;
    }
    return { header: meta.header, state, disks: [] };
  }

  /**
   * Keep `decoded`, unpacked from `entry.source`, as `entry`, in place of what was there. A state
   * that carries disks' pages is not kept (only its machine state would be): the pre-booted one
   * and kept boots carry none. Keeping a link's entry lets the oldest others go past
   * MAX_LINK_ENTRIES.
   */
  async keep(entry: UnpackedEntry, decoded: { readonly header: SnapshotHeader; readonly state: Uint8Array }): Promise<void> {
    if (decoded.header.disks.length > 0) return;
    const meta: UnpackedMeta = { file: entry.source, header: decoded.header, stateBytes: decoded.state.length, stateSha256: await sha256Hex(decoded.state), keptAt: this.clock.now() };
    if (entry.slot.startsWith(LINK_SLOT)) await this.makeRoom(LINK_SLOT, entry.slot, MAX_LINK_ENTRIES);
    if (entry.slot.startsWith(HARDWARE_SLOT)) await this.makeRoom(HARDWARE_SLOT, entry.slot, MAX_HARDWARE_ENTRIES);
    await this.kv.setMany([
      [stateKey(entry.slot), decoded.state],
      [metaKey(entry.slot), meta],
    ]);
    // Read back its last byte: the write is done when the browser has the state's bytes, so a tab
    // closed right after leaves the entry whole.
    const last = decoded.state.length - 1;
    const read = await this.kv.readInto([{ key: stateKey(entry.slot), at: 0, from: last, length: 1 }], new Uint8Array(1));
    if (!("bytes" in read) || read.bytes[0] !== decoded.state[last]) throw new AppError("storage-failed", "The state kept unpacked did not read back.");
  }

  /**
   * Read `entry` again and check it against its digest; a damaged one is deleted. True when the
   * entry is there and whole.
   */
  async check(entry: UnpackedEntry): Promise<boolean> {
    const kept = await this.read(entry);
    if (kept === undefined) return false;
    const { meta, state } = kept;
    if (state instanceof Uint8Array && state.length === meta.stateBytes && (await sha256Hex(state)) === meta.stateSha256) return true;
    await this.forget(entry);
    return false;
  }

  async forget(entry: UnpackedEntry): Promise<void> {
    await this.kv.deleteMany([metaKey(entry.slot), stateKey(entry.slot)]);
  }

  /** The entry with its description, when it is unpacked from `entry.source` (one transaction). */
  private async read(entry: UnpackedEntry): Promise<{ readonly meta: UnpackedMeta; readonly state: unknown } | undefined> {
    const [meta, state] = await this.kv.getMany<unknown>([metaKey(entry.slot), stateKey(entry.slot)]);
    return isMeta(meta) && meta.file === entry.source ? { meta, state } : undefined;
  }

  /** Delete the oldest entries under `prefix` (`slot` aside) so that one more leaves `max`. */
  private async makeRoom(prefix: string, slot: string, max: number): Promise<void> {
    const others = (await this.kv.keys()).filter((key) => key.startsWith(metaKey(prefix)) && key !== metaKey(slot)).map((key) => key.slice(metaKey("").length + 1));
    if (others.length < max) return;
    const metas = await this.kv.getMany<unknown>(others.map(metaKey));
    const keptAt = (meta: unknown): number => (isMeta(meta) ? (meta.keptAt ?? 0) : -Infinity);
    const newestFirst = others.map((other, i) => ({ other, at: keptAt(metas[i]) })).sort((a, b) => b.at - a.at);
    for (const { other } of newestFirst.slice(max - 1)) await this.forget({ slot: other, source: KEPT_BOOT_SOURCE });
  }
}

function isMeta(value: unknown): value is UnpackedMeta {
  if (typeof value !== "object" || value === null) return false;
  const meta = value as Partial<UnpackedMeta>;
  return typeof meta.file === "string" && typeof meta.stateBytes === "number" && typeof meta.stateSha256 === "string" && typeof meta.header === "object" && meta.header !== null;
}

/** The state starts as one of v86's of this version (a cheap look, not a check of its bytes). */
function fromV86(state: Uint8Array, version: number): boolean {
  try {
    return v86StateVersion(state) === version;
  } catch {
    return false;
  }
}
