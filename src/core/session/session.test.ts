import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.ts";
import { AppError } from "../errors.ts";
import type { GuestManifest } from "../guest.ts";
import { memoryStore, type KeyValueStore } from "../storage/kv.ts";
import { DiskStore } from "../storage/disk.ts";
import { ImageStore } from "../storage/images.ts";
import type { MachineStore} from "../storage/machines.ts";
import { DEFAULT_MACHINE, type MachineRecord } from "../storage/machines.ts";
import { DEFAULT_PROFILE, type DeviceProfile } from "../profile.ts";
import { machineFingerprint } from "../snapshot/fingerprint.ts";
import { V86_STATE_MAGIC, concatParts, encodeSnapshot } from "../snapshot/format.ts";
import { V86_PACKAGE_VERSION, V86_STATE_VERSION } from "../v86.ts";
import { decodeText, encodeText, sha256Hex } from "../host.ts";
import { PROMPT, fakeBackend, files, memoryLoader } from "../testing/fakeShell.ts";
import { chooseMachine } from "./choose.ts";
import { guestFor } from "./guests.ts";
import type { PrebootedSource } from "./prebooted.ts";
import { MachineSession } from "./session.ts";
import { StoreDisks } from "./storeDisks.ts";

async function entry(name: string): Promise<{ size: number; sha256: string }> {
  const bytes = files[name] ?? new Uint8Array();
  return { size: bytes.length, sha256: await sha256Hex(bytes) };
}

const manifest: GuestManifest = {
  kernelRelease: "6.1.0",
  cmdline: "console=ttyS0",
  files: Object.fromEntries(await Promise.all(["bios.bin", "vgabios.bin", "bzImage", "initramfs.cpio"].map(async (name) => [name, await entry(name)] as const))),
};

/** v86's state header (magic, format), then `marker`. */
function fakeState(marker: string): Uint8Array {
  const text = encodeText(marker);
  const state = new Uint8Array(16 + text.length);
  const view = new DataView(state.buffer);
  view.setUint32(0, V86_STATE_MAGIC, true);
  view.setUint32(4, V86_STATE_VERSION, true);
  state.set(text, 16);
  return state;
}

/** A pre-booted state file saved with `profile`; `asked` counts the reads of its description. */
async function prebootedFor(profile: DeviceProfile): Promise<PrebootedSource & { asked: number }> {
  const guest = guestFor(DEFAULT_MACHINE, manifest, "guest/", []);
  const fingerprint = machineFingerprint(profile, guest, { hda: { size: "any", base: "blank" } });
  const { parts } = await encodeSnapshot(fakeState("prebooted-state"), { app: "test", v86: V86_PACKAGE_VERSION, fingerprint, name: "p", createdAt: 0, shellReady: true, preview: "" });
  const file = concatParts(parts);
  const source = {
    asked: 0,
    async manifest() {
      source.asked++;
      return { file: "p.vlsnap", size: file.length, sha256: "", v86: V86_PACKAGE_VERSION };
    },
    async file() {
      return file;
    },
  };
  return source;
}

function setup(options: { prebooted?: PrebootedSource; kv?: KeyValueStore; loaderFails?: string } = {}) {
  const clock = new ManualClock();
  const { backend, shells } = fakeBackend({});
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
    guest: { base: "guest/", manifest: async () => manifest },
    images,
    diskStore,
    disks: new StoreDisks({ images, disks: diskStore }, clock),
    ...(options.prebooted === undefined ? {} : { prebooted: options.prebooted }),
  });
  const runs: string[] = [];
  const errors: AppError[] = [];
  const notices: string[] = [];
  session.onRun((run) => {
    runs.push(run.runStart.kind);
    if (run.notice !== undefined) notices.push(run.notice);
  });
  session.onError((error) => errors.push(error));
  return { session, shells, runs, errors, notices, diskStore };
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
    expect(decodeText(new Uint8Array(initial.buffer).subarray(16))).toBe("prebooted-state");
    const written = shells[0]?.written ?? "";
    expect(written).toContain("virtlab-data");
    expect(written).toContain("date -s @1700000000");
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
