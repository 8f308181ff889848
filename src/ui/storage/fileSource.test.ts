import { describe, expect, it } from "vitest";
import { ImageStore, memoryStore } from "../../core/index.ts";
import { sameBytes } from "../../core/testing/bytes.ts";
import { fileSource } from "./fileSource.ts";

function isoBytes(size: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 7) & 0xff;
  bytes.set([0x43, 0x44, 0x30, 0x30, 0x31], 0x8001); // "CD001"
  return bytes;
}

describe("fileSource", () => {
  it("reads the slices asked for, by offset", async () => {
    const bytes = isoBytes(70_000);
    const source = fileSource(new File([bytes], "disc.iso"));
    expect(source).toMatchObject({ name: "disc.iso", size: 70_000 });
    expect(await source.read(0x8001, 5)).toEqual(new Uint8Array([0x43, 0x44, 0x30, 0x30, 0x31]));
    expect(await source.read(69_990, 10)).toEqual(bytes.subarray(69_990));
    await expect(source.read(69_995, 10)).rejects.toThrow(RangeError);
  });

  it("imports a file through the image store byte for byte", async () => {
    const bytes = isoBytes(300_000);
    const store = new ImageStore(memoryStore(), { now: () => 1 });
    const record = await store.import(fileSource(new File([bytes], "disc.iso")));
    expect(record).toMatchObject({ kind: "cdrom", size: bytes.length, chunkCount: 1 });
    expect(sameBytes(await store.reader(record).read(0, bytes.length), bytes)).toBe(true);
  });

  it("a text file is refused and nothing is stored", async () => {
    const kv = memoryStore();
    const store = new ImageStore(kv, { now: () => 1 });
    await expect(store.import(fileSource(new File(["just some notes\n"], "notes.txt")))).rejects.toMatchObject({ code: "bad-image" });
    expect(await kv.keys()).toEqual([]);
  });
});
