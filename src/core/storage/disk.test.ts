import "fake-indexeddb/auto";
import { describe, expect, it, vi } from "vitest";
import { ManualClock } from "../clock.ts";
import { AppError } from "../errors.ts";
import { host } from "../host.ts";
import { countingStore } from "../testing/countingStore.ts";
import { DiskStore, FLUSH_NOW_BYTES, MAX_PENDING_BYTES, PAGE_SIZE, POOL_IDLE_MS, READ_AHEAD_PAGES, RETRY_FIRST_MS, RETRY_MAX_MS, RUN_PAGES, WRITE_BACK_DELAY_MS, type BlockSource, openDiskDatabase, readPlanned } from "./disk.ts";
import { PageCache } from "./pageCache.ts";
import { ByteParts, memoryStore, type KeyValueStore } from "./kv.ts";
import { sameBytes } from "../testing/bytes.ts";

const MiB = 1024 * 1024;

function baseImage(size: number): BlockSource & { bytes: Uint8Array } {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 13) & 0xff;
  return { bytes, size, read: async (offset, length) => bytes.slice(offset, offset + length) };
}

const v86Get = (disk: { get(s: number, l: number, cb: (d: Uint8Array) => void): void }, start: number, length: number) =>
  new Promise<Uint8Array>((resolve) => disk.get(start, length, resolve));
const v86Set = (disk: { set(s: number, d: Uint8Array, cb: () => void): void }, start: number, data: Uint8Array) =>
  new Promise<void>((resolve) => disk.set(start, data, resolve));

// As the app opens its disks' store: pages kept as Blobs.
function setup(kv: KeyValueStore = openDiskDatabase(`disks-${Math.random()}`)) {
  return { kv, disks: new DiskStore(kv), clock: new ManualClock() };
}

describe("OverlayDisk", () => {
  it("reads the base until written, writes copy-on-write, and never touches the base", async () => {
    const { disks, clock } = setup();
    const base = baseImage(2 * MiB);
    const original = base.bytes.slice();
    const disk = await disks.open("d1", { size: base.size, base, clock });
    let loaded = false;
    disk.onload = () => (loaded = true);
    disk.load();
    expect(loaded).toBe(true);
    expect(disk.byteLength).toBe(2 * MiB);
    expect(await v86Get(disk, 1000, 600)).toEqual(original.slice(1000, 1600));
    // v86 reads the boot sector with get_and_cache, then synchronously with get_from_cache.
    expect(disk.get_from_cache(0, 512)).toBeUndefined();
    await new Promise((resolve) => disk.get_and_cache(0, 512, resolve));
    expect(disk.get_from_cache(0, 512)).toEqual(original.slice(0, 512));

    const data = new Uint8Array(3000).fill(0xab);
    await v86Set(disk, PAGE_SIZE - 1000, data); // spans two pages
    expect(await disk.read(PAGE_SIZE - 1500, 4000)).toEqual(
      Uint8Array.from([...original.slice(PAGE_SIZE - 1500, PAGE_SIZE - 1000), ...data, ...original.slice(PAGE_SIZE + 2000, PAGE_SIZE + 2500)]),
    );
    expect(sameBytes(base.bytes, original)).toBe(true);
    expect(disk.saveState.unsavedPages).toBe(2);
  });

  it("writes back in one batch after a short delay and survives closing and reopening", async () => {
    const { kv, disks, clock } = setup();
    const disk = await disks.open("data", { size: 4 * MiB, clock });
    await disk.write(5 * PAGE_SIZE + 7, Uint8Array.from([1, 2, 3]));
    await disk.write(9 * PAGE_SIZE, new Uint8Array(PAGE_SIZE).fill(9));
    expect(await kv.keys()).toEqual([]);
    clock.advance(WRITE_BACK_DELAY_MS);
    await disk.flush(); // waits for the batch the timer started
    expect((await kv.keys()).sort()).toEqual(["disk:data", "page:data:5", "page:data:9"]);
    expect(disk.saveState).toMatchObject({ unsavedPages: 0, saving: false, error: undefined });
    disk.dispose();

    const again = await new DiskStore(kv).open("data", { size: 4 * MiB, clock });
    expect(await again.read(5 * PAGE_SIZE + 6, 5)).toEqual(Uint8Array.from([0, 1, 2, 3, 0]));
    expect(await again.read(9 * PAGE_SIZE + PAGE_SIZE - 1, 2)).toEqual(Uint8Array.from([9, 0]));
    expect(await disks.hasOverlay("data")).toBe(true);
  });

  it("keeps data in memory and reports a typed error when the quota is full, then saves on retry", async () => {
    const { kv, disks, clock } = setup();
    let full = true;
    const flaky: KeyValueStore = {
      ...kv,
      setMany: (entries) => (full ? Promise.reject(new AppError("storage-full", "full")) : kv.setMany(entries)),
    };
    const disk = await new DiskStore(flaky).open("data", { size: MiB, clock });
    const errors: string[] = [];
    disk.onWriteBackError((e) => errors.push(e.code));
    await disk.write(0, Uint8Array.from([42]));
    await expect(disk.flush()).rejects.toMatchObject({ code: "storage-full" });
    expect(errors).toEqual(["storage-full"]);
    expect(disk.saveState.error?.code).toBe("storage-full");
    expect(await disk.read(0, 1)).toEqual(Uint8Array.from([42]));
    full = false;
    await disk.flush();
    expect(disk.saveState).toMatchObject({ unsavedPages: 0, error: undefined });
    expect(await (await disks.open("data", { size: MiB, clock })).read(0, 1)).toEqual(Uint8Array.from([42]));
  });

  it("tries a failed write-back again by itself after RETRY_FIRST_MS, then twice as long, though the guest writes nothing more", async () => {
    const { kv, disks, clock } = setup();
    let refusals = 2;
    const tries: number[] = [];
    const flaky: KeyValueStore = {
      ...kv,
      setMany: (entries) => {
        tries.push(clock.now());
        if (refusals === 0) return kv.setMany(entries);
        refusals--;
        return Promise.reject(new AppError("storage-failed", "the browser refused the write for now"));
      },
    };
    const disk = await new DiskStore(flaky).open("data", { size: MiB, clock });
    await disk.write(3 * PAGE_SIZE, Uint8Array.from([7, 7]));
    const start = clock.now();
    clock.advance(WRITE_BACK_DELAY_MS);
    await vi.waitFor(() => expect(disk.saveState.error?.code).toBe("storage-failed"));
    // The last write was the guest's: nothing but the retry can save the page now.
    clock.advance(RETRY_FIRST_MS - 1);
    expect(tries).toHaveLength(1);
    clock.advance(1);
    await vi.waitFor(() => expect(tries).toHaveLength(2));
    await vi.waitFor(() => expect(disk.saveState.error).toBeDefined());
    // Refused again: the next try waits twice as long.
    clock.advance(2 * RETRY_FIRST_MS - 1);
    expect(tries).toHaveLength(2);
    clock.advance(1);
    await vi.waitFor(() => expect(disk.saveState).toMatchObject({ unsavedPages: 0, error: undefined }));
    expect(tries.map((t) => t - start)).toEqual([WRITE_BACK_DELAY_MS, WRITE_BACK_DELAY_MS + RETRY_FIRST_MS, WRITE_BACK_DELAY_MS + 3 * RETRY_FIRST_MS]);
    disk.dispose();
    const again = await disks.open("data", { size: MiB, clock });
    expect(await again.read(3 * PAGE_SIZE, 3)).toEqual(Uint8Array.from([7, 7, 0]));
  });

  it("under a storage that keeps refusing, keeps the pages and tries again, twice as long after each failure up to RETRY_MAX_MS, until disposed", async () => {
    const { kv, clock } = setup();
    const tries: number[] = [];
    const full: KeyValueStore = {
      ...kv,
      setMany: () => {
        tries.push(clock.now());
        return Promise.reject(new AppError("storage-full", "full"));
      },
    };
    const disk = await new DiskStore(full).open("data", { size: MiB, clock });
    await disk.write(0, Uint8Array.from([1]));
    const settle = (): Promise<void> => new Promise((resolve) => host.setTimeout(resolve, 0));
    clock.advance(WRITE_BACK_DELAY_MS);
    await settle();
    // Five minutes of the guest writing nothing more, a second at a time.
    for (let t = 0; t < 5 * 60_000; t += RETRY_FIRST_MS) {
      clock.advance(RETRY_FIRST_MS);
      await settle();
    }
    const gaps = tries.slice(1).map((t, i) => t - tries[i]!);
    const doubling = [RETRY_FIRST_MS, 2 * RETRY_FIRST_MS, 4 * RETRY_FIRST_MS, 8 * RETRY_FIRST_MS, 16 * RETRY_FIRST_MS];
    expect(gaps.slice(0, doubling.length)).toEqual(doubling);
    expect(gaps.slice(doubling.length).every((g) => g === RETRY_MAX_MS)).toBe(true);
    expect(gaps.length).toBeGreaterThan(doubling.length + 3);
    expect(disk.saveState).toMatchObject({ unsavedPages: 1, error: { code: "storage-full" } });
    expect(await disk.read(0, 1)).toEqual(Uint8Array.from([1]));
    const triesBefore = tries.length;
    disk.dispose();
    clock.advance(10 * RETRY_MAX_MS);
    await settle();
    expect(tries).toHaveLength(triesBefore);
  });

  it("in read-only mode (another tab owns the disk) never writes to storage", async () => {
    const { kv, disks, clock } = setup();
    const disk = await disks.open("data", { size: MiB, clock, readOnly: true });
    await disk.write(0, Uint8Array.from([1]));
    clock.advance(10 * WRITE_BACK_DELAY_MS);
    await disk.flush();
    expect(await kv.keys()).toEqual([]);
    expect(disk.saveState).toMatchObject({ readOnly: true, unsavedPages: 1 });
    expect(await disk.read(0, 1)).toEqual(Uint8Array.from([1]));
  });

  it("drop() resets the disk to its base; orphan pages are collected", async () => {
    const { kv, disks, clock } = setup();
    const base = baseImage(MiB);
    const disk = await disks.open("d", { size: MiB, base, clock });
    await disk.write(0, new Uint8Array(10));
    await disk.flush();
    await kv.set("page:gone:3", new Uint8Array(PAGE_SIZE)); // left by an interrupted drop
    await disks.drop("d");
    expect(await kv.keys()).toEqual([]);
    const fresh = await disks.open("d", { size: MiB, base, clock });
    expect(await fresh.read(0, 10)).toEqual(base.bytes.slice(0, 10));
  });

  it("a write-back waits for a collection in progress, so the collection cannot delete what it writes", async () => {
    const inner = openDiskDatabase(`disks-${Math.random()}`);
    // The collection's read of the indexes answers only when let go: the disk as it was then.
    let letGo = (): void => undefined;
    const held = new Promise<void>((resolve) => (letGo = resolve));
    let hold = false;
    let asked = false;
    const getMany = <T>(keys: readonly string[]): Promise<(T | undefined)[]> => {
      if (!hold) return inner.getMany<T>(keys);
      asked = true;
      return inner.getMany<T>(keys).then(async (values) => (await held, values));
    };
    const { disks, clock } = setup({ ...inner, getMany });
    const disk = await disks.open("d", { size: MiB, clock });
    await disk.write(5 * PAGE_SIZE, Uint8Array.from([5]));
    await disk.flush();
    // A record left by a write-back cut off: no index names page 0 yet.
    await inner.set("page:d:0", new Uint8Array(PAGE_SIZE).fill(0xee));
    hold = true;
    const collected = disks.collectGarbage();
    await vi.waitFor(() => expect(asked).toBe(true));
    hold = false;
    // The guest writes page 0: its write-back writes page:d:0 and an index naming it, which the
    // collection, holding the index from before, would take for the record left behind.
    await disk.write(0, Uint8Array.from([1, 2, 3]));
    let flushed = false;
    const flushing = disk.flush().then(() => (flushed = true));
    for (let i = 0; i < 5; i++) await inner.keys(); // a few of IndexedDB's turns
    expect(flushed).toBe(false);
    letGo();
    expect(await collected).toEqual({ deletedPages: 1 });
    await flushing;
    disk.dispose();
    const again = await new DiskStore(inner, new PageCache(0)).open("d", { size: MiB, clock });
    expect(await again.read(0, 4)).toEqual(Uint8Array.from([1, 2, 3, 0]));
    expect(await again.read(5 * PAGE_SIZE, 1)).toEqual(Uint8Array.from([5]));
  });

  it("exports base + overlay in order, piece by piece", async () => {
    const { disks, clock } = setup();
    const base = baseImage(MiB + 100);
    const disk = await disks.open("d", { size: base.size, base, clock });
    await disk.write(MiB, Uint8Array.from([7, 7]));
    const parts: Uint8Array[] = [];
    for await (const part of disk.chunks(300_000)) parts.push(part);
    expect(parts.map((p) => p.length)).toEqual([300_000, 300_000, 300_000, MiB + 100 - 900_000]);
    const merged = new Uint8Array(base.size);
    parts.reduce((offset, p) => (merged.set(p, offset), offset + p.length), 0);
    const expected = base.bytes.slice();
    expected.set([7, 7], MiB);
    expect(sameBytes(merged, expected)).toBe(true);
  });

  it("refuses access outside the disk and a base of the wrong size", async () => {
    const { disks, clock } = setup();
    const disk = await disks.open("d", { size: MiB, clock });
    await expect(disk.read(MiB - 1, 2)).rejects.toMatchObject({ code: "storage-failed" });
    await expect(disks.open("e", { size: MiB, base: baseImage(10), clock })).rejects.toMatchObject({ code: "bad-image" });
  });

  it("exports every written page (saved or not) and replaces an overlay with a snapshot's pages in one go", async () => {
    const kv = memoryStore();
    const store = new DiskStore(kv);
    const clock = new ManualClock();
    const disk = await store.open("m:hda", { size: 1 << 20, clock });
    await disk.write(0, new Uint8Array(10).fill(1));
    await disk.flush();
    await disk.write(3 * PAGE_SIZE + 5, new Uint8Array(3).fill(7)); // not yet saved
    const exported = await disk.exportOverlay();
    expect(exported.pages).toEqual([0, 3]);
    expect(exported.data[0]).toBe(1);
    expect(exported.data[PAGE_SIZE + 5]).toBe(7);
    // Writes after the export do not change what was exported.
    await disk.write(0, new Uint8Array(1).fill(9));
    expect(exported.data[0]).toBe(1);
    await disk.flush();
    disk.dispose();

    // A snapshot's pages: page 3 only, different bytes. Page 0 goes (the base's zeros again).
    const data = new Uint8Array(PAGE_SIZE).fill(4);
    await store.replaceOverlay("m:hda", 1 << 20, { pages: [3], read: async () => data });
    const reopened = await store.open("m:hda", { size: 1 << 20, clock });
    expect([...(await reopened.read(0, 2))]).toEqual([0, 0]);
    expect([...(await reopened.read(3 * PAGE_SIZE, 2))]).toEqual([4, 4]);
    // Page 3's record of its own, kept in a new run; the old records collected.
    expect((await kv.keys()).filter((k) => k.startsWith("page:") || k.startsWith("run:"))).toEqual([expect.stringMatching(/^run:m:hda:\d+$/)]);
    reopened.dispose();
  });

  it("restores a snapshot's overlay a batch at a time; cut off midway, the old overlay is whole and the new records are collected", async () => {
    const kv = openDiskDatabase(`disks-${Math.random()}`);
    const store = new DiskStore(kv);
    const clock = new ManualClock();
    const pattern = (page: number, seed: number): Uint8Array => Uint8Array.from({ length: PAGE_SIZE }, (_, i) => (i * 3 + page * 11 + seed) & 0xff);
    const disk = await store.open("m:hda", { size: 512 * PAGE_SIZE, clock });
    for (let p = 0; p < 6; p++) await disk.write(p * PAGE_SIZE, pattern(p, 1));
    await disk.flush();
    disk.dispose();
    const recordsBefore = (await kv.keys()).sort();
    // 150 pages (three batches), every other page of the disk.
    const pages = Array.from({ length: 150 }, (_, i) => i * 2 + 1);
    const source = (failAt?: number) => ({
      pages,
      read: async (first: number, count: number) => {
        if (failAt !== undefined && first >= failAt) throw new Error("the file ended");
        const out = new Uint8Array(count * PAGE_SIZE);
        for (let i = 0; i < count; i++) out.set(pattern(pages[first + i]!, 2), i * PAGE_SIZE);
        return out;
      },
    });
    await expect(store.replaceOverlay("m:hda", 512 * PAGE_SIZE, source(64))).rejects.toThrow("the file ended");
    const old = await store.open("m:hda", { size: 512 * PAGE_SIZE, clock });
    for (let p = 0; p < 6; p++) expect(sameBytes(await old.read(p * PAGE_SIZE, PAGE_SIZE), pattern(p, 1))).toBe(true);
    old.dispose();
    expect(await store.collectGarbage()).toEqual({ deletedPages: 16 });
    expect((await kv.keys()).sort()).toEqual(recordsBefore);

    await store.replaceOverlay("m:hda", 512 * PAGE_SIZE, source());
    const restored = await store.open("m:hda", { size: 512 * PAGE_SIZE, clock });
    const all = await restored.read(0, 301 * PAGE_SIZE);
    for (let p = 0; p < 301; p++) {
      const expected = p % 2 === 1 ? pattern(p, 2) : new Uint8Array(PAGE_SIZE);
      expect(sameBytes(all.subarray(p * PAGE_SIZE, (p + 1) * PAGE_SIZE), expected)).toBe(true);
    }
    // A page written after the restore moves out of its run; the others still read.
    await restored.write(3 * PAGE_SIZE, pattern(3, 9));
    await restored.flush();
    expect(sameBytes(await restored.read(PAGE_SIZE, 3 * PAGE_SIZE), Uint8Array.from([...pattern(1, 2), ...new Uint8Array(PAGE_SIZE), ...pattern(3, 9)]))).toBe(true);
    restored.dispose();
    expect((await kv.keys()).filter((k) => k.startsWith("page:"))).toEqual(["page:m:hda:3"]);
  });

  it("keeps memory within the cache: drops saved pages only, and a dropped page reads back byte for byte", async () => {
    const kv = openDiskDatabase(`disks-${Math.random()}`);
    const cache = new PageCache(4 * PAGE_SIZE);
    const disks = new DiskStore(kv, cache);
    const clock = new ManualClock();
    const disk = await disks.open("big", { size: 64 * PAGE_SIZE, clock });
    const pattern = (page: number): Uint8Array => Uint8Array.from({ length: PAGE_SIZE }, (_, i) => (i * 7 + page * 31) & 0xff);
    for (let p = 0; p < 12; p++) await disk.write(p * PAGE_SIZE, pattern(p));
    // Nothing saved yet: all twelve pending pages stay, whatever the budget.
    expect(disk.saveState.unsavedPages).toBe(12);
    expect(cache.size).toBe(0);
    await disk.flush();
    expect(disk.saveState.unsavedPages).toBe(0);
    // Pages written whole (a file streamed to the disk) leave memory once saved.
    expect(cache.size).toBe(0);
    // Reading everything back goes through the cache (and IndexedDB), never past the budget.
    const all = await disk.read(0, 12 * PAGE_SIZE);
    for (let p = 0; p < 12; p++) expect(sameBytes(all.subarray(p * PAGE_SIZE, (p + 1) * PAGE_SIZE), pattern(p))).toBe(true);
    expect(cache.size).toBe(4 * PAGE_SIZE);
    // A partial write to a dropped page merges with its saved bytes.
    await disk.write(PAGE_SIZE + 10, Uint8Array.from([1, 2, 3]));
    const expected = pattern(1);
    expected.set([1, 2, 3], 10);
    expect(sameBytes(await disk.read(PAGE_SIZE, PAGE_SIZE), expected)).toBe(true);
    // Snapshots and exports still see every page.
    const exported = await disk.exportOverlay();
    expect(exported.pages).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(sameBytes(exported.data.subarray(PAGE_SIZE, 2 * PAGE_SIZE), expected)).toBe(true);
    expect(sameBytes(exported.data.subarray(11 * PAGE_SIZE), pattern(11))).toBe(true);
    disk.dispose();
    expect(cache.size).toBe(0);
  });

  it("exports pages a run at a time: unsaved ones as they were at the call, saved ones read from storage only when asked for", async () => {
    const kv = openDiskDatabase(`disks-${Math.random()}`);
    const cache = new PageCache(2 * PAGE_SIZE);
    const disks = new DiskStore(kv, cache);
    const clock = new ManualClock();
    const disk = await disks.open("big", { size: 64 * PAGE_SIZE, clock });
    const pattern = (page: number): Uint8Array => Uint8Array.from({ length: PAGE_SIZE }, (_, i) => (i * 5 + page * 17) & 0xff);
    for (let p = 0; p < 10; p++) await disk.write(p * PAGE_SIZE, pattern(p));
    await disk.flush();
    disk.dispose();
    const reads: string[] = [];
    const counting = new DiskStore({ ...kv, readInto: (slices, target) => (reads.push(slices.map((s) => s.key).join(",")), kv.readInto(slices, target)) }, cache);
    const again = await counting.open("big", { size: 64 * PAGE_SIZE, clock });
    await again.write(20 * PAGE_SIZE + 3, Uint8Array.from([9, 9])); // not yet saved
    const exported = again.exportPages();
    expect(exported.pages).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 20]);
    // The unsaved page was copied at the call: a later write is not in it.
    await again.write(20 * PAGE_SIZE + 3, Uint8Array.from([1]));
    expect(reads).toEqual([]);
    const part = await exported.read(3, 4);
    expect(reads).toHaveLength(1);
    for (let i = 0; i < 4; i++) expect(sameBytes(part.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE), pattern(3 + i))).toBe(true);
    const tail = await exported.read(9, 2);
    expect(sameBytes(tail.subarray(0, PAGE_SIZE), pattern(9))).toBe(true);
    expect([...tail.subarray(PAGE_SIZE, PAGE_SIZE + 6)]).toEqual([0, 0, 0, 9, 9, 0]);
    expect(sameBytes((await again.exportOverlay()).data.subarray(0, 10 * PAGE_SIZE), (await exported.read(0, 10)))).toBe(true);
    exported.dispose();
    again.dispose();
  });

  it("exports the disk as it was at the call while the guest writes on: no record it reads is rewritten, deleted or collected until it is done", async () => {
    const kv = openDiskDatabase(`disks-${Math.random()}`);
    // A collection begins by listing the store's keys.
    let listed = 0;
    const disks = new DiskStore({ ...kv, keys: () => (listed++, kv.keys()) }, new PageCache(64 * PAGE_SIZE));
    const clock = new ManualClock();
    const disk = await disks.open("d", { size: 64 * PAGE_SIZE, clock });
    const fill = (page: number, value: number): Uint8Array => new Uint8Array(PAGE_SIZE).fill(value + page);
    // Page 0 in part (a record of its own), pages 1-4 whole (a run), page 9 in part.
    await disk.write(100, Uint8Array.from([1, 2, 3]));
    for (let p = 1; p <= 4; p++) await disk.write(p * PAGE_SIZE, fill(p, 10));
    await disk.write(9 * PAGE_SIZE, Uint8Array.from([9]));
    await disk.flush();
    const before = (await disk.exportOverlay()).data;
    const keysBefore = (await kv.keys()).filter((k) => !k.startsWith("disk:")).sort();
    expect(keysBefore).toEqual(["page:d:0", "page:d:9", "run:d:1"]);

    const exported = disk.exportPages();
    // The guest writes on: page 0 in part again, page 2 out of its run, page 9 whole, a new page 20.
    await disk.write(101, Uint8Array.from([7]));
    await disk.write(2 * PAGE_SIZE, fill(2, 50));
    await disk.write(9 * PAGE_SIZE, fill(9, 50));
    await disk.write(20 * PAGE_SIZE + 5, Uint8Array.from([5]));
    await disk.flush();
    // Every page went to a new run of its own; the old records are all still there, collected or not.
    expect((await kv.keys()).filter((k) => k.startsWith("page:"))).toEqual(expect.arrayContaining(["page:d:0", "page:d:9"]));
    const collected = disks.collectGarbage();
    expect(exported.pages).toEqual([0, 1, 2, 3, 4, 9]);
    expect(sameBytes(await exported.read(0, 6), before)).toBe(true);
    const now = await disk.read(0, 21 * PAGE_SIZE);
    expect([...now.subarray(100, 103)]).toEqual([1, 7, 3]);
    expect(now[2 * PAGE_SIZE]).toBe(52);
    expect(now[9 * PAGE_SIZE + 1]).toBe(59);
    // The collection has not begun.
    expect(listed).toBe(0);

    // Done: the records the guest's writes freed go, and the collection that waited runs.
    exported.dispose();
    await collected;
    expect(listed).toBe(1);
    await vi.waitFor(async () => expect((await kv.keys()).filter((k) => k.startsWith("page:"))).toEqual([]));
    const left = (await kv.keys()).filter((k) => k.startsWith("run:")).sort();
    // The first run (pages 1, 3, 4 still in it) and one run per page written during the export.
    expect(left).toHaveLength(5);
    expect(left).toContain("run:d:1");
    disk.dispose();
    const reopened = await new DiskStore(kv).open("d", { size: 64 * PAGE_SIZE, clock });
    expect(sameBytes(await reopened.read(0, 21 * PAGE_SIZE), now)).toBe(true);
    // Written after the export, page 0 is a record of its own again.
    await reopened.write(100, Uint8Array.from([4]));
    await reopened.flush();
    expect(await kv.keys()).toContain("page:d:0");
    reopened.dispose();
  });

  it("keeps a page written in part in the cache once saved, and not one written whole", async () => {
    const kv = openDiskDatabase(`disks-${Math.random()}`);
    let reads = 0;
    const counted = countingStore(kv, () => reads++);
    const cache = new PageCache(8 * PAGE_SIZE);
    const disk = await new DiskStore(counted, cache).open("s", { size: 16 * PAGE_SIZE, clock: new ManualClock() });
    // Page 1 as a file system's bitmap is written: 4 KiB at a time. Pages 2 and 3 as a file's data: whole.
    await disk.write(PAGE_SIZE + 4096, new Uint8Array(4096).fill(7));
    const data = new Uint8Array(2 * PAGE_SIZE).fill(9);
    await disk.write(2 * PAGE_SIZE, data);
    // Page 3 written whole and then in part: what counts is the last write.
    await disk.write(3 * PAGE_SIZE + 8, Uint8Array.from([1]));
    await disk.flush();
    expect(cache.size).toBe(2 * PAGE_SIZE);
    reads = 0;
    // Written in part again: merged with the page in memory, no read from storage.
    await disk.write(PAGE_SIZE + 8192, new Uint8Array(4096).fill(8));
    await disk.write(3 * PAGE_SIZE + 9, Uint8Array.from([2]));
    expect(reads).toBe(0);
    // The page written whole reads back from storage, byte for byte.
    expect((await disk.read(2 * PAGE_SIZE, PAGE_SIZE)).every((b) => b === 9)).toBe(true);
    expect(reads).toBe(1);
    disk.dispose();
  });

  it("fills the buffer of a page written whole and saved again with the next page written whole, while the guest goes on writing", async () => {
    const inner = openDiskDatabase(`disks-${Math.random()}`);
    let release: () => void = () => undefined;
    const batches: (readonly (readonly [string, unknown])[])[] = [];
    const kv: KeyValueStore = {
      ...inner,
      setMany: async (entries) => {
        batches.push(entries);
        const stored = inner.setMany(entries);
        await new Promise<void>((resolve) => (release = resolve));
        await stored;
      },
    };
    const disk = await new DiskStore(kv, new PageCache(0)).open("r", { size: 16 * PAGE_SIZE, clock: new ManualClock() });
    const fill = (n: number): Uint8Array => new Uint8Array(PAGE_SIZE).fill(n);
    await disk.write(0, fill(1));
    await disk.write(PAGE_SIZE, fill(2));
    const first = disk.flush();
    // Written while the first batch is saved: the guest goes on.
    await disk.write(2 * PAGE_SIZE, fill(3));
    release();
    await first;
    await disk.write(3 * PAGE_SIZE, fill(4));
    const second = disk.flush();
    release();
    await second;
    // Pages written whole and side by side are saved as one run record, made of the pages themselves.
    const buffers = (batch: readonly (readonly [string, unknown])[]): ArrayBufferLike[] =>
      batch.flatMap(([, v]) => (v instanceof ByteParts ? v.parts.map((part) => part.buffer) : v instanceof Uint8Array ? [v.buffer] : []));
    // Page 3 went into the buffer of page 0 or 1, saved in the first batch.
    expect(buffers(batches[0] ?? [])).toContain(buffers(batches[1] ?? [])[1]);
    // What storage has is unchanged by that, and every page reads back right.
    for (let p = 0; p < 4; p++) expect((await disk.read(p * PAGE_SIZE, PAGE_SIZE)).every((b) => b === p + 1), `page ${p}`).toBe(true);
    const there = await inner.get<Uint8Array>("run:r:1");
    expect(there?.length).toBe(2 * PAGE_SIZE);
    expect(there?.subarray(0, PAGE_SIZE).every((b) => b === 1) && there?.subarray(PAGE_SIZE).every((b) => b === 2)).toBe(true);
    disk.dispose();
  });

  it("keeps the buffers of saved pages while the guest goes on writing, though the write-back caught up, and lets them go once it stopped", async () => {
    const inner = openDiskDatabase(`disks-${Math.random()}`);
    const batches: (readonly (readonly [string, unknown])[])[] = [];
    const kv: KeyValueStore = { ...inner, setMany: (entries) => (batches.push(entries), inner.setMany(entries)) };
    const clock = new ManualClock();
    const disk = await new DiskStore(kv, new PageCache(0)).open("p", { size: 16 * PAGE_SIZE, clock });
    const fill = (n: number): Uint8Array => new Uint8Array(PAGE_SIZE).fill(n);
    const buffers = (batch: readonly (readonly [string, unknown])[] | undefined): ArrayBufferLike[] =>
      (batch ?? []).flatMap(([, v]) => (v instanceof ByteParts ? v.parts.map((part) => part.buffer) : v instanceof Uint8Array ? [v.buffer] : []));
    await disk.write(0, fill(1));
    await disk.write(PAGE_SIZE, fill(2));
    await disk.flush();
    expect(disk.saveState.unsavedPages).toBe(0);
    // The guest writes on soon after: its next page fills a buffer of the first batch.
    clock.advance(POOL_IDLE_MS / 2);
    await disk.write(2 * PAGE_SIZE, fill(3));
    await disk.flush();
    expect(buffers(batches[0])).toContain(buffers(batches[1])[0]);
    // Then it writes nothing for a while: the buffers are let go, the next page has one of its own.
    clock.advance(2 * POOL_IDLE_MS);
    await disk.write(3 * PAGE_SIZE, fill(4));
    await disk.flush();
    const last = buffers(batches[2])[0];
    expect(last).toBeDefined();
    expect([...buffers(batches[0]), ...buffers(batches[1])]).not.toContain(last);
    for (let p = 0; p < 4; p++) expect((await disk.read(p * PAGE_SIZE, PAGE_SIZE)).every((b) => b === p + 1), `page ${p}`).toBe(true);
    disk.dispose();
  });

  it("does not fill again a saved page's buffer that a read in progress took while it was unsaved", async () => {
    const inner = openDiskDatabase(`disks-${Math.random()}`);
    let hold: Promise<void> = Promise.resolve();
    const kv: KeyValueStore = { ...inner, readInto: async (slices, target) => (await hold, inner.readInto(slices, target)) };
    const disk = await new DiskStore(kv, new PageCache(0)).open("h", { size: 16 * PAGE_SIZE, clock: new ManualClock() });
    const fill = (n: number): Uint8Array => new Uint8Array(PAGE_SIZE).fill(n);
    await disk.write(PAGE_SIZE, fill(2));
    await disk.flush();
    await disk.write(0, fill(1));
    // The read takes page 0 (unsaved) and waits for page 1 from storage.
    let release: () => void = () => undefined;
    hold = new Promise<void>((resolve) => (release = resolve));
    const reading = disk.read(0, 2 * PAGE_SIZE);
    // Meanwhile page 0 is saved while the guest goes on writing, and more pages are written whole.
    await disk.write(2 * PAGE_SIZE, fill(3));
    const saving = disk.flush();
    await disk.write(3 * PAGE_SIZE, fill(4));
    await saving;
    await disk.write(4 * PAGE_SIZE, fill(5));
    await disk.write(5 * PAGE_SIZE, fill(6));
    release();
    const got = await reading;
    expect(got.subarray(0, PAGE_SIZE).every((b) => b === 1)).toBe(true);
    expect(got.subarray(PAGE_SIZE).every((b) => b === 2)).toBe(true);
    disk.dispose();
  });

  it("under a full quota keeps every pending page while the cache drops saved ones", async () => {
    const base = openDiskDatabase(`disks-${Math.random()}`);
    let full = false;
    const kv: KeyValueStore = { ...base, setMany: (entries) => (full ? Promise.reject(new AppError("storage-full", "full")) : base.setMany(entries)) };
    const cache = new PageCache(2 * PAGE_SIZE);
    const disk = await new DiskStore(kv, cache).open("q", { size: 512 * PAGE_SIZE, clock: new ManualClock() });
    for (let p = 0; p < 6; p++) await disk.write(p * PAGE_SIZE, new Uint8Array(PAGE_SIZE).fill(p + 1));
    await disk.flush();
    full = true;
    // More than MAX_PENDING_BYTES: writes must neither wait forever nor drop anything.
    const count = MAX_PENDING_BYTES / PAGE_SIZE + 4;
    for (let p = 6; p < 6 + count; p++) await disk.write(p * PAGE_SIZE, Uint8Array.from([p & 0xff, 0xee]));
    await expect(disk.flush()).rejects.toMatchObject({ code: "storage-full" });
    expect(disk.saveState.unsavedPages).toBe(count);
    expect(cache.size).toBeLessThanOrEqual(2 * PAGE_SIZE);
    for (let p = 0; p < 6 + count; p++) {
      const bytes = await disk.read(p * PAGE_SIZE, 2);
      expect([...bytes]).toEqual(p < 6 ? [p + 1, p + 1] : [p & 0xff, 0xee]);
    }
    full = false;
    await disk.flush();
    expect(disk.saveState).toMatchObject({ unsavedPages: 0, error: undefined });
  });

  it("reads saved pages in runs: right bytes at page edges, across saved and base pages, and up to the end", async () => {
    const inner = openDiskDatabase(`disks-${Math.random()}`);
    const requests: number[] = [];
    const kv = countingStore(inner, (pages) => requests.push(pages));
    const base = baseImage(40 * PAGE_SIZE + 1000); // a last page shorter than PAGE_SIZE
    const writer = await new DiskStore(inner).open("r", { size: base.size, base, clock: new ManualClock() });
    const expected = base.bytes.slice();
    for (const p of [0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 40]) {
      const data = Uint8Array.from({ length: 500 }, (_, i) => (p + i) & 0xff);
      const at = p * PAGE_SIZE + 200;
      await writer.write(at, data);
      expected.set(data, at);
    }
    await writer.flush();
    writer.dispose();
    const disk = await new DiskStore(kv, new PageCache()).open("r", { size: base.size, base, clock: new ManualClock() });
    requests.length = 0;
    // A read across a page edge, a saved page, a base page (4) and more saved pages: one run.
    const edge = await disk.read(PAGE_SIZE - 10, 5 * PAGE_SIZE + 20);
    expect(sameBytes(edge, expected.slice(PAGE_SIZE - 10, 6 * PAGE_SIZE + 10))).toBe(true);
    expect(requests).toEqual([6]);
    // Sequential reads from there on are served ahead, in few requests.
    requests.length = 0;
    for (let at = 6 * PAGE_SIZE + 10; at < 21 * PAGE_SIZE; at += 16384) {
      const length = Math.min(16384, 21 * PAGE_SIZE - at);
      expect(sameBytes(await disk.read(at, length), expected.slice(at, at + length))).toBe(true);
    }
    expect(requests.length).toBeLessThanOrEqual(4);
    // The last, short page; and nothing past the end.
    expect(sameBytes(await disk.read(base.size - 5000, 5000), expected.slice(base.size - 5000))).toBe(true);
    await expect(disk.read(base.size - 10, 11)).rejects.toMatchObject({ code: "storage-failed" });
    expect((await disk.read(base.size, 0)).length).toBe(0);
    // Random single reads fetch one page each, no read-ahead.
    const fresh = await new DiskStore(kv, new PageCache()).open("r", { size: base.size, base, clock: new ManualClock() });
    requests.length = 0;
    for (const p of [17, 3, 12, 8]) expect(sameBytes(await fresh.read(p * PAGE_SIZE + 100, 4096), expected.slice(p * PAGE_SIZE + 100, p * PAGE_SIZE + 4196))).toBe(true);
    expect(requests).toEqual([1, 1, 1, 1]);
  });

  it("reads ahead of a long sequential reader in large runs, and every byte comes back right", async () => {
    const inner = memoryStore();
    const runs: number[] = [];
    const kv = countingStore(inner, (pages) => runs.push(pages));
    const pages = 3 * READ_AHEAD_PAGES + 7;
    const whole = new Uint8Array(pages * PAGE_SIZE);
    for (let i = 0; i < whole.length; i++) whole[i] = (i * 3 + (i >>> 16) * 29) & 0xff;
    const writer = await new DiskStore(inner).open("s", { size: pages * PAGE_SIZE, clock: new ManualClock() });
    await writer.write(0, whole);
    await writer.flush();
    writer.dispose();
    const disk = await new DiskStore(kv, new PageCache()).open("s", { size: pages * PAGE_SIZE, clock: new ManualClock() });
    // 128 KiB reads that start mid-page, as a guest's would not: every page edge is crossed.
    const step = 2 * PAGE_SIZE;
    for (let at = 1000; at < pages * PAGE_SIZE; at += step) {
      const length = Math.min(step, pages * PAGE_SIZE - at);
      expect(sameBytes(await disk.read(at, length), whole.subarray(at, at + length))).toBe(true);
    }
    // Each page fetched once, in few requests: past the ramp-up, runs of half the window or more.
    expect(runs.reduce((a, b) => a + b, 0)).toBe(pages);
    expect(runs.length).toBeLessThanOrEqual(12); // 199 pages; the old read-ahead took 50 requests
    expect(Math.max(...runs)).toBeGreaterThanOrEqual(READ_AHEAD_PAGES / 2);
  });

  it("keeps pages written whole and saved together in run records, deletes a run no page is read from, and reopens byte for byte", async () => {
    const { kv, disks, clock } = setup();
    const pages = 40;
    const expected = new Uint8Array(pages * PAGE_SIZE);
    const disk = await disks.open("d", { size: expected.length, clock });
    const write = async (at: number, length: number, seed: number): Promise<void> => {
      const data = Uint8Array.from({ length }, (_, i) => (i * 7 + seed) & 0xff);
      await disk.write(at, data);
      expected.set(data, at);
    };
    const records = async (): Promise<string[]> => (await kv.keys()).filter((k) => k !== "disk:d").sort();
    // RUN_PAGES + 2 pages written whole in one batch: a full run and one of two; page 30 written in part: a record of its own.
    const whole = RUN_PAGES + 2;
    await write(0, whole * PAGE_SIZE, 1);
    await write(30 * PAGE_SIZE + 4096, 4096, 2);
    await disk.flush();
    expect(await records()).toEqual(["page:d:30", "run:d:1", "run:d:2"]);
    expect((await kv.get<Uint8Array>("run:d:1"))?.length).toBe(RUN_PAGES * PAGE_SIZE);
    expect((await kv.get<Uint8Array>("run:d:2"))?.length).toBe(2 * PAGE_SIZE);
    // Page 3 written in part: a record of its own; run 1 still holds the other pages.
    await write(3 * PAGE_SIZE + 100, 50, 3);
    // The last two written whole again: a new run; run 2 is read from no more and goes.
    await write(RUN_PAGES * PAGE_SIZE, 2 * PAGE_SIZE, 4);
    // Pages 30 and 31 written whole: a run; page 30's own record goes.
    await write(30 * PAGE_SIZE, 2 * PAGE_SIZE, 5);
    await disk.flush();
    expect(await records()).toEqual(["page:d:3", "run:d:1", "run:d:3", "run:d:4"]);
    expect(sameBytes(await disk.read(0, expected.length), expected)).toBe(true);
    disk.dispose();
    // Reopened, nothing in memory: every page from where the index says it is.
    const again = await new DiskStore(kv, new PageCache(0)).open("d", { size: expected.length, clock });
    expect(sameBytes(await again.read(0, expected.length), expected)).toBe(true);
    const exported = await again.exportOverlay();
    expect(exported.pages).toEqual([...Array.from({ length: whole }, (_, i) => i), 30, 31]);
    exported.pages.forEach((page, i) => expect(sameBytes(exported.data.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE), expected.subarray(page * PAGE_SIZE, (page + 1) * PAGE_SIZE))).toBe(true));
    // The first run's pages all written again (in part): run 1 goes too.
    for (let p = 0; p < RUN_PAGES; p++) {
      const data = Uint8Array.from([p + 1]);
      await again.write(p * PAGE_SIZE, data);
      expected.set(data, p * PAGE_SIZE);
    }
    await again.flush();
    expect((await records()).filter((k) => k.startsWith("run:"))).toEqual(["run:d:3", "run:d:4"]);
    expect(sameBytes(await again.read(0, expected.length), expected)).toBe(true);
    // A run left by a write-back cut off is collected; the live ones are kept; a drop removes them all.
    await kv.set("run:d:99", new Uint8Array(PAGE_SIZE));
    expect(await disks.collectGarbage()).toEqual({ deletedPages: 1 });
    expect(sameBytes(await again.read(0, expected.length), expected)).toBe(true);
    again.dispose();
    await disks.drop("d");
    expect(await kv.keys()).toEqual([]);
  });

  it("a page written while it loads from storage is read anew afterwards: the load's old bytes are neither cached nor shared", async () => {
    const inner = openDiskDatabase(`disks-${Math.random()}`);
    let hold: Promise<void> | undefined;
    // Storage read at once, the answer held back: the bytes from before the write.
    const kv: KeyValueStore = {
      ...inner,
      readInto: async (slices, target) => {
        const waiting = hold;
        const read = await inner.readInto(slices, target);
        await waiting;
        return read;
      },
    };
    const writer = await new DiskStore(inner).open("l", { size: 8 * PAGE_SIZE, clock: new ManualClock() });
    await writer.write(2 * PAGE_SIZE + 100, new Uint8Array(100).fill(1));
    await writer.write(5 * PAGE_SIZE + 100, new Uint8Array(100).fill(1));
    await writer.flush();
    writer.dispose();
    const disk = await new DiskStore(kv, new PageCache()).open("l", { size: 8 * PAGE_SIZE, clock: new ManualClock() });
    let release: () => void = () => undefined;
    // A read starts loading the page; meanwhile the guest writes the page whole and it is saved.
    const writtenWhileLoading = async (page: number): Promise<{ before: Promise<Uint8Array> }> => {
      hold = new Promise<void>((resolve) => (release = resolve));
      const before = disk.read(page * PAGE_SIZE, PAGE_SIZE);
      hold = undefined;
      await disk.write(page * PAGE_SIZE, new Uint8Array(PAGE_SIZE).fill(7));
      await disk.flush();
      return { before };
    };
    // A read after the write, the old load still on its way: it must not take the old load's bytes.
    const { before: loading } = await writtenWhileLoading(5);
    const after = disk.read(5 * PAGE_SIZE, PAGE_SIZE);
    release();
    await loading;
    expect((await after).every((b) => b === 7)).toBe(true);
    // The old load ends: its bytes must not stay in the cache.
    const { before } = await writtenWhileLoading(2);
    release();
    await before;
    expect((await disk.read(2 * PAGE_SIZE, PAGE_SIZE)).every((b) => b === 7)).toBe(true);
    disk.dispose();
  });

  it("reads a disk saved before run records: an index without places, a record per page", async () => {
    const { kv, disks, clock } = setup();
    const page = Uint8Array.from({ length: PAGE_SIZE }, (_, i) => (i * 5 + 1) & 0xff);
    await kv.setMany([
      ["page:old:2", page],
      ["disk:old", { size: 8 * PAGE_SIZE, pageSize: PAGE_SIZE, pages: [2] }],
    ]);
    const disk = await disks.open("old", { size: 8 * PAGE_SIZE, clock });
    expect(sameBytes(await disk.read(2 * PAGE_SIZE, PAGE_SIZE), page)).toBe(true);
    expect((await disk.read(PAGE_SIZE, PAGE_SIZE)).every((b) => b === 0)).toBe(true);
    // Written whole with its neighbour: now a run, and its old record goes.
    await disk.write(2 * PAGE_SIZE, new Uint8Array(2 * PAGE_SIZE).fill(4));
    await disk.flush();
    expect((await kv.keys()).sort()).toEqual(["disk:old", "run:old:1"]);
    expect((await disk.read(2 * PAGE_SIZE, 2 * PAGE_SIZE)).every((b) => b === 4)).toBe(true);
    disk.dispose();
  });

  it("a blank ext2 disk reads as an empty file system until written; old disks keep zeros", async () => {
    const { kv, disks, clock } = setup();
    const disk = await disks.open("m:hda", { size: 8 * 1024 * 1024, blank: "ext2", clock });
    const superblock = await disk.read(1024, 1024);
    expect(superblock[56]! | (superblock[57]! << 8)).toBe(0xef53);
    await disk.write(4 * PAGE_SIZE, Uint8Array.from([1]));
    await disk.flush();
    disk.dispose();
    // Reopened: the layout comes from the saved index, whatever is asked now.
    const again = await disks.open("m:hda", { size: 8 * 1024 * 1024, clock });
    expect(again.blank).toBe("ext2");
    expect((await again.read(1080, 2)).join()).toBe(`${0x53},${0xef}`);
    // A disk saved before layouts existed (no "blank" in its index) stays zeros underneath.
    await kv.set("disk:old", { size: MiB, pageSize: PAGE_SIZE, pages: [] });
    const old = await disks.open("old", { size: MiB, blank: "ext2", clock });
    expect(old.blank).toBe("zeros");
    expect([...(await old.read(1080, 2))]).toEqual([0, 0]);
  });

  it("pages written while a large write's early flush runs are saved after it, without another write", async () => {
    const inner = memoryStore();
    let release: () => void = () => undefined;
    let calls = 0;
    const kv: KeyValueStore = {
      ...inner,
      setMany: async (entries) => {
        calls++;
        await new Promise<void>((resolve) => (release = resolve));
        await inner.setMany(entries);
      },
    };
    const clock = new ManualClock();
    const disk = await new DiskStore(kv).open("big", { size: 16 * MiB, clock });
    // Enough at once to be saved at once (no timer), then a small write while that batch is saved.
    await disk.write(0, new Uint8Array(FLUSH_NOW_BYTES).fill(1));
    expect(calls).toBe(1);
    await disk.write(FLUSH_NOW_BYTES, Uint8Array.from([2]));
    release();
    await vi.waitFor(() => expect(disk.saveState).toMatchObject({ saving: false, unsavedPages: 1 }));
    // The guest writes nothing more: the write-back timer still takes the last page.
    clock.advance(WRITE_BACK_DELAY_MS);
    expect(calls).toBe(2);
    release();
    await vi.waitFor(() => expect(disk.saveState).toMatchObject({ saving: false, unsavedPages: 0 }));
    expect(((await inner.get<Uint8Array>(`page:big:${FLUSH_NOW_BYTES / PAGE_SIZE}`)) as Uint8Array)[0]).toBe(2);
  });

  it("a write while its page is being saved changes neither what is saved nor loses the new bytes", async () => {
    const inner = memoryStore();
    let release: () => void = () => undefined;
    let held: readonly (readonly [string, unknown])[] = [];
    const kv: KeyValueStore = {
      ...inner,
      setMany: async (entries) => {
        held = entries;
        await new Promise<void>((resolve) => (release = resolve));
        // What IndexedDB would have cloned at put(): read only now.
        await inner.setMany(entries.map(([k, v]) => [k, v instanceof Uint8Array ? v.slice() : v]));
      },
    };
    const disk = await new DiskStore(kv).open("w", { size: MiB, clock: new ManualClock() });
    await disk.write(100, Uint8Array.from([1]));
    const saving = disk.flush();
    await disk.write(100, Uint8Array.from([2]));
    expect((held[0]![1] as Uint8Array)[100]).toBe(1);
    release();
    await saving;
    expect(disk.saveState.unsavedPages).toBe(1);
    const second = disk.flush();
    release();
    await second;
    expect(((await inner.get<Uint8Array>("page:w:0")) as Uint8Array)[100]).toBe(2);
    expect(disk.saveState.unsavedPages).toBe(0);
  });

  it("locate: a reader in another thread gets the bytes held here and reads the saved pages itself, byte for byte", async () => {
    const { kv, clock } = setup();
    // Page reads of this thread counted: the planned ones must not come here.
    let readsHere = 0;
    const counted = countingStore(kv, () => readsHere++);
    const base = baseImage(16 * PAGE_SIZE);
    // No cache: every saved page is in storage only.
    const disk = await new DiskStore(counted, new PageCache(0)).open("p", { size: base.size, base, clock });
    // Pages 2..6 written and saved, page 4 written again and not saved.
    const saved = new Uint8Array(5 * PAGE_SIZE);
    for (let i = 0; i < saved.length; i++) saved[i] = (i * 7 + 3) & 0xff;
    await disk.write(2 * PAGE_SIZE, saved);
    await disk.flush();
    await disk.write(4 * PAGE_SIZE + 10, Uint8Array.from([9, 9, 9]));
    readsHere = 0;
    const start = PAGE_SIZE + 100;
    const length = 7 * PAGE_SIZE;
    const plan = await disk.locate(start, length);
    expect(plan).toBeDefined();
    if (plan === undefined) return;
    expect(readsHere).toBe(0);
    expect(plan.location).toEqual(kv.location);
    // Page 4 is held here (unsaved); the saved ones are to be read there: 2, 3 and 5 from the run
    // record they were saved in (written whole, side by side; 2 and 3 one slice), 6 from a record
    // of its own (runs are of RUN_PAGES = 4); pages 1 and 7 are the base's.
    expect(plan.slices).toEqual([
      { key: "run:p:1", at: PAGE_SIZE - 100, from: 0, length: 2 * PAGE_SIZE },
      { key: "run:p:1", at: 4 * PAGE_SIZE - 100, from: 3 * PAGE_SIZE, length: PAGE_SIZE },
      { key: "page:p:6", at: 5 * PAGE_SIZE - 100, from: 0, length: PAGE_SIZE },
    ]);
    // The other thread opens the same store anew, as the Worker does.
    const there = openDiskDatabase(kv.location?.dbName ?? "");
    const bytes = await readPlanned(there, plan);
    expect(sameBytes(bytes, await disk.read(start, length))).toBe(true);
    // The same into a buffer used before (the read-ahead's): storage's pages, the parts held here, nothing stale.
    const into = await readPlanned(there, plan, new Uint8Array(length + PAGE_SIZE).fill(0xee));
    expect(into.length).toBe(length);
    expect(sameBytes(into, bytes)).toBe(true);
    expect([...bytes.subarray(4 * PAGE_SIZE + 10 - start, 4 * PAGE_SIZE + 13 - start)]).toEqual([9, 9, 9]);
    expect(sameBytes(bytes.subarray(0, PAGE_SIZE - 100), base.bytes.subarray(start, 2 * PAGE_SIZE))).toBe(true);

    // A page gone from storage meanwhile (the disk was reset): the planned read refuses, it does not make up zeros.
    const gone = await disk.locate(5 * PAGE_SIZE, PAGE_SIZE);
    await kv.deleteMany(["run:p:1", "page:p:6"]);
    expect(gone?.slices.map((s) => s.key)).toEqual(["run:p:1"]);
    await expect(readPlanned(there, gone as NonNullable<typeof gone>)).rejects.toMatchObject({ code: "storage-failed" });
    // The same into a buffer of the Worker's (the read-ahead's way): refused as well, nothing made up.
    await expect(readPlanned(there, gone as NonNullable<typeof gone>, new Uint8Array(PAGE_SIZE))).rejects.toMatchObject({ code: "storage-failed" });
    // A store in memory cannot be opened by another thread: no plan, the disk reads as before.
    const inMemory = await new DiskStore(memoryStore()).open("m", { size: MiB, clock });
    expect(await inMemory.locate(0, PAGE_SIZE)).toBeUndefined();
  });

  it("locate: a read that storage has all of costs the page no buffer, and a page never written between saved ones still reads as zeros", async () => {
    const { kv, clock } = setup();
    const disk = await new DiskStore(kv, new PageCache(0)).open("z", { size: 16 * PAGE_SIZE, clock });
    const written = new Uint8Array(4 * PAGE_SIZE);
    for (let i = 0; i < written.length; i++) written[i] = (i * 13 + 5) & 0xff;
    // Pages 2..5 and 8 saved; 6 and 7 never written (zeros).
    await disk.write(2 * PAGE_SIZE, written);
    await disk.write(8 * PAGE_SIZE, written.subarray(0, PAGE_SIZE));
    await disk.flush();
    const there = openDiskDatabase(kv.location?.dbName ?? "");

    // A sequential reader's window: every byte saved, the pages side by side.
    const start = 2 * PAGE_SIZE + 512;
    const window = await disk.locate(start, 3 * PAGE_SIZE);
    expect(window?.held).toEqual([]);
    const read = await readPlanned(there, window as NonNullable<typeof window>);
    expect(sameBytes(read, written.subarray(512, 512 + 3 * PAGE_SIZE))).toBe(true);
    // One slice: the pages are one run record.
    expect(window?.slices).toEqual([{ key: "run:z:1", at: 0, from: 512, length: 3 * PAGE_SIZE }]);

    // Pages 5 and 8 are side by side in what storage returns, but 6 and 7 lie between them on the disk.
    const gap = await disk.locate(5 * PAGE_SIZE, 4 * PAGE_SIZE);
    expect(gap?.held).toEqual([]);
    expect(gap?.slices.map((s) => s.key)).toEqual(["run:z:1", "page:z:8"]);
    const across = await readPlanned(there, gap as NonNullable<typeof gap>);
    expect(sameBytes(across, await disk.read(5 * PAGE_SIZE, 4 * PAGE_SIZE))).toBe(true);
    expect(across.subarray(PAGE_SIZE, 3 * PAGE_SIZE).every((b) => b === 0)).toBe(true);
    expect(sameBytes(across.subarray(3 * PAGE_SIZE), written.subarray(0, PAGE_SIZE))).toBe(true);
  });
});
