import "fake-indexeddb/auto";
import { describe, expect, it } from "vitest";
import { AppError } from "../errors.ts";
import { isQuotaError, memoryStore, openIndexedDbStore, type KeyValueStore } from "./kv.ts";

const stores: [string, () => KeyValueStore][] = [
  ["IndexedDB (fake-indexeddb)", () => openIndexedDbStore(`kv-test-${Math.random()}`, "s")],
  ["memory", memoryStore],
];

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
