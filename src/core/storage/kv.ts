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
   * one read are joined and read in one go. Records written as byte arrays before still read.
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
  return fillFromRecords(new Map(keys.map((key, i) => [key, records[i]])), slices, target, streamReads ? WHOLE_READ_BYTES : Number.POSITIVE_INFINITY);
}

const isBlob = (value: unknown): value is HostBlob => value instanceof host.Blob;

/** The values as stored, with every Blob among them read back as bytes: all of them in one read. */
async function fromBlobs<T>(values: readonly unknown[]): Promise<T[]> {
  const blobs = values.filter(isBlob);
  if (blobs.length === 0) return values as T[];
  // One Blob (a random reader's page) is its own buffer: no join, no copy.
  const joined = new Uint8Array(await (blobs.length === 1 ? blobs[0]! : new host.Blob(blobs)).arrayBuffer());
  if (blobs.length === 1) return values.map((value) => (isBlob(value) ? joined : value) as T);
  let at = 0;
  return values.map((value) => {
    if (!isBlob(value)) return value as T;
    // A copy of its own: a value kept (a page in a cache) must not hold the whole joined read in memory.
    const bytes = joined.slice(at, at + value.size);
    at += value.size;
    return bytes as T;
  });
}

/**
 * With `streamReads`: Blob runs up to this size are read whole and copied in, larger ones
 * streamed in place (a buffer filled again and again, not a new one each time). A small read
 * costs less read whole: in Chromium a random page read from 1 MiB records took 4.0 ms read
 * whole against 4.3 ms streamed (page thread, 400 reads, 2026-12-03).
 */
const WHOLE_READ_BYTES = 256 * 1024;

/**
 * The records' slices copied (byte arrays) or, Blob runs longer than `wholeReadBytes`, streamed
 * into `target` without a buffer in between: a sequential reader fills the same few buffers
 * again and again, where a Blob read as a whole is a new buffer each time, and a thread reading a
 * large file leaves them faster than the collector frees them (512 MiB read as 8 MiB Blobs in a Worker: +500 MiB resident; into two
 * buffers: none; Chromium, 2026-12-03).
 */
async function fillFromRecords(
  byKey: ReadonlyMap<string, unknown>,
  slices: readonly RecordSlice[],
  target: Uint8Array,
  wholeReadBytes: number,
): Promise<{ readonly bytes: Uint8Array } | { readonly missing: string }> {
  // Read now: a stream detaches `target` (its length reads 0 from then on).
  let buffer = target.buffer as ArrayBuffer;
  const offset = target.byteOffset;
  const total = target.length;
  let filled = 0;
  const zeroTo = (end: number): void => {
    if (end > filled) new Uint8Array(buffer, offset + filled, end - filled).fill(0);
  };
  // Blob slices side by side in the read: one stream for the whole run of them.
  let run: { at: number; length: number; parts: HostBlob[] } | undefined;
  const streamRun = async (): Promise<void> => {
    if (run === undefined) return;
    const { at, length, parts } = run;
    run = undefined;
    zeroTo(at);
    const blob = parts.length === 1 ? (parts[0] as HostBlob) : new host.Blob(parts);
    if (length <= wholeReadBytes) {
      // Small (a random reader's page): read whole and copied; a stream costs more to set up.
      const bytes = new Uint8Array(await blob.arrayBuffer());
      new Uint8Array(buffer, offset + at, bytes.length).set(bytes);
      filled = at + bytes.length;
      return;
    }
    const reader = blob.stream().getReader({ mode: "byob" });
    let got = 0;
    let ended = false;
    while (got < length && !ended) {
      const { done, value: view } = await reader.read(new Uint8Array(buffer, offset + at + got, length - got));
      if (view !== undefined) buffer = view.buffer as ArrayBuffer;
      got += done || view === undefined ? 0 : view.length;
      ended = done || view === undefined;
    }
    // All that was asked for came, the stream not yet told it is over: let it go.
    if (!ended) void reader.cancel().catch(() => undefined);
    filled = at + got;
  };
  for (const slice of slices) {
    const value = byKey.get(slice.key);
    if (!(value instanceof Uint8Array) && !isBlob(value)) return { missing: slice.key };
    if (value instanceof Uint8Array) {
      await streamRun();
      const part = value.subarray(slice.from, slice.from + slice.length);
      zeroTo(slice.at);
      new Uint8Array(buffer, offset + slice.at, part.length).set(part);
      filled = slice.at + part.length;
      continue;
    }
    // A whole record as it is: a slice is one more Blob for the browser to register.
    const part = slice.from === 0 && slice.length >= value.size ? value : value.slice(slice.from, slice.from + slice.length);
    // A record shorter than its slice ends the run: what follows must not move up into its place.
    if (run !== undefined && run.at + run.length === slice.at) {
      run.parts.push(part);
      run.length += part.size;
    } else {
      await streamRun();
      run = { at: slice.at, length: part.size, parts: [part] };
    }
    if (part.size < slice.length) await streamRun();
  }
  await streamRun();
  zeroTo(total);
  return { bytes: new Uint8Array(buffer, offset, total) };
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
