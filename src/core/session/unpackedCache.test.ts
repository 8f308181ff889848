import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.ts";
import { AppError } from "../errors.ts";
import { sha256Hex } from "../host.ts";
import { DEFAULT_PROFILE } from "../profile.ts";
import { decodeSnapshot } from "../snapshot/format.ts";
import { memoryStore, type KeyValueStore } from "../storage/kv.ts";
import { fakeStateMarker } from "../testing/fakeShell.ts";
import { prebootedFor } from "../testing/prebooted.ts";
import type { PrebootedManifest } from "./prebooted.ts";
import { linkEntry } from "./unpackedBoot.ts";
import { HARDWARE_SLOT, MAX_HARDWARE_ENTRIES, MAX_LINK_ENTRIES, prebootedEntry, UnpackedStateCache, type UnpackedEntry } from "./unpackedCache.ts";

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
  await cache.keep(prebootedEntry(manifest), decoded);
  return { cache, kv, manifest, decoded };
}

describe("UnpackedStateCache: the pre-booted state kept unpacked for the next visit", () => {
  it("gives back what was kept, byte for byte, with its header; nothing before that", async () => {
    const { manifest, decoded } = await shipped();
    const cache = new UnpackedStateCache(memoryStore());
    expect(await cache.find(prebootedEntry(manifest))).toBeUndefined();
    await cache.keep(prebootedEntry(manifest), decoded);
    const found = await cache.find(prebootedEntry(manifest));
    expect(found?.state).toEqual(decoded.state);
    expect(fakeStateMarker(found?.state ?? new Uint8Array())).toBe("prebooted-state");
    expect(found?.header).toEqual(decoded.header);
    expect(found?.disks).toEqual([]);
    expect(await cache.check(prebootedEntry(manifest))).toBe(true);
  });

  it("serves only the file it was unpacked from: another set-up's file finds nothing, and keeping that one replaces it", async () => {
    const { cache, kv, manifest, decoded } = await keptIn();
    const newer = { ...manifest, sha256: "0".repeat(64) };
    expect(await cache.find(prebootedEntry(newer))).toBeUndefined();
    expect(await cache.check(prebootedEntry(newer))).toBe(false);
    await cache.keep(prebootedEntry(newer), decoded);
    expect(await cache.find(prebootedEntry(newer))).toBeDefined();
    expect(await cache.find(prebootedEntry(manifest))).toBeUndefined();
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
    expect(await cache.find(prebootedEntry(manifest))).toBeUndefined();
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
    expect(await cache.find(prebootedEntry(manifest))).toBeDefined();
    expect(await cache.check(prebootedEntry(manifest))).toBe(false);
    expect(await cache.find(prebootedEntry(manifest))).toBeUndefined();
    expect(await kv.keys()).toEqual([]);
  });

  it("a state that carries disks' pages is not kept, and one stored so is not served", async () => {
    const { manifest, decoded } = await shipped();
    const withDisk = { ...decoded.header, disks: [{ slot: "hda", size: 65536, base: { kind: "blank" }, pages: [0] }] } as unknown as typeof decoded.header;
    const kv = memoryStore();
    const cache = new UnpackedStateCache(kv);
    await cache.keep(prebootedEntry(manifest), { header: withDisk, state: decoded.state });
    expect(await kv.keys()).toEqual([]);
    await cache.keep(prebootedEntry(manifest), decoded);
    await kv.set("meta", { ...(await kv.get<object>("meta")), header: withDisk });
    expect(await cache.find(prebootedEntry(manifest))).toBeUndefined();
  });

  it("a keep the full quota refuses fails with storage-full and leaves the entry there before as it was", async () => {
    const { cache, kv, manifest, decoded } = await keptIn();
    const full: KeyValueStore = { ...kv, setMany: () => Promise.reject(new AppError("storage-full", "The browser's storage for this site is full.")) };
    await expect(new UnpackedStateCache(full).keep(prebootedEntry({ ...manifest, sha256: "1".repeat(64) }), decoded)).rejects.toMatchObject({ code: "storage-full" });
    expect((await cache.find(prebootedEntry(manifest)))?.state).toEqual(decoded.state);
    expect(await cache.check(prebootedEntry(manifest))).toBe(true);
  });

  it("a description from storage that is not one is not trusted", async () => {
    const { cache, kv, manifest } = await keptIn();
    await kv.set("meta", { file: manifest.sha256 });
    expect(await cache.find(prebootedEntry(manifest))).toBeUndefined();
  });
});

describe("UnpackedStateCache: links' kept boots (unpackedBoot.ts)", () => {
  it("names one entry per link's machine and hardware, whatever the order of its words; none for a link that starts from the pre-booted state or a snapshot", () => {
    const slot = (search: string): string | undefined => linkEntry(search)?.slot;
    expect(slot("?nic=virtio&console=virtio")).toBeDefined();
    expect(slot("?console=virtio&nic=virtio")).toBe(slot("?nic=virtio&console=virtio"));
    // The CPU mode is not hardware: a state restores with the JIT on or off.
    expect(slot("?nic=virtio&cpu=interpreter&console=virtio")).toBe(slot("?nic=virtio&console=virtio"));
    expect(slot("?nic=ne2k")).not.toBe(slot("?nic=virtio"));
    expect(slot("?machine=m-1")).not.toBe(slot("?machine=m-2"));
    expect(slot("?machine=m-1&nic=virtio")).not.toBe(slot("?nic=virtio"));
    for (const search of ["", "?lesson=first-steps", "?cpu=interpreter", "?nic=none", "?snapshot=https%3A%2F%2Fexample.org%2Fa.vlsnap"]) expect(slot(search)).toBeUndefined();
  });

  it(`keeps at most ${MAX_LINK_ENTRIES} links' entries, the oldest kept going first, beside the pre-booted state`, async () => {
    const { manifest, decoded } = await shipped();
    const clock = new ManualClock();
    const kv = memoryStore();
    const cache = new UnpackedStateCache(kv, clock);
    await cache.keep(prebootedEntry(manifest), decoded);
    const links = ["?nic=virtio", "?nic=ne2k", "?nic=virtio&console=virtio"].map((search) => linkEntry(search)!);
    const [virtio, ne2k, both] = links as [UnpackedEntry, UnpackedEntry, UnpackedEntry];
    for (const entry of [virtio, ne2k]) {
      clock.advance(1000);
      await cache.keep(entry, decoded);
    }
    // Kept again: the newest, and nothing else goes.
    clock.advance(1000);
    await cache.keep(virtio, decoded);
    expect(await cache.find(ne2k)).toBeDefined();
    clock.advance(1000);
    await cache.keep(both, decoded);
    expect(await cache.find(ne2k)).toBeUndefined();
    expect((await cache.find(virtio))?.state).toEqual(decoded.state);
    expect((await cache.find(both))?.state).toEqual(decoded.state);
    expect(await cache.check(prebootedEntry(manifest))).toBe(true);
    expect((await kv.keys()).filter((key) => key.startsWith("state")).length).toBe(1 + MAX_LINK_ENTRIES);
  });

  it(`keeps at most ${MAX_HARDWARE_ENTRIES} kinds of hardware's kept boots, the oldest going first, apart from the links' entries`, async () => {
    const { decoded } = await shipped();
    const clock = new ManualClock();
    const kv = memoryStore();
    const cache = new UnpackedStateCache(kv, clock);
    const link = linkEntry("?nic=virtio")!;
    await cache.keep(link, decoded);
    const hardware = ["virtio", "ne2k", "both"].map((name) => ({ slot: `${HARDWARE_SLOT}${name}`, source: `record-${name}` }));
    for (const entry of hardware) {
      clock.advance(1000);
      await cache.keep(entry, decoded);
    }
    expect(await cache.find(hardware[0]!)).toBeUndefined();
    expect(await cache.find(hardware[1]!)).toBeDefined();
    expect(await cache.find(hardware[2]!)).toBeDefined();
    // Served only for the record it was kept beside (a boot kept again has another).
    expect(await cache.find({ ...hardware[2]!, source: "record-other" })).toBeUndefined();
    expect(await cache.find(link)).toBeDefined();
    expect((await kv.keys()).filter((key) => key.startsWith("state")).length).toBe(1 + MAX_HARDWARE_ENTRIES);
  });

  it("a link's entry is not the pre-booted state's, nor the other way round", async () => {
    const { cache, manifest } = await keptIn();
    const link = linkEntry("?nic=virtio")!;
    expect(await cache.find(link)).toBeUndefined();
    expect(await cache.find({ slot: "", source: link.source })).toBeUndefined();
    expect(await cache.find(prebootedEntry(manifest))).toBeDefined();
  });
});

describe("UnpackedStateCache: a keep is done once the state reads back", () => {
  it("a keep whose state does not read back fails as storage-failed", async () => {
    const { manifest, decoded } = await shipped();
    const kv = memoryStore();
    const lost: KeyValueStore = { ...kv, readInto: async () => ({ missing: "state" }) };
    await expect(new UnpackedStateCache(lost).keep(prebootedEntry(manifest), decoded)).rejects.toMatchObject({ code: "storage-failed" });
  });
});
