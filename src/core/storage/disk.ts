/**
 * Copy-on-write disks. A disk is an immutable base (an image from the library, or nothing: a
 * blank disk) plus an overlay of pages the guest wrote, kept in IndexedDB. v86 talks to an
 * OverlayDisk as to its own buffers (get/set/load/byteLength); writes land in memory at once and
 * reach IndexedDB in batches, each batch one transaction together with the page index, so a
 * closed tab loses at most the last unsaved batch and never leaves a torn one.
 */
import type { Clock } from "../clock.ts";
import { AppError, toAppError } from "../errors.ts";
import { Emitter, type Disposable } from "../events.ts";
import type { KeyValueStore } from "./kv.ts";

/** Random access to the bytes under the overlay. */
export interface BlockSource {
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

export const PAGE_SIZE = 64 * 1024;
/** How long after the last write a batch is written back. */
export const WRITE_BACK_DELAY_MS = 200;

interface OverlayIndex {
  readonly size: number;
  readonly pageSize: number;
  readonly pages: readonly number[];
}

export interface DiskSaveState {
  /** Pages written by the guest and not yet in IndexedDB. */
  readonly unsavedPages: number;
  readonly saving: boolean;
  /** The last write-back failed: the data is still in memory; it is retried on the next write. */
  readonly error: AppError | undefined;
  /** True when writes are kept in memory only (another tab owns the disk). */
  readonly readOnly: boolean;
}

const indexKey = (diskId: string): string => `disk:${diskId}`;
const pageKey = (diskId: string, page: number): string => `page:${diskId}:${page}`;

export interface OpenDiskOptions {
  readonly size: number;
  readonly base?: BlockSource;
  /** Keep the guest's writes in memory only; never write them back. */
  readonly readOnly?: boolean;
  readonly clock: Clock;
}

/** Where overlays live. One KeyValueStore holds the overlays of every disk. */
export class DiskStore {
  constructor(private readonly kv: KeyValueStore) {}

  async open(diskId: string, options: OpenDiskOptions): Promise<OverlayDisk> {
    if (options.base !== undefined && options.base.size !== options.size) {
      throw new AppError("bad-image", `The disk's base image has ${options.base.size} bytes, not ${options.size}.`, { details: { subject: diskId } });
    }
    const index = await this.kv.get<OverlayIndex>(indexKey(diskId));
    if (index !== undefined && (index.size !== options.size || index.pageSize !== PAGE_SIZE)) {
      throw new AppError("storage-failed", "This disk's saved changes do not fit its image (size changed).", { details: { subject: diskId } });
    }
    return new OverlayDisk(this.kv, diskId, options, new Set(index?.pages ?? []));
  }

  /** Whether the guest ever wrote to this disk. */
  async hasOverlay(diskId: string): Promise<boolean> {
    return (await this.kv.get(indexKey(diskId))) !== undefined;
  }

  /**
   * Make a disk's overlay exactly these pages (a snapshot's): all pages and the new index in one
   * transaction, so a cut-off restore leaves the old overlay whole; pages the new index does not
   * name are collected afterwards. No pages: the disk is its base image again.
   */
  async replaceOverlay(diskId: string, size: number, pages: readonly number[], data: Uint8Array): Promise<void> {
    if (data.length !== pages.length * PAGE_SIZE) throw new AppError("storage-failed", "The disk's pages do not add up.", { details: { subject: diskId } });
    if (pages.length === 0) {
      await this.drop(diskId);
      return;
    }
    const entries: [string, unknown][] = pages.map((page, i) => [pageKey(diskId, page), data.slice(i * PAGE_SIZE, (i + 1) * PAGE_SIZE)]);
    const index: OverlayIndex = { size, pageSize: PAGE_SIZE, pages: [...pages] };
    entries.push([indexKey(diskId), index]);
    await this.kv.setMany(entries);
    await this.collectGarbage();
  }

  /** Drop everything the guest wrote: the disk is its base image again. Index first, then pages. */
  async drop(diskId: string): Promise<void> {
    const index = await this.kv.get<OverlayIndex>(indexKey(diskId));
    await this.kv.delete(indexKey(diskId));
    if (index !== undefined) await this.kv.deleteMany(index.pages.map((p) => pageKey(diskId, p)));
    await this.collectGarbage();
  }

  /** Delete pages no index names (a drop or a first write-back that was cut off). */
  async collectGarbage(): Promise<{ deletedPages: number }> {
    const keys = await this.kv.keys();
    const indexes = keys.filter((k) => k.startsWith("disk:"));
    const live = new Set<string>();
    const records = await this.kv.getMany<OverlayIndex>(indexes);
    indexes.forEach((key, i) => {
      const diskId = key.slice("disk:".length);
      for (const page of records[i]?.pages ?? []) live.add(pageKey(diskId, page));
    });
    const orphans = keys.filter((k) => k.startsWith("page:") && !live.has(k));
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

  /** Pages the guest wrote, or loaded from the overlay in IndexedDB. */
  private readonly pages = new Map<number, Uint8Array>();
  /** Unwritten pages kept for v86's synchronous reads (the boot sector). */
  private readonly pinned = new Map<number, Uint8Array>();
  private readonly versions = new Map<number, number>();
  private readonly dirty = new Set<number>();
  private flushTimer: Disposable | undefined;
  private flushing: Promise<void> | undefined;
  private lastError: AppError | undefined;
  private disposed = false;
  private readonly stateEmitter = new Emitter<DiskSaveState>();
  private readonly errorEmitter = new Emitter<AppError>();
  /** Changes of the saved/unsaved state, for a "saved" indicator. */
  readonly onSaveState = this.stateEmitter.event;
  /** A write-back failed (e.g. the quota is full). The data stays in memory. */
  readonly onWriteBackError = this.errorEmitter.event;

  constructor(
    private readonly kv: KeyValueStore,
    readonly diskId: string,
    private readonly options: OpenDiskOptions,
    /** Pages that exist in IndexedDB. */
    private readonly stored: Set<number>,
  ) {
    this.byteLength = options.size;
  }

  get saveState(): DiskSaveState {
    return { unsavedPages: this.dirty.size, saving: this.flushing !== undefined, error: this.lastError, readOnly: this.options.readOnly === true };
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
    const page = this.pages.get(index) ?? this.pinned.get(index);
    return page?.slice(within, within + length);
  }

  set(start: number, data: Uint8Array, callback: Callback<void>): void {
    this.write(start, data.slice()).then(() => callback(), (error: unknown) => this.fail(error));
  }

  /** The disk's contents live in IndexedDB, not in a saved machine state. */
  get_state(): unknown[] {
    return [this.byteLength];
  }

  set_state(_state: unknown[]): void {}

  // ---- our interface -----------------------------------------------------------------------

  /** Read bytes; `pin` keeps the pages in memory (v86 reads the first sector synchronously). */
  async read(start: number, length: number, pin = false): Promise<Uint8Array> {
    this.checkRange(start, length);
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const position = start + done;
      const index = Math.floor(position / PAGE_SIZE);
      const within = position - index * PAGE_SIZE;
      const take = Math.min(length - done, PAGE_SIZE - within);
      const page = this.pages.get(index) ?? (await this.loadPage(index));
      if (pin && !this.pages.has(index)) this.pinned.set(index, page);
      out.set(page.subarray(within, within + take), done);
      done += take;
    }
    return out;
  }

  async write(start: number, data: Uint8Array): Promise<void> {
    this.checkRange(start, data.length);
    let done = 0;
    while (done < data.length) {
      const position = start + done;
      const index = Math.floor(position / PAGE_SIZE);
      const within = position - index * PAGE_SIZE;
      const take = Math.min(data.length - done, PAGE_SIZE - within);
      const page = take === PAGE_SIZE ? new Uint8Array(PAGE_SIZE) : (this.pages.get(index) ?? (await this.loadPage(index)));
      page.set(data.subarray(done, done + take), within);
      this.pages.set(index, page);
      this.pinned.delete(index);
      this.versions.set(index, (this.versions.get(index) ?? 0) + 1);
      this.dirty.add(index);
      done += take;
    }
    this.scheduleFlush();
    this.stateEmitter.fire(this.saveState);
  }

  /** Write every unsaved page now. Resolves when IndexedDB has them (or rejects if it refused). */
  async flush(): Promise<void> {
    this.flushTimer?.dispose();
    this.flushTimer = undefined;
    while (this.flushing !== undefined) await this.flushing.catch(() => undefined);
    if (this.dirty.size === 0 || this.options.readOnly === true || this.disposed) return;
    const batch = [...this.dirty].sort((a, b) => a - b);
    const versions = batch.map((p) => this.versions.get(p));
    const entries: [string, unknown][] = batch.map((p) => [pageKey(this.diskId, p), (this.pages.get(p) as Uint8Array).slice()]);
    const pages = [...new Set([...this.stored, ...batch])].sort((a, b) => a - b);
    const index: OverlayIndex = { size: this.byteLength, pageSize: PAGE_SIZE, pages };
    entries.push([indexKey(this.diskId), index]);
    const job = this.kv.setMany(entries).then(
      () => {
        batch.forEach((p, i) => {
          this.stored.add(p);
          // Written again while we were saving: stays dirty for the next batch.
          if (this.versions.get(p) === versions[i]) this.dirty.delete(p);
        });
        this.lastError = undefined;
      },
      (error: unknown) => {
        const appError = toAppError(error, "storage-failed", "Saving the disk's changes failed.");
        this.lastError = appError;
        this.errorEmitter.fire(appError);
        throw appError;
      },
    );
    this.flushing = job;
    this.stateEmitter.fire(this.saveState);
    try {
      await job;
    } finally {
      this.flushing = undefined;
      this.stateEmitter.fire(this.saveState);
    }
  }

  /**
   * Every page the guest wrote (saved or not), ascending, and their bytes: what a snapshot
   * carries. Pages in memory are copied at once, before anything is awaited, so the result is
   * the disk at the moment of the call; the others are unchanged in IndexedDB.
   */
  async exportOverlay(): Promise<{ pages: number[]; data: Uint8Array }> {
    const pages = [...new Set([...this.stored, ...this.pages.keys()])].sort((a, b) => a - b);
    const inMemory = new Map(pages.flatMap((p) => (this.pages.has(p) ? [[p, (this.pages.get(p) as Uint8Array).slice()] as const] : [])));
    const data = new Uint8Array(pages.length * PAGE_SIZE);
    for (const [i, page] of pages.entries()) {
      const bytes = inMemory.get(page) ?? (await this.kv.get<Uint8Array>(pageKey(this.diskId, page)));
      if (bytes === undefined) throw new AppError("storage-failed", "A saved page of this disk is missing from storage.", { details: { subject: this.diskId, page } });
      data.set(bytes.subarray(0, PAGE_SIZE), i * PAGE_SIZE);
    }
    return { pages, data };
  }

  /** The whole disk (base + overlay), in order, a piece at a time: for export without a copy in memory. */
  async *chunks(size = 4 * 1024 * 1024): AsyncGenerator<Uint8Array> {
    for (let offset = 0; offset < this.byteLength; offset += size) {
      yield await this.read(offset, Math.min(size, this.byteLength - offset));
    }
  }

  dispose(): void {
    this.disposed = true;
    this.flushTimer?.dispose();
    this.stateEmitter.dispose();
    this.errorEmitter.dispose();
  }

  private async loadPage(index: number): Promise<Uint8Array> {
    const pinned = this.pinned.get(index);
    if (pinned !== undefined) return pinned;
    let page: Uint8Array | undefined;
    if (this.stored.has(index)) {
      page = await this.kv.get<Uint8Array>(pageKey(this.diskId, index));
      if (page === undefined) {
        throw new AppError("storage-failed", "A saved page of this disk is missing from storage.", { details: { subject: this.diskId, page: index } });
      }
    } else if (this.options.base !== undefined) {
      const offset = index * PAGE_SIZE;
      const length = Math.min(PAGE_SIZE, this.byteLength - offset);
      page = new Uint8Array(PAGE_SIZE);
      page.set(await this.options.base.read(offset, length));
    } else {
      page = new Uint8Array(PAGE_SIZE);
    }
    // A write may have created the page while we waited.
    const current = this.pages.get(index);
    if (current !== undefined) return current;
    // Base pages are not kept: the base reader caches its own chunks. Overlay pages are.
    if (this.stored.has(index)) this.pages.set(index, page);
    return page;
  }

  private scheduleFlush(): void {
    if (this.flushTimer !== undefined || this.options.readOnly === true) return;
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
