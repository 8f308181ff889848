/**
 * Copy-on-write disks. A disk is an immutable base (an image from the library, an empty ext2 file
 * system made on the fly, or nothing: zeros) plus an overlay of pages the guest wrote, kept in
 * IndexedDB. v86 talks to an OverlayDisk as to its own buffers (get/set/load/byteLength); writes
 * land in memory at once and reach IndexedDB in batches, each batch one transaction together with
 * the page index, so a closed tab loses at most the last unsaved batch and never leaves a torn one.
 *
 * Memory is bounded by a cache, not by what the guest wrote: pages IndexedDB has may be dropped
 * (PageCache, least recently used first); pages not yet saved are kept until it has them. Reads of
 * saved pages go to IndexedDB in runs (one transaction each) and read ahead while the guest reads
 * sequentially; a guest that writes faster than IndexedDB saves waits for the write-back.
 */
import type { Clock } from "../clock.ts";
import { AppError, toAppError } from "../errors.ts";
import { Emitter, type Disposable } from "../events.ts";
import { CollectionGate } from "./collectionGate.ts";
import { EXT2_MIN_BYTES, emptyExt2, stableUuid } from "./ext2.ts";
import { ByteParts, openIndexedDbStore, type KeyValueStore, type RecordSlice, type StoreLocation } from "./kv.ts";
import { PageCache } from "./pageCache.ts";

/** Pages to make a disk's overlay of (DiskStore.replaceOverlay): `count` pages from `pages[first]` on, in order. */
export interface OverlaySource {
  readonly pages: readonly number[];
  read(first: number, count: number): Promise<Uint8Array>;
}

/** Random access to the bytes under the overlay. */
export interface BlockSource {
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

export const PAGE_SIZE = 64 * 1024;
/**
 * The IndexedDB database of overlay pages, opened the way the app opens it: pages as Blobs. In
 * Chromium a guest's cold read of a file on the overlay went from 12-17 MB/s to 19-21 MB/s
 * (128 MiB, A/B in one run, stop 29).
 */
export function openDiskDatabase(dbName: string): KeyValueStore {
  return openIndexedDbStore(dbName, "kv", { bytesAsBlobs: true });
}
/** How long the buffers of saved pages are kept for the guest's next pages once it stops writing. */
export const POOL_IDLE_MS = 1000;
/** How long after the first unsaved write a batch is written back. */
export const WRITE_BACK_DELAY_MS = 200;
/** Unsaved bytes that start a write-back at once instead of after the delay. */
export const FLUSH_NOW_BYTES = 4 * 1024 * 1024;
/**
 * After a write-back failed, the next try comes this long after it, then twice as long after each
 * failure, up to RETRY_MAX_MS, whether or not the guest writes again: a storage error that passes
 * (the quota freed in another tab, a browser that refused a write for a moment) then loses
 * nothing, though the guest wrote its last page before it.
 */
export const RETRY_FIRST_MS = 1000;
export const RETRY_MAX_MS = 30_000;
/** Unsaved bytes past which a write waits for the write-back in progress (unless saving fails). */
export const MAX_PENDING_BYTES = 16 * 1024 * 1024;
/** The most pages read ahead of a sequential reader (4 MiB), fetched in runs of at least half that. */
export const READ_AHEAD_PAGES = 64;
/**
 * Pages read from IndexedDB in one transaction when a disk is exported or snapshotted, and
 * written in one when a snapshot's overlay is restored (4 MiB).
 */
const BULK_PAGES = 64;
/**
 * The most pages kept in one record: pages the guest wrote whole, side by side, and saved in one
 * batch (a file streamed to the disk) are kept together, up to 256 KiB a record. In Chromium each
 * such record is a file of its own, and each file read costs the browser about a millisecond and
 * more: a cold read of 1 GiB as 16,384 page records spent ~14 s of its IO thread there. A random
 * page read costs more the longer the records: 1.2 ms as a record of its own, 1.8 ms in 4-page
 * records, 4.0 ms in 16-page ones (Chromium, 400 random reads, 2026-12-03; most of it is the
 * Blob's slice and read, docs/architecture.md "Run records"). A guest's cold read of
 * 1 GiB in one hour: 51.6 MB/s with 4-page records, 42.6 with 16-page ones.
 */
export const RUN_PAGES = 4;
/** How a packed page's place is written in the index: run id × RUN_SLOTS + its slot in the run. */
const RUN_SLOTS = 256;

/**
 * What a blank disk (no base image) reads as before the guest writes: zeros, or an empty ext2 file
 * system (the default guest's data disk: mounted at once, never formatted in the guest).
 */
export type BlankLayout = "zeros" | "ext2";

interface OverlayIndex {
  readonly size: number;
  readonly pageSize: number;
  readonly pages: readonly number[];
  /**
   * Where each page of `pages` is kept: 0, a record of its own (`page:` key); else in a run record
   * (`run:` key) with others, as run id × RUN_SLOTS + its slot. Absent on disks saved before runs
   * existed: every page a record of its own.
   */
  readonly packed?: readonly number[];
  /** The next run's id: ids are never used twice, so a reader's stale plan never reads another page's bytes. */
  readonly nextRun?: number;
  /** Absent on disks saved before layouts existed: those are zeros under the overlay. */
  readonly blank?: BlankLayout;
}

/** The run a packed page is in (`packed`: its place in the index). */
const runOf = (packed: number): number => Math.floor(packed / RUN_SLOTS);

/** The record a saved page is in, and where in it: its own (`packed` 0 or absent), or a run's slot. */
function recordOf(diskId: string, page: number, packed = 0): { readonly key: string; readonly from: number } {
  return packed === 0 ? { key: pageKey(diskId, page), from: 0 } : { key: runKey(diskId, runOf(packed)), from: (packed % RUN_SLOTS) * PAGE_SIZE };
}

/** The records an index names: what a disk keeps in storage. */
function recordKeys(diskId: string, index: OverlayIndex): string[] {
  return [...new Set(index.pages.map((page, i) => recordOf(diskId, page, index.packed?.[i]).key))];
}

export interface DiskSaveState {
  /** Pages written by the guest and not yet in IndexedDB. */
  readonly unsavedPages: number;
  readonly saving: boolean;
  /** The last write-back failed: the data is still in memory; it is tried again (RETRY_FIRST_MS) and on the next write. */
  readonly error: AppError | undefined;
  /** True when writes are kept in memory only (another tab owns the disk). */
  readonly readOnly: boolean;
}

/** A part of a saved page that a reader in another thread reads from storage itself (`key`: the page's record). */
export type StoredSlice = RecordSlice;

/** A part of a read the disk had at hand (a page in memory, the base), in a buffer of its own. */
export interface HeldPart {
  /** Where it goes in the read. */
  readonly at: number;
  readonly bytes: Uint8Array;
}

/**
 * What `OverlayDisk.locate` hands a reader in another thread: the parts it had at hand, and the
 * saved pages to read from storage; anything else reads as zeros. A cold stream's plan is all
 * slices: the disk allocates nothing for it.
 */
export interface DiskReadPlan {
  readonly length: number;
  readonly held: readonly HeldPart[];
  readonly location: StoreLocation;
  readonly slices: readonly StoredSlice[];
}

/** A saved page that storage does not have (`subject`: the disk, or the page's record). */
function pageMissing(subject: string, page?: number): AppError {
  return new AppError("storage-failed", "A saved page of this disk is missing from storage.", { details: { subject, ...(page === undefined ? {} : { page }) } });
}

/**
 * Completes a plan from `OverlayDisk.locate` with `kv` (the same store, opened in this thread):
 * all its pages in one transaction. Rejects when a page is not there (the disk was reset
 * meanwhile, say): the reader then asks the disk's owner, whose answer is the truth.
 */
export async function readPlanned(kv: KeyValueStore, plan: DiskReadPlan, into?: Uint8Array): Promise<Uint8Array> {
  // A buffer to put the bytes in (a read-ahead window used again), else a new one: storage fills
  // it, zeros between, and the held parts go in last.
  const target = into !== undefined && into.length >= plan.length ? into.subarray(0, plan.length) : new Uint8Array(plan.length);
  const read = await kv.readInto(plan.slices, target);
  if ("missing" in read) throw pageMissing(read.missing);
  for (const part of plan.held) read.bytes.set(part.bytes, part.at);
  return read.bytes;
}

const indexKey = (diskId: string): string => `disk:${diskId}`;
const pageKey = (diskId: string, page: number): string => `page:${diskId}:${page}`;
const runKey = (diskId: string, run: number): string => `run:${diskId}:${run}`;
const cachePrefix = (diskId: string): string => `${diskId}\u0000`;

export interface OpenDiskOptions {
  readonly size: number;
  readonly base?: BlockSource;
  /** Without a base: how the disk reads before the guest wrote to it (default zeros). */
  readonly blank?: BlankLayout;
  /** Keep the guest's writes in memory only; never write them back. */
  readonly readOnly?: boolean;
  readonly clock: Clock;
}

/** The empty file system a blank "ext2" disk starts as (stable for the disk: same id, same bytes). */
export function blankBase(diskId: string, size: number, layout: BlankLayout): BlockSource | undefined {
  if (layout !== "ext2" || size < EXT2_MIN_BYTES) return undefined;
  return emptyExt2({ size, label: "virtlab-data", uuid: stableUuid(diskId) });
}

/** Where overlays live. One KeyValueStore holds the overlays of every disk; one cache serves them. */
export class DiskStore {
  /** Write-backs and replaced overlays wait while garbage is collected (see CollectionGate). */
  private readonly gate = new CollectionGate();

  constructor(
    private readonly kv: KeyValueStore,
    readonly cache = new PageCache(),
  ) {}

  async open(diskId: string, options: OpenDiskOptions): Promise<OverlayDisk> {
    if (options.base !== undefined && options.base.size !== options.size) {
      throw new AppError("bad-image", `The disk's base image has ${options.base.size} bytes, not ${options.size}.`, { details: { subject: diskId } });
    }
    const index = await this.kv.get<OverlayIndex>(indexKey(diskId));
    if (index !== undefined && (index.size !== options.size || index.pageSize !== PAGE_SIZE)) {
      throw new AppError("storage-failed", "This disk's saved changes do not fit its image (size changed).", { details: { subject: diskId } });
    }
    // A disk keeps the layout it was first written on; a fresh one takes the one asked for.
    const blank: BlankLayout = options.base !== undefined ? "zeros" : index !== undefined ? (index.blank ?? "zeros") : (options.blank ?? "zeros");
    const base = options.base ?? blankBase(diskId, options.size, blank);
    return new OverlayDisk(this.kv, this.cache, diskId, { ...options, ...(base === undefined ? {} : { base }) }, blank, index, this.gate);
  }

  /** Whether the guest ever wrote to this disk. */
  async hasOverlay(diskId: string): Promise<boolean> {
    return (await this.kv.get(indexKey(diskId))) !== undefined;
  }

  /**
   * Make a disk's overlay exactly these pages (a snapshot's), read from `source` a batch at a
   * time. They are written as run records under run ids the old overlay never used, then the new
   * index in a transaction of its own, last: a restore cut off anywhere leaves the old overlay
   * whole, and records the new index does not name are collected afterwards. Collections wait
   * for the whole of it. No pages: the disk is its base image again.
   */
  async replaceOverlay(diskId: string, size: number, source: OverlaySource, blank: BlankLayout = "zeros"): Promise<void> {
    this.cache.deletePrefix(cachePrefix(diskId));
    const pages = source.pages;
    if (pages.length === 0) {
      await this.drop(diskId);
      return;
    }
    await this.gate.write(async () => {
      const before = await this.kv.get<OverlayIndex>(indexKey(diskId));
      let nextRun = Math.max(1, before?.nextRun ?? 1);
      const packed: number[] = [];
      for (let first = 0; first < pages.length; first += BULK_PAGES) {
        const count = Math.min(BULK_PAGES, pages.length - first);
        const bytes = await source.read(first, count);
        if (bytes.length !== count * PAGE_SIZE) throw new AppError("storage-failed", "The disk's pages do not add up.", { details: { subject: diskId } });
        const entries: [string, unknown][] = [];
        for (let at = 0; at < count; at += RUN_PAGES) {
          const run = nextRun++;
          const inRun = Math.min(RUN_PAGES, count - at);
          entries.push([runKey(diskId, run), new ByteParts(Array.from({ length: inRun }, (_, i) => bytes.subarray((at + i) * PAGE_SIZE, (at + i + 1) * PAGE_SIZE)))]);
          for (let slot = 0; slot < inRun; slot++) packed.push(run * RUN_SLOTS + slot);
        }
        await this.kv.setMany(entries);
      }
      const index: OverlayIndex = { size, pageSize: PAGE_SIZE, pages: [...pages], packed, nextRun, ...(blank === "zeros" ? {} : { blank }) };
      await this.kv.set(indexKey(diskId), index);
    });
    await this.collectGarbage();
  }

  /** Drop everything the guest wrote: the disk is its base image again. Index first, then pages. */
  async drop(diskId: string): Promise<void> {
    this.cache.deletePrefix(cachePrefix(diskId));
    const index = await this.kv.get<OverlayIndex>(indexKey(diskId));
    await this.kv.delete(indexKey(diskId));
    if (index !== undefined) await this.kv.deleteMany(recordKeys(diskId, index));
    await this.collectGarbage();
  }

  /**
   * Delete page and run records no index names (a drop, a write-back cut off, a run no page is in
   * any more). Disks may be open and writing meanwhile: their write-backs wait for it.
   */
  collectGarbage(): Promise<{ deletedPages: number }> {
    return this.gate.collect(() => this.collectNow());
  }

  private async collectNow(): Promise<{ deletedPages: number }> {
    const keys = await this.kv.keys();
    const indexes = keys.filter((k) => k.startsWith("disk:"));
    const live = new Set<string>();
    const records = await this.kv.getMany<OverlayIndex>(indexes);
    indexes.forEach((key, i) => {
      const index = records[i];
      if (index !== undefined) for (const record of recordKeys(key.slice("disk:".length), index)) live.add(record);
    });
    const orphans = keys.filter((k) => (k.startsWith("page:") || k.startsWith("run:")) && !live.has(k));
    if (orphans.length > 0) await this.kv.deleteMany(orphans);
    return { deletedPages: orphans.length };
  }
}

type Callback<T> = (value: T) => void;

export class OverlayDisk implements Disposable {
  /** v86 reads these. */
  readonly byteLength: number;
  onload: ((event: object) => void) | undefined;
  onprogress: ((event: object) => void) | undefined;

  /** Pages that exist in IndexedDB. */
  private readonly stored = new Set<number>();
  /** Saved pages kept in a run record with others: where (the index's `packed`). */
  private readonly packed = new Map<number, number>();
  /** Run records and how many pages IndexedDB still reads from each. */
  private readonly runPages = new Map<number, number>();
  private nextRun: number;
  /** Pages written by the guest that IndexedDB does not have yet (or has an older copy of). */
  private readonly pending = new Map<number, Uint8Array>();
  /** Unwritten pages kept for v86's synchronous reads (the boot sector). */
  private readonly pinned = new Map<number, Uint8Array>();
  /** Saved pages on their way from IndexedDB. */
  private readonly inflight = new Map<number, Promise<Uint8Array>>();
  private readonly versions = new Map<number, number>();
  /**
   * Unsaved pages whose last write covered the whole page: a file streamed to the disk, which the
   * guest keeps in its own page cache. Once saved, they do not enter this disk's cache: a large
   * file written would otherwise fill it (32 MiB more of the tab's memory while writing) and push
   * out the pages it is for, those the guest writes in part again and again (a file system's
   * bitmaps, inodes and directories), each a read from IndexedDB when next written.
   */
  private readonly streamed = new Set<number>();
  /**
   * Buffers of such pages once saved: the next pages written whole fill them again. A large file
   * written otherwise leaves each of its pages to the collector, which frees them far later (up
   * to 56 MiB of them at the peak of writing 1 GiB, 2026-12-03). Up to what may be unsaved, and
   * kept while the guest goes on writing: let go once it wrote nothing for POOL_IDLE_MS. Not when
   * the write-back catches up with the guest: it does so again and again while a large file is
   * written (1 GiB took ~4,000 new buffers that way, ~240 this way; 2026-12-04).
   */
  private readonly freePages: Uint8Array[] = [];
  /** Checks, while the pool holds buffers, whether the guest still writes (see `keepPoolWhileWriting`). */
  private poolTimer: Disposable | undefined;
  private wroteSincePoolCheck = false;
  /** Reads in progress: they may hold unsaved pages across their awaits, so none is filled again. */
  private reading = 0;
  /** Page buffers handed to IndexedDB by the write-back in progress. */
  private readonly saving = new Set<Uint8Array>();
  /**
   * Exports in progress (`exportPages`) that read saved pages from the records they were in at
   * the export's call: while there are any, a write-back writes no record in place and deletes
   * none (`heldOrphans`: deleted by the first write-back once the last export is done).
   */
  private holds = 0;
  private readonly heldOrphans: string[] = [];
  private flushTimer: Disposable | undefined;
  /** The next try of a failed write-back, and how long after a failure the one after it comes. */
  private retryTimer: Disposable | undefined;
  private retryDelayMs = RETRY_FIRST_MS;
  private flushing: Promise<void> | undefined;
  private flushQueued = false;
  private lastError: AppError | undefined;
  private disposed = false;
  /** The page after the last read, how far to read ahead of a sequential reader, and the page after the last one asked for. */
  private nextSequential = -1;
  private readAhead = 0;
  private aheadUntil = 0;
  private readonly stateEmitter = new Emitter<DiskSaveState>();
  private readonly errorEmitter = new Emitter<AppError>();
  /** Changes of the saved/unsaved state, for a "saved" indicator. */
  readonly onSaveState = this.stateEmitter.event;
  /** A write-back failed (e.g. the quota is full). The data stays in memory. */
  readonly onWriteBackError = this.errorEmitter.event;

  constructor(
    private readonly kv: KeyValueStore,
    private readonly cache: PageCache,
    readonly diskId: string,
    private readonly options: OpenDiskOptions,
    /** What the disk reads as under the overlay when it has no base image. */
    readonly blank: BlankLayout,
    /** What IndexedDB has of this disk (undefined: nothing yet). */
    index: OverlayIndex | undefined,
    /** The store's collections, which a write-back waits for. */
    private readonly gate: CollectionGate,
  ) {
    this.byteLength = options.size;
    index?.pages.forEach((page, i) => {
      this.stored.add(page);
      const packed = index.packed?.[i] ?? 0;
      if (packed !== 0) this.packOne(page, packed);
    });
    this.nextRun = Math.max(1, index?.nextRun ?? 1);
  }

  get saveState(): DiskSaveState {
    return { unsavedPages: this.pending.size, saving: this.flushing !== undefined, error: this.lastError, readOnly: this.options.readOnly === true };
  }

  /** Bytes of overlay pages this disk holds in memory that IndexedDB does not have. */
  get pendingBytes(): number {
    return this.pending.size * PAGE_SIZE;
  }

  // ---- v86's buffer interface -------------------------------------------------------------

  load(): void {
    this.onload?.({});
  }

  get(start: number, length: number, callback: Callback<Uint8Array>): void {
    this.read(start, length).then(callback, (error: unknown) => this.fail(error));
  }

  /** v86 reads a hard disk's first sector with this before it starts... */
  get_and_cache(start: number, length: number, callback: Callback<Uint8Array>): void {
    this.read(start, length, true).then(callback, (error: unknown) => this.fail(error));
  }

  /** ...and then synchronously with this, for the disk geometry. */
  get_from_cache(start: number, length: number): Uint8Array | undefined {
    const index = Math.floor(start / PAGE_SIZE);
    const within = start - index * PAGE_SIZE;
    if (within + length > PAGE_SIZE) return undefined;
    const page = this.inMemory(index) ?? this.pinned.get(index);
    return page?.slice(within, within + length);
  }

  set(start: number, data: Uint8Array, callback: Callback<void>): void {
    this.setOwned(start, data.slice(), callback);
  }

  /**
   * `set` for bytes no one else holds or changes (a message's own buffer): without `set`'s copy,
   * which guards against the caller reusing its buffer while a partial page is read first.
   */
  setOwned(start: number, data: Uint8Array, callback: Callback<void>): void {
    this.write(start, data).then(() => callback(), (error: unknown) => this.fail(error));
  }

  /** The disk's contents live in IndexedDB, not in a saved machine state. */
  get_state(): unknown[] {
    return [this.byteLength];
  }

  set_state(_state: unknown[]): void {}

  // ---- our interface -----------------------------------------------------------------------

  /** Read bytes; `pin` keeps the pages in memory (v86 reads the first sector synchronously). */
  async read(start: number, length: number, pin = false): Promise<Uint8Array> {
    this.reading++;
    try {
      return await this.readPages(start, length, pin);
    } finally {
      this.reading--;
    }
  }

  private async readPages(start: number, length: number, pin: boolean): Promise<Uint8Array> {
    this.checkRange(start, length);
    const out = new Uint8Array(length);
    if (length === 0) return out;
    const first = Math.floor(start / PAGE_SIZE);
    const last = Math.floor((start + length - 1) / PAGE_SIZE);
    // A reader that goes on where it stopped gets a growing read-ahead; a random one gets none.
    const sequential = first === this.nextSequential || first === this.nextSequential - 1;
    this.readAhead = sequential ? Math.min(READ_AHEAD_PAGES, Math.max(4, this.readAhead * 2)) : 0;
    this.nextSequential = last + 1;
    // Pages in memory now are held here: the cache may drop them while saved ones load.
    const have = new Map<number, Uint8Array>();
    const missing: number[] = [];
    for (let p = first; p <= last; p++) {
      const page = this.inMemory(p);
      if (page !== undefined) have.set(p, page);
      else if (this.stored.has(p)) missing.push(p);
    }
    const loading = this.fetch(missing);
    // Read ahead in runs of at least half the window (one transaction each), not a page or two per
    // read: in Chromium a transaction costs more than a few records in it.
    if (this.readAhead > 0 && this.aheadUntil - last <= this.readAhead / 2) {
      const ahead: number[] = [];
      for (let p = Math.max(last + 1, this.aheadUntil); p <= last + this.readAhead && p * PAGE_SIZE < this.byteLength; p++) {
        if (this.stored.has(p) && this.inMemory(p) === undefined && !this.inflight.has(p)) ahead.push(p);
      }
      this.aheadUntil = last + this.readAhead + 1;
      this.fetch(ahead).catch(() => undefined);
    } else if (this.readAhead === 0) {
      this.aheadUntil = last + 1;
    }
    for (const [p, page] of await loading) have.set(p, page);
    let baseRun: [number, number] | undefined;
    const readBase = async (): Promise<void> => {
      if (baseRun === undefined) return;
      const [from, to] = baseRun;
      baseRun = undefined;
      out.set(await this.baseBytes(from, to - from), from - start);
    };
    for (let p = first; p <= last; p++) {
      const pageStart = p * PAGE_SIZE;
      const from = Math.max(start, pageStart);
      const to = Math.min(start + length, pageStart + PAGE_SIZE);
      // A write that landed while we waited wins.
      const page = this.pending.get(p) ?? have.get(p) ?? this.pinned.get(p);
      if (page !== undefined) {
        await readBase();
        out.set(page.subarray(from - pageStart, to - pageStart), from - start);
      } else if (this.options.base !== undefined) {
        baseRun = baseRun === undefined ? [from, to] : [baseRun[0], to];
      }
    }
    await readBase();
    if (pin) for (let p = first; p <= last; p++) this.pinned.set(p, this.pending.get(p) ?? have.get(p) ?? (await this.basePage(p)));
    return out;
  }

  /**
   * A read for a reader in another thread that can open this disk's store itself (a machine's
   * Worker): the bytes this disk has at hand (pages in memory, the base), and which saved pages
   * it should read from IndexedDB on its own, so a cold read of a large file does not pass through
   * this thread one transaction at a time. Undefined when the store is not one another thread can
   * open (in memory); then `read` serves it as before. Nothing is awaited before the pages are
   * sorted, so the plan is the disk at the moment of the call: a saved page can only change in
   * storage after the guest writes it again, which the reader sees (its read-ahead drops what a
   * write overlaps), and the page does not enter this disk's cache.
   */
  async locate(start: number, length: number): Promise<DiskReadPlan | undefined> {
    const location = this.kv.location;
    if (location === undefined) return undefined;
    this.checkRange(start, length);
    const held: HeldPart[] = [];
    const slices: StoredSlice[] = [];
    const baseRuns: [number, number][] = [];
    const first = Math.floor(start / PAGE_SIZE);
    const last = length === 0 ? first - 1 : Math.floor((start + length - 1) / PAGE_SIZE);
    for (let p = first; p <= last; p++) {
      const pageStart = p * PAGE_SIZE;
      const from = Math.max(start, pageStart);
      const to = Math.min(start + length, pageStart + PAGE_SIZE);
      const page = this.inMemory(p) ?? this.pinned.get(p);
      // A copy: it crosses to the other thread (transferred), and the page stays this disk's.
      if (page !== undefined) held.push({ at: from - start, bytes: page.slice(from - pageStart, to - pageStart) });
      else if (this.stored.has(p)) this.addSlice(slices, p, from - start, from - pageStart, to - from);
      else if (this.options.base !== undefined) {
        const run = baseRuns.at(-1);
        if (run !== undefined && run[1] === from) run[1] = to;
        else baseRuns.push([from, to]);
      }
    }
    // A copy too: a base may answer with what it keeps (a chunk of its cache).
    for (const [from, to] of baseRuns) held.push({ at: from - start, bytes: (await this.baseBytes(from, to - from)).slice() });
    return { length, held, location, slices };
  }

  async write(start: number, data: Uint8Array): Promise<void> {
    this.checkRange(start, data.length);
    this.wroteSincePoolCheck = true;
    let done = 0;
    while (done < data.length) {
      const position = start + done;
      const index = Math.floor(position / PAGE_SIZE);
      const within = position - index * PAGE_SIZE;
      const take = Math.min(data.length - done, PAGE_SIZE - within);
      let page = take === PAGE_SIZE ? (this.freePages.pop() ?? new Uint8Array(PAGE_SIZE)) : await this.pageForWrite(index);
      // A page on its way to IndexedDB is not changed under it: the write gets a copy.
      if (this.saving.has(page)) page = page.slice();
      page.set(data.subarray(done, done + take), within);
      this.pending.set(index, page);
      if (take === PAGE_SIZE) this.streamed.add(index);
      else this.streamed.delete(index);
      this.cache.delete(this.cacheKey(index));
      // A load from storage under way has the bytes before this write: a read from now on waits for a new one.
      this.inflight.delete(index);
      this.pinned.delete(index);
      this.versions.set(index, (this.versions.get(index) ?? 0) + 1);
      done += take;
    }
    this.stateEmitter.fire(this.saveState);
    if (this.options.readOnly === true) return;
    if (this.pendingBytes >= FLUSH_NOW_BYTES && this.lastError === undefined) this.requestFlush();
    else this.scheduleFlush();
    // Faster than IndexedDB saves: the guest waits (its write completes later), memory stays flat.
    while (this.pendingBytes >= MAX_PENDING_BYTES && this.lastError === undefined && this.flushing !== undefined && !this.disposed) {
      await this.flushing.catch(() => undefined);
    }
  }

  /** Write every unsaved page now. Resolves when IndexedDB has them (or rejects if it refused). */
  async flush(): Promise<void> {
    this.flushTimer?.dispose();
    this.flushTimer = undefined;
    while (this.flushing !== undefined) await this.flushing.catch(() => undefined);
    if (this.pending.size === 0 || this.options.readOnly === true || this.disposed) return;
    // Records freed while exports held them, deleted before this batch (which may write one of
    // those page records again); left alone, the store's next collection takes them.
    if (this.holds === 0 && this.heldOrphans.length > 0) await this.kv.deleteMany(this.heldOrphans.splice(0)).catch(() => undefined);
    const batch = [...this.pending.keys()].sort((a, b) => a - b);
    const versions = batch.map((p) => this.versions.get(p));
    // The pages themselves, not copies: a write to one of them while it is saved copies it first.
    const batchPages = batch.map((p) => this.pending.get(p) as Uint8Array);
    for (const page of batchPages) this.saving.add(page);
    const { entries, placed } = this.records(batch, batchPages);
    const pages = [...new Set([...this.stored, ...batch])].sort((a, b) => a - b);
    const inBatch = new Set(batch);
    const index: OverlayIndex = {
      size: this.byteLength,
      pageSize: PAGE_SIZE,
      pages,
      // A page of this batch is where the batch puts it (a record of its own unless in a run).
      packed: pages.map((p) => (inBatch.has(p) ? (placed.get(p) ?? 0) : (this.packed.get(p) ?? 0))),
      nextRun: this.nextRun,
      ...(this.blank === "zeros" ? {} : { blank: this.blank }),
    };
    entries.push([indexKey(this.diskId), index]);
    const job = this.gate.write(() => this.kv.setMany(entries)).then(
      async () => {
        // Records no page is read from any more: deleted before the next batch is written, which
        // may write the same page record again.
        const orphans = this.place(batch, placed);
        if (this.holds > 0) this.heldOrphans.push(...orphans);
        else if (orphans.length > 0) await this.kv.deleteMany(orphans).catch(() => undefined);
        batch.forEach((p, i) => {
          // Written again while we were saving: stays pending for the next batch.
          const page = this.pending.get(p);
          if (page !== undefined && this.versions.get(p) === versions[i]) {
            this.pending.delete(p);
            if (!this.streamed.has(p)) {
              if (!this.disposed) this.cache.put(this.cacheKey(p), page);
            } else if (this.reading === 0 && this.freePages.length < MAX_PENDING_BYTES / PAGE_SIZE) {
              // The store has a copy of its own (every KeyValueStore keeps one, as IndexedDB's
              // clone does), and nothing else holds the page (no read is in progress, which could
              // have taken it before it was saved): its buffer can be filled again.
              this.freePages.push(page);
            }
            this.streamed.delete(p);
          }
        });
        this.keepPoolWhileWriting();
        this.lastError = undefined;
        this.retryTimer?.dispose();
        this.retryTimer = undefined;
        this.retryDelayMs = RETRY_FIRST_MS;
      },
      (error: unknown) => {
        const appError = toAppError(error, "storage-failed", "Saving the disk's changes failed.");
        this.lastError = appError;
        this.errorEmitter.fire(appError);
        this.scheduleRetry();
        throw appError;
      },
    );
    this.flushing = job;
    this.stateEmitter.fire(this.saveState);
    try {
      await job;
    } finally {
      this.saving.clear();
      this.flushing = undefined;
      this.stateEmitter.fire(this.saveState);
    }
  }

  /**
   * Every page the guest wrote (saved or not), ascending, and their bytes: what a snapshot
   * carries. In one buffer: for tests and small disks; a snapshot reads them with exportPages.
   */
  async exportOverlay(): Promise<{ pages: number[]; data: Uint8Array; blank: BlankLayout }> {
    const overlay = this.exportPages();
    try {
      return { pages: overlay.pages, data: await overlay.read(0, overlay.pages.length), blank: overlay.blank };
    } finally {
      overlay.dispose();
    }
  }

  /**
   * Every page the guest wrote (saved or not), ascending, read a run at a time (`read`: `count`
   * pages from `pages[first]` on): the disk as it was at the call, however the guest writes on
   * meanwhile. Pages not yet saved are copied at once; saved ones are read from the records they
   * were in at the call, when asked. Until `dispose`, those records stay as they are: a
   * write-back puts every page into a new run record (a new key, as runs always are) instead of
   * its own record, deletes no record it frees (the first write-back after the last export's
   * `dispose` does, or the store's next collection), and
   * the store collects no garbage (the records the export reads are named by no index once the
   * guest wrote their pages again). So a snapshot's machine runs on while its disks are packed.
   */
  exportPages(): { pages: number[]; blank: BlankLayout; read: (first: number, count: number) => Promise<Uint8Array> } & Disposable {
    const pages = [...new Set([...this.stored, ...this.pending.keys()])].sort((a, b) => a - b);
    const unsaved = new Map([...this.pending].map(([page, bytes]) => [page, bytes.slice()]));
    const packed = new Map(this.packed);
    this.holds++;
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    // A write that lasts until dispose: the store's collections wait for it.
    void this.gate.write(() => released);
    let disposed = false;
    const read = async (first: number, count: number): Promise<Uint8Array> => {
      const data = new Uint8Array(count * PAGE_SIZE);
      const fromStorage: [number, number][] = [];
      pages.slice(first, first + count).forEach((page, i) => {
        const bytes = unsaved.get(page);
        if (bytes !== undefined) data.set(bytes, i * PAGE_SIZE);
        else fromStorage.push([page, i]);
      });
      for (let at = 0; at < fromStorage.length; at += BULK_PAGES) {
        const run = fromStorage.slice(at, at + BULK_PAGES);
        const bytes = await this.loadPages(run.map(([page]) => page), packed);
        run.forEach(([, i], j) => data.set(bytes.subarray(j * PAGE_SIZE, (j + 1) * PAGE_SIZE), i * PAGE_SIZE));
      }
      return data;
    };
    const dispose = (): void => {
      if (disposed) return;
      disposed = true;
      this.holds--;
      release();
    };
    return { pages, blank: this.blank, read, dispose };
  }

  /** The whole disk (base + overlay), in order, a piece at a time: for export without a copy in memory. */
  async *chunks(size = 4 * 1024 * 1024): AsyncGenerator<Uint8Array> {
    for (let offset = 0; offset < this.byteLength; offset += size) {
      yield await this.read(offset, Math.min(size, this.byteLength - offset));
    }
  }

  dispose(): void {
    this.disposed = true;
    this.freePages.length = 0;
    this.poolTimer?.dispose();
    this.flushTimer?.dispose();
    this.retryTimer?.dispose();
    this.cache.deletePrefix(cachePrefix(this.diskId));
    this.stateEmitter.dispose();
    this.errorEmitter.dispose();
  }

  private cacheKey(page: number): string {
    return cachePrefix(this.diskId) + page;
  }

  private inMemory(page: number): Uint8Array | undefined {
    return this.pending.get(page) ?? this.cache.get(this.cacheKey(page));
  }

  /**
   * Load saved pages from IndexedDB: those not already on their way in one transaction; resolves
   * with every page asked for. Loaded pages go to the cache (unless written meanwhile).
   */
  private async fetch(pages: readonly number[]): Promise<Map<number, Uint8Array>> {
    const fresh = pages.filter((p) => !this.inflight.has(p));
    if (fresh.length > 0) {
      // One transaction for all of them.
      const loaded = this.loadPages(fresh);
      fresh.forEach((p, i) => {
        const version = this.versions.get(p);
        const one = loaded.then((bytes) => {
          // Each page a buffer of its own: a cached page must not hold the whole run in memory.
          const page = fresh.length === 1 ? bytes : bytes.slice(i * PAGE_SIZE, (i + 1) * PAGE_SIZE);
          // Not when the guest wrote it while it loaded: these are the bytes before the write.
          if (!this.pending.has(p) && this.versions.get(p) === version && !this.disposed) this.cache.put(this.cacheKey(p), page);
          return page;
        });
        this.inflight.set(p, one);
        one.then(
          () => this.inflight.get(p) === one && this.inflight.delete(p),
          () => this.inflight.get(p) === one && this.inflight.delete(p),
        );
      });
    }
    // Every page asked for is on its way now: take the promises before anything is awaited.
    const waiting = pages.map((p) => [p, this.inflight.get(p) as Promise<Uint8Array>] as const);
    const out = new Map<number, Uint8Array>();
    for (const [p, page] of waiting) out.set(p, await page);
    return out;
  }

  /**
   * Saved pages read from IndexedDB in one transaction, side by side in one buffer. A record
   * shorter than a page (the disk's last) reads as zeros past its end.
   */
  private async loadPages(pages: readonly number[], packed: ReadonlyMap<number, number> = this.packed): Promise<Uint8Array> {
    const slices: StoredSlice[] = [];
    pages.forEach((p, i) => this.addSlice(slices, p, i * PAGE_SIZE, 0, PAGE_SIZE, packed));
    const read = await this.kv.readInto(slices, new Uint8Array(pages.length * PAGE_SIZE));
    if ("missing" in read) throw pageMissing(read.missing);
    return read.bytes;
  }

  /**
   * A slice of saved page `page` (`length` bytes from `within` it, to go to `at` in a read), added
   * to the slices of a read: joined to the one before when it goes on where that one stopped in
   * the same record (a run read as one part, not a part per page).
   */
  private addSlice(slices: StoredSlice[], page: number, at: number, within: number, length: number, packed: ReadonlyMap<number, number> = this.packed): void {
    const record = recordOf(this.diskId, page, packed.get(page));
    const key = record.key;
    const from = record.from + within;
    const before = slices.at(-1);
    if (before !== undefined && before.key === key && before.from + before.length === from && before.at + before.length === at) {
      slices[slices.length - 1] = { ...before, length: before.length + length };
    } else {
      slices.push({ key, at, from, length });
    }
  }

  /**
   * The records a batch is written as: pages the guest wrote whole that follow one another go
   * into run records of up to RUN_PAGES (a new run id each: a run is never written twice), every
   * other page into a record of its own, or, while an export holds the records it reads
   * (`exportPages`), into a run of its own. `placed`: each packed page's place.
   */
  private records(batch: readonly number[], batchPages: readonly Uint8Array[]): { entries: [string, unknown][]; placed: Map<number, number> } {
    const entries: [string, unknown][] = [];
    const placed = new Map<number, number>();
    let at = 0;
    while (at < batch.length) {
      let end = at + 1;
      if (this.streamed.has(batch[at]!)) {
        while (end < batch.length && end - at < RUN_PAGES && batch[end] === batch[end - 1]! + 1 && this.streamed.has(batch[end]!)) end++;
      }
      if (end - at === 1 && this.holds === 0) {
        entries.push([pageKey(this.diskId, batch[at]!), batchPages[at]]);
      } else {
        const run = this.nextRun++;
        entries.push([runKey(this.diskId, run), new ByteParts(batchPages.slice(at, end))]);
        for (let i = at; i < end; i++) placed.set(batch[i]!, run * RUN_SLOTS + (i - at));
      }
      at = end;
    }
    return { entries, placed };
  }

  /** A saved batch's pages where it put them; returns the records nothing is read from any more. */
  private place(batch: readonly number[], placed: ReadonlyMap<number, number>): string[] {
    const orphans: string[] = [];
    for (const page of batch) {
      const before = this.packed.get(page);
      const now = placed.get(page);
      if (before !== undefined) {
        this.packed.delete(page);
        const run = runOf(before);
        const left = (this.runPages.get(run) ?? 1) - 1;
        if (left > 0) this.runPages.set(run, left);
        else {
          this.runPages.delete(run);
          orphans.push(runKey(this.diskId, run));
        }
      } else if (now !== undefined && this.stored.has(page)) {
        orphans.push(pageKey(this.diskId, page));
      }
      if (now !== undefined) this.packOne(page, now);
      this.stored.add(page);
    }
    return orphans;
  }

  private packOne(page: number, packed: number): void {
    this.packed.set(page, packed);
    const run = runOf(packed);
    this.runPages.set(run, (this.runPages.get(run) ?? 0) + 1);
  }

  /** The page as it is now, as a buffer of its own, for a write that changes part of it. */
  private async pageForWrite(index: number): Promise<Uint8Array> {
    const now = this.inMemory(index);
    if (now !== undefined) return now;
    const page = this.stored.has(index) ? (await this.fetch([index])).get(index) : await this.basePage(index);
    // A write may have created the page while we waited.
    return this.pending.get(index) ?? (page as Uint8Array);
  }

  private async basePage(index: number): Promise<Uint8Array> {
    const pinned = this.pinned.get(index);
    if (pinned !== undefined) return pinned.slice();
    const page = new Uint8Array(PAGE_SIZE);
    if (this.options.base !== undefined) {
      const offset = index * PAGE_SIZE;
      page.set(await this.baseBytes(offset, Math.min(PAGE_SIZE, this.byteLength - offset)));
    }
    return page;
  }

  private baseBytes(offset: number, length: number): Promise<Uint8Array> {
    return this.options.base === undefined ? Promise.resolve(new Uint8Array(length)) : this.options.base.read(offset, length);
  }

  private requestFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    this.flushTimer?.dispose();
    this.flushTimer = undefined;
    this.flush()
      .catch(() => undefined)
      .finally(() => {
        this.flushQueued = false;
        // Writes that came while this flush ran did not schedule one of their own (it was queued):
        // without this, their pages would wait for the next write, "saving soon…" meanwhile.
        if (this.pending.size > 0 && this.lastError === undefined && !this.disposed) this.scheduleFlush();
      });
  }

  /** A failed write-back is tried again after a while, longer after each failure (RETRY_FIRST_MS). */
  private scheduleRetry(): void {
    if (this.retryTimer !== undefined || this.disposed) return;
    const delay = this.retryDelayMs;
    this.retryDelayMs = Math.min(delay * 2, RETRY_MAX_MS);
    this.retryTimer = this.options.clock.after(delay, () => {
      this.retryTimer = undefined;
      this.flush().catch(() => undefined);
    });
  }

  /** Let the pool of free page buffers go once the guest wrote nothing for POOL_IDLE_MS. */
  private keepPoolWhileWriting(): void {
    if (this.poolTimer !== undefined || this.freePages.length === 0 || this.disposed) return;
    this.wroteSincePoolCheck = false;
    this.poolTimer = this.options.clock.after(POOL_IDLE_MS, () => {
      this.poolTimer = undefined;
      if (this.wroteSincePoolCheck) this.keepPoolWhileWriting();
      else this.freePages.length = 0;
    });
  }

  private scheduleFlush(): void {
    if (this.flushTimer !== undefined || this.flushQueued || this.options.readOnly === true) return;
    this.flushTimer = this.options.clock.after(WRITE_BACK_DELAY_MS, () => {
      this.flushTimer = undefined;
      this.flush().catch(() => undefined);
    });
  }

  private checkRange(start: number, length: number): void {
    if (start < 0 || length < 0 || start + length > this.byteLength) {
      throw new AppError("storage-failed", `Access outside the disk (${start}+${length} of ${this.byteLength} bytes).`, { details: { subject: this.diskId } });
    }
  }

  private fail(error: unknown): void {
    this.errorEmitter.fire(toAppError(error, "storage-failed", "The disk could not be read."));
  }
}
