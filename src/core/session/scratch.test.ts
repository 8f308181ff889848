import { describe, expect, it, vi } from "vitest";
import { ManualClock } from "../clock.ts";
import { AppError } from "../errors.ts";
import type { GuestManifest } from "../guest.ts";
import { sha256Hex } from "../host.ts";
import { DEFAULT_PROFILE } from "../profile.ts";
import { DiskStore } from "../storage/disk.ts";
import { ImageStore } from "../storage/images.ts";
import { memoryStore } from "../storage/kv.ts";
import { fakeBackend, fakeStateMarker, files, memoryLoader } from "../testing/fakeShell.ts";
import { labRecord } from "../net/networkLab.ts";
import { SnapshotStore } from "../snapshot/store.ts";
import { BootCache } from "./bootCache.ts";
import { MemoryDisks, NO_DISKS, SCRATCH_MACHINE, scratchSession, startScratch } from "./scratch.ts";
import type { SessionDisks, SessionOptions } from "./session.ts";

const manifest: GuestManifest = {
  kernelRelease: "6.1.0",
  cmdline: "console=ttyS0",
  files: Object.fromEntries(
    await Promise.all(["bios.bin", "vgabios.bin", "bzImage", "initramfs.cpio"].map(async (name) => [name, { size: files[name]?.length ?? 0, sha256: await sha256Hex(files[name] ?? new Uint8Array()) }] as const)),
  ),
};

/** The page's session options: a pre-booted state and disks that must not be touched by a scratch machine. */
function pageOptions(loaderFails = false) {
  const { backend, shells } = fakeBackend({});
  const images = new ImageStore(memoryStore(), { now: () => 1 });
  const touched: string[] = [];
  const disks: SessionDisks = {
    prepare: async () => {
      touched.push("prepare");
      return { kind: "busy" };
    },
    disk: () => undefined,
    view: { slots: [] },
    save: async () => void touched.push("save"),
    erase: async () => void touched.push("erase"),
    close: async () => void touched.push("close"),
  };
  let prebootedAsked = 0;
  const linkAsked: string[] = [];
  const options: SessionOptions = {
    backend,
    loader: loaderFails ? { load: () => Promise.reject(new AppError("asset-load-failed", "bzImage: the server answered 404.", { details: { subject: "bzImage" } })) } : memoryLoader,
    wasm: { name: "v86.wasm", url: "v86.wasm" },
    clock: new ManualClock(),
    wallTime: () => 0,
    guest: { base: "guest/", manifest: async () => manifest },
    images,
    diskStore: new DiskStore(memoryStore()),
    disks,
    prebooted: {
      manifest: async () => {
        prebootedAsked++;
        return { none: "test" };
      },
      file: async () => new Uint8Array(),
    },
    screenContainer: "the page's screen",
    // The page's link's kept boot read ahead: for the page's own first start only.
    unpackedBoot: {
      find: async () => void linkAsked.push("find"),
      served: () => void linkAsked.push("served"),
      keep: async () => void linkAsked.push("keep"),
      end: () => void linkAsked.push("end"),
    },
  };
  return { options, shells, touched, prebootedAsked: () => prebootedAsked, linkAsked };
}

describe("scratch machines (the lab's, a second machine)", () => {
  it("boot the built-in guest from scratch with the asked devices, no data disk, no pre-booted state and none of the page's disks", async () => {
    const page = pageOptions();
    const started = await startScratch(scratchSession(page.options), { ...DEFAULT_PROFILE, memoryMiB: 192, nic: "virtio" });
    const config = page.shells[0]?.config;
    if (config === undefined) return expect.fail("no emulator was started");
    expect(config.initial_state).toBeUndefined();
    expect(config.hda).toBeUndefined();
    expect(config.cmdline).not.toContain("virtlab.data");
    expect(config.memory_size).toBe(192 * 1024 * 1024);
    expect(started.machine.profile.nic).toBe("virtio");
    expect(started.machine.guest.kind).toBe("linux");
    // Nothing of the page's: its disks (a lock, overlays), its pre-booted state, its screen, its link's kept boot.
    expect(page.touched).toEqual([]);
    expect(page.prebootedAsked()).toBe(0);
    expect(page.linkAsked).toEqual([]);
    page.shells[0]?.boot();
    await started.machine.waitForShell({ timeoutMs: 1000 });
    expect(started.machine.status.stage).toBe("ready");
    started.dispose();
    expect(page.shells[0]?.disposed).toBe(true);
  });

  it("a start that fails rejects with the reason, once, and leaves nothing running", async () => {
    const page = pageOptions(true);
    const session = scratchSession(page.options);
    const errors: AppError[] = [];
    session.onError((error) => errors.push(error));
    await expect(startScratch(session, DEFAULT_PROFILE)).rejects.toMatchObject({ code: "asset-load-failed" });
    expect(errors).toHaveLength(1);
    expect(session.machine).toBeUndefined();
    expect(page.shells).toHaveLength(0);
  });

  it("with kept boots (the device lab's), the first start boots and resolves once its boot is kept; the next restores it; a plain start still boots", async () => {
    const page = pageOptions();
    const cache = new BootCache(new SnapshotStore(memoryStore()));
    const options: SessionOptions = { ...page.options, bootCache: cache, guest: { base: "guest/", manifest: async () => ({ ...manifest, agent: "serial1" }) } };
    const profile = { ...DEFAULT_PROFILE, nic: "virtio" as const };
    let resolved = false;
    const first = startScratch(scratchSession(options), profile, { keptBoots: true }).then((started) => {
      resolved = true;
      return started;
    });
    await vi.waitFor(() => expect(page.shells).toHaveLength(1));
    expect(page.shells[0]?.config.initial_state).toBeUndefined();
    expect(resolved).toBe(false);
    page.shells[0]?.boot();
    const booted = await first;
    // Resolved after the keeping: the boot is in the cache, and the guest was tidied through its agent, not its shell.
    expect(await cache.size()).toBe(1);
    expect(page.shells[0]?.agentCommands[0]).toContain("drop_caches");
    expect(page.shells[0]?.written).toBe("");
    booted.dispose();

    const again = await startScratch(scratchSession(options), profile, { keptBoots: true });
    // Neither kept nor took the page's link's kept boot.
    expect(page.linkAsked).toEqual([]);
    const initial = page.shells[1]?.config.initial_state;
    if (initial === undefined) return expect.fail("the second start did not restore the kept boot");
    expect(fakeStateMarker(new Uint8Array(initial.buffer))).toBe("state:0");
    again.dispose();

    const plain = await startScratch(scratchSession(options), profile);
    expect(page.shells[2]?.config.initial_state).toBeUndefined();
    plain.dispose();
    expect(page.touched).toEqual([]);
    expect(page.prebootedAsked()).toBe(0);
  });

  it("keeps nothing: no disks to open, save or let go", async () => {
    expect(SCRATCH_MACHINE.disks).toEqual({});
    expect(await NO_DISKS.prepare(SCRATCH_MACHINE)).toEqual({ kind: "ready", disks: {} });
    expect(NO_DISKS.view.slots).toEqual([]);
  });
});

describe("MemoryDisks (a lab machine's disks, copied whole by a move)", () => {
  it("dumps every written page (pending ones first) and another tab's MemoryDisks opens the same bytes from the dump", async () => {
    const clock = new ManualClock();
    const images = new ImageStore(memoryStore(), { now: () => 1 });
    const record = labRecord("vm2");
    const source = new MemoryDisks(images, clock);
    const opened = await source.prepare(record);
    expect(opened.kind).toBe("ready");
    const hda = source.disk("hda");
    if (hda === undefined) throw new Error("no data disk");
    const written = Uint8Array.from({ length: 8192 }, (_, i) => (i * 7 + 3) & 0xff);
    await hda.write(4096 * 10, written);
    const dump = await source.dump();
    expect(dump.length).toBeGreaterThan(0);

    const target = new MemoryDisks(images, clock);
    await target.prepare(record);
    await target.disk("hda")?.write(4096 * 10, new Uint8Array(8192).fill(0xee));
    // The landing machine's own writes go; the source's come in their place.
    const attached = await target.replace(record, (globalThis as unknown as { structuredClone<T>(value: T): T }).structuredClone(dump));
    expect(Object.keys(attached)).toEqual(["hda"]);
    expect(await target.disk("hda")?.read(4096 * 10, 8192)).toEqual(written);
    // A page neither wrote reads as the blank disk's (its layout) on both.
    expect(await target.disk("hda")?.read(0, 4096)).toEqual(await hda.read(0, 4096));
  });
});
