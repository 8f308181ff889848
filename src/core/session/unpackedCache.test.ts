import { describe, expect, it } from "vitest";
import { AppError } from "../errors.ts";
import { sha256Hex } from "../host.ts";
import { DEFAULT_PROFILE } from "../profile.ts";
import { decodeSnapshot } from "../snapshot/format.ts";
import { memoryStore, type KeyValueStore } from "../storage/kv.ts";
import { fakeStateMarker } from "../testing/fakeShell.ts";
import { prebootedFor } from "../testing/prebooted.ts";
import type { PrebootedManifest } from "./prebooted.ts";
import { UnpackedStateCache } from "./unpackedCache.ts";

/** A shipped state file, its description (with its real sha256) and its decoding, as the page's decoder has them. */
async function shipped(): Promise<{ manifest: PrebootedManifest; decoded: Awaited<ReturnType<typeof decodeSnapshot>> }> {
  const source = await prebootedFor(DEFAULT_PROFILE);
  const description = await source.manifest();
  if ("none" in description) throw new Error(description.none);
  return { manifest: { ...description, sha256: await sha256Hex(source.bytes) }, decoded: await decodeSnapshot(source.bytes) };
}

async function keptIn(kv: KeyValueStore = memoryStore()) {
  const { manifest, decoded } = await shipped();
  const cache = new UnpackedStateCache(kv);
  await cache.keep(manifest, decoded);
  return { cache, kv, manifest, decoded };
}

describe("UnpackedStateCache: the pre-booted state kept unpacked for the next visit", () => {
  it("gives back what was kept, byte for byte, with its header; nothing before that", async () => {
    const { manifest, decoded } = await shipped();
    const cache = new UnpackedStateCache(memoryStore());
    expect(await cache.find(manifest)).toBeUndefined();
    await cache.keep(manifest, decoded);
    const found = await cache.find(manifest);
    expect(found?.state).toEqual(decoded.state);
    expect(fakeStateMarker(found?.state ?? new Uint8Array())).toBe("prebooted-state");
    expect(found?.header).toEqual(decoded.header);
    expect(found?.disks).toEqual([]);
    expect(await cache.check(manifest)).toBe(true);
  });

  it("serves only the file it was unpacked from: another set-up's file finds nothing, and keeping that one replaces it", async () => {
    const { cache, kv, manifest, decoded } = await keptIn();
    const newer = { ...manifest, sha256: "0".repeat(64) };
    expect(await cache.find(newer)).toBeUndefined();
    expect(await cache.check(newer)).toBe(false);
    await cache.keep(newer, decoded);
    expect(await cache.find(newer)).toBeDefined();
    expect(await cache.find(manifest)).toBeUndefined();
    expect((await kv.keys()).sort()).toEqual(["meta", "state"]);
  });

  it.each([
    ["cut short", (state: Uint8Array) => state.slice(0, state.length - 1)],
    ["not a v86 state (its header overwritten)", (state: Uint8Array) => Object.assign(state.slice(), { 0: 0 })],
    ["missing", () => undefined],
  ])("a kept state %s is not served, and is deleted", async (_, damage) => {
    const { cache, kv, manifest } = await keptIn();
    const state = await kv.get<Uint8Array>("state");
    if (state === undefined) return expect.fail("nothing was kept");
    const damaged = damage(state);
    if (damaged === undefined) await kv.delete("state");
    else await kv.set("state", damaged);
    expect(await cache.find(manifest)).toBeUndefined();
    expect(await kv.keys()).toEqual([]);
  });

  it("check finds a byte changed in a kept state of the right length and deletes it", async () => {
    const { cache, kv, manifest } = await keptIn();
    const state = await kv.get<Uint8Array>("state");
    if (state === undefined) return expect.fail("nothing was kept");
    const flipped = state.slice();
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] ?? 0) ^ 1;
    await kv.set("state", flipped);
    // find's look is cheap and passes it (the start would use it once); check catches it.
    expect(await cache.find(manifest)).toBeDefined();
    expect(await cache.check(manifest)).toBe(false);
    expect(await cache.find(manifest)).toBeUndefined();
    expect(await kv.keys()).toEqual([]);
  });

  it("a state that carries disks' pages is not kept, and one stored so is not served", async () => {
    const { manifest, decoded } = await shipped();
    const withDisk = { ...decoded.header, disks: [{ slot: "hda", size: 65536, base: { kind: "blank" }, pages: [0] }] } as unknown as typeof decoded.header;
    const kv = memoryStore();
    const cache = new UnpackedStateCache(kv);
    await cache.keep(manifest, { header: withDisk, state: decoded.state });
    expect(await kv.keys()).toEqual([]);
    await cache.keep(manifest, decoded);
    await kv.set("meta", { ...(await kv.get<object>("meta")), header: withDisk });
    expect(await cache.find(manifest)).toBeUndefined();
  });

  it("a keep the full quota refuses fails with storage-full and leaves the entry there before as it was", async () => {
    const { cache, kv, manifest, decoded } = await keptIn();
    const full: KeyValueStore = { ...kv, setMany: () => Promise.reject(new AppError("storage-full", "The browser's storage for this site is full.")) };
    await expect(new UnpackedStateCache(full).keep({ ...manifest, sha256: "1".repeat(64) }, decoded)).rejects.toMatchObject({ code: "storage-full" });
    expect((await cache.find(manifest))?.state).toEqual(decoded.state);
    expect(await cache.check(manifest)).toBe(true);
  });

  it("a description from storage that is not one is not trusted", async () => {
    const { cache, kv, manifest } = await keptIn();
    await kv.set("meta", { file: manifest.sha256 });
    expect(await cache.find(manifest)).toBeUndefined();
  });
});
