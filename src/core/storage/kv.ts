/**
 * The only module that touches IndexedDB (through idb-keyval). Everything stored by virtlab goes
 * through a KeyValueStore, and storage failures come out as typed errors: a full quota is
 * "storage-full", never an exception with a browser-specific name.
 */
import { createStore, del, delMany, get, getMany, keys, set, setMany, type UseStore } from "idb-keyval";
import { AppError } from "../errors.ts";

export interface KeyValueStore {
  get<T>(key: string): Promise<T | undefined>;
  getMany<T>(keys: readonly string[]): Promise<(T | undefined)[]>;
  set(key: string, value: unknown): Promise<void>;
  /** One transaction: all entries are written, or none. */
  setMany(entries: readonly (readonly [string, unknown])[]): Promise<void>;
  delete(key: string): Promise<void>;
  deleteMany(keys: readonly string[]): Promise<void>;
  keys(): Promise<string[]>;
}

/**
 * A store in IndexedDB: database `dbName`, object store `storeName`. idb-keyval creates the object
 * store only when it creates the database, so every store needs a database name of its own.
 */
export function openIndexedDbStore(dbName: string, storeName: string): KeyValueStore {
  let handle: UseStore | undefined;
  const store = (): UseStore => {
    handle ??= createStore(dbName, storeName);
    return handle;
  };
  return {
    get: (key) => guard(() => get(key, store()), "read"),
    getMany: (list) => guard(() => getMany([...list], store()), "read"),
    set: (key, value) => guard(() => set(key, value, store()), "write"),
    setMany: (entries) => guard(() => setMany(entries.map(([k, v]) => [k, v]), store()), "write"),
    delete: (key) => guard(() => del(key, store()), "write"),
    deleteMany: (list) => guard(() => delMany([...list], store()), "write"),
    keys: () => guard(async () => (await keys(store())).map(String), "read"),
  };
}

/** A store in memory, for tests and for browsers that refuse IndexedDB (private windows). */
export function memoryStore(): KeyValueStore {
  const data = new Map<string, unknown>();
  return {
    get: async <T>(key: string) => data.get(key) as T | undefined,
    getMany: async <T>(list: readonly string[]) => list.map((k) => data.get(k) as T | undefined),
    set: async (key, value) => {
      data.set(key, value);
    },
    setMany: async (entries) => {
      for (const [k, v] of entries) data.set(k, v);
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
