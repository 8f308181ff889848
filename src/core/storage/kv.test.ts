import "fake-indexeddb/auto";
import { createStore, get as rawGet, set as rawSet } from "idb-keyval";
import { describe, expect, it, vi } from "vitest";
import { AppError } from "../errors.ts";
import { host } from "../host.ts";
import { sameBytes } from "../testing/bytes.ts";
import { BLOB_BYTES, ByteParts, isQuotaError, memoryStore, openIndexedDbStore, type KeyValueStore } from "./kv.ts";

const stores: [string, () => KeyValueStore][] = [
  ["IndexedDB (fake-indexeddb)", () => openIndexedDbStore(`kv-test-${Math.random()}`, "s")],
  ["IndexedDB, bytes as Blobs", () => openIndexedDbStore(`kv-blob-${Math.random()}`, "s", { bytesAsBlobs: true })],
  ["memory", memoryStore],
];

const pattern = (length: number, seed: number): Uint8Array => Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);

describe.each(stores)("%s store", (_name, make) => {
  it("stores, lists and deletes values, keeping binary data intact", async () => {
    const store = make();
    const bytes = Uint8Array.from([0, 1, 2, 255]);
    await store.set("a", { n: 1 });
    await store.setMany([
      ["b", bytes],
      ["c", "three"],
    ]);
    expect(await store.get("a")).toEqual({ n: 1 });
    expect(await store.get<Uint8Array>("b")).toEqual(bytes);
    expect(await store.getMany(["c", "missing"])).toEqual(["three", undefined]);
    expect((await store.keys()).sort()).toEqual(["a", "b", "c"]);
    await store.deleteMany(["a", "b"]);
    await store.delete("c");
    expect(await store.keys()).toEqual([]);
  });

  it("keeps ByteParts as one record, its parts after one another, and reads several slices of it", async () => {
    const store = make();
    const parts = [pattern(BLOB_BYTES, 11), pattern(BLOB_BYTES, 12), pattern(BLOB_BYTES, 13)];
    await store.setMany([["run", new ByteParts(parts)]]);
    // The caller's buffers are its own again once written.
    for (const part of parts) part.fill(0);
    const whole = new Uint8Array(3 * BLOB_BYTES);
    whole.set(pattern(BLOB_BYTES, 11), 0);
    whole.set(pattern(BLOB_BYTES, 12), BLOB_BYTES);
    whole.set(pattern(BLOB_BYTES, 13), 2 * BLOB_BYTES);
    expect(sameBytes(await store.get<Uint8Array>("run"), whole)).toBe(true);
    // The third part first, then a gap, then the first part's tail: the record is read once.
    const read = await store.readInto(
      [
        { key: "run", at: 0, from: 2 * BLOB_BYTES, length: BLOB_BYTES },
        { key: "run", at: BLOB_BYTES + 10, from: BLOB_BYTES - 20, length: 20 },
      ],
      new Uint8Array(BLOB_BYTES + 30).fill(0xee),
    );
    if (!("bytes" in read)) throw new Error(`no bytes: ${JSON.stringify(read)}`);
    const expected = new Uint8Array(BLOB_BYTES + 30);
    expected.set(pattern(BLOB_BYTES, 13), 0);
    expected.set(pattern(BLOB_BYTES, 11).subarray(BLOB_BYTES - 20), BLOB_BYTES + 10);
    expect(read.bytes.every((b, i) => b === expected[i])).toBe(true);
  });
});

describe("an IndexedDB store that keeps bytes as Blobs", () => {
  it("keeps byte arrays of a page or more as Blobs, smaller values as they are", async () => {
    const db = `kv-blobs-${Math.random()}`;
    const store = openIndexedDbStore(db, "s", { bytesAsBlobs: true });
    await store.setMany([
      ["big", pattern(BLOB_BYTES, 1)],
      ["small", pattern(BLOB_BYTES - 1, 2)],
      ["record", { pages: [1, 2] }],
    ]);
    const raw = createStore(db, "s");
    expect(await rawGet("big", raw)).toBeInstanceOf(host.Blob);
    expect(await rawGet("small", raw)).toBeInstanceOf(Uint8Array);
    expect(await rawGet("record", raw)).toEqual({ pages: [1, 2] });
    expect(sameBytes(await store.get<Uint8Array>("big"), pattern(BLOB_BYTES, 1))).toBe(true);
    expect(await store.get("record")).toEqual({ pages: [1, 2] });
  });

  it("reads Blobs and byte arrays stored before, mixed in one read, each to its own bytes in order", async () => {
    const db = `kv-mixed-${Math.random()}`;
    // Written before the option existed: plain byte arrays.
    await rawSet("old", pattern(BLOB_BYTES, 3), createStore(db, "s"));
    const store = openIndexedDbStore(db, "s", { bytesAsBlobs: true });
    await store.set("new1", pattern(BLOB_BYTES, 4));
    await store.set("new2", pattern(2 * BLOB_BYTES, 5));
    const values = await store.getMany<Uint8Array>(["new2", "old", "missing", "new1"]);
    const wanted = [pattern(2 * BLOB_BYTES, 5), pattern(BLOB_BYTES, 3), undefined, pattern(BLOB_BYTES, 4)];
    expect(values.map((v, i) => (wanted[i] === undefined ? v === undefined : sameBytes(v, wanted[i])))).toEqual([true, true, true, true]);
    // Each value is a buffer of its own, not a view into the joined read.
    expect(values[0]?.buffer.byteLength).toBe(2 * BLOB_BYTES);
    expect(values[3]?.buffer.byteLength).toBe(BLOB_BYTES);
  });

  it("reads parts of records into a buffer it is given: Blobs and old byte arrays, gaps and short records zero, a missing record named", async () => {
    const db = `kv-into-${Math.random()}`;
    await rawSet("old", pattern(BLOB_BYTES, 7), createStore(db, "s"));
    const store = openIndexedDbStore(db, "s", { bytesAsBlobs: true });
    await store.setMany([
      ["a", pattern(BLOB_BYTES, 8)],
      ["b", pattern(BLOB_BYTES, 9)],
      ["short", pattern(BLOB_BYTES + 100, 10)],
    ]);
    const length = 4 * BLOB_BYTES;
    // A buffer used before: every byte the slices do not fill must come out zero, not stale.
    const target = new Uint8Array(length + 16).fill(0xee).subarray(0, length);
    const slices = [
      { key: "a", at: 0, from: 100, length: BLOB_BYTES - 100 },
      { key: "b", at: BLOB_BYTES - 100, from: 0, length: BLOB_BYTES },
      // a gap of 50 bytes, then a record in the old format
      { key: "old", at: 2 * BLOB_BYTES - 50, from: 0, length: BLOB_BYTES },
      // 200 asked, 100 there
      { key: "short", at: 3 * BLOB_BYTES - 50, from: BLOB_BYTES, length: 200 },
    ];
    const read = await store.readInto(slices, target);
    if (read === undefined || !("bytes" in read)) throw new Error(`no bytes: ${JSON.stringify(read)}`);
    const expected = new Uint8Array(length);
    expected.set(pattern(BLOB_BYTES, 8).subarray(100), 0);
    expected.set(pattern(BLOB_BYTES, 9), BLOB_BYTES - 100);
    expected.set(pattern(BLOB_BYTES, 7), 2 * BLOB_BYTES - 50);
    expected.set(pattern(BLOB_BYTES + 100, 10).subarray(BLOB_BYTES), 3 * BLOB_BYTES - 50);
    expect(read.bytes.length).toBe(length);
    expect(read.bytes.every((b, i) => b === expected[i])).toBe(true);
    // The given memory, filled in place (a stream transfers the buffer it fills, so the object differs).
    expect(read.bytes.buffer.byteLength).toBe(length + 16);
    expect(await store.readInto([{ key: "nope", at: 0, from: 0, length: 10 }], new Uint8Array(10))).toEqual({ missing: "nope" });

    // A long run of Blobs side by side (a read-ahead window): read whole (the page), or streamed
    // in place (a machine's Worker, `streamReads`, the same records); the same bytes either way.
    const many = Array.from({ length: 6 }, (_, i) => pattern(BLOB_BYTES, 20 + i));
    await store.setMany(many.map((bytes, i) => [`w${i}`, bytes]));
    for (const reader of [store, openIndexedDbStore(db, "s", { bytesAsBlobs: true, streamReads: true })]) {
      const wide = new Uint8Array(7 * BLOB_BYTES).fill(0xee);
      const windowRead = await reader.readInto(
        many.map((_, i) => ({ key: `w${i}`, at: BLOB_BYTES + i * BLOB_BYTES, from: 0, length: BLOB_BYTES })),
        wide,
      );
      if (!("bytes" in windowRead)) throw new Error(`no bytes: ${JSON.stringify(windowRead)}`);
      expect(windowRead.bytes.subarray(0, BLOB_BYTES).every((b) => b === 0)).toBe(true);
      expect(many.map((bytes, i) => sameBytes(windowRead.bytes.subarray((i + 1) * BLOB_BYTES, (i + 2) * BLOB_BYTES), bytes))).toEqual(many.map(() => true));
    }
  });

  it("reads a stored Blob as it is: never slices it or builds a Blob over it (Chromium kills the tab for one whose registration it dropped)", async () => {
    const db = `kv-as-is-${Math.random()}`;
    const store = openIndexedDbStore(db, "s", { bytesAsBlobs: true });
    const runs = Array.from({ length: 6 }, (_, i) => new ByteParts([pattern(BLOB_BYTES, 30 + i), pattern(BLOB_BYTES, 40 + i)]));
    await store.setMany(runs.map((run, i) => [`r${i}`, run]));
    const built: string[] = [];
    const globals = globalThis as unknown as { Blob: typeof host.Blob };
    const original = globals.Blob;
    globals.Blob = new Proxy(original, {
      construct(target, args: [unknown[]?, ...unknown[]]) {
        if ((args[0] ?? []).some((part) => part instanceof original)) built.push("a Blob made of Blobs");
        return Reflect.construct(target, args) as object;
      },
    });
    const slice = vi.spyOn(original.prototype as { slice(): unknown }, "slice");
    try {
      for (const reader of [store, openIndexedDbStore(db, "s", { bytesAsBlobs: true, streamReads: true })]) {
        // A read-ahead window of whole records, and a random reader's second page of a record.
        const window = await reader.readInto(
          runs.map((_, i) => ({ key: `r${i}`, at: i * 2 * BLOB_BYTES, from: 0, length: 2 * BLOB_BYTES })),
          new Uint8Array(12 * BLOB_BYTES),
        );
        if (!("bytes" in window)) throw new Error(`no bytes: ${JSON.stringify(window)}`);
        runs.forEach((run, i) => expect(sameBytes(window.bytes.subarray(i * 2 * BLOB_BYTES, (i + 1) * 2 * BLOB_BYTES), run.joined())).toBe(true));
        const page = await reader.readInto([{ key: "r3", at: 0, from: BLOB_BYTES, length: BLOB_BYTES }], new Uint8Array(BLOB_BYTES));
        if (!("bytes" in page)) throw new Error(`no bytes: ${JSON.stringify(page)}`);
        expect(sameBytes(page.bytes, pattern(BLOB_BYTES, 43))).toBe(true);
        // One sector deep in a record (the bytes before it read over), and one past its end.
        const sectors = await reader.readInto(
          [
            { key: "r2", at: 8, from: BLOB_BYTES + 5000, length: 4096 },
            { key: "r2", at: 8 + 4096, from: 2 * BLOB_BYTES + 10, length: 4096 },
          ],
          new Uint8Array(8 + 2 * 4096 + 8).fill(0xee),
        );
        if (!("bytes" in sectors)) throw new Error(`no bytes: ${JSON.stringify(sectors)}`);
        const sector = new Uint8Array(8 + 2 * 4096 + 8);
        sector.set(pattern(BLOB_BYTES, 42).subarray(5000, 5000 + 4096), 8);
        expect(sameBytes(sectors.bytes, sector)).toBe(true);
        const [first, last] = await reader.getMany<Uint8Array>(["r0", "r5"]);
        expect(sameBytes(first, runs[0]?.joined()) && sameBytes(last, runs[5]?.joined())).toBe(true);
      }
    } finally {
      globals.Blob = original;
      slice.mockRestore();
    }
    expect(built).toEqual([]);
    expect(slice).not.toHaveBeenCalled();
  });

  it("says a read whose Blob stream fails is a storage read failure, and lets the other streams of the read go", async () => {
    const db = `kv-stream-fails-${Math.random()}`;
    const store = openIndexedDbStore(db, "s", { bytesAsBlobs: true, streamReads: true });
    await store.setMany(Array.from({ length: 6 }, (_, i) => [`w${i}`, pattern(BLOB_BYTES, 50 + i)] as const));
    const proto = host.Blob.prototype as { stream: () => { getReader(options: unknown): unknown } };
    const stream = proto.stream;
    const gone = Object.assign(new Error("the file is gone"), { name: "NotReadableError" });
    let opened = 0;
    const cancelled: number[] = [];
    proto.stream = function (this: unknown) {
      const n = opened++;
      const reader = stream.call(this).getReader({ mode: "byob" }) as { read(view: Uint8Array): Promise<unknown>; cancel(): Promise<void> };
      return {
        getReader: () => ({
          read: (view: Uint8Array) => (n === 1 ? Promise.reject(gone) : reader.read(view)),
          cancel: () => {
            cancelled.push(n);
            return reader.cancel();
          },
        }),
      };
    };
    try {
      const slices = Array.from({ length: 6 }, (_, i) => ({ key: `w${i}`, at: i * BLOB_BYTES, from: 0, length: BLOB_BYTES }));
      const error = (await store.readInto(slices, new Uint8Array(6 * BLOB_BYTES)).catch((e: unknown) => e)) as AppError;
      expect(error).toBeInstanceOf(AppError);
      expect(error.code).toBe("storage-failed");
      expect(error.cause).toBe(gone);
      expect(opened).toBe(6);
      // Those after the failed one, never read (the first was let go once it had all it was asked).
      expect(cancelled.filter((n) => n > 1)).toEqual([2, 3, 4, 5]);
    } finally {
      proto.stream = stream;
    }
  });

  it("says a Blob that cannot be read back is a storage read failure", async () => {
    const store = openIndexedDbStore(`kv-unreadable-${Math.random()}`, "s", { bytesAsBlobs: true });
    await store.set("page", pattern(BLOB_BYTES, 6));
    const proto = host.Blob.prototype as { arrayBuffer: () => Promise<ArrayBuffer> };
    const arrayBuffer = proto.arrayBuffer;
    const gone = Object.assign(new Error("the file is gone"), { name: "NotReadableError" });
    proto.arrayBuffer = () => Promise.reject(gone);
    try {
      const error = (await store.getMany(["page"]).catch((e: unknown) => e)) as AppError;
      expect(error).toBeInstanceOf(AppError);
      expect(error.code).toBe("storage-failed");
      expect(error.cause).toBe(gone);
    } finally {
      proto.arrayBuffer = arrayBuffer;
    }
  });
});

describe("isQuotaError", () => {
  it("recognises the browsers' ways of saying the quota is full", () => {
    expect(isQuotaError(Object.assign(new Error("x"), { name: "QuotaExceededError" }))).toBe(true);
    expect(isQuotaError(Object.assign(new Error("Transaction aborted: quota exceeded"), { name: "AbortError" }))).toBe(true);
    expect(isQuotaError(Object.assign(new Error("other"), { name: "AbortError" }))).toBe(false);
    expect(isQuotaError(null)).toBe(false);
  });

  it("is what the store throws as a typed storage-full error", async () => {
    const store = openIndexedDbStore(`kv-quota-${Math.random()}`, "s");
    // Make every write fail the way a full quota does.
    const failing = Object.assign(new Error("quota"), { name: "QuotaExceededError" });
    await store.set("warm", 1);
    const proto = (globalThis as unknown as { IDBObjectStore: { prototype: { put: unknown } } }).IDBObjectStore.prototype;
    const put = proto.put;
    proto.put = () => {
      throw failing;
    };
    try {
      const error = (await store.set("k", 1).catch((e: unknown) => e)) as AppError;
      expect(error).toBeInstanceOf(AppError);
      expect(error.code).toBe("storage-full");
      expect(error.cause).toBe(failing);
      expect(await store.get("warm")).toBe(1);
    } finally {
      proto.put = put;
    }
  });
});
