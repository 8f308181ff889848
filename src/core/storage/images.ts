/**
 * The image library: files the user adds (ISO, disk, floppy, kernel, initrd), stored in chunks.
 * Chunks are written first and the record last, so a half-written import is invisible; chunks
 * that no record names are orphans and `collectGarbage` removes them.
 */
import { AppError, isAppError } from "../errors.ts";
import { randomId } from "../host.ts";
import { Sha256 } from "../sha256.ts";
import type { KeyValueStore } from "./kv.ts";
import { SNIFF_BYTES, foreignDiskFormat, sniffImage, type DriveKind, type ImageKind } from "./sniff.ts";

/** Chrome refuses single IndexedDB values past ~133 MB; a few MiB per chunk is comfortable. */
export const CHUNK_SIZE = 4 * 1024 * 1024;
/** The largest image accepted at all (v86 runs 32-bit guests; bigger disks make little sense). */
export const MAX_IMAGE_BYTES = 8 * 1024 * 1024 * 1024;

export interface ImageSource {
  readonly name: string;
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

export interface ImageRecord {
  readonly id: string;
  readonly name: string;
  readonly kind: ImageKind;
  /** Why the kind was chosen, from the bytes. */
  readonly evidence: string;
  /** The drives its bytes fit (see `imageDrives`; absent in records from before it was kept). */
  readonly drives?: readonly DriveKind[];
  readonly size: number;
  readonly sha256: string;
  readonly chunkSize: number;
  readonly chunkCount: number;
  /** Milliseconds since the epoch. */
  readonly addedAt: number;
}

export interface StorageEstimate {
  readonly usage: number;
  readonly quota: number;
}

export interface ImageStoreOptions {
  /** Wall-clock time for `addedAt` (ms since the epoch). */
  readonly now: () => number;
  /** The browser's storage estimate, when it has one. */
  readonly estimate?: () => Promise<StorageEstimate | undefined>;
}

export interface ImportOptions {
  readonly onProgress?: (loaded: number, total: number) => void;
}

const recordKey = (id: string): string => `image:${id}`;
const goneKey = (id: string): string => `gone:${id}`;

/** What is left of a deleted image: enough to name it. */
export interface DeletedImage {
  readonly name: string;
  readonly kind: ImageKind;
  readonly size: number;
}
const chunkKey = (id: string, index: number): string => `chunk:${id}:${index}`;

export class ImageStore {
  constructor(
    private readonly kv: KeyValueStore,
    private readonly options: ImageStoreOptions,
  ) {}

  /** Check, sniff and store a file. Nothing is stored if anything fails. */
  async import(source: ImageSource, options: ImportOptions = {}): Promise<ImageRecord> {
    if (source.size === 0) throw new AppError("bad-image", `${source.name} is empty.`, { details: { subject: source.name } });
    if (source.size > MAX_IMAGE_BYTES) {
      throw new AppError("bad-image", `${source.name} is larger than virtlab accepts (8 GiB).`, { details: { subject: source.name, size: source.size } });
    }
    const head = await source.read(0, Math.min(source.size, SNIFF_BYTES));
    const sniffed = sniffImage(head, source.size);
    if (sniffed === undefined) {
      const foreign = foreignDiskFormat(head);
      throw new AppError(
        "bad-image",
        foreign === undefined
          ? `${source.name} is not a disk image virtlab knows: not an ISO 9660 CD-ROM, a hard-disk or floppy image, a Linux kernel or an initrd.`
          : `${source.name} is a ${foreign} image: virtlab (v86) reads raw disk images only. Make a raw copy (qemu-img convert -O raw ${source.name} disk.img) and add that.`,
        { details: { subject: source.name } },
      );
    }
    const estimate = await this.options.estimate?.();
    if (estimate !== undefined && estimate.quota - estimate.usage < source.size) {
      throw new AppError("storage-full", `${source.name} needs ${mib(source.size)} but the browser allows only ${mib(estimate.quota - estimate.usage)} more.`, {
        details: { subject: source.name, size: source.size, ...estimate },
      });
    }

    const id = randomId();
    const chunkCount = Math.ceil(source.size / CHUNK_SIZE);
    const hash = new Sha256();
    const written: string[] = [];
    try {
      for (let index = 0; index < chunkCount; index++) {
        const offset = index * CHUNK_SIZE;
        const bytes = await source.read(offset, Math.min(CHUNK_SIZE, source.size - offset));
        hash.update(bytes);
        const key = chunkKey(id, index);
        await this.kv.set(key, bytes);
        written.push(key);
        options.onProgress?.(offset + bytes.length, source.size);
      }
      const record: ImageRecord = {
        id,
        name: source.name,
        kind: sniffed.kind,
        evidence: sniffed.evidence,
        drives: sniffed.drives,
        size: source.size,
        sha256: hash.digestHex(),
        chunkSize: CHUNK_SIZE,
        chunkCount,
        addedAt: this.options.now(),
      };
      await this.kv.set(recordKey(id), record);
      return record;
    } catch (error) {
      // Best effort: anything left is collected as an orphan at the next start.
      await this.kv.deleteMany(written).catch(() => undefined);
      if (isAppError(error)) throw error;
      throw new AppError("storage-failed", `Could not read ${source.name}.`, { cause: error, details: { subject: source.name } });
    }
  }

  async list(): Promise<ImageRecord[]> {
    const keys = (await this.kv.keys()).filter((k) => k.startsWith("image:"));
    const records = (await this.kv.getMany<ImageRecord>(keys)).filter((r): r is ImageRecord => r !== undefined);
    return records.sort((a, b) => a.addedAt - b.addedAt);
  }

  /** The image this id named before it was deleted (undefined if it never was here). */
  deleted(id: string): Promise<DeletedImage | undefined> {
    return this.kv.get<DeletedImage>(goneKey(id));
  }

  async get(id: string): Promise<ImageRecord | undefined> {
    return this.kv.get<ImageRecord>(recordKey(id));
  }

  async rename(id: string, name: string): Promise<ImageRecord> {
    const record = await this.require(id);
    const trimmed = name.trim();
    if (trimmed === "") throw new AppError("bad-image", "An image needs a name.");
    const renamed = { ...record, name: trimmed };
    await this.kv.set(recordKey(id), renamed);
    return renamed;
  }

  /**
   * Remove the record first (the image disappears at once), then its chunks. Its name stays
   * behind (a few bytes), so a machine that still uses it can say which image is gone.
   */
  async delete(id: string): Promise<void> {
    const record = await this.require(id);
    await this.kv.setMany([[goneKey(id), { name: record.name, kind: record.kind, size: record.size } satisfies DeletedImage]]);
    await this.kv.delete(recordKey(id));
    await this.kv.deleteMany(Array.from({ length: record.chunkCount }, (_, i) => chunkKey(id, i)));
  }

  /** Delete chunks that belong to no image (an import or delete that was interrupted). */
  async collectGarbage(): Promise<{ deletedChunks: number }> {
    const keys = await this.kv.keys();
    const live = new Set(keys.filter((k) => k.startsWith("image:")).map((k) => k.slice("image:".length)));
    const orphans = keys.filter((k) => k.startsWith("chunk:") && !live.has(k.split(":")[1] ?? ""));
    if (orphans.length > 0) await this.kv.deleteMany(orphans);
    return { deletedChunks: orphans.length };
  }

  /** Random access to a stored image, with a small cache of recently used chunks. */
  reader(record: ImageRecord, cacheChunks = 16): ImageReader {
    return new ImageReader(this.kv, record, cacheChunks);
  }

  private async require(id: string): Promise<ImageRecord> {
    const record = await this.get(id);
    if (record === undefined) throw new AppError("bad-image", "That image is no longer in the library.", { details: { subject: id } });
    return record;
  }
}

export class ImageReader {
  private readonly cache = new Map<number, Uint8Array>();

  constructor(
    private readonly kv: KeyValueStore,
    readonly record: ImageRecord,
    private readonly cacheChunks: number,
  ) {}

  get size(): number {
    return this.record.size;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (offset < 0 || length < 0 || offset + length > this.record.size) {
      throw new RangeError(`read ${offset}+${length} outside ${this.record.name} (${this.record.size} bytes)`);
    }
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const position = offset + done;
      const index = Math.floor(position / this.record.chunkSize);
      const chunk = await this.chunk(index);
      const within = position - index * this.record.chunkSize;
      const take = Math.min(length - done, chunk.length - within);
      out.set(chunk.subarray(within, within + take), done);
      done += take;
    }
    return out;
  }

  private async chunk(index: number): Promise<Uint8Array> {
    const cached = this.cache.get(index);
    if (cached !== undefined) {
      this.cache.delete(index);
      this.cache.set(index, cached);
      return cached;
    }
    const bytes = await this.kv.get<Uint8Array>(chunkKey(this.record.id, index));
    if (bytes === undefined) {
      throw new AppError("storage-failed", `Part of ${this.record.name} is missing from storage; delete and add the image again.`, {
        details: { subject: this.record.name, chunk: index },
      });
    }
    this.cache.set(index, bytes);
    if (this.cache.size > this.cacheChunks) this.cache.delete(this.cache.keys().next().value as number);
    return bytes;
  }
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}
