import { describe, expect, it, vi } from "vitest";
import { ManualClock } from "../clock.ts";
import { AppError } from "../errors.ts";
import { DATA_DISK_BYTES, afterRestoreCommand, type GuestManifest } from "../guest.ts";
import { machineIdentity } from "../identity.ts";
import { memoryStore, type KeyValueStore } from "../storage/kv.ts";
import { DiskStore } from "../storage/disk.ts";
import { ImageStore } from "../storage/images.ts";
import type { MachineStore} from "../storage/machines.ts";
import { DEFAULT_MACHINE, type MachineRecord } from "../storage/machines.ts";
import { DEFAULT_PROFILE, type DeviceProfile } from "../profile.ts";
import { decodeText } from "../host.ts";
import { describeSessionStatus } from "../statusText.ts";
import { PROMPT, fakeBackend, fakeStateMarker, memoryLoader } from "../testing/fakeShell.ts";
import { chooseMachine } from "./choose.ts";
import type { PrebootedSource } from "./prebooted.ts";
import { fakeManifest, prebootedFor } from "../testing/prebooted.ts";
import { MachineSession, type BootKept } from "./session.ts";
import { StoreDisks } from "./storeDisks.ts";
import { BOOT_CACHE_COMPRESSION, BootCache } from "./bootCache.ts";
import { readSnapshotHeader } from "../snapshot/format.ts";
import { SnapshotStore } from "../snapshot/store.ts";
import { linkEntry, unpackedBootIn, type UnpackedBootSource } from "./unpackedBoot.ts";
import { UnpackedStateCache } from "./unpackedCache.ts";

const manifest = fakeManifest;

function setup(options: { prebooted?: PrebootedSource; kv?: KeyValueStore; loaderFails?: string; bootCache?: BootCache; keptBootsUnpacked?: UnpackedStateCache; unpackedBoot?: UnpackedBootSource; manifest?: GuestManifest; answers?: Record<string, [string, number | "hang"]>; holdJit?: boolean } = {}) {
  const clock = new ManualClock();
  const { backend, shells } = fakeBackend(options.answers ?? {});
  const images = new ImageStore(memoryStore(), { now: () => 1 });
  const diskStore = new DiskStore(options.kv ?? memoryStore());
  const session = new MachineSession({
    backend,
    loader: {
      load: (ref, onProgress) => (ref.name === options.loaderFails ? Promise.reject(new AppError("asset-load-failed", `${ref.name}: the server answered 404.`, { details: { subject: ref.name } })) : memoryLoader.load(ref, onProgress)),
    },
    wasm: { name: "v86.wasm", url: "v86.wasm" },
    clock,
    wallTime: () => 1_700_000_000_000,
    guest: { base: "guest/", manifest: async () => options.manifest ?? manifest },
    images,
    diskStore,
    disks: new StoreDisks({ images, disks: diskStore }, clock),
    ...(options.prebooted === undefined ? {} : { prebooted: options.prebooted }),
    ...(options.bootCache === undefined ? {} : { bootCache: options.bootCache }),
    ...(options.keptBootsUnpacked === undefined ? {} : { keptBootsUnpacked: options.keptBootsUnpacked }),
    ...(options.unpackedBoot === undefined ? {} : { unpackedBoot: options.unpackedBoot }),
    ...(options.holdJit === true ? { holdJitWhileSettingUp: true } : {}),
  });
  const runs: string[] = [];
  const errors: AppError[] = [];
  const notices: string[] = [];
  session.onRun((run) => {
    runs.push(run.runStart.kind);
    if (run.notice !== undefined) notices.push(run.notice);
  });
  session.onError((error) => errors.push(error));
  return { session, shells, runs, errors, notices, diskStore, clock };
}

const start = (session: MachineSession, request: Parameters<MachineSession["start"]>[0]["request"], profile: DeviceProfile = DEFAULT_PROFILE, record: MachineRecord = DEFAULT_MACHINE) =>
  session.start({ record, profile, request });

describe("MachineSession: start requests", () => {
  it("auto on the default machine starts from a fitting pre-booted state, then mounts the data disk and sets the clock while settling", async () => {
    const prebooted = await prebootedFor(DEFAULT_PROFILE);
    const { session, shells, runs } = setup({ prebooted });
    const settled: string[] = [];
    session.onSettled(({ lastLine }) => settled.push(lastLine));
    const keysWhileSettling: boolean[] = [];
    session.onStatus((status) => {
      if (status.settling) {
        session.write("typed-early");
        keysWhileSettling.push(shells[0]?.written.includes("typed-early") ?? false);
      }
    });
    const outcome = await start(session, { kind: "auto" });
    expect(outcome).toEqual({ kind: "started", from: "pre-booted" });
    expect(session.startedFrom).toBe("pre-booted");
    // As the page does: the emulator starts from the state (v86's initial_state), it does not boot.
    const initial = shells[0]?.config.initial_state;
    if (initial === undefined) return expect.fail("the emulator was not given the state");
    expect(fakeStateMarker(new Uint8Array(initial.buffer))).toBe("prebooted-state");
    const written = shells[0]?.written ?? "";
    expect(written).toContain("virtlab-data");
    expect(written).toContain("date -s @1700000000");
    // The pre-booted state holds a shell at its prompt: no full-screen program to draw again.
    expect(written).not.toContain("kill -WINCH");
    // Divider before the start, and again on a fresh screen after the set-up.
    expect(runs).toEqual(["pre-booted", "pre-booted"]);
    expect(settled).toEqual([PROMPT]);
    expect(session.status.readyDetail).toMatch(/^started from the pre-booted state in/);
    // Keys typed while it settled were held, then sent once it had.
    expect(keysWhileSettling.length).toBeGreaterThan(0);
    expect(keysWhileSettling.every((seen) => !seen)).toBe(true);
    expect(written.endsWith("typed-early")).toBe(true);
    session.dispose();
  });

  it("a snapshot asked for while a start is under way is refused as still starting; with nothing started, as nothing running", async () => {
    const prebooted = await prebootedFor(DEFAULT_PROFILE);
    const { session } = setup({ prebooted });
    const meta = { name: "early", app: "test", preview: "", createdAt: 1 };
    await expect(session.capture(meta)).rejects.toThrow("There is no running machine to save.");
    const starting = start(session, { kind: "auto" });
    await expect(session.capture(meta)).rejects.toMatchObject({ code: "not-running", message: "The machine is still starting: a snapshot can be saved once it runs.", details: { starting: true } });
    expect(await starting).toEqual({ kind: "started", from: "pre-booted" });
    session.dispose();
  });

  it("with the guest agent, shows the prompt before the set-up, and what is typed at it reaches the shell after the set-up", async () => {
    const prebooted = await prebootedFor(DEFAULT_PROFILE);
    const { session, shells, runs } = setup({ prebooted, manifest: { ...manifest, agent: "serial1" } });
    const atPrompt: { setUpSent: boolean; typedSeen: boolean; settling: boolean }[] = [];
    session.onSettled(({ lastLine }) => {
      expect(lastLine).toBe(PROMPT);
      session.write("typed-at-prompt");
      const shell = shells[0];
      atPrompt.push({ setUpSent: shell?.agentCommands.some((c) => c.includes("virtlab-data")) ?? false, typedSeen: shell?.written.includes("typed-at-prompt") ?? false, settling: session.settling });
    });
    expect(await start(session, { kind: "auto" })).toEqual({ kind: "started", from: "pre-booted" });
    // Shown once, on a fresh screen, while the set-up had not yet gone to the agent.
    expect(atPrompt).toEqual([{ setUpSent: false, typedSeen: false, settling: true }]);
    expect(runs).toEqual(["pre-booted", "pre-booted"]);
    // The set-up ran through the agent, nothing was typed into the shell but the user's keys, after it.
    expect(shells[0]?.agentCommands.join("\n")).toMatch(/virtlab-data[\s\S]*date -s @1700000000/);
    expect(shells[0]?.written).toBe("typed-at-prompt");
    expect(session.settling).toBe(false);
    session.dispose();
  });

  it("says the pre-booted state downloads, then that it is unpacked once all of it is in", async () => {
    const file = await prebootedFor(DEFAULT_PROFILE);
    const halves: PrebootedSource = {
      manifest: () => file.manifest(),
      file: async (m, onProgress) => {
        const bytes = await file.file(m, () => undefined);
        onProgress(bytes.length / 2, bytes.length);
        onProgress(bytes.length, bytes.length);
        return bytes;
      },
    };
    const { session } = setup({ prebooted: halves });
    const details: string[] = [];
    const stages: string[] = [];
    session.onStatus(() => stages.push(describeSessionStatus(session.status).stageText));
    session.onProgress((p) => {
      if (p.detail.includes("pre-booted")) details.push(p.detail);
    });
    expect(await start(session, { kind: "auto" })).toEqual({ kind: "started", from: "pre-booted" });
    expect(details).toEqual([expect.stringMatching(/^Downloading the pre-booted machine: [\d.]+ of [\d.]+ MiB$/), expect.stringMatching(/^Unpacking the pre-booted machine \([\d.]+ MiB downloaded\)…$/)]);
    // While the state comes there is no emulator yet: the status says "downloading", not "starting".
    expect(stages.slice(0, stages.indexOf("downloading") + 1)).toEqual(["starting", "downloading"]);
    expect(session.status.downloading).toBe(false);
    session.dispose();
  });

  it("tells the pre-booted state's source when a start from it has settled (after the set-up), or did not use it", async () => {
    const file = await prebootedFor(DEFAULT_PROFILE);
    const heard: string[] = [];
    const hearing = (shells: () => { agentCommands: string[] }[]): PrebootedSource => ({
      manifest: () => file.manifest(),
      file: (m, onProgress) => file.file(m, onProgress),
      done: (outcome) => heard.push(`${outcome}, set up: ${String(shells()[0]?.agentCommands.some((c) => c.includes("virtlab-data")) ?? false)}`),
    });
    let shellsNow: () => { agentCommands: string[] }[] = () => [];
    const ok = setup({ prebooted: hearing(() => shellsNow()), manifest: { ...manifest, agent: "serial1" } });
    shellsNow = () => ok.shells;
    expect(await start(ok.session, { kind: "auto" })).toEqual({ kind: "started", from: "pre-booted" });
    expect(heard).toEqual(["settled, set up: true"]);
    ok.session.dispose();
    heard.length = 0;
    const failing = setup({ prebooted: hearing(() => []), loaderFails: "v86.wasm" });
    expect((await start(failing.session, { kind: "auto" })).kind).toBe("failed");
    expect(heard).toEqual(["unused, set up: false"]);
    failing.session.dispose();
  });

  it("with holdJitWhileSettingUp, a start from the state runs its set-up with v86's JIT off and turns it on once settled", async () => {
    const prebooted = await prebootedFor(DEFAULT_PROFILE);
    const { session, shells } = setup({ prebooted, manifest: { ...manifest, agent: "serial1" }, holdJit: true });
    const heldAtPrompt: boolean[] = [];
    session.onSettled(() => heldAtPrompt.push(session.machine?.jitHeldForStart ?? false));
    expect(await start(session, { kind: "auto" })).toEqual({ kind: "started", from: "pre-booted" });
    expect(shells[0]?.config.disable_jit).toBe(true);
    expect(heldAtPrompt).toEqual([true]);
    expect(shells[0]?.agentCommands.join("\n")).toMatch(/virtlab-data/);
    expect(session.machine?.jitHeldForStart).toBe(false);
    session.dispose();
  });

  it("with holdJitWhileSettingUp, a cold boot still has v86's JIT on from its start (it boots sooner so); without it, a start from the state holds nothing", async () => {
    const held = setup({ holdJit: true });
    await start(held.session, { kind: "cold" });
    expect(held.shells[0]?.config.disable_jit).toBe(false);
    expect(held.session.machine?.jitHeldForStart).toBe(false);
    held.session.dispose();
    const plain = setup({ prebooted: await prebootedFor(DEFAULT_PROFILE), manifest: { ...manifest, agent: "serial1" } });
    expect(await start(plain.session, { kind: "auto" })).toEqual({ kind: "started", from: "pre-booted" });
    expect(plain.shells[0]?.config.disable_jit).toBe(false);
    expect(plain.session.machine?.jitHeldForStart).toBe(false);
    plain.session.dispose();
  });

  it("shows the console without the markers of a command it ran", async () => {
    const { session, shells } = setup();
    await start(session, { kind: "cold" });
    const shown: string[] = [];
    session.onOutput((bytes) => shown.push(decodeText(bytes)));
    shells[0]?.boot();
    expect(await session.machine?.run("true")).toEqual({ output: "sh: true: not found", exitCode: 127 });
    const text = shown.join("");
    expect(text).toContain("sh: true: not found");
    expect(text.includes("\x1e") || text.includes("\x1f")).toBe(false);
    expect(text).not.toMatch(/S\d+sh:/);
    session.dispose();
  });

  it("cold boots without looking at the pre-booted state", async () => {
    const prebooted = await prebootedFor(DEFAULT_PROFILE);
    const { session, shells, runs } = setup({ prebooted });
    expect(await start(session, { kind: "cold" })).toEqual({ kind: "started", from: "boot" });
    expect(prebooted.asked).toBe(0);
    expect(shells[0]?.config.initial_state).toBeUndefined();
    expect(runs).toEqual(["cold-boot"]);
    session.dispose();
  });

  it("a guest that moved here starts its terminal afresh under a line naming the tab it came from, then the source's prompt line", async () => {
    const { session, runs } = setup();
    const lines: string[] = [];
    const dividers: string[] = [];
    session.onSettled(({ lastLine }) => lines.push(lastLine));
    session.onRun((run) => run.runStart.kind === "arrived" && dividers.push(`${run.machineName} from ${run.runStart.fromTab}`));
    // Nothing runs yet: nothing to say.
    session.arrived("tab1", "root@virtlab:/# ");
    expect(runs).toEqual([]);
    await start(session, { kind: "cold" });
    session.arrived("3fb8612e", "root@vm2:/# ", "vm2");
    expect(runs).toEqual(["cold-boot", "arrived"]);
    expect(dividers).toEqual(["vm2 from 3fb8612e"]);
    expect(lines.at(-1)).toBe("root@vm2:/# ");
    expect(session.startedFrom).toBe("moved");
    // The status says how the machine came to run here, not how the landing machine started.
    expect(session.status.readyDetail).toBe("moved here from tab 3fb8612e, running");
    // A source that sent no line: the divider only, and the record's own name.
    session.arrived("40036d64", undefined);
    expect(dividers.at(-1)).toBe(`${DEFAULT_MACHINE.name} from 40036d64`);
    expect(lines).toHaveLength(1);
    session.dispose();
  });

  it("boots, saying why, when the pre-booted state is for other hardware", async () => {
    const prebooted = await prebootedFor({ ...DEFAULT_PROFILE, memoryMiB: DEFAULT_PROFILE.memoryMiB * 2 });
    const { session, shells, runs, notices } = setup({ prebooted });
    expect(await start(session, { kind: "auto" })).toEqual({ kind: "started", from: "boot" });
    expect(shells[0]?.config.initial_state).toBeUndefined();
    expect(runs).toEqual(["boot"]);
    expect(notices[0]).toMatch(/^Booting from scratch: the pre-booted state is for other hardware \(memory size/);
    session.dispose();
  });

  it("never offers the pre-booted state to another machine", async () => {
    const prebooted = await prebootedFor(DEFAULT_PROFILE);
    const { session } = setup({ prebooted });
    const other: MachineRecord = { ...DEFAULT_MACHINE, id: "m-other", name: "Other", builtIn: false };
    expect(await start(session, { kind: "auto" }, DEFAULT_PROFILE, other)).toEqual({ kind: "started", from: "boot" });
    expect(prebooted.asked).toBe(0);
    session.dispose();
  });

  it("reports a failed start once, however often its status is read or drawn", async () => {
    const { session, errors } = setup({ loaderFails: "bzImage" });
    const outcome = await start(session, { kind: "cold" });
    expect(outcome.kind).toBe("failed");
    for (let i = 0; i < 3; i++) expect(session.status.machine.stage).toBe("failed");
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toMatch(/bzImage: the server answered 404/);
    expect(session.status.machine.error).toBe(errors[0]);
    session.dispose();
  });

  it("a restart keeps the machine running when its disk pages cannot be saved (quota full), and says so", async () => {
    const kv = memoryStore();
    let full = false;
    const quota = (): never => {
      throw new AppError("storage-full", "The browser's storage quota is full.");
    };
    const fullKv: KeyValueStore = { ...kv, set: (k, v) => (full ? Promise.resolve(quota()) : kv.set(k, v)), setMany: (e) => (full ? Promise.resolve().then(quota) : kv.setMany(e)) };
    const { session } = setup({ kv: fullKv });
    expect(await start(session, { kind: "cold" })).toEqual({ kind: "started", from: "boot" });
    const machine = session.machine;
    const disk = (session as unknown as { options: { disks: StoreDisks } }).options.disks.disk("hda");
    if (machine === undefined || disk === undefined) return expect.fail("no machine or disk");
    full = true;
    await disk.write(0, new Uint8Array(512).fill(7));
    await expect(start(session, { kind: "auto" })).rejects.toMatchObject({ code: "storage-full" });
    // Nothing was dropped: the same machine runs, the page is still in memory and unsaved.
    expect(session.machine).toBe(machine);
    expect(machine.status.running).toBe(true);
    expect(disk.saveState.unsavedPages).toBe(1);
    expect(Array.from(await disk.read(0, 4))).toEqual([7, 7, 7, 7]);
    // Once storage takes the pages, the restart goes ahead.
    full = false;
    expect((await start(session, { kind: "auto" })).kind).toBe("started");
    expect(session.machine).not.toBe(machine);
    session.dispose();
  });

  it("erasing the disks stops the machine without writing back, and the next start finds them blank", async () => {
    const { session, diskStore } = setup();
    expect((await start(session, { kind: "cold" })).kind).toBe("started");
    const disk = (session as unknown as { options: { disks: StoreDisks } }).options.disks.disk("hda");
    if (disk === undefined) return expect.fail("no data disk");
    // The blank data disk is a fresh ext2 file system, not zeros: erased means as it was.
    const fresh = [Array.from(await disk.read(0, 4)), Array.from(await disk.read(4096, 4))];
    await disk.write(0, new Uint8Array(512).fill(7));
    await disk.flush();
    // One page saved, one still pending: erasing drops both.
    await disk.write(4096, new Uint8Array(512).fill(9));
    await session.eraseDisks(DEFAULT_MACHINE);
    expect(session.machine).toBeUndefined();
    expect(await start(session, { kind: "cold" })).toEqual({ kind: "started", from: "boot" });
    const again = (session as unknown as { options: { disks: StoreDisks } }).options.disks.disk("hda");
    expect(again).not.toBe(disk);
    expect([Array.from((await again?.read(0, 4)) ?? []), Array.from((await again?.read(4096, 4)) ?? [])]).toEqual(fresh);
    expect(fresh[0]).not.toEqual([7, 7, 7, 7]);
    // Nothing of the overlay is left in storage.
    expect((await diskStore.collectGarbage()).deletedPages).toBe(0);
    session.dispose();
  });
});

describe("MachineSession: the boot cache", () => {
  const withAgent: GuestManifest = { ...manifest, agent: "serial1" };
  const virtioNic: DeviceProfile = { ...DEFAULT_PROFILE, nic: "virtio" };
  const cacheOn = (kv: KeyValueStore = memoryStore()) => ({ kv, cache: new BootCache(new SnapshotStore(kv)) });

  /** An auto start that boots: the test plays the guest reaching its prompt; resolves with what became of the boot. */
  async function bootAndKeep(t: ReturnType<typeof setup>, profile: DeviceProfile): Promise<{ outcome: Awaited<ReturnType<MachineSession["start"]>>; kept: BootKept }> {
    const kept = new Promise<BootKept>((resolve) => t.session.onBootKept(resolve));
    const before = t.shells.length;
    const starting = start(t.session, { kind: "auto" }, profile);
    await vi.waitFor(() => expect(t.shells.length).toBe(before + 1));
    t.shells.at(-1)?.boot();
    return { outcome: await starting, kept: await kept };
  }

  it("says how long a boot from scratch took to its first prompt, kept or not, as a restore says its own", async () => {
    for (const bootCache of [undefined, cacheOn().cache]) {
      const t = setup({ prebooted: await prebootedFor(DEFAULT_PROFILE), manifest: withAgent, ...(bootCache === undefined ? {} : { bootCache }) });
      const kept = new Promise<BootKept>((resolve) => t.session.onBootKept(resolve));
      const starting = start(t.session, { kind: "auto" }, virtioNic);
      await vi.waitFor(() => expect(t.shells.length).toBe(1));
      t.clock.advance(12_340);
      expect(t.session.status.readyDetail).toBeUndefined();
      // Asked before the prompt: it waits for the machine to be the user's (the boot kept, when it is).
      const settled = t.session.whenSettled(600_000);
      t.shells[0]?.boot();
      expect(await starting).toEqual({ kind: "started", from: "boot" });
      if (bootCache !== undefined) expect((await kept).kind).toBe("kept");
      expect(await settled).toMatchObject({ settling: false, keepingBoot: false, readyDetail: "booted in 12.3 s" });
      expect(describeSessionStatus(t.session.status).progressText).toBe("Shell ready: booted in 12.3 s.");
      t.session.dispose();
    }
  });

  it("whenSettled gives the status as it is at its deadline when the machine is still on its way", async () => {
    const t = setup({ prebooted: await prebootedFor(DEFAULT_PROFILE), manifest: withAgent });
    void start(t.session, { kind: "auto" }, virtioNic);
    await vi.waitFor(() => expect(t.shells.length).toBe(1));
    const settled = t.session.whenSettled(5_000);
    t.clock.advance(5_000);
    const status = await settled;
    expect(status.machine.stage).toBe("booting");
    expect(describeSessionStatus(status).underway).toBe(true);
    t.session.dispose();
  });

  it("keeps a boot of hardware the pre-booted state does not fit, and the next start of that hardware restores it", async () => {
    const { cache, kv } = cacheOn();
    const t = setup({ prebooted: await prebootedFor(DEFAULT_PROFILE), bootCache: cache, manifest: withAgent });
    const first = await bootAndKeep(t, virtioNic);
    expect(first.outcome).toEqual({ kind: "started", from: "boot" });
    expect(first.kept.kind).toBe("kept");
    expect(t.notices[0]).toMatch(/pre-booted state is for other hardware \(network card.*This boot is kept in this browser, so the next start of this hardware takes a second\.$/);
    // Through the guest agent, nothing typed into the user's shell: unmount, save, mount again.
    const agent = t.shells[0]?.agentCommands ?? [];
    expect(agent[0]).toBe("umount /data && sync && echo 3 > /proc/sys/vm/drop_caches");
    expect(agent[1]).toContain("virtlab-data");
    expect(t.shells[0]?.written).toBe("");
    expect(await cache.size()).toBe(1);
    // Kept zstd-packed (BOOT_CACHE_COMPRESSION), which unpacks in a fraction of gzip's time.
    const stored = new SnapshotStore(kv);
    const [record] = await stored.list();
    if (record === undefined) return expect.fail("nothing was kept");
    expect(readSnapshotHeader(await stored.readFile(record.id)).header.compression).toBe(BOOT_CACHE_COMPRESSION.compression);

    expect(await start(t.session, { kind: "auto" }, virtioNic)).toEqual({ kind: "started", from: "boot-cache" });
    const initial = t.shells[1]?.config.initial_state;
    if (initial === undefined) return expect.fail("the second start did not restore");
    expect(fakeStateMarker(new Uint8Array(initial.buffer))).toBe("state:0");
    // Settled as a restore: the data disk mounted again and the clock set, through the agent.
    expect(t.shells[1]?.agentCommands.join("\n")).toMatch(/virtlab-data[\s\S]*date -s @1700000000/);
    // A virtio-net NIC is left as it was (v86's filters nothing): no link down and up, no DHCP again.
    expect(t.shells[1]?.agentCommands.at(-1)).toMatch(/; date -s @1700000000 >\/dev\/null$/);
    expect(t.runs.slice(-2)).toEqual(["boot-cache", "boot-cache"]);
    expect(t.session.status.readyDetail).toMatch(/^started from this hardware's saved boot in/);
    t.session.dispose();
  });

  it("the page's machine keeps its boots unpacked too: the next start of that hardware reads no packed file and checks the copy after; a damaged copy is deleted, and kept again from the packed file", async () => {
    const { cache } = cacheOn();
    const unpackedKv = memoryStore();
    const keptBootsUnpacked = new UnpackedStateCache(unpackedKv);
    const t = setup({ prebooted: await prebootedFor(DEFAULT_PROFILE), bootCache: cache, keptBootsUnpacked, manifest: withAgent });
    expect((await bootAndKeep(t, virtioNic)).kept.kind).toBe("kept");
    const stateKey = (await unpackedKv.keys()).find((key) => key.startsWith("state:hw:"));
    if (stateKey === undefined) return expect.fail("the boot was not kept unpacked");
    const reads = vi.spyOn(SnapshotStore.prototype, "readFile");
    const checks = vi.spyOn(keptBootsUnpacked, "check");
    try {
      expect(await start(t.session, { kind: "auto" }, virtioNic)).toEqual({ kind: "started", from: "boot-cache" });
      expect(reads).not.toHaveBeenCalled();
      expect(fakeStateMarker(new Uint8Array(t.shells[1]?.config.initial_state?.buffer ?? new ArrayBuffer(0)))).toBe("state:0");
      await vi.waitFor(() => expect(checks).toHaveBeenCalledTimes(1));
      expect(await checks.mock.results[0]?.value).toBe(true);
      // A byte of the copy changed in storage (same length, same header): served once, then found
      // damaged by its digest and deleted; the next start reads the packed file.
      const copy = (await unpackedKv.get<Uint8Array>(stateKey))?.slice();
      if (copy === undefined) return expect.fail("the copy is gone");
      copy[copy.length - 1] = (copy.at(-1) ?? 0) ^ 0xff;
      await unpackedKv.set(stateKey, copy);
      expect(await start(t.session, { kind: "auto" }, virtioNic)).toEqual({ kind: "started", from: "boot-cache" });
      await vi.waitFor(() => expect(checks).toHaveBeenCalledTimes(2));
      expect(await checks.mock.results[1]?.value).toBe(false);
      expect(await unpackedKv.get(stateKey)).toBeUndefined();
      expect(await start(t.session, { kind: "auto" }, virtioNic)).toEqual({ kind: "started", from: "boot-cache" });
      expect(reads).toHaveBeenCalledTimes(1);
      expect(fakeStateMarker(new Uint8Array(t.shells[3]?.config.initial_state?.buffer ?? new ArrayBuffer(0)))).toBe("state:0");
      // That start kept the packed file's state unpacked again: the next one reads the copy.
      await vi.waitFor(async () => expect(await unpackedKv.get(stateKey)).toBeDefined());
      expect(await start(t.session, { kind: "auto" }, virtioNic)).toEqual({ kind: "started", from: "boot-cache" });
      expect(reads).toHaveBeenCalledTimes(1);
      await vi.waitFor(() => expect(checks).toHaveBeenCalledTimes(3));
      expect(await checks.mock.results[2]?.value).toBe(true);
    } finally {
      reads.mockRestore();
      t.session.dispose();
    }
  });

  it("a boot the full quota lets keep only packed is still kept, and the next start restores it from the packed file", async () => {
    const { cache } = cacheOn();
    const full: KeyValueStore = { ...memoryStore(), setMany: () => Promise.reject(new AppError("storage-full", "The browser's storage for this site is full.")) };
    const t = setup({ prebooted: await prebootedFor(DEFAULT_PROFILE), bootCache: cache, keptBootsUnpacked: new UnpackedStateCache(full), manifest: withAgent });
    expect((await bootAndKeep(t, virtioNic)).kept.kind).toBe("kept");
    expect(t.errors).toEqual([]);
    expect(await start(t.session, { kind: "auto" }, virtioNic)).toEqual({ kind: "started", from: "boot-cache" });
    expect(fakeStateMarker(new Uint8Array(t.shells[1]?.config.initial_state?.buffer ?? new ArrayBuffer(0)))).toBe("state:0");
    t.session.dispose();
  });

  it("writes the saved MAC to a restored NE2000 again, which v86 brings back with another", async () => {
    const t = setup({ prebooted: await prebootedFor(DEFAULT_PROFILE), bootCache: cacheOn().cache, manifest: withAgent });
    const ne2k: DeviceProfile = { ...DEFAULT_PROFILE, nic: "ne2k" };
    await bootAndKeep(t, ne2k);
    expect(await start(t.session, { kind: "auto" }, ne2k)).toEqual({ kind: "started", from: "boot-cache" });
    expect(t.shells[1]?.agentCommands.at(-1)).toMatch(/; date -s @1700000000 >\/dev\/null; \/bin\/virtlab-net restored$/);
    t.session.dispose();
  });

  it("holds the keys typed while the boot is kept, then sends them", async () => {
    const t = setup({ bootCache: cacheOn().cache, manifest: withAgent });
    const seenWhileKeeping: boolean[] = [];
    t.session.onStatus((status) => {
      if (!status.keepingBoot) return;
      t.session.write("ls");
      seenWhileKeeping.push(t.shells[0]?.written.includes("ls") ?? false);
    });
    const { kept } = await bootAndKeep(t, virtioNic);
    expect(kept.kind).toBe("kept");
    expect(seenWhileKeeping.length).toBeGreaterThan(0);
    expect(seenWhileKeeping.every((seen) => !seen)).toBe(true);
    expect(t.shells[0]?.written.endsWith("ls")).toBe(true);
    expect(t.session.status.keepingBoot).toBe(false);
    t.session.dispose();
  });

  it("a command asked for while the boot is kept waits until the data disk is mounted again", async () => {
    const t = setup({ bootCache: cacheOn().cache, manifest: withAgent, answers: { "cat /data/f": ["data\r\n", 0] } });
    const kept = new Promise<BootKept>((resolve) => t.session.onBootKept(resolve));
    expect(await start(t.session, { kind: "auto" }, virtioNic)).toEqual({ kind: "started", from: "boot" });
    const shell = t.shells[0];
    const machine = t.session.machine;
    if (shell === undefined || machine === undefined) return expect.fail("no machine");
    // Asked for before the prompt (as a lesson step or a test might), answered after the keep.
    const agentWhenTyped: number[] = [];
    const ran = machine.run("cat /data/f");
    machine.onOutput(() => {
      if (shell.written.includes("cat /data/f") && agentWhenTyped.length === 0) agentWhenTyped.push(shell.agentCommands.length);
    });
    shell.boot();
    expect(await ran).toEqual({ output: "data", exitCode: 0 });
    expect(agentWhenTyped).toEqual([2]);
    expect((await kept).kind).toBe("kept");
    t.session.dispose();
  });

  it("is not used by other hardware, nor after the guest changes (and the old guest's boots are deleted)", async () => {
    const { cache } = cacheOn();
    const t = setup({ bootCache: cache, manifest: withAgent });
    await bootAndKeep(t, virtioNic);
    // Other hardware: boots (and keeps its own).
    const other = await bootAndKeep(t, { ...virtioNic, memoryMiB: DEFAULT_PROFILE.memoryMiB * 2 });
    expect(other.outcome).toEqual({ kind: "started", from: "boot" });
    expect(await cache.size()).toBe(2);
    t.session.dispose();
    // A new guest build (here: another kernel command line): nothing of the old build is restored, and its boots are deleted.
    const rebuilt: GuestManifest = { ...withAgent, cmdline: `${withAgent.cmdline} quiet` };
    const u = setup({ bootCache: cache, manifest: rebuilt });
    const after = await bootAndKeep(u, virtioNic);
    expect(after.outcome).toEqual({ kind: "started", from: "boot" });
    expect(after.kept).toEqual({ kind: "kept", bytes: expect.any(Number) });
    expect(await cache.size()).toBe(1);
    u.session.dispose();
  });

  it("boots with a notice when the kept boot is damaged, and deletes it", async () => {
    const { cache, kv } = cacheOn();
    const t = setup({ bootCache: cache, manifest: withAgent });
    await bootAndKeep(t, virtioNic);
    const piece = (await kv.keys()).find((key) => key.startsWith("snappiece:"));
    const bytes = piece === undefined ? undefined : await kv.get<Uint8Array>(piece);
    if (piece === undefined || bytes === undefined) return expect.fail("nothing was kept");
    const damaged = bytes.slice();
    damaged[damaged.length - 20] = (damaged[damaged.length - 20] ?? 0) ^ 0xff;
    await kv.set(piece, damaged);
    const again = await bootAndKeep(t, virtioNic);
    expect(again.outcome).toEqual({ kind: "started", from: "boot" });
    expect(t.notices.at(-1)).toMatch(/^Booting from scratch: this hardware's saved boot could not be read back \(.+\), so it was deleted\. This boot is kept in its place\.$/);
    expect(again.kept.kind).toBe("kept");
    t.session.dispose();
  });

  it("does not keep a boot whose data disk cannot be unmounted; the machine runs on and is the user's", async () => {
    const t = setup({ bootCache: cacheOn().cache, manifest: withAgent, answers: { "umount /data && sync && echo 3 > /proc/sys/vm/drop_caches": ["umount: /data: target is busy", 1] } });
    const { outcome, kept } = await bootAndKeep(t, virtioNic);
    expect(outcome).toEqual({ kind: "started", from: "boot" });
    expect(kept).toEqual({ kind: "skipped", reason: "the guest could not be tidied for saving (umount: /data: target is busy)" });
    expect(t.session.status.settling).toBe(false);
    expect(t.session.machine?.status.stage).toBe("ready");
    t.session.dispose();
  });

  it("says so in the status line when the data disk cannot be mounted again after the save", async () => {
    const remount = afterRestoreCommand({ mountData: { diskBytes: DATA_DISK_BYTES }, epochSeconds: 1_700_000_000 });
    const t = setup({ bootCache: cacheOn().cache, manifest: withAgent, answers: { [remount]: ["mount: /data: mounting failed", 32] } });
    const { kept } = await bootAndKeep(t, virtioNic);
    expect(kept.kind).toBe("kept");
    expect(t.session.status.readyDetail).toBe("the data disk could not be mounted again at /data (mount: /data: mounting failed); type /bin/virtlab-data to try again");
    t.session.dispose();
  });

  it("gives each machine its own name and MAC: at the first prompt after the boot is kept, and in the set-up after a restore", async () => {
    const t = setup({ bootCache: cacheOn().cache, manifest: withAgent });
    const vm1 = machineIdentity("m-1", "vm1");
    const vm2 = machineIdentity("m-2", "vm2");
    const identities: string[] = [];
    t.session.onIdentity((identity) => identities.push(identity.hostname));
    const kept = new Promise<BootKept>((resolve) => t.session.onBootKept(resolve));
    const starting = t.session.start({ record: DEFAULT_MACHINE, profile: virtioNic, request: { kind: "auto" }, identity: vm1 });
    await vi.waitFor(() => expect(t.shells.length).toBe(1));
    t.shells[0]?.boot();
    expect(await starting).toEqual({ kind: "started", from: "boot" });
    expect((await kept).kind).toBe("kept");
    await vi.waitFor(() => expect(identities).toEqual(["vm1"]));
    // The kept state is saved before the machine takes its name: it stays the guest's own.
    const agent = t.shells[0]?.agentCommands ?? [];
    expect(agent.at(-1)).toBe(`/bin/virtlab-net identity vm1 ${vm1.mac}`);
    expect(agent.findIndex((c) => c.includes("virtlab-net identity"))).toBeGreaterThan(agent.findIndex((c) => c.startsWith("umount /data")));

    const settled: string[] = [];
    t.session.onSettled(({ lastLine }) => settled.push(lastLine));
    expect(await t.session.start({ record: DEFAULT_MACHINE, profile: virtioNic, request: { kind: "auto" }, identity: vm2 })).toEqual({ kind: "started", from: "boot-cache" });
    expect(t.shells[1]?.agentCommands.at(-1)).toMatch(new RegExp(`date -s @1700000000 >/dev/null; /bin/virtlab-net identity vm2 ${vm2.mac}$`));
    expect(identities).toEqual(["vm1", "vm2"]);
    // The state's prompt named the machine that was saved; the screen names this one.
    expect(settled).toEqual(["root@vm2:/# "]);
    t.session.dispose();
  });

  it("takeIdentity: after the guest rebooted (a boot from scratch, the guest's own name), the machine takes its identity at the new prompt", async () => {
    const t = setup({ bootCache: cacheOn().cache, manifest: withAgent });
    const vm1 = machineIdentity("m-1", "vm1");
    await bootAndKeep(t, virtioNic);
    const identities: string[] = [];
    t.session.onIdentity((identity) => identities.push(identity.hostname));
    const runs: string[] = [];
    t.session.onRun(({ runStart }) => runs.push(runStart.kind));
    expect(await t.session.start({ record: DEFAULT_MACHINE, profile: virtioNic, request: { kind: "auto" }, identity: vm1 })).toEqual({ kind: "started", from: "boot-cache" });
    expect(identities).toEqual(["vm1"]);
    t.shells[1]?.guestReboots();
    await vi.waitFor(() => expect(t.shells.length).toBe(3));
    expect(runs.at(-1)).toBe("reboot");
    expect(t.session.startedFrom).toBe("boot");
    t.session.takeIdentity(vm1);
    await Promise.resolve();
    // Asked before the new guest's prompt: it waits for it.
    expect(t.shells[2]?.agentCommands ?? []).toEqual([]);
    t.shells[2]?.boot();
    await vi.waitFor(() => expect(identities).toEqual(["vm1", "vm1"]));
    expect(t.shells[2]?.agentCommands.at(-1)).toBe(`/bin/virtlab-net identity vm1 ${vm1.mac}`);
    expect(t.session.status.readyDetail).toMatch(/^booted in \d+\.\d s$/);
    t.session.dispose();
  });

  it("says so in the status line when the guest cannot take the machine's identity", async () => {
    const vm1 = machineIdentity("m-1", "vm1");
    const t = setup({ manifest: withAgent, answers: { [`/bin/virtlab-net identity vm1 ${vm1.mac}`]: ["virtlab-net: not a MAC address", 1] } });
    const starting = t.session.start({ record: DEFAULT_MACHINE, profile: virtioNic, request: { kind: "cold" }, identity: vm1 });
    await vi.waitFor(() => expect(t.shells.length).toBe(1));
    t.shells[0]?.boot();
    expect(await starting).toEqual({ kind: "started", from: "boot" });
    await vi.waitFor(() => expect(t.session.status.readyDetail).toBe("this machine could not take its own name and network address (virtlab-net: not a MAC address)"));
    expect(t.session.machine?.status.stage).toBe("ready");
    t.session.dispose();
  });

  it("a cold boot (the Cold boot button) neither uses nor keeps a boot", async () => {
    const { cache } = cacheOn();
    const t = setup({ bootCache: cache, manifest: withAgent });
    await bootAndKeep(t, virtioNic);
    expect(await start(t.session, { kind: "cold" }, virtioNic)).toEqual({ kind: "started", from: "boot" });
    expect(t.shells[1]?.config.initial_state).toBeUndefined();
    expect(t.shells[1]?.agentCommands).toEqual([]);
    t.session.dispose();
  });
});

describe("MachineSession: a link's kept boot, read ahead unpacked", () => {
  const withAgent: GuestManifest = { ...manifest, agent: "serial1" };
  const virtioNic: DeviceProfile = { ...DEFAULT_PROFILE, nic: "virtio" };
  const entry = linkEntry("?nic=virtio");
  if (entry === undefined) throw new Error("a device-switch link has an entry");

  /** One page of a browser whose stores are `stores`: its session, with the link's source as the page's entry makes it. */
  async function page(stores: { readonly boots: KeyValueStore; readonly unpacked: KeyValueStore }, options: { readonly loaderFails?: string } = {}) {
    const bootCache = new BootCache(new SnapshotStore(stores.boots));
    const finds = vi.spyOn(bootCache, "find");
    const source = unpackedBootIn(new UnpackedStateCache(stores.unpacked), entry!);
    const calls: string[] = [];
    const counted: UnpackedBootSource = {
      find: () => (calls.push("find"), source.find()),
      served: () => (calls.push("served"), source.served()),
      keep: (boot) => (calls.push("keep"), source.keep(boot)),
      end: () => (calls.push("end"), source.end()),
    };
    // As the page: the pre-booted state is there, for other hardware than the link's.
    return { ...setup({ prebooted: await prebootedFor(DEFAULT_PROFILE), bootCache, unpackedBoot: counted, manifest: withAgent, ...options }), finds, calls, idle: () => source.idle };
  }
  const browser = () => ({ boots: memoryStore(), unpacked: memoryStore() });
  /** A start on `p` that boots `profile` (the test plays the guest), resolved once the boot is kept and the source idle. */
  async function bootOn(p: Awaited<ReturnType<typeof page>>, profile: DeviceProfile): Promise<void> {
    const kept = new Promise<BootKept>((resolve) => p.session.onBootKept(resolve));
    const before = p.shells.length;
    const starting = start(p.session, { kind: "auto" }, profile);
    await vi.waitFor(() => expect(p.shells.length).toBe(before + 1));
    p.shells.at(-1)?.boot();
    expect(await starting).toEqual({ kind: "started", from: "boot" });
    expect((await kept).kind).toBe("kept");
    await p.idle();
  }
  const restored = (shell: { config: { initial_state?: { buffer: ArrayBuffer } } } | undefined): string | undefined => {
    const initial = shell?.config.initial_state;
    return initial === undefined ? undefined : fakeStateMarker(new Uint8Array(initial.buffer));
  };

  it("a boot kept at the link's first visit is kept unpacked too; the next visit restores that without reading the boot cache, then checks it", async () => {
    const stores = browser();
    const first = await page(stores);
    await bootOn(first, virtioNic);
    expect(first.calls).toEqual(["find", "keep", "end"]);
    first.session.dispose();

    const second = await page(stores);
    expect(await start(second.session, { kind: "auto" }, virtioNic)).toEqual({ kind: "started", from: "boot-cache" });
    expect(second.finds).not.toHaveBeenCalled();
    expect(restored(second.shells[0])).toBe("state:0");
    // Settled as any restore of a kept boot: the data disk mounted again and the clock set.
    expect(second.shells[0]?.agentCommands.at(-1)).toMatch(/virtlab-data.*; date -s @1700000000 >\/dev\/null$/);
    expect(second.runs).toEqual(["boot-cache", "boot-cache"]);
    // No word of the pre-booted state not fitting: the start did not boot.
    expect(second.notices).toEqual([]);
    expect(second.calls).toEqual(["find", "served", "end"]);
    await second.idle();
    expect(await new UnpackedStateCache(stores.unpacked).check(entry!)).toBe(true);
    // Only the page's first start reads ahead: a second start in the page reads the boot cache.
    expect(await start(second.session, { kind: "auto" }, virtioNic)).toEqual({ kind: "started", from: "boot-cache" });
    expect(second.finds).toHaveBeenCalledTimes(1);
    expect(second.calls).toEqual(["find", "served", "end"]);
    second.session.dispose();
  });

  it("a boot made at the link's first visit counts as kept once it is kept unpacked too", async () => {
    let release!: () => void;
    const keptUnpacked = new Promise<void>((resolve) => (release = resolve));
    const boots: number[] = [];
    const source: UnpackedBootSource = {
      find: () => Promise.resolve(undefined),
      served: () => undefined,
      keep: (boot) => (boots.push(boot.state.length), keptUnpacked),
      end: () => undefined,
    };
    const bootCache = new BootCache(new SnapshotStore(memoryStore()));
    const t = setup({ bootCache, unpackedBoot: source, manifest: withAgent });
    let kept: BootKept | undefined;
    t.session.onBootKept((outcome) => (kept = outcome));
    const starting = start(t.session, { kind: "auto" }, virtioNic);
    await vi.waitFor(() => expect(t.shells.length).toBe(1));
    t.shells[0]?.boot();
    await starting;
    await vi.waitFor(() => expect(boots).toHaveLength(1));
    expect(boots[0]).toBeGreaterThan(0);
    // In the boot cache already, and not yet said to be kept.
    await vi.waitFor(async () => expect(await bootCache.size()).toBe(1));
    expect(kept).toBeUndefined();
    release();
    await vi.waitFor(() => expect(kept?.kind).toBe("kept"));
    t.session.dispose();
  });

  it("a kept state for other hardware is not used: the boot cache is read, and its boot is kept unpacked in its place", async () => {
    const stores = browser();
    const doubled: DeviceProfile = { ...virtioNic, memoryMiB: DEFAULT_PROFILE.memoryMiB * 2 };
    // The link's entry holds a boot of the default memory size; the link's machine now has twice that.
    const first = await page(stores);
    await bootOn(first, virtioNic);
    await bootOn(first, doubled);
    first.session.dispose();

    const keptFor = async (): Promise<number | undefined> => (await new UnpackedStateCache(stores.unpacked).find(entry!))?.header.fingerprint.memoryMiB;
    // The link's last start (the first page's first) kept the default size's boot.
    expect(await keptFor()).toBe(DEFAULT_PROFILE.memoryMiB);

    const second = await page(stores);
    expect(await start(second.session, { kind: "auto" }, doubled)).toEqual({ kind: "started", from: "boot-cache" });
    expect(second.finds).toHaveBeenCalledTimes(1);
    expect(second.shells[0]?.config.memory_size).toBe(doubled.memoryMiB * 1024 * 1024);
    expect(second.calls).toEqual(["find", "keep", "end"]);
    await second.idle();
    expect(await keptFor()).toBe(doubled.memoryMiB);
    second.session.dispose();

    const third = await page(stores);
    expect(await start(third.session, { kind: "auto" }, doubled)).toEqual({ kind: "started", from: "boot-cache" });
    expect(third.finds).not.toHaveBeenCalled();
    expect(third.calls).toEqual(["find", "served", "end"]);
    third.session.dispose();
  });

  it("a damaged state is used at most once: the check after the start deletes it, and the next visit reads the boot cache and keeps it again", async () => {
    const stores = browser();
    const first = await page(stores);
    await bootOn(first, virtioNic);
    first.session.dispose();
    const key = (await stores.unpacked.keys()).find((k) => k.startsWith("state:"));
    const state = key === undefined ? undefined : await stores.unpacked.get<Uint8Array>(key);
    if (key === undefined || state === undefined) return expect.fail("nothing was kept unpacked");
    const damaged = state.slice();
    damaged[damaged.length - 1] = (damaged[damaged.length - 1] ?? 0) ^ 0xff;
    await stores.unpacked.set(key, damaged);

    const second = await page(stores);
    expect(await start(second.session, { kind: "auto" }, virtioNic)).toEqual({ kind: "started", from: "boot-cache" });
    expect(second.finds).not.toHaveBeenCalled();
    await second.idle();
    expect(await stores.unpacked.keys()).toEqual([]);
    second.session.dispose();

    const third = await page(stores);
    expect(await start(third.session, { kind: "auto" }, virtioNic)).toEqual({ kind: "started", from: "boot-cache" });
    expect(third.finds).toHaveBeenCalledTimes(1);
    await third.idle();
    expect(await new UnpackedStateCache(stores.unpacked).check(entry!)).toBe(true);
    third.session.dispose();
  });

  it("a start from the boot cache that fails keeps nothing unpacked, and the source is told nothing more comes", async () => {
    const stores = browser();
    const first = await page(stores);
    await bootOn(first, virtioNic);
    first.session.dispose();
    await new UnpackedStateCache(stores.unpacked).forget(entry!);

    const failing = await page(stores, { loaderFails: "v86.wasm" });
    expect(await start(failing.session, { kind: "auto" }, virtioNic)).toMatchObject({ kind: "failed", error: { code: "asset-load-failed" } });
    expect(failing.finds).toHaveBeenCalledTimes(1);
    expect(failing.calls).toEqual(["find", "end"]);
    await failing.idle();
    expect(await stores.unpacked.keys()).toEqual([]);
    failing.session.dispose();
  });
});

describe("chooseMachine", () => {
  const machines = (get: MachineStore["get"]): Pick<MachineStore, "get"> => ({ get });

  it("says so when storage cannot be read, instead of starting the default machine", async () => {
    const failing = machines(() => Promise.reject(new Error("IndexedDB is broken")));
    await expect(chooseMachine(failing, { lastUsed: "m-1" })).rejects.toMatchObject({ code: "storage-failed", details: { subject: "m-1" } });
  });

  it("takes the link's machine, else the last used, else the built-in one with a notice for a link's unknown machine", async () => {
    const saved: MachineRecord = { ...DEFAULT_MACHINE, id: "m-1", name: "Mine", builtIn: false };
    const store = machines(async (id) => (id === "m-1" ? saved : id === DEFAULT_MACHINE.id ? DEFAULT_MACHINE : undefined));
    expect((await chooseMachine(store, { fromLink: "m-1" })).record).toBe(saved);
    expect((await chooseMachine(store, { lastUsed: "m-1" })).record).toBe(saved);
    const unknown = await chooseMachine(store, { fromLink: "m-9", lastUsed: "m-1" });
    expect(unknown.record).toBe(DEFAULT_MACHINE);
    expect(unknown.notice).toMatch(/no saved machine "m-9"/);
  });
});
