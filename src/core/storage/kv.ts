/**
 * The only module that touches IndexedDB (through idb-keyval). Everything stored by virtlab goes
 * through a KeyValueStore, and storage failures come out as typed errors: a full quota is
 * "storage-full", never an exception with a browser-specific name.
 */
import { createStore, del, delMany, get, getMany, keys, set, setMany, type UseStore } from "idb-keyval";
import { AppError } from "../errors.ts";
import { host, type HostBlob } from "../host.ts";

export interface KeyValueStore {
  get<T>(key: string): Promise<T | undefined>;
  getMany<T>(keys: readonly string[]): Promise<(T | undefined)[]>;
  /**
   * Parts of byte records read into `target`, all records in one transaction: each slice's
   * `length` bytes from `from` in its record go to `at` in `target`; every byte of `target` no
   * slice fills (and past a record shorter than its slice) is zero. `target`'s buffer may be
   * transferred (streams fill it in place): use the result, a view of the same memory. Missing
   * when a record is not there: its key.
   */
  readInto(slices: readonly RecordSlice[], target: Uint8Array): Promise<{ readonly bytes: Uint8Array } | { readonly missing: string }>;
  set(key: string, value: unknown): Promise<void>;
  /**
   * One transaction: all entries are written, or none. Byte arrays are kept as copies (IndexedDB
   * clones them), so the caller may fill its buffer again once this resolves. A `ByteParts` value
   * is kept as one byte record, its parts one after the other (read back as a byte array).
   */
  setMany(entries: readonly (readonly [string, unknown])[]): Promise<void>;
  delete(key: string): Promise<void>;
  deleteMany(keys: readonly string[]): Promise<void>;
  keys(): Promise<string[]>;
  /**
   * Where the store lives, when another thread of the same origin can open it as well (a machine's
   * Worker reading saved disk pages itself); absent for stores in memory.
   */
  readonly location?: StoreLocation;
}

/** A part of one record: `length` bytes from `from` in it, to go to `at` in a read. */
export interface RecordSlice {
  readonly key: string;
  readonly at: number;
  readonly from: number;
  readonly length: number;
}

/**
 * Byte arrays stored as one record, one after the other, without joining them into a buffer first
 * (a disk's run of pages saved together: a Blob made of them, or one copy for a store without Blobs).
 */
export class ByteParts {
  constructor(readonly parts: readonly Uint8Array[]) {}

  get length(): number {
    return this.parts.reduce((sum, part) => sum + part.length, 0);
  }

  joined(): Uint8Array {
    const bytes = new Uint8Array(this.length);
    let at = 0;
    for (const part of this.parts) {
      bytes.set(part, at);
      at += part.length;
    }
    return bytes;
  }
}

/** An IndexedDB store as another thread opens it again (`reopenInWorker`). */
export interface StoreLocation {
  readonly dbName: string;
  readonly storeName: string;
  readonly bytesAsBlobs: boolean;
}

export interface IndexedDbStoreOptions {
  /**
   * Keep byte arrays of BLOB_BYTES or more as Blobs, and read them back as bytes. Chromium keeps a
   * value over 64 KiB in a file of its own either way, but a plain byte array is then unwrapped by
   * the page one value at a time (about 2 ms of its main thread each, measured), while the Blobs of
   * one read are read side by side, each as it is (fillFromRecords). Records written as byte
   * arrays before still read.
   */
  readonly bytesAsBlobs?: boolean;
  /**
   * Read Blob runs longer than WHOLE_READ_BYTES as streams into the caller's buffer, not whole.
   * For a machine's Worker only: there a large cold read leaves whole reads' buffers faster than
   * the collector frees them. In the page, Chromium's Blob streams stop delivering: a cold read of
   * a 1 GiB disk in the page hung for good after 280-610 MiB (a stream's first read never
   * answered; persistent profile, 2026-12-04), while whole reads read all of it. The page reads
   * them whole.
   */
  readonly streamReads?: boolean;
}

/** The size from which a byte array is kept as a Blob (with `bytesAsBlobs`): one disk page. */
export const BLOB_BYTES = 64 * 1024;

/**
 * A store in IndexedDB: database `dbName`, object store `storeName`. idb-keyval creates the object
 * store only when it creates the database, so every store needs a database name of its own.
 */
export function openIndexedDbStore(dbName: string, storeName: string, options: IndexedDbStoreOptions = {}): KeyValueStore {
  let handle: UseStore | undefined;
  const store = (): UseStore => {
    handle ??= createStore(dbName, storeName);
    return handle;
  };
  const blobs = options.bytesAsBlobs === true;
  const stored = blobs ? toBlob : (value: unknown): unknown => (value instanceof ByteParts ? value.joined() : value);
  const read = async <T>(values: readonly unknown[]): Promise<T[]> => (blobs ? fromBlobs<T>(values) : (values as T[]));
  return {
    get: <T>(key: string) => guard(async () => (await read<T | undefined>([await get(key, store())]))[0], "read"),
    getMany: <T>(list: readonly string[]) => guard(async () => read<T | undefined>(await getMany([...list], store())), "read"),
    readInto: (slices, target) => guard(() => readRecordsInto((list) => getMany(list, store()), slices, target, options.streamReads === true), "read"),
    set: (key, value) => guard(() => set(key, stored(value), store()), "write"),
    setMany: (entries) => guard(() => setMany(entries.map(([k, v]) => [k, stored(v)]), store()), "write"),
    delete: (key) => guard(() => del(key, store()), "write"),
    deleteMany: (list) => guard(() => delMany([...list], store()), "write"),
    keys: () => guard(async () => (await keys(store())).map(String), "read"),
    location: { dbName, storeName, bytesAsBlobs: blobs },
  };
}

/**
 * A store the page named (`KeyValueStore.location`), opened again in a machine's Worker: the same
 * records, its long reads streamed (`streamReads`).
 */
export function reopenInWorker(at: StoreLocation): KeyValueStore {
  return openIndexedDbStore(at.dbName, at.storeName, { bytesAsBlobs: at.bytesAsBlobs, streamReads: true });
}

/**
 * A store in memory, for tests and for browsers that refuse IndexedDB (private windows). Byte
 * arrays are kept as copies, as IndexedDB's clone keeps them: a caller may fill its buffer again
 * once the write is done (a disk's saved pages).
 */
export function memoryStore(): KeyValueStore {
  const data = new Map<string, unknown>();
  const kept = (value: unknown): unknown => (value instanceof Uint8Array ? value.slice() : value instanceof ByteParts ? value.joined() : value);
  return {
    get: async <T>(key: string) => data.get(key) as T | undefined,
    getMany: async <T>(list: readonly string[]) => list.map((k) => data.get(k) as T | undefined),
    readInto: (slices, target) => readRecordsInto(async (list) => list.map((k) => data.get(k)), slices, target),
    set: async (key, value) => {
      data.set(key, kept(value));
    },
    setMany: async (entries) => {
      for (const [k, v] of entries) data.set(k, kept(v));
    },
    delete: async (key) => {
      data.delete(key);
    },
    deleteMany: async (list) => {
      for (const k of list) data.delete(k);
    },
    keys: async () => [...data.keys()],
  };
}

function toBlob(value: unknown): unknown {
  if (value instanceof ByteParts) return new host.Blob(value.parts);
  return value instanceof Uint8Array && value.length >= BLOB_BYTES ? new host.Blob([value]) : value;
}

/**
 * `KeyValueStore.readInto` for a store whose records `getRecords` reads (in one transaction, where
 * the store has them): byte arrays, or Blobs.
 */
export async function readRecordsInto(
  getRecords: (keys: string[]) => Promise<readonly unknown[]>,
  slices: readonly RecordSlice[],
  target: Uint8Array,
  streamReads = false,
): Promise<{ readonly bytes: Uint8Array } | { readonly missing: string }> {
  // Several slices may come from one record: each is read once.
  const keys = [...new Set(slices.map((s) => s.key))];
  const records = await getRecords(keys);
  return fillFromRecords(new Map(keys.map((key, i) => [key, records[i]])), slices, target, streamReads);
}

const isBlob = (value: unknown): value is HostBlob => value instanceof host.Blob;

/**
 * The values as stored, with every Blob among them read back as bytes: each Blob read as it is,
 * all of them at once (see fillFromRecords on why a stored Blob is never joined or sliced).
 */
async function fromBlobs<T>(values: readonly unknown[]): Promise<T[]> {
  if (!values.some(isBlob)) return values as T[];
  return Promise.all(values.map(async (value) => (isBlob(value) ? new Uint8Array(await value.arrayBuffer()) : value) as T));
}

/**
 * With `streamReads`: reads whose Blobs add up to more than this are streamed in place, each
 * record into its place in the caller's buffer (a buffer filled again and again, not a new one
 * each time); smaller ones read each whole Blob whole and copy it in. A small read costs less
 * read whole: in Chromium a random page read from 1 MiB records took 4.0 ms read whole against
 * 4.3 ms streamed (page thread, 400 reads, 2026-12-03).
 */
const WHOLE_READ_BYTES = 256 * 1024;

/** One slice's bytes on their way: a record's bytes, or a Blob being read. */
type Source =
  | { readonly kind: "bytes"; readonly bytes: Uint8Array }
  | { readonly kind: "whole"; readonly read: Promise<ArrayBuffer> }
  | { readonly kind: "stream"; readonly reader: ReturnType<ReturnType<HostBlob["stream"]>["getReader"]> };

/**
 * The records' slices copied into `target`, every Blob among the records read as it is: whole
 * (`arrayBuffer`) and copied in or, with `streamReads`, streamed straight into `target` (a read of
 * more than WHOLE_READ_BYTES of Blobs, and a Blob asked for in part: the bytes before the part
 * are read into its place and read over), all of them begun at once and taken in order. A
 * random reader's page from a run record, streamed, took 2.25 and 2.41 ms against 3.38 and
 * 3.61 ms read whole (a Worker, 400 random 4 KiB reads of 512 MiB, `bench/browserDisk.ts`,
 * 2026-12-05); a slice of the Blob, before, 1.59-1.99 ms. Reading the bytes before the part
 * into a 64 KiB buffer of their own, not the part's place (for a 4 KiB sector, dozens of reads),
 * was no faster: 2.49-3.19 ms against 2.24-2.92 (three rounds). A sequential reader so fills
 * the same few buffers again and again, where a Blob read whole is a new buffer each time, and a thread
 * reading a large file leaves those faster than the collector frees them (512 MiB read as 8 MiB
 * Blobs in a Worker: +500 MiB resident; into two buffers: none; Chromium, 2026-12-03).
 *
 * A Blob that came out of IndexedDB is never sliced or joined with others into a new Blob.
 * Chromium registers such a Blob lazily and can drop the registration while the page still
 * holds it; a Blob built over it afterwards names a reference the browser no longer has, and
 * the browser kills the renderer for a bad message ("Bad blob references in
 * BlobRegistry::Register", crbug.com/392376370; seen here during a guest's read of 1 GiB after
 * a cold read of it, 2026-12-05). Reading the Blob itself goes through the reference it holds.
 */
async function fillFromRecords(
  byKey: ReadonlyMap<string, unknown>,
  slices: readonly RecordSlice[],
  target: Uint8Array,
  streamReads: boolean,
): Promise<{ readonly bytes: Uint8Array } | { readonly missing: string }> {
  const records: (Uint8Array | HostBlob)[] = [];
  let blobBytes = 0;
  for (const slice of slices) {
    const value = byKey.get(slice.key);
    if (!(value instanceof Uint8Array) && !isBlob(value)) return { missing: slice.key };
    records.push(value);
    if (isBlob(value)) blobBytes += value.size;
  }
  const streamed = streamReads && blobBytes > WHOLE_READ_BYTES;
  // Every Blob's read begun now, so the browser reads the files side by side while each is
  // taken in turn.
  const sources: Source[] = slices.map((slice, i) => {
    const value = records[i]!;
    if (value instanceof Uint8Array) return { kind: "bytes", bytes: value };
    const whole = slice.from === 0 && slice.length >= value.size;
    if (whole ? streamed : streamReads) return { kind: "stream", reader: value.stream().getReader({ mode: "byob" }) };
    const read = value.arrayBuffer();
    read.catch(() => undefined);
    return { kind: "whole", read };
  });
  const cancelFrom = (first: number): void => {
    for (const source of sources.slice(first)) if (source.kind === "stream") void source.reader.cancel().catch(() => undefined);
  };
  // Read now: a stream detaches `target` (its length reads 0 from then on).
  let buffer = target.buffer as ArrayBuffer;
  const offset = target.byteOffset;
  const total = target.length;
  let filled = 0;
  const zeroTo = (end: number): void => {
    if (end > filled) new Uint8Array(buffer, offset + filled, end - filled).fill(0);
  };
  for (const [i, slice] of slices.entries()) {
    const source = sources[i]!;
    zeroTo(slice.at);
    try {
      if (source.kind === "stream") {
        filled = slice.at + (await streamInto(source.reader, slice.at, slice.from, slice.length));
        continue;
      }
      const bytes = source.kind === "bytes" ? source.bytes : new Uint8Array(await source.read);
      const part = bytes.subarray(slice.from, slice.from + slice.length);
      new Uint8Array(buffer, offset + slice.at, part.length).set(part);
      filled = slice.at + part.length;
    } catch (error) {
      cancelFrom(i + 1);
      throw error;
    }
  }
  zeroTo(total);
  return { bytes: new Uint8Array(buffer, offset, total) };

  /** Up to `length` bytes from `reader` into `buffer` at the slice's place: how many came. */
  async function streamInto(reader: Extract<Source, { kind: "stream" }>["reader"], sliceAt: number, from: number, length: number): Promise<number> {
    const at = offset + sliceAt;
    let got = 0;
    let ended = false;
    // Bytes before the slice: read into its place and read over.
    for (let skip = from; skip > 0 && !ended; ) {
      const { done, value: view } = await reader.read(new Uint8Array(buffer, at, Math.min(skip, length)));
      if (view !== undefined) buffer = view.buffer as ArrayBuffer;
      skip -= done || view === undefined ? 0 : view.length;
      ended = done || view === undefined;
    }
    while (got < length && !ended) {
      const { done, value: view } = await reader.read(new Uint8Array(buffer, at + got, length - got));
      if (view !== undefined) buffer = view.buffer as ArrayBuffer;
      got += done || view === undefined ? 0 : view.length;
      ended = done || view === undefined;
    }
    // All that was asked for came, the stream not yet told it is over: let it go.
    if (!ended) void reader.cancel().catch(() => undefined);
    return got;
  }
}

/** Whether an error from the browser means "out of space". */
export function isQuotaError(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return name === "QuotaExceededError" || (name === "AbortError" && /quota/i.test(String((error as { message?: unknown }).message)));
}

async function guard<T>(operation: () => Promise<T>, kind: "read" | "write"): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (isQuotaError(error)) {
      throw new AppError("storage-full", "The browser's storage for this site is full.", { cause: error });
    }
    throw new AppError("storage-failed", kind === "read" ? "Reading from the browser's storage failed." : "Writing to the browser's storage failed.", {
      cause: error,
    });
  }
}
