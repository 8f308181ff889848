/**
 * The boot cache: after a machine of some hardware has booted from scratch once in this browser,
 * its freshly booted state is kept (data disk unmounted, caches dropped, as the pre-booted state is
 * made at set-up), so the next start of the same hardware restores in about a second instead of
 * booting. A device switch in the lab is the case it serves: every profile boots once, then
 * restores.
 *
 * An entry is keyed by the machine's fingerprint (every device, the guest's files and command
 * line, the data disk as "any size") and the emulator version, so a state is only ever restored on
 * the hardware and emulator it was saved on. Entries of another guest build or emulator are deleted
 * as soon as the cache is used; at most `maxEntries` are kept (the oldest go first). A cached state
 * is a convenience: a damaged one is deleted and the machine boots, and a full quota only means the
 * boot is not kept. Stored as snapshot files (SnapshotStore) in a database of its own.
 *
 * The page's own machine keeps each of its boots unpacked too, for its hardware (unpackedCache.ts,
 * the two kinds of hardware used last; not the labs' machines): a device switch in the page read
 * and unpacked the packed file on its thread in ~0.5 s before the machine's Worker could restore;
 * the unpacked state reads back in less than half that. Used only while the packed entry it was
 * kept beside is there (a boot kept again replaces it), and checked against its digest once the
 * start it served is over. A start that read the packed file keeps its state unpacked after.
 */
import { describeCause } from "../errors.ts";
import type { MachineFingerprint } from "../snapshot/fingerprint.ts";
import { decodeSnapshot, type SnapshotHeader } from "../snapshot/format.ts";
import { SnapshotStore } from "../snapshot/store.ts";
import { openIndexedDbStore } from "../storage/kv.ts";
import { V86_PACKAGE_VERSION } from "../v86Version.ts";
import type { SavedStart } from "./request.ts";
import { keptBootFits } from "./unpackedBoot.ts";
import { HARDWARE_SLOT, openUnpackedStateCache, type UnpackedEntry, type UnpackedStateCache } from "./unpackedCache.ts";

/**
 * How a kept boot is compressed: zstd at level 3, not the gzip of saves made in the page. The
 * default machine's booted state (41.8 MB raw), two rounds each (2026-12-04): in Chromium, gzip
 * 11.13 MB, 1094-1118 ms to pack, 537-546 ms to unpack; zstd 3 11.55 MB, 255-329 ms and
 * 309-316 ms. In Node: gzip 11.50 MB, 832 ms and 337-584 ms; zstd 3 305 ms and 188 ms. Both run
 * on the page's thread (a switch unpacks before the machine's Worker can restore; the lab's
 * machines wait for the packing).
 */
export const BOOT_CACHE_COMPRESSION = { compression: "zstd", level: 3 } as const;

/** What a cached boot is called in messages and on the terminal's first line. */
export const BOOT_CACHE_LABEL = "this hardware's saved boot";

export type BootCacheLookup =
  /**
   * `afterStart`: what is left to do once the start no longer waits: check the digest of a state
   * read unpacked, or keep unpacked a state read from the packed file. Never rejects.
   */
  | { readonly kind: "hit"; readonly start: SavedStart; readonly header: SnapshotHeader; readonly afterStart?: () => Promise<void> }
  | { readonly kind: "miss" }
  /** An entry was there but could not be read back; it is deleted. */
  | { readonly kind: "damaged"; readonly reason: string };

/**
 * The page's boot cache, in a database of its own, and where its own machine keeps its boots
 * unpacked too (the session options of the same names).
 */
export function openPageBootCaches(): { readonly bootCache: BootCache; readonly keptBootsUnpacked: UnpackedStateCache } {
  return { bootCache: new BootCache(new SnapshotStore(openIndexedDbStore("virtlab-bootcache", "kv"))), keptBootsUnpacked: openUnpackedStateCache() };
}

/** A start from a kept boot: saved with the data disk unmounted, so the user's own is mounted after. */
export function keptBootStart(decoded: { readonly header: SnapshotHeader; readonly state: Uint8Array }): SavedStart {
  return { state: decoded.state, shellReady: decoded.header.shellReady, mountData: true, label: BOOT_CACHE_LABEL, from: "boot-cache", screen: decoded.header.preview };
}

/** The fields that name the guest build: an entry whose differ is of an older (or newer) build. */
const GUEST_FIELDS = ["bios", "vgaBios", "kernel", "initrd", "cmdline"] as const satisfies readonly (keyof MachineFingerprint)[];

interface CacheKey {
  readonly v86: string;
  readonly fingerprint: MachineFingerprint;
}

export class BootCache {
  constructor(
    private readonly snapshots: SnapshotStore,
    /**
     * Enough for the device lab's Run all beside the page's own hardware and the network lab's
     * two: five kinds of hardware with its machines one at a time, eight with machines at once
     * (every side with a device and two MTU variants, lab/devices.ts; the CPU mode is not in a
     * fingerprint), which must not push out each other's boots.
     */
    private readonly maxEntries = 12,
    /** The emulator version states are saved by (tests name another to play an upgrade). */
    private readonly v86: string = V86_PACKAGE_VERSION,
  ) {}

  /**
   * The cached boot of this hardware, read and checked (every chunk's sha256), or its copy in
   * `unpacked` when one is kept there (its digest checked by the hit's `afterStart`).
   */
  async find(fingerprint: MachineFingerprint, unpacked?: UnpackedStateCache): Promise<BootCacheLookup> {
    const key = this.keyOf(fingerprint);
    await this.prune(fingerprint).catch(() => undefined);
    const [record] = await this.snapshots.list(key).catch(() => []);
    if (record === undefined) return { kind: "miss" };
    const entry = unpackedEntry(key, record.id);
    const copy = await unpacked?.find(entry).catch(() => undefined);
    if (unpacked !== undefined && copy !== undefined && keptBootFits(copy.header, fingerprint, this.v86)) {
      return { kind: "hit", start: keptBootStart(copy), header: copy.header, afterStart: async () => void (await unpacked.check(entry).catch(() => false)) };
    }
    try {
      const decoded = await decodeSnapshot(await this.snapshots.readFile(record.id));
      if (unpacked === undefined) return { kind: "hit", start: keptBootStart(decoded), header: decoded.header };
      // A copy (the start takes the state's buffer), kept once the start is over: a boot kept
      // before copies were, or one whose copy made room for other hardware, is read unpacked next.
      const state = decoded.state.slice();
      return { kind: "hit", start: keptBootStart(decoded), header: decoded.header, afterStart: () => unpacked.keep(entry, { header: decoded.header, state }).catch(() => undefined) };
    } catch (error) {
      await this.snapshots.delete(record.id).catch(() => undefined);
      return { kind: "damaged", reason: describeCause(error) };
    }
  }

  /**
   * Keep `parts` (a snapshot file) as this hardware's boot, in place of an earlier one, and, given
   * `unpacked`, the same state not packed in its cache beside it.
   */
  async keep(fingerprint: MachineFingerprint, parts: readonly Uint8Array[], unpacked?: { readonly cache: UnpackedStateCache; readonly header: SnapshotHeader; readonly state: Uint8Array }): Promise<void> {
    const key = this.keyOf(fingerprint);
    const earlier = await this.snapshots.list(key);
    const record = await this.snapshots.save(key, parts);
    for (const old of earlier) await this.snapshots.delete(old.id).catch(() => undefined);
    await this.prune(fingerprint);
    // A convenience: a full quota only means the next start reads the packed file.
    if (unpacked !== undefined) await unpacked.cache.keep(unpackedEntry(key, record.id), unpacked).catch(() => undefined);
  }

  /** How many boots are kept. */
  async size(): Promise<number> {
    return (await this.snapshots.list()).length;
  }

  /** Forget every kept boot (e.g. to make room). */
  async clear(): Promise<void> {
    for (const record of await this.snapshots.list()) await this.snapshots.delete(record.id);
    await this.snapshots.collectGarbage();
  }

  private keyOf(fingerprint: MachineFingerprint): string {
    return JSON.stringify({ v86: this.v86, fingerprint: canonical(fingerprint) });
  }

  /** Delete entries of another emulator or guest build, then the oldest beyond the limit. */
  private async prune(current: MachineFingerprint): Promise<void> {
    const records = await this.snapshots.list(); // newest first
    const stale = records.filter((record) => {
      const key = parseKey(record.machineId);
      return key === undefined || key.v86 !== this.v86 || GUEST_FIELDS.some((field) => JSON.stringify(key.fingerprint[field] ?? null) !== JSON.stringify(current[field] ?? null));
    });
    const kept = records.filter((record) => !stale.includes(record));
    for (const record of [...stale, ...kept.slice(this.maxEntries)]) await this.snapshots.delete(record.id);
    await this.snapshots.collectGarbage();
  }
}

/** The unpacked copy of the kept boot `recordId` of the hardware `key` names: served only while that record is the kept one. */
function unpackedEntry(key: string, recordId: string): UnpackedEntry {
  return { slot: `${HARDWARE_SLOT}${key}`, source: recordId };
}

function parseKey(text: string): CacheKey | undefined {
  try {
    const value = JSON.parse(text) as Partial<CacheKey>;
    return typeof value.v86 === "string" && typeof value.fingerprint === "object" && value.fingerprint !== null ? (value as CacheKey) : undefined;
  } catch {
    return undefined;
  }
}

/** The same value with object keys sorted, so equal fingerprints give equal keys. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => [k, canonical(v)]),
  );
}
