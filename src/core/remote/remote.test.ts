import "fake-indexeddb/auto";
import { describe, expect, it } from "vitest";
import type { BackendFactory, BackendHost, BalloonDevice, CompiledEmulator, ConsoleChunk, ConsolePort, EmulatorBackend, GuestMemory, JitCounts, MicroscopeHooks, ScreenSource } from "../backend.ts";
import { ManualClock } from "../clock.ts";
import { AppError } from "../errors.ts";
import { Emitter, toDisposable } from "../events.ts";
import { decodeText, encodeText, host } from "../host.ts";
import { Machine } from "../machine.ts";
import { TrapMeter, type TrapSink } from "../microscope/traps.ts";
import { DEFAULT_PROFILE, type DiskDevice, type EmulatorConfig, type LinuxGuest } from "../profile.ts";
import { connectRemoteBackend, type RemoteBackend } from "./client.ts";
import { STATUS_INTERVAL_MS, portPair, type FromWorker, type ToWorker } from "./protocol.ts";
import { DISK_READ_STALL_MS, serveBackend, type ServeOptions } from "./server.ts";
import type { WarmUp } from "../v86.ts";
import { defaultWarmUpRefs, type WarmUpRefs } from "./warmUp.ts";
import { countingStore } from "../testing/countingStore.ts";
import { DiskStore, PAGE_SIZE, openDiskDatabase } from "../storage/disk.ts";
import { memoryStore, openIndexedDbStore, type StoreLocation } from "../storage/kv.ts";
import { PageCache } from "../storage/pageCache.ts";

const PROMPT = "root@virtlab:/# ";

/** A stand-in emulator on the Worker's side: a shell that answers marked commands, a disk user, meters. */
class FakeEmulator implements EmulatorBackend {
  private readonly output = new Emitter<ConsoleChunk>();
  private readonly crash = new Emitter<unknown>();
  private readonly reboot = new Emitter<void>();
  readonly onOutput = this.output.event;
  readonly onCrash = this.crash.event;
  readonly onRebootRequest = this.reboot.event;
  running = false;
  counter = 0;
  disposed = false;
  written: string[] = [];
  restored: string[] = [];
  text = ["GNU GRUB  version 2.06", ""];
  sink: TrapSink | undefined;
  jit = { blocks: 0, wasmBytes: 0, invalidations: 0 };
  jitOn = true;
  pages = 0;
  private input = "";
  readonly balloon: BalloonDevice = { setTarget: (p) => (this.pages = p), target: () => this.pages, actual: () => Math.floor(this.pages / 2) };
  readonly guestMemory: GuestMemory = {
    controlRegisters: async () => ({ cr0: 0x8000_0001, cr3: 0x1000, cr4: 0 }),
    readPhysical: async (address, length) => Uint8Array.from({ length }, (_, i) => (address + i) & 0xff),
    layout: async () => ({ wasmOffset: 0x4000, bytes: 1 << 20 }),
  };
  readonly microscope: MicroscopeHooks = {
    watchTraps: (sink) => {
      this.sink = sink;
      return toDisposable(() => (this.sink = undefined));
    },
    watchJit: () => ({ read: (): JitCounts => ({ ...this.jit }), dispose: () => undefined }),
    setJit: (on) => (this.jitOn = on),
    jitEnabled: () => this.jitOn,
    onHypercall: new Emitter<never>().event,
  };
  readonly screen: ScreenSource = {
    mode: () => ({ kind: "graphics", width: 2, height: 1 }),
    frame: () => ({ width: 2, height: 1, rgba: Uint8Array.of(1, 2, 3, 255, 4, 5, 6, 255) }),
  };

  private readonly net = new Emitter<Uint8Array>();
  /** Frames the guest's NIC sends. */
  readonly onNetworkFrame = this.net.event;
  received: Uint8Array[] = [];
  sendNetworkFrame(frame: Uint8Array): void {
    this.received.push(frame);
  }
  transmit(frame: Uint8Array): void {
    this.net.fire(frame);
  }

  constructor(readonly config: EmulatorConfig) {}

  print(text: string, port: ConsolePort = "serial0"): void {
    this.output.fire({ port, bytes: encodeText(text) });
  }

  write(port: ConsolePort, bytes: Uint8Array): void {
    const text = decodeText(bytes);
    this.written.push(`${port}:${text}`);
    this.input += text;
    const match = /printf '\\036S(\d+)\\037'; \{\n([\s\S]*)\n\}; printf '\\036E\1 %d\\037' \$\?\n$/.exec(this.input);
    if (match === null) return;
    this.input = "";
    // The command's port accesses happen before its output.
    this.sink?.port(0x3f8, 8, true, undefined, false);
    this.sink?.port(0x3f8, 8, true, undefined, false);
    this.print(`\x1eS${match[1]}\x1f${match[2] === "uname -r" ? "6.1.0-50-686\r\n" : ""}\x1eE${match[1]} 0\x1f${PROMPT}`);
  }

  async run(): Promise<void> {
    this.running = true;
  }
  async stop(): Promise<void> {
    this.running = false;
  }
  isRunning(): boolean {
    return this.running;
  }
  instructionCounter(): number {
    return this.counter;
  }
  async saveState(): Promise<Uint8Array> {
    return encodeText(`state:${this.counter}`);
  }
  async restoreState(state: Uint8Array): Promise<void> {
    this.restored.push(decodeText(state));
  }
  sendCtrlAltDel(): void {}
  scancodes: number[] = [];
  sendScancodes(codes: readonly number[]): void {
    this.scancodes.push(...codes);
  }
  textScreen(): string[] {
    return this.text;
  }
  fail(error: unknown): void {
    this.crash.fire(error);
  }
  dispose(): void {
    this.disposed = true;
  }
}

/** The page's disk: reads give the byte's offset, writes are kept (as OverlayDisk's pending pages). */
class PageDisk implements DiskDevice {
  readonly byteLength = 1 << 20;
  onload: ((event: object) => void) | undefined;
  readonly writes: [number, number[]][] = [];
  load(): void {
    this.onload?.({});
  }
  get(start: number, length: number, callback: (data: Uint8Array) => void): void {
    callback(Uint8Array.from({ length }, (_, i) => (start + i) & 0xff));
  }
  get_and_cache(start: number, length: number, callback: (data: Uint8Array) => void): void {
    this.get(start, length, callback);
  }
  get_from_cache(): Uint8Array | undefined {
    return undefined;
  }
  set(start: number, data: Uint8Array, callback: () => void): void {
    this.writes.push([start, [...data]]);
    callback();
  }
  get_state(): unknown[] {
    return [this.byteLength];
  }
  set_state(): void {}
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => host.queueMicrotask(resolve));
};

function setup(fail?: unknown, serveOptions: ServeOptions = {}) {
  const raw = portPair((fn) => host.queueMicrotask(fn));
  // What each side hands over with a network frame, and the page with a start (transferred, not copied).
  const transfers = { toWorker: [] as (readonly ArrayBuffer[] | undefined)[], toPage: [] as (readonly ArrayBuffer[] | undefined)[], start: [] as (readonly ArrayBuffer[] | undefined)[] };
  const pair = {
    page: {
      ...raw.page,
      post: (m: ToWorker, transfer?: ArrayBuffer[]) => (m.type === "net-frame" && transfers.toWorker.push(transfer), m.type === "start" && transfers.start.push(transfer), raw.page.post(m, transfer)),
    },
    worker: { ...raw.worker, post: (m: FromWorker, transfer?: ArrayBuffer[]) => (m.type === "net-frame" && transfers.toPage.push(transfer), raw.worker.post(m, transfer)) },
  };
  const clock = new ManualClock();
  let emulator: FakeEmulator | undefined;
  let closed = 0;
  const hosts: BackendHost[] = [];
  const factory: BackendFactory = async (config, h) => {
    hosts.push(h);
    if (fail !== undefined) throw fail;
    emulator = new FakeEmulator(config);
    return emulator;
  };
  const server = serveBackend(pair.worker, factory, clock, serveOptions);
  const remoteFactory: BackendFactory = (config, h) => connectRemoteBackend(pair.page, config, h, () => closed++);
  return {
    transfers,
    clock,
    server,
    remoteFactory,
    emulator: () => emulator as FakeEmulator,
    closed: () => closed,
    hosts,
    /** A warm-up as the page asks a Worker made ahead for one. */
    warm: () => raw.page.post({ type: "warm", files: WARM_FILES }),
  };
}

const WARM_FILES = defaultWarmUpRefs({ name: "v86.wasm", url: "https://lab.test/v86.wasm" }, "https://lab.test/guest/");

const config = { memory_size: 1, hda: new PageDisk(), hdb: { buffer: new ArrayBuffer(8) } } as unknown as EmulatorConfig;

describe("RemoteBackend over an in-process port", () => {
  it("starts the emulator on the other side with the page's disks replaced by remote ones", async () => {
    const t = setup();
    const backend = (await t.remoteFactory(config, { wasm: new ArrayBuffer(4) })) as RemoteBackend;
    // Nothing to hand over: a boot has no state, and the wasm bytes are the page's for every machine.
    expect(t.transfers.start).toEqual([undefined]);
    const seen = t.emulator().config as unknown as Record<string, unknown>;
    expect(seen["hda"]).not.toBe(config.hda);
    expect((seen["hda"] as DiskDevice).byteLength).toBe(1 << 20);
    expect(seen["hdb"]).toEqual({ buffer: expect.any(ArrayBuffer) });
    // v86's reads and writes reach the page's disk object; the write is the page's at once.
    const disk = seen["hda"] as DiskDevice;
    const read = await new Promise<Uint8Array>((resolve) => disk.get(0x102, 3, resolve));
    expect([...read]).toEqual([2, 3, 4]);
    await new Promise<void>((resolve) => disk.set(512, Uint8Array.of(9, 8), resolve));
    expect((config.hda as PageDisk).writes).toEqual([[512, [9, 8]]]);
    backend.dispose();
  });

  it("starts on the module a warm-up compiled, ending the warm-up first; without a warm-up, from the bytes", async () => {
    const compiled: CompiledEmulator = { wasmBytes: 4, module: {}, warmedInstructions: 1000 };
    const asked: WarmUpRefs[] = [];
    const events: string[] = [];
    const warmUp = (files: WarmUpRefs): WarmUp => (asked.push(files), { compiled: Promise.resolve(compiled), end: () => void events.push("ended") });
    const t = setup(undefined, { warmUp });
    t.warm();
    await flush();
    expect(asked).toEqual([WARM_FILES]);
    const backend = await t.remoteFactory(config, { wasm: new ArrayBuffer(4) });
    expect(events).toEqual(["ended"]);
    expect(t.hosts.map((h) => h.compiled)).toEqual([compiled]);
    backend.dispose();

    // A Worker that was not asked, or cannot warm up, starts as before.
    const unasked = setup(undefined, { warmUp });
    const unable = setup();
    unable.warm();
    for (const other of [unasked, unable]) {
      const b = await other.remoteFactory(config, { wasm: new ArrayBuffer(4) });
      expect(other.hosts.map((h) => h.compiled)).toEqual([undefined]);
      b.dispose();
    }
    expect(asked).toHaveLength(1);
  });

  it("sends the state to start from over, not a copy of it", async () => {
    const t = setup();
    const state = new ArrayBuffer(16);
    const backend = await t.remoteFactory({ ...config, initial_state: { buffer: state } }, { wasm: new ArrayBuffer(4) });
    expect(t.transfers.start).toHaveLength(1);
    expect(t.transfers.start[0]).toHaveLength(1);
    expect(t.transfers.start[0]?.[0]).toBe(state);
    expect((t.emulator().config as unknown as { initial_state: { buffer: ArrayBuffer } }).initial_state.buffer).toBe(state);
    backend.dispose();
  });

  it("sends a boot's files over, not copies of them (the Machine loads them again for a later boot)", async () => {
    const t = setup();
    const files = { bios: new ArrayBuffer(5), vga_bios: new ArrayBuffer(3), bzimage: new ArrayBuffer(7), initrd: new ArrayBuffer(6) };
    const boot = { ...config, bios: { buffer: files.bios }, vga_bios: { buffer: files.vga_bios }, bzimage: { buffer: files.bzimage }, initrd: { buffer: files.initrd } } as EmulatorConfig;
    const backend = await t.remoteFactory(boot, { wasm: new ArrayBuffer(4) });
    expect(t.transfers.start).toEqual([[files.bios, files.vga_bios, files.bzimage, files.initrd]]);
    const seen = t.emulator().config;
    expect([seen.bios?.buffer, seen.vga_bios?.buffer, seen.bzimage?.buffer, seen.initrd?.buffer]).toEqual([files.bios, files.vga_bios, files.bzimage, files.initrd]);
    backend.dispose();
  });

  it("gives the page the instruction counter as of each output, not as of the last status", async () => {
    const t = setup();
    const backend = await t.remoteFactory(config, { wasm: new ArrayBuffer(4) });
    const seen: string[] = [];
    // What the lab's timed sections do: read the counter when a marker's bytes arrive.
    backend.onOutput((c) => seen.push(`${decodeText(c.bytes)}@${backend.instructionCounter()}`));
    t.emulator().counter = 1_000;
    t.emulator().print("begin");
    t.emulator().counter = 51_000;
    t.clock.advance(30);
    t.emulator().print("end");
    await flush();
    // Well within one status interval: before, both read the counter of the start (0).
    expect(seen).toEqual(["begin@1000", "end@51000"]);
    expect(backend.instructionSample?.()).toEqual({ counter: 51_000, atMs: t.clock.now() });
    backend.dispose();
  });

  it("carries console bytes both ways and mirrors running, the counter and the text screen", async () => {
    const t = setup();
    const backend = await t.remoteFactory(config, { wasm: new ArrayBuffer(4) });
    const out: string[] = [];
    backend.onOutput((c) => out.push(`${c.port}:${decodeText(c.bytes)}`));
    backend.write("virtio0", encodeText("ls\n"));
    backend.sendScancodes?.([0x1c, 0x9c]);
    t.emulator().print("hello", "serial0");
    await flush();
    expect(t.emulator().written).toEqual(["virtio0:ls\n"]);
    expect(t.emulator().scancodes).toEqual([0x1c, 0x9c]);
    expect(out).toEqual(["serial0:hello"]);
    expect(backend.isRunning()).toBe(false);
    await backend.run();
    expect(backend.isRunning()).toBe(true);
    t.emulator().counter = 123_456;
    t.emulator().text = ["login:"];
    t.clock.advance(STATUS_INTERVAL_MS);
    await flush();
    expect(backend.instructionCounter()).toBe(123_456);
    // With the Worker's time of that reading (the page's MIPS is taken between two such).
    expect(backend.instructionSample?.()).toEqual({ counter: 123_456, atMs: t.clock.now() });
    await backend.stop();
    expect(backend.isRunning()).toBe(false);
    backend.dispose();
  });

  it("saves and restores states, reads guest memory, and forwards the balloon and the JIT switch", async () => {
    const t = setup();
    const backend = await t.remoteFactory(config, { wasm: new ArrayBuffer(4) });
    t.emulator().counter = 7;
    expect(decodeText(await backend.saveState())).toBe("state:7");
    await backend.restoreState(encodeText("state:3"));
    expect(t.emulator().restored).toEqual(["state:3"]);
    expect(await backend.guestMemory?.readPhysical(0x10, 2)).toEqual(Uint8Array.of(0x10, 0x11));
    expect((await backend.guestMemory?.controlRegisters())?.cr3).toBe(0x1000);
    expect((await backend.guestMemory?.layout())?.wasmOffset).toBe(0x4000);
    backend.balloon?.setTarget(64);
    expect(backend.balloon?.target()).toBe(64);
    await flush();
    expect(t.emulator().pages).toBe(64);
    expect(backend.balloon?.actual()).toBe(32);
    expect(backend.microscope?.jitEnabled()).toBe(true);
    backend.microscope?.setJit(false);
    await flush();
    expect(t.emulator().jitOn).toBe(false);
    expect(backend.microscope?.jitEnabled()).toBe(false);
    backend.dispose();
  });

  it("hands graphics frames to the page", async () => {
    const t = setup();
    const backend = (await t.remoteFactory(config, { wasm: new ArrayBuffer(4) })) as RemoteBackend;
    expect(backend.remoteScreen?.mode()).toEqual({ kind: "graphics", width: 2, height: 1 });
    const frame = await backend.remoteScreen?.frame(true);
    expect(frame).toMatchObject({ width: 2, height: 1 });
    expect([...(frame?.rgba ?? [])]).toEqual([1, 2, 3, 255, 4, 5, 6, 255]);
    // In a graphics mode there is no text screen.
    expect(backend.textScreen()).toEqual([]);
    backend.dispose();
  });

  it("reports crashes and reboot requests, and a start that failed as the AppError it was", async () => {
    const t = setup();
    const backend = await t.remoteFactory(config, { wasm: new ArrayBuffer(4) });
    const events: unknown[] = [];
    backend.onCrash((e) => events.push(e));
    t.emulator().fail(new AppError("emulator-crashed", "RuntimeError: unreachable"));
    await flush();
    expect(events[0]).toBeInstanceOf(AppError);
    expect((events[0] as AppError).code).toBe("emulator-crashed");
    backend.dispose();

    const failing = setup(new AppError("wasm-load-failed", "The emulator's WebAssembly module could not be started."));
    await expect(failing.remoteFactory(config, { wasm: new ArrayBuffer(4) })).rejects.toMatchObject({ code: "wasm-load-failed" });
    expect(failing.closed()).toBe(1);
  });

  it("dispose stops the far side, fails calls still waiting and closes the worker", async () => {
    const t = setup();
    const backend = await t.remoteFactory(config, { wasm: new ArrayBuffer(4) });
    const pending = backend.saveState();
    backend.dispose();
    await expect(pending).rejects.toMatchObject({ code: "disposed" });
    await flush();
    expect(t.emulator().disposed).toBe(true);
    expect(t.closed()).toBe(1);
  });
});

const guest: LinuxGuest = {
  kind: "linux",
  bios: { name: "bios.bin", url: "bios.bin", size: 1 },
  vgaBios: { name: "vgabios.bin", url: "vgabios.bin", size: 1 },
  kernel: { name: "bzImage", url: "bzImage", size: 1 },
  initrd: { name: "initramfs.cpio", url: "initramfs.cpio", size: 1 },
  cmdline: "console=ttyS0",
  prompt: "root@virtlab:[^\\r\\n]*# $",
};

describe("a Machine whose emulator is behind a port", () => {
  it("carries network frames both ways, each buffer transferred; with its network off it neither sends nor receives", async () => {
    const t = setup();
    const machine = new Machine({ profile: { ...DEFAULT_PROFILE, nic: "ne2k" }, guest, wasm: { name: "v86.wasm", url: "v86.wasm", size: 1 }, loader: { load: async () => new ArrayBuffer(1) }, backend: t.remoteFactory, clock: t.clock });
    await machine.start();
    const seen: number[][] = [];
    machine.onNetworkFrame((frame) => seen.push([...frame]));
    // Guest → page: the Worker hands over the frame's own buffer.
    t.emulator().transmit(Uint8Array.of(1, 2, 3));
    await flush();
    expect(seen).toEqual([[1, 2, 3]]);
    expect(t.transfers.toPage).toHaveLength(1);
    expect(t.transfers.toPage[0]?.[0]?.byteLength).toBe(3);
    // Page → guest: a copy is transferred, the caller's frame stays whole.
    const frame = Uint8Array.of(4, 5);
    machine.sendNetworkFrame(frame);
    await flush();
    expect(t.emulator().received.map((f) => [...f])).toEqual([[4, 5]]);
    expect(t.transfers.toWorker).toHaveLength(1);
    expect(t.transfers.toWorker[0]?.[0]?.byteLength).toBe(2);
    expect([...frame]).toEqual([4, 5]);

    machine.setNetwork("off");
    t.emulator().transmit(Uint8Array.of(9));
    expect(() => machine.sendNetworkFrame(Uint8Array.of(8))).toThrow(expect.objectContaining({ code: "not-running" }));
    await flush();
    expect(seen).toHaveLength(1);
    expect(t.emulator().received).toHaveLength(1);
    machine.setNetwork("on");
    t.emulator().transmit(Uint8Array.of(7));
    await flush();
    expect(seen.at(-1)).toEqual([7]);
    machine.dispose();
  });

  it("runs a command, and a trap meter over it has the command's traps when its output arrives", async () => {
    const t = setup();
    const machine = new Machine({
      profile: DEFAULT_PROFILE,
      guest,
      wasm: { name: "v86.wasm", url: "v86.wasm", size: 1 },
      loader: { load: async () => new ArrayBuffer(1) },
      backend: t.remoteFactory,
      clock: t.clock,
    });
    await machine.start();
    t.emulator().print(PROMPT);
    await machine.waitForShell({ timeoutMs: 1000 });
    const meter = new TrapMeter();
    const watch = machine.microscope()?.watchTraps(meter);
    await flush();
    const result = await machine.run("uname -r", { timeoutMs: 1000 });
    expect(result).toEqual({ output: "6.1.0-50-686", exitCode: 0 });
    expect(meter.snapshot().devices["uart0"]?.portWrites[8]).toBe(2);
    watch?.dispose();
    machine.dispose();
    await flush();
    expect(t.emulator().disposed).toBe(true);
    expect(t.closed()).toBe(1);
  });

  it("saved disk pages are read on the Worker's side from the store the page names; a page gone there is asked of the page", async () => {
    // The page's disk: 8 pages written and saved, no cache, so all of them live in storage only.
    const stored = openDiskDatabase(`remote-disks-${Math.random()}`);
    let pageReads = 0;
    const counted = countingStore(stored, () => pageReads++);
    const disk = await new DiskStore(counted, new PageCache(0)).open("d", { size: 8 * PAGE_SIZE, clock: new ManualClock() });
    const written = Uint8Array.from({ length: 8 * PAGE_SIZE }, (_, i) => (i * 31 + 7) & 0xff);
    await disk.write(0, written);
    await disk.flush();
    const readAll = async (t: ReturnType<typeof setup>): Promise<Uint8Array> => {
      const backend = (await t.remoteFactory({ ...config, hda: disk } as unknown as EmulatorConfig, { wasm: new ArrayBuffer(4) })) as RemoteBackend;
      const remote = (t.emulator().config as unknown as Record<string, DiskDevice>)["hda"] as DiskDevice;
      const out = new Uint8Array(written.length);
      // As Linux reads a file: sequential requests, 128 KiB each.
      for (let at = 0; at < out.length; at += 2 * PAGE_SIZE) out.set(await new Promise<Uint8Array>((resolve) => remote.get(at, 2 * PAGE_SIZE, resolve)), at);
      backend.dispose();
      return out;
    };

    const opened: StoreLocation[] = [];
    pageReads = 0;
    const there = await readAll(setup(undefined, { openStore: (at) => (opened.push(at), openIndexedDbStore(at.dbName, at.storeName, { bytesAsBlobs: at.bytesAsBlobs })) }));
    // Byte for byte (vitest's deep equality is far too slow on half a megabyte).
    expect(there.every((byte, i) => byte === written[i])).toBe(true);
    expect(opened).toEqual([stored.location]);
    expect(pageReads).toBe(0);

    // The Worker's store lacks the pages (as after a reset meanwhile): the page answers with bytes.
    pageReads = 0;
    const fallback = await readAll(setup(undefined, { openStore: () => memoryStore() }));
    expect(fallback.every((byte, i) => byte === written[i])).toBe(true);
    expect(pageReads).toBeGreaterThan(0);
  });

  it("a read from storage in the Worker that never answers is asked of the page again, and answered once", async () => {
    const stored = openDiskDatabase(`remote-stall-${Math.random()}`);
    let pageReads = 0;
    const disk = await new DiskStore(countingStore(stored, () => pageReads++), new PageCache(0)).open("d", { size: 4 * PAGE_SIZE, clock: new ManualClock() });
    const written = Uint8Array.from({ length: 4 * PAGE_SIZE }, (_, i) => (i * 13 + 5) & 0xff);
    await disk.write(0, written);
    await disk.flush();
    pageReads = 0;
    // The Worker's store takes the read and never answers (as Chromium's Blob reads once did).
    let stalled = 0;
    const stuck = { ...memoryStore(), readInto: () => (stalled++, new Promise<never>(() => undefined)) };
    const t = setup(undefined, { openStore: () => stuck });
    const backend = (await t.remoteFactory({ ...config, hda: disk } as unknown as EmulatorConfig, { wasm: new ArrayBuffer(4) })) as RemoteBackend;
    const remote = (t.emulator().config as unknown as Record<string, DiskDevice>)["hda"] as DiskDevice;
    const answers: Uint8Array[] = [];
    remote.get(PAGE_SIZE, PAGE_SIZE, (bytes) => answers.push(bytes.slice()));
    await flush();
    expect(stalled).toBe(1);
    t.clock.advance(DISK_READ_STALL_MS - 1);
    await flush();
    expect(answers).toEqual([]);
    t.clock.advance(1);
    await expect.poll(() => answers.length).toBe(1);
    expect(answers[0]!.every((byte, i) => byte === written[PAGE_SIZE + i])).toBe(true);
    expect(pageReads).toBeGreaterThan(0);
    // Answered: nothing is asked again later, and the read is answered once.
    const asked = pageReads;
    t.clock.advance(10 * DISK_READ_STALL_MS);
    await flush();
    expect(answers).toHaveLength(1);
    expect(pageReads).toBe(asked);
    expect(stalled).toBe(1);
    backend.dispose();
  });
});
