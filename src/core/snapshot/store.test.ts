import "fake-indexeddb/auto";
import { describe, expect, it, vi } from "vitest";
import { AppError } from "../errors.ts";
import { encodeText, sha256Hex } from "../host.ts";
import { DEFAULT_PROFILE } from "../profile.ts";
import { openIndexedDbStore, type KeyValueStore } from "../storage/kv.ts";
import { machineFingerprint } from "./fingerprint.ts";
import { concatParts, decodeSnapshot, encodeSnapshot, encodeSnapshotTo, openSnapshot, readSnapshotHeader, V86_STATE_MAGIC } from "./format.ts";
import { SnapshotStore } from "./store.ts";

const asset = { name: "x", url: "", sha256: "0".repeat(64) };
const fingerprint = machineFingerprint(DEFAULT_PROFILE, { kind: "disk", bios: asset, vgaBios: asset, bootFrom: "cdrom" });

/** A v86-shaped state of `size` bytes, incompressible enough that a file spans several stored pieces. */
function stateOf(size: number): Uint8Array {
  const state = new Uint8Array(size);
  new DataView(state.buffer).setUint32(0, V86_STATE_MAGIC, true);
  new DataView(state.buffer).setUint32(4, 6, true);
  let x = 2463534242;
  for (let i = 16; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    state[i] = x & 0xff;
  }
  return state;
}

async function snapshotFile(name: string, size = 20 * 1024 * 1024): Promise<Uint8Array[]> {
  const state = stateOf(size);
  return (await encodeSnapshot(state, { app: "t", v86: "0.5.462", fingerprint, name, createdAt: size, shellReady: true, preview: "$ " })).parts;
}

describe("SnapshotStore", () => {
  it("saves in pieces with the record last, lists newest first, and gives back the same file", async () => {
    const store = new SnapshotStore(openIndexedDbStore(`snap-${Math.random()}`, "kv"));
    const parts = await snapshotFile("first", 20 * 1024 * 1024);
    const saved = await store.save("default", parts);
    expect(saved.pieces).toBeGreaterThan(1);
    await store.save("default", await snapshotFile("second", 1024 * 1024 + 1));
    await store.save("other", await snapshotFile("elsewhere", 1024 * 1024 + 2));
    // Newest first (createdAt is the size here).
    expect((await store.list("default")).map((r) => r.name)).toEqual(["first", "second"]);
    const file = await store.readFile(saved.id);
    expect(file.length).toBe(concatParts(parts).length);
    expect((await decodeSnapshot(file)).header.name).toBe("first");
  });

  it("keeps the previous snapshot when the quota runs out mid-save, and leaves no pieces behind", async () => {
    const kv = openIndexedDbStore(`snap-${Math.random()}`, "kv");
    let writes = 0;
    const filling: KeyValueStore = {
      ...kv,
      set: (key, value) => (++writes > 2 ? Promise.reject(new AppError("storage-full", "full")) : kv.set(key, value)),
    };
    const good = await new SnapshotStore(kv).save("default", await snapshotFile("good", 1024 * 1024));
    const store = new SnapshotStore(filling);
    await expect(store.save("default", await snapshotFile("too big"))).rejects.toMatchObject({ code: "storage-full" });
    expect((await store.list()).map((r) => r.id)).toEqual([good.id]);
    expect((await kv.keys()).filter((k) => k.startsWith("snappiece:") && !k.includes(good.id))).toEqual([]);
    expect((await decodeSnapshot(await store.readFile(good.id))).header.name).toBe("good");
  });

  it("stores a snapshot as it is encoded, each chunk as it comes and the head last, and gives back the same file", async () => {
    const kv = openIndexedDbStore(`snap-${Math.random()}`, "kv");
    const store = new SnapshotStore(kv);
    const state = stateOf(3 * 1024 * 1024 * 8 + 77);
    const meta = { app: "t", v86: "0.5.462", fingerprint, name: "streamed", createdAt: 1, shellReady: true, preview: "$ " };
    const stored: string[] = [];
    const progress: string[] = [];
    const record = await store.saveEncoded(
      "default",
      (put) =>
        encodeSnapshotTo(state, meta, [], {}, async (chunk) => {
          await put(chunk);
          stored.push(...(await kv.keys()).filter((k) => k.startsWith("snappiece:") && !stored.includes(k)));
          // Nothing is listed until the record is written, last.
          expect(await store.list()).toEqual([]);
        }).then(({ head }) => head),
      (done, total) => progress.push(`${done}/${total}`),
    );
    // One piece per chunk as it came (pieces 1-4), then the head (piece 0).
    expect(stored).toEqual([1, 2, 3, 4].map((n) => `snappiece:${record.id}:${n}`));
    expect(progress).toEqual([1, 2, 3].map((n) => `${n * 8 * 1024 * 1024}/${state.length}`).concat(`${state.length}/${state.length}`));
    expect(record).toMatchObject({ name: "streamed", pieces: 5, rawSize: state.length });
    const file = await store.readFile(record.id);
    const whole = concatParts((await encodeSnapshot(state, meta)).parts);
    expect(record.size).toBe(whole.length);
    expect(await sha256Hex(file)).toBe(await sha256Hex(whole));
    expect((await decodeSnapshot(file)).header.name).toBe("streamed");
    // The same pieces for an export: the head, then a chunk a piece.
    const pieces: Uint8Array[] = [];
    for await (const piece of store.pieces(record.id)) pieces.push(piece);
    expect(pieces.map((p) => p.length)).toEqual([file.length - pieces.slice(1).reduce((sum, p) => sum + p.length, 0), ...readSnapshotHeader(file).header.chunks.map((c) => c.size)]);
    expect(await sha256Hex(concatParts(pieces))).toBe(await sha256Hex(whole));
  });

  it("a streamed save that fails midway (the quota, the machine) leaves no pieces and keeps the earlier snapshot", async () => {
    const kv = openIndexedDbStore(`snap-${Math.random()}`, "kv");
    const good = await new SnapshotStore(kv).save("default", await snapshotFile("good", 1024 * 1024));
    let writes = 0;
    const store = new SnapshotStore({ ...kv, set: (key, value) => (++writes > 2 ? Promise.reject(new AppError("storage-full", "full")) : kv.set(key, value)) });
    const meta = { app: "t", v86: "0.5.462", fingerprint, name: "too big", createdAt: 2, shellReady: true, preview: "$ " };
    const encode = (put: Parameters<Parameters<SnapshotStore["saveEncoded"]>[1]>[0]) => encodeSnapshotTo(stateOf(5 * 8 * 1024 * 1024), meta, [], {}, put).then(({ head }) => head);
    await expect(store.saveEncoded("default", encode)).rejects.toMatchObject({ code: "storage-full" });
    const failing = new SnapshotStore(kv);
    await expect(failing.saveEncoded("default", async (put) => {
      await put({ index: 0, packed: new Uint8Array(10), rawDone: 10, rawTotal: 20 });
      throw new AppError("not-running", "The machine stopped.");
    })).rejects.toMatchObject({ code: "not-running" });
    expect((await kv.keys()).filter((k) => !k.includes(good.id))).toEqual([]);
    expect((await failing.list()).map((r) => r.id)).toEqual([good.id]);
  });

  it("opens a stored snapshot for a restore a chunk at a time; one stored before chunk layouts, and a missing piece", async () => {
    const kv = openIndexedDbStore(`snap-${Math.random()}`, "kv");
    const store = new SnapshotStore(kv);
    const parts = await snapshotFile("chunked", 20 * 1024 * 1024);
    const whole = concatParts(parts);
    const record = await store.save("default", parts);
    expect(record.layout).toBe("chunks");
    const gets: string[] = [];
    const counting = new SnapshotStore({ ...kv, get: (key) => (gets.push(key), kv.get(key)) });
    const chunks = await counting.open(record.id);
    expect(gets).toEqual([`snapshot:${record.id}`, `snappiece:${record.id}:0`]);
    expect(await sha256Hex((await openSnapshot(chunks)).state)).toBe(await sha256Hex((await decodeSnapshot(whole)).state));
    // Each chunk read once to check it and once to unpack it, one at a time.
    expect(gets.slice(2)).toEqual([1, 2, 3, 1, 2, 3].map((n) => `snappiece:${record.id}:${n}`));

    // Stored before: the file in 8 MiB slices and no layout in the record.
    const slices = [0, 1, 2].map((n) => whole.slice(n * 8 * 1024 * 1024, (n + 1) * 8 * 1024 * 1024));
    for (const [n, slice] of slices.entries()) await kv.set(`snappiece:old:${n}`, slice);
    await kv.set("snapshot:old", { id: "old", machineId: "default", name: "old", createdAt: 0, size: whole.length, rawSize: 1, pieces: 3, preview: "" });
    expect(await sha256Hex((await openSnapshot(await store.open("old"))).state)).toBe(await sha256Hex((await decodeSnapshot(whole)).state));

    await kv.delete(`snappiece:${record.id}:2`);
    await expect(openSnapshot(await store.open(record.id))).rejects.toMatchObject({ code: "bad-snapshot", message: 'Part of the snapshot "chunked" is missing from storage.' });
  });

  it("refuses to store a file that is not a snapshot", async () => {
    const store = new SnapshotStore(openIndexedDbStore(`snap-${Math.random()}`, "kv"));
    await expect(store.save("default", [encodeText("hello")])).rejects.toMatchObject({ code: "bad-snapshot" });
    expect(await store.list()).toEqual([]);
  });

  it("a collection asked for while a save writes its pieces waits for the save: nothing of it is deleted", async () => {
    const inner = openIndexedDbStore(`snap-${Math.random()}`, "kv");
    // The second piece's write answers only when let go: the first is stored, the record not yet.
    let letGo = (): void => undefined;
    const held = new Promise<void>((resolve) => (letGo = resolve));
    let holding = false;
    const set = (key: string, value: unknown): Promise<void> => {
      if (!key.endsWith(":1")) return inner.set(key, value);
      holding = true;
      return held.then(() => inner.set(key, value));
    };
    const store = new SnapshotStore({ ...inner, set });
    const file = await snapshotFile("a");
    const saving = store.save("default", file);
    await vi.waitFor(() => expect(holding).toBe(true));
    let collected: { deletedPieces: number } | undefined;
    const collecting = store.collectGarbage().then((result) => (collected = result));
    for (let i = 0; i < 5; i++) await inner.keys(); // a few of IndexedDB's turns
    expect(collected).toBeUndefined();
    letGo();
    const record = await saving;
    await collecting;
    expect(collected).toEqual({ deletedPieces: 0 });
    // The head and the file's three chunks.
    expect(record.pieces).toBe(4);
    const read = await store.readFile(record.id);
    expect(read.length).toBe(concatParts(file).length);
    expect((await decodeSnapshot(read)).header.name).toBe("a");
  });

  it("renames, deletes and collects the pieces of a save that was cut off", async () => {
    const kv = openIndexedDbStore(`snap-${Math.random()}`, "kv");
    const store = new SnapshotStore(kv);
    const record = await store.save("default", await snapshotFile("a", 1024 * 1024));
    expect((await store.rename(record.id, " lesson 3 start ")).name).toBe("lesson 3 start");
    await kv.set("snappiece:cut-off:0", new Uint8Array(5));
    expect(await store.collectGarbage()).toEqual({ deletedPieces: 1 });
    await store.delete(record.id);
    expect(await kv.keys()).toEqual([]);
  });
});
