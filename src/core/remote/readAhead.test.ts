import { describe, expect, it } from "vitest";
import { DiskReadAhead } from "./readAhead.ts";
import { host } from "../host.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

/** The page's side: a disk in memory whose reads arrive later (each a round trip), counted. */
function pageDisk(size: number) {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 7 + (i >> 12)) & 0xff;
  const requests: [number, number][] = [];
  const fetch = (start: number, length: number): Promise<Uint8Array> => {
    requests.push([start, length]);
    // The page answers requests in the order they were posted: a read asked for before a write
    // has the bytes from before it, whenever its answer arrives.
    const answer = bytes.slice(start, start + length);
    return Promise.resolve().then(() => answer);
  };
  const write = (start: number, data: Uint8Array): void => bytes.set(data, start);
  return { bytes, requests, fetch, write };
}

/** Byte for byte (a mismatch says where, not 128 KiB of numbers). */
function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function read(ahead: DiskReadAhead, start: number, length: number): Promise<Uint8Array> {
  return new Promise((resolve) => ahead.read(start, length, resolve));
}

describe("DiskReadAhead", () => {
  it("a sequential reader gets every byte right in a fraction of the round trips", async () => {
    const disk = pageDisk(16 * MiB);
    const ahead = new DiskReadAhead(disk.bytes.length, disk.fetch, 2 * MiB);
    for (let at = 0; at < 16 * MiB; at += 128 * KiB) {
      const got = await read(ahead, at, 128 * KiB);
      expect(got.length).toBe(128 * KiB);
      expect(same(got, disk.bytes.subarray(at, at + 128 * KiB)), `at ${at}`).toBe(true);
    }
    // 128 reads of 128 KiB: the first goes alone, then 2 MiB windows (the last one cut at the end).
    expect(disk.requests.length).toBeLessThanOrEqual(10);
    expect(disk.requests.slice(1, -1).every(([, length]) => length === 2 * MiB)).toBe(true);
  });

  it("a small read elsewhere in the middle of a stream (an indirect block) does not end it", async () => {
    const disk = pageDisk(16 * MiB);
    const ahead = new DiskReadAhead(disk.bytes.length, disk.fetch, 2 * MiB);
    for (let at = 8 * MiB, n = 0; at < 16 * MiB; at += 128 * KiB, n++) {
      if (n % 8 === 7) expect(same(await read(ahead, 4096 * n, 4096), disk.bytes.subarray(4096 * n, 4096 * (n + 1)))).toBe(true);
      expect(same(await read(ahead, at, 128 * KiB), disk.bytes.subarray(at, at + 128 * KiB)), `at ${at}`).toBe(true);
    }
    // 64 stream reads and 8 small ones: the stream still went in 2 MiB windows (4 of them, one started on the first read).
    const windows = disk.requests.filter(([, length]) => length === 2 * MiB);
    expect(windows.length).toBeLessThanOrEqual(5);
    expect(disk.requests.length).toBeLessThanOrEqual(5 + 8 + 1);
  });

  it("random small reads fetch the aligned 64 KiB block around them once; a large or straddling read goes as asked", async () => {
    const disk = pageDisk(4 * MiB);
    const ahead = new DiskReadAhead(disk.bytes.length, disk.fetch, 2 * MiB);
    const asked: [number, number][] = [
      [3 * MiB + 8 * KiB, 4 * KiB],
      [512 * KiB, 4 * KiB],
      [3 * MiB + 12 * KiB, 4 * KiB], // the block kept
      [2 * MiB + 512, 1024],
      [60 * KiB, 8 * KiB], // straddles two blocks
      [1 * MiB, 256 * KiB], // bigger than a block
    ];
    for (const [start, length] of asked) expect(same(await read(ahead, start, length), disk.bytes.subarray(start, start + length)), `${start}+${length}`).toBe(true);
    expect(disk.requests).toEqual([
      [3 * MiB, 64 * KiB],
      [512 * KiB, 64 * KiB],
      [2 * MiB, 64 * KiB],
      [60 * KiB, 8 * KiB],
      [1 * MiB, 256 * KiB],
    ]);
  });

  it("a read that goes on inside a block kept (a mount: the superblock, then what follows it) is served from it, not from a window", async () => {
    const disk = pageDisk(64 * MiB);
    const ahead = new DiskReadAhead(disk.bytes.length, disk.fetch, 8 * MiB);
    for (const [at, length] of [[0, 4 * KiB], [4 * KiB, 4 * KiB], [8 * KiB, 8 * KiB], [16 * KiB, 48 * KiB]] as const) expect(same(await read(ahead, at, length), disk.bytes.subarray(at, at + length)), `at ${at}`).toBe(true);
    expect(disk.requests).toEqual([[0, 64 * KiB]]);
    // Past the block, a reader that goes on is a stream: a window.
    expect(same(await read(ahead, 64 * KiB, 128 * KiB), disk.bytes.subarray(64 * KiB, 192 * KiB))).toBe(true);
    expect(disk.requests).toEqual([[0, 64 * KiB], [64 * KiB, 8 * MiB]]);
  });

  it("a file's indirect blocks, side by side away from its data, cost one round trip per 64 KiB of them", async () => {
    const disk = pageDisk(64 * MiB);
    const ahead = new DiskReadAhead(disk.bytes.length, disk.fetch, 2 * MiB);
    // As ext2 reads a large file: every 4 MiB of data, the next indirect block (at ~1.1 MB).
    for (let n = 0, data = 8 * MiB; data < 64 * MiB; n++) {
      const indirect = 1159168 + 4096 * n;
      expect(same(await read(ahead, indirect, 4096), disk.bytes.subarray(indirect, indirect + 4096)), `indirect ${n}`).toBe(true);
      for (const end = data + 4 * MiB; data < end; data += 1 * MiB) expect(same(await read(ahead, data, 1 * MiB), disk.bytes.subarray(data, data + 1 * MiB)), `at ${data}`).toBe(true);
    }
    const small = disk.requests.filter(([, length]) => length === 64 * KiB);
    // 14 indirect blocks from 1159168 on: two 64 KiB blocks (from 1088 KiB and 1152 KiB), not 14 requests.
    expect(small).toEqual([
      [1088 * KiB, 64 * KiB],
      [1152 * KiB, 64 * KiB],
    ]);
  });

  it("a write is seen by a later read of a small block kept, and of one that was on its way", async () => {
    const disk = pageDisk(4 * MiB);
    const ahead = new DiskReadAhead(disk.bytes.length, disk.fetch, 2 * MiB);
    await read(ahead, 1 * MiB, 4 * KiB);
    const patch = new Uint8Array(1024).fill(0xab);
    ahead.write(1 * MiB + 8 * KiB, patch);
    disk.write(1 * MiB + 8 * KiB, patch);
    expect([...(await read(ahead, 1 * MiB + 8 * KiB, 1024))]).toEqual([...patch]);

    // On its way when the write comes: that block is not used, the read asks again after the write.
    const pending = read(ahead, 3 * MiB, 4 * KiB);
    const late = new Uint8Array(4 * KiB).fill(0x5c);
    ahead.write(3 * MiB, late);
    disk.write(3 * MiB, late);
    expect([...(await pending)]).toEqual([...late]);
    expect([...(await read(ahead, 3 * MiB, 4 * KiB))]).toEqual([...late]);
  });

  it("a write is seen by the next read, from the window and from a window that was on its way", async () => {
    const disk = pageDisk(8 * MiB);
    const ahead = new DiskReadAhead(disk.bytes.length, disk.fetch, 1 * MiB);
    await read(ahead, 0, 64 * KiB);
    await read(ahead, 64 * KiB, 64 * KiB); // sequential: a window from 64 KiB
    // Into the window now held.
    const patch = new Uint8Array(512).fill(0xab);
    ahead.write(200 * KiB, patch);
    disk.write(200 * KiB, patch);
    expect([...(await read(ahead, 200 * KiB - 256, 1024)).subarray(256, 768)]).toEqual([...patch]);

    // Into a window still on its way: the read waiting on it asks again, after the write.
    const reader = new DiskReadAhead(disk.bytes.length, disk.fetch, 1 * MiB);
    await read(reader, 2 * MiB, 64 * KiB);
    const pending = read(reader, 2 * MiB + 64 * KiB, 64 * KiB); // asks for a window, not yet here
    const late = new Uint8Array(4 * KiB).fill(0x5c);
    reader.write(2 * MiB + 96 * KiB, late);
    disk.write(2 * MiB + 96 * KiB, late);
    const got = await pending;
    expect([...got.subarray(32 * KiB, 36 * KiB)]).toEqual([...late]);
    expect(same(got, disk.bytes.subarray(2 * MiB + 64 * KiB, 2 * MiB + 128 * KiB))).toBe(true);
  });

  it("a write lands in a window read ahead that arrived and was not used yet: the read that uses it later sees the write", async () => {
    const disk = pageDisk(8 * MiB);
    const ahead = new DiskReadAhead(disk.bytes.length, disk.fetch, 1 * MiB);
    // A stream: the first window, then read on past its middle so the next one is asked for.
    for (let at = 0; at < 768 * KiB; at += 64 * KiB) await read(ahead, at, 64 * KiB);
    // Let the next window (1 MiB–2 MiB) arrive, unused.
    for (let i = 0; i < 5; i++) await Promise.resolve();
    const patch = new Uint8Array(4 * KiB).fill(0xee);
    ahead.write(1536 * KiB, patch);
    disk.write(1536 * KiB, patch);
    // Read on through the stream into the written range (as a file system re-reading a block).
    let got: Uint8Array = new Uint8Array(0);
    for (let at = 768 * KiB; at <= 1536 * KiB; at += 64 * KiB) got = await read(ahead, at, 64 * KiB);
    expect([...got.subarray(0, 4 * KiB)]).toEqual([...patch]);
  });

  it("windows stop at the end of the disk, and the last bytes read right", async () => {
    const size = 3 * MiB + 5 * 512;
    const disk = pageDisk(size);
    const ahead = new DiskReadAhead(size, disk.fetch, 2 * MiB);
    for (let at = 0; at < size; at += 64 * KiB) {
      const length = Math.min(64 * KiB, size - at);
      expect(same(await read(ahead, at, length), disk.bytes.subarray(at, at + length)), `at ${at}`).toBe(true);
    }
    expect(disk.requests.every(([start, length]) => start + length <= size)).toBe(true);
  });

  it("windows are filled into the same few buffers again, never into one a window still uses", async () => {
    const size = 64 * MiB;
    const disk = pageDisk(size);
    const buffers = new Set<ArrayBufferLike>();
    // The answer put into the buffer given, as a store's readInto does, and late: a buffer filled
    // again while a window still used it would show in the bytes read.
    const fetch = async (start: number, length: number, into?: Uint8Array): Promise<Uint8Array> => {
      const answer = await disk.fetch(start, length);
      if (into === undefined) return answer;
      buffers.add(into.buffer);
      await new Promise<void>((resolve) => host.setTimeout(resolve, 0));
      into.set(answer);
      return into;
    };
    const ahead = new DiskReadAhead(size, fetch, 1 * MiB);
    let seed = 1;
    const rand = (n: number): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
    // Forty streams from random places, of 1 to 24 reads each (each leaves its windows behind,
    // some on their way), and writes now and then just ahead of the reader.
    for (let stream = 0; stream < 40; stream++) {
      let at = rand(size / (128 * KiB) - 32) * 128 * KiB;
      for (let r = 1 + rand(24); r > 0; r--, at += 128 * KiB) {
        if (rand(8) === 0) {
          const data = Uint8Array.from({ length: 4 * KiB }, () => rand(256));
          const where = at + rand(1 * MiB);
          ahead.write(where, data);
          disk.write(where, data);
        }
        expect(same(await read(ahead, at, 128 * KiB), disk.bytes.subarray(at, at + 128 * KiB)), `stream ${stream} at ${at}`).toBe(true);
      }
    }
    expect(disk.requests.filter(([, length]) => length === 1 * MiB).length).toBeGreaterThan(30);
    // A long stream: 32 windows, and the buffers of the one in use and the next (and one spare) filled again and again.
    buffers.clear();
    for (let at = 16 * MiB; at < 48 * MiB; at += 128 * KiB) expect(same(await read(ahead, at, 128 * KiB), disk.bytes.subarray(at, at + 128 * KiB)), `at ${at}`).toBe(true);
    expect(buffers.size).toBeLessThanOrEqual(3);
  });
});
