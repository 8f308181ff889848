import "fake-indexeddb/auto";
import { describe, expect, it } from "vitest";
import type { AppError } from "../errors.ts";
import { sha256Hex } from "../host.ts";
import { CHUNK_SIZE, ImageStore, type ImageSource } from "./images.ts";
import { openIndexedDbStore, type KeyValueStore } from "./kv.ts";
import { sameBytes } from "../testing/bytes.ts";

function isoBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + (i >>> 12)) & 0xff;
  bytes.set(Array.from("CD001", (c) => c.charCodeAt(0)), 0x8001);
  return bytes;
}

function source(name: string, bytes: Uint8Array, failAt?: number): ImageSource & { reads: number } {
  const s = {
    name,
    size: bytes.length,
    reads: 0,
    async read(offset: number, length: number) {
      s.reads++;
      if (failAt !== undefined && offset >= failAt) throw new Error("disk unplugged");
      return bytes.slice(offset, offset + length);
    },
  };
  return s;
}

function setup(kv: KeyValueStore = openIndexedDbStore(`images-${Math.random()}`, "kv"), quota?: { usage: number; quota: number }) {
  let now = 1_700_000_000_000;
  const store = new ImageStore(kv, { now: () => now++, ...(quota === undefined ? {} : { estimate: async () => quota }) });
  return { kv, store };
}

describe("ImageStore", () => {
  it("stores an image in chunks with a record written last, and reads it back exactly", async () => {
    const { kv, store } = setup();
    const bytes = isoBytes(CHUNK_SIZE * 2 + 12345);
    const progress: number[] = [];
    const record = await store.import(source("grub.iso", bytes), { onProgress: (loaded) => progress.push(loaded) });
    expect(record).toMatchObject({ name: "grub.iso", kind: "cdrom", size: bytes.length, chunkCount: 3, chunkSize: CHUNK_SIZE });
    expect(record.sha256).toBe(await sha256Hex(bytes));
    expect(progress).toEqual([CHUNK_SIZE, 2 * CHUNK_SIZE, bytes.length]);
    expect((await kv.keys()).filter((k) => k.startsWith("chunk:"))).toHaveLength(3);

    const reader = store.reader(record);
    expect(sameBytes(await reader.read(0, bytes.length), bytes)).toBe(true);
    // A read across a chunk boundary.
    expect(await reader.read(CHUNK_SIZE - 10, 20)).toEqual(bytes.slice(CHUNK_SIZE - 10, CHUNK_SIZE + 10));
    await expect(reader.read(bytes.length - 1, 2)).rejects.toThrow(RangeError);
  });

  it("refuses unknown, empty and oversized files, storing nothing", async () => {
    const { kv, store } = setup();
    const pdf = new Uint8Array(70_000);
    pdf.set([0x25, 0x50, 0x44, 0x46], 0);
    const qcow2 = new Uint8Array(70_000);
    qcow2.set([0x51, 0x46, 0x49, 0xfb], 0);
    for (const [file, pattern] of [
      [source("notes.pdf", pdf), /not a disk image/],
      // Another hypervisor's format is named, with how to make a raw image of it.
      [source("debian.qcow2", qcow2), /is a QEMU qcow2 image: .*raw disk images only.*qemu-img convert -O raw debian\.qcow2 disk\.img/],
      [source("empty.img", new Uint8Array(0)), /empty/],
      [{ name: "huge.img", size: 9 * 1024 ** 3, read: async () => new Uint8Array(0) }, /larger than/],
    ] as const) {
      const error = (await store.import(file).catch((e: unknown) => e)) as AppError;
      expect(error.code).toBe("bad-image");
      expect(error.message).toMatch(pattern);
      expect(error.message).toContain(file.name);
    }
    expect(await kv.keys()).toEqual([]);
  });

  it("refuses an image larger than the quota left, before writing anything", async () => {
    const { kv, store } = setup(undefined, { usage: 90 * 1024 * 1024, quota: 100 * 1024 * 1024 });
    const error = (await store.import(source("big.iso", isoBytes(12 * 1024 * 1024))).catch((e: unknown) => e)) as AppError;
    expect(error.code).toBe("storage-full");
    expect(error.message).toMatch(/big\.iso needs 12\.0 MiB .* only 10\.0 MiB/);
    expect(await kv.keys()).toEqual([]);
  });

  it("leaves nothing behind when the file cannot be read halfway, and earlier images stay", async () => {
    const { kv, store } = setup();
    const kept = await store.import(source("a.iso", isoBytes(CHUNK_SIZE + 1)));
    const error = (await store.import(source("b.iso", isoBytes(3 * CHUNK_SIZE), 2 * CHUNK_SIZE)).catch((e: unknown) => e)) as AppError;
    expect(error.code).toBe("storage-failed");
    expect(error.message).toContain("b.iso");
    expect((await store.list()).map((r) => r.id)).toEqual([kept.id]);
    expect((await kv.keys()).filter((k) => k.startsWith("chunk:"))).toHaveLength(2);
  });

  it("collects the chunks of an import that was cut off (the page was closed)", async () => {
    const { kv, store } = setup();
    const kept = await store.import(source("a.iso", isoBytes(100_000)));
    // What a closed tab leaves: chunks written, no record.
    await kv.setMany([
      ["chunk:dead-beef:0", new Uint8Array(10)],
      ["chunk:dead-beef:1", new Uint8Array(10)],
    ]);
    expect(await store.collectGarbage()).toEqual({ deletedChunks: 2 });
    expect(await store.collectGarbage()).toEqual({ deletedChunks: 0 });
    expect(sameBytes(await store.reader(kept).read(0, 100_000), isoBytes(100_000))).toBe(true);
  });

  it("lists in the order added, renames and deletes", async () => {
    const { kv, store } = setup();
    const a = await store.import(source("a.iso", isoBytes(70_000)));
    const b = await store.import(source("b.iso", isoBytes(70_000)));
    expect((await store.list()).map((r) => r.name)).toEqual(["a.iso", "b.iso"]);
    expect((await store.rename(a.id, "  Debian rescue  ")).name).toBe("Debian rescue");
    await expect(store.rename(a.id, " ")).rejects.toMatchObject({ code: "bad-image" });
    await store.delete(a.id);
    expect((await store.list()).map((r) => r.id)).toEqual([b.id]);
    // Its chunks and record are gone; only a small note of its name stays, so a machine that
    // still uses it can say which image is missing.
    expect((await kv.keys()).filter((k) => k.includes(a.id))).toEqual([`gone:${a.id}`]);
    expect(await store.deleted(a.id)).toMatchObject({ name: "Debian rescue", kind: "cdrom" });
  });
});
