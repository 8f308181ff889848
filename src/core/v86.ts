/**
 * The only module that imports v86. It turns an EmulatorConfig into a running V86 instance and
 * adapts v86's string-named events to the typed EmulatorBackend.
 */
import { V86, type V86Options } from "v86";
import { AppError } from "./errors.ts";
import { Emitter } from "./events.ts";
import { host as globals } from "./host.ts";
import { PIC_RECORD_BYTES, PicCascadeRepair, type PicRecords } from "./picCascade.ts";
import { NicReceiveQueue, ne2kHasRoom, type Ne2kRing } from "./nicQueue.ts";
import { systemClock, type Clock } from "./clock.ts";
import { PAGE_BYTES, wasmPageHasher } from "./migration/pageHash.ts";
import { findRamPack } from "./snapshot/ramPack.ts";
import type { BackendFactory, BalloonDevice, CompiledEmulator, ConsolePort, EmulatorBackend, GuestMemory, HypercallRecord, JitCounts, MicroscopeHooks, MigrationHooks, ScreenFrame, ScreenMode, ScreenSource } from "./backend.ts";
import { toDisposable, type Disposable } from "./events.ts";
import { HYPERCALL_BASE, HypercallDevice } from "./microscope/hypercall.ts";
import type { TrapSink, Width } from "./microscope/traps.ts";

// Scan codes (set 1): Ctrl, Alt, Delete (extended) pressed, then released in reverse order.
const CTRL_ALT_DEL = [0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d];

/** Thrown through v86's main loop to stop it at a guest's reboot request. */
const REBOOT = Symbol("virtlab.reboot");

/** The virtio console's size until the page says otherwise: v86's own defaults. */
const DEFAULT_COLS = 80;
const DEFAULT_ROWS = 25;

/** How long v86 may take to set itself up before we call the start failed. */
const LOAD_DEADLINE_MS = 60_000;

/** How long a warm-up runs the BIOS at most (a start that comes sooner ends it then). */
export const WARM_UP_MS = 150;

/** How long a start waits at most for the warm-up's throwaway v86 to be destroyed. */
const DESTROY_WAIT_MS = 1000;

/** What a warm-up runs: the emulator's wasm and the guest's two BIOSes. */
export interface WarmUpFiles {
  readonly wasm: ArrayBuffer;
  readonly bios: ArrayBuffer;
  readonly vgaBios: ArrayBuffer;
}

export interface WarmUp {
  /** The compiled module, once the warm-up is over; undefined when it could not even compile. */
  readonly compiled: Promise<CompiledEmulator | undefined>;
  /** End the BIOS run now (a start is waiting for the module). */
  end(): void;
}

/**
 * Compile v86.wasm and run it a moment on a throwaway machine (8 MiB, the BIOS alone, the
 * interpreter as a start from a state runs it), so the engine has compiled the emulator's own
 * functions before a real machine needs them. V8 compiles a module's functions on first use, and
 * a fresh instance made from the bytes started with none: after a restore the guest's set-up ran
 * on an emulator compiling itself as it went (Node: the first set-up 286-316 ms, a later one
 * 165-170 ms; after 100 ms of BIOS on the same module the first took 171-179 ms). Instances of one
 * module share its compiled code, so the machine started with `compiled` begins warm. A warm-up
 * that fails leaves the module as compiled (or nothing): a start never waits on more than that.
 */
export function warmUpEmulator(files: WarmUpFiles, clock: Clock, forMs = WARM_UP_MS): WarmUp {
  let over = false;
  let finish: () => void = () => undefined;
  const ended = new Promise<void>((resolve) => (finish = resolve));
  const compiled = (async (): Promise<CompiledEmulator | undefined> => {
    let module: object;
    try {
      module = await globals.WebAssembly.compile(files.wasm);
    } catch {
      return undefined;
    }
    let warmedInstructions = 0;
    let emulator: V86 | undefined;
    if (!over) {
      try {
        emulator = new V86({
          wasm_fn: async (imports: object) => (await globals.WebAssembly.instantiate(module, imports)).exports,
          bios: { buffer: files.bios },
          vga_bios: { buffer: files.vgaBios },
          memory_size: 8 * 1024 * 1024,
          vga_memory_size: 2 * 1024 * 1024,
          autostart: true,
          disable_jit: true,
        } as unknown as V86Options);
        const warm = emulator;
        // The same yield as a machine's (yieldInThisThread): with v86's own, which goes through a
        // helper Worker, a warm-up in Chromium ran 0.1 M instructions in 120 ms.
        warm.add_listener("emulator-ready", () => {
          yieldInThisThread(warm as unknown as V86Internals, clock);
          sleepThroughShortIdles(warm as unknown as V86Internals);
        });
        let timer: Disposable | undefined;
        // Timed from when v86 is set up (its init is part of what warms it too).
        warm.add_listener("emulator-loaded", () => (timer = clock.after(forMs, finish)));
        await ended;
        timer?.dispose();
        warmedInstructions = warm.get_instruction_counter() >>> 0;
      } catch {
        // Only not warmed: the module is as good as compiled.
      }
      // Stopped before the start's own instance runs; a destroy that never ends holds no start up for long.
      if (emulator !== undefined) {
        let gaveUp: Disposable | undefined;
        await Promise.race([destroyEvenWhileLoading(emulator), new Promise<void>((resolve) => (gaveUp = clock.after(DESTROY_WAIT_MS, resolve)))]);
        gaveUp?.dispose();
      }
    }
    return { wasmBytes: files.wasm.byteLength, module, warmedInstructions };
  })();
  return {
    compiled,
    end() {
      over = true;
      finish();
    },
  };
}

export const createV86Backend: BackendFactory = async (config, host) => {
  let failWasm: (error: unknown) => void = () => undefined;
  const wasmFailed = new Promise<never>((_, reject) => {
    failWasm = reject;
  });
  const options = {
    ...config,
    // We hand v86 the module bytes ourselves: its own loader fails silently on a bad path.
    wasm_fn: async (imports: object) => {
      try {
        const compiled = host.compiled;
        if (compiled !== undefined && compiled.wasmBytes === host.wasm.byteLength) return (await globals.WebAssembly.instantiate(compiled.module, imports)).exports;
        const { instance } = await globals.WebAssembly.instantiate(host.wasm, imports);
        return instance.exports;
      } catch (error) {
        failWasm(new AppError("wasm-load-failed", "The emulator's WebAssembly module could not be started.", { cause: error }));
        return new Promise<never>(() => undefined);
      }
    },
    // In a page, v86's keyboard adapter takes keys typed outside text fields (the VGA view);
    // xterm types through a textarea, which v86 leaves alone. Headless there is no keyboard.
    ...(host.screenContainer === undefined ? {} : { screen: { container: host.screenContainer }, disable_keyboard: false }),
  } as unknown as V86Options;

  let emulator: V86;
  try {
    emulator = new V86(options);
  } catch (error) {
    throw new AppError("emulator-start-failed", "The emulator refused this machine's configuration.", { cause: error });
  }
  // Set up before v86 first runs ("emulator-ready" comes from its init, just before autostart).
  emulator.add_listener("emulator-ready", () => {
    learnHostClockStep(emulator as unknown as V86Internals);
    yieldInThisThread(emulator as unknown as V86Internals, host.clock ?? systemClock);
    // "emulator-ready" ends v86's init; a start from a state restores it right after.
    if (config.initial_state !== undefined) {
      unpackRamFromTheState(emulator as unknown as V86Internals, new Uint8Array(config.initial_state.buffer));
      zeroOnlyWrittenMemoryAtRestore(emulator as unknown as V86Internals);
    }
    smallerJitModules(emulator as unknown as V86Internals);
    sleepThroughShortIdles(emulator as unknown as V86Internals);
  });

  let timer: Disposable | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = (host.clock ?? systemClock).after(LOAD_DEADLINE_MS, () => {
      reject(new AppError("emulator-start-failed", "The emulator did not finish loading.", { details: { deadlineMs: LOAD_DEADLINE_MS } }));
    });
  });
  const loaded = new Promise<void>((resolve) => emulator.add_listener("emulator-loaded", () => resolve()));
  try {
    await Promise.race([loaded, wasmFailed, deadline]);
  } catch (error) {
    void destroyEvenWhileLoading(emulator);
    throw error;
  } finally {
    timer?.dispose();
  }
  // A saved state carries each hard disk's geometry; the disk attached now may have another size.
  if ((config as { initial_state?: unknown }).initial_state !== undefined) fitDiskGeometry(emulator as unknown as V86Internals);
  return new V86Backend(emulator, !config.disable_jit, host.screenContainer === undefined);
};

/**
 * Destroy an emulator that may still be loading. v86's starter goes on after `destroy()`: once its
 * module and files are in, it runs its init ("emulator-ready") and, with autostart, `run()`. An
 * emulator destroyed while it loaded (a warm-up a start ended early, a load that failed or ran out
 * of time) then ran: before its module was in, `destroy()` failed and it ran for good beside the
 * machine that replaced it; after, its first slice threw in the machine's Worker, v86's yield
 * Worker gone ("Cannot read properties of null (reading 'postMessage')", an e2e run, 2026-12-06).
 * Such an emulator is made inert at its "emulator-ready" (after this file's own listeners): v86's
 * yield Worker, if it made one, is ended and its yield does nothing, so `run()` runs no slice.
 */
function destroyEvenWhileLoading(emulator: V86): Promise<void> {
  emulator.add_listener("emulator-ready", () => {
    const inner = (emulator as unknown as V86Internals).v86;
    if (inner === undefined) return;
    inner.unregister_yield();
    inner.yield = () => undefined;
  });
  return emulator.destroy().catch(() => undefined);
}

/** v86's IDE drive (src/ide.js IDEInterface): what its IDENTIFY answer is made from. */
interface V86IdeDrive {
  is_atapi: boolean;
  buffer: { byteLength: number } | null | undefined;
  sector_count: number;
  head_count: number;
  sectors_per_track: number;
  cylinder_count: number;
}

/**
 * After a state is restored, give each hard disk the size of the buffer attached now. v86 restores
 * the sector count and geometry from the state (IDEInterface.set_state), so a state saved with a
 * 64 MiB disk would describe a 2 GiB one as 64 MiB to the guest. Same formula as v86's constructor.
 * The pre-booted state relies on this: it is made with the default disk size, and the guest
 * probes the disk again when the size differs (/bin/virtlab-data).
 */
function fitDiskGeometry(emulator: V86Internals): void {
  const ide = emulator.v86?.cpu?.devices?.ide;
  for (const channel of [ide?.primary, ide?.secondary]) {
    for (const drive of [channel?.master, channel?.slave]) {
      if (drive === undefined || drive.is_atapi || drive.buffer === null || drive.buffer === undefined) continue;
      const sectors = Math.ceil(drive.buffer.byteLength / 512);
      if (drive.sector_count === sectors) continue;
      drive.sector_count = sectors;
      drive.head_count = 16;
      drive.sectors_per_track = 63;
      drive.cylinder_count = Math.floor(sectors / 16 / 63);
    }
  }
}

/**
 * v86's browser build yields between time slices through a round trip to a second Worker it makes
 * from a Blob URL (in Node it uses setImmediate). Every slice then waits until that other thread
 * gets a core: on a 2-core machine that is busy (two machines, a build, the page) the guest runs at
 * a fraction of its speed, and a Chromium cold boot took 2-3x Node's. A MessageChannel inside the
 * emulator's own thread gives the same zero-delay yield with no other thread; delays (the guest
 * idles until a timer) go through the Clock. Node's build has no helper Worker and is left alone.
 */
function yieldInThisThread(emulator: V86Internals, clock: Clock): void {
  const inner = emulator.v86;
  const Channel = globals.MessageChannel;
  if (inner === undefined || inner.worker === undefined || inner.worker === null || Channel === undefined) return;
  inner.unregister_yield();
  const channel = new Channel();
  channel.port1.onmessage = (event) => inner.yield_callback(event.data as number);
  inner.yield = (delayMs, tick) => {
    if (delayMs < 1) channel.port2.postMessage(tick);
    else clock.after(delayMs, () => inner.yield_callback(tick));
  };
  inner.register_yield = () => undefined;
  inner.unregister_yield = () => channel.port1.close();
}

/**
 * The shortest an idle guest's emulator sleeps, in ms. A guest halted until its next timer
 * interrupt makes v86 return the time to that interrupt; v86 yields at once for anything under
 * 1 ms (setImmediate in Node, a message in a Worker), so the emulator polled the clock until the
 * interrupt was due. The default guest's kernel ticks at 250 Hz (Debian's 686 kernel has no idle
 * dynticks), and the last millisecond of each 4 ms tick was spent so: 69,000 wake-ups a second
 * and ~0.28 of a core for a machine doing nothing (Node, measured). Sleeping 1 ms instead makes
 * the timer interrupt up to 1 ms late; anything a device raises still wakes the emulator at once
 * (v86's CPU calls next_tick(0) when an IRQ comes while it is idle).
 */
export const MIN_IDLE_SLEEP_MS = 1;

/**
 * How long v86's main loop sleeps for `delayMs` (0 or less: run again at once). Rounded up to
 * whole milliseconds: timers in Node and Chromium count whole ms, so 3.7 slept 3 and woke the
 * emulator once more for the rest; one wake-up per guest tick instead of two (measured, Node).
 */
export function idleSleepMs(delayMs: number): number {
  return delayMs > 0 ? Math.max(MIN_IDLE_SLEEP_MS, Math.ceil(delayMs)) : delayMs;
}

/** v86's yield (its own, or the one yieldInThisThread put in) given idleSleepMs of each delay. */
function sleepThroughShortIdles(emulator: V86Internals): void {
  const inner = emulator.v86;
  if (inner === undefined) return;
  const yieldTo = inner.yield.bind(inner);
  inner.yield = (delayMs, tick) => yieldTo(idleSleepMs(delayMs), tick);
}

/**
 * The guest RAM v86's init writes before a start from a state restores it: the first MiB, where it
 * puts the BIOS and VGA BIOS (a restore config names no kernel or initrd). A boot test checks that
 * nothing above it is written, with this v86 and this configuration.
 */
export const RAM_WRITTEN_BEFORE_RESTORE = 0x100000;

/**
 * v86 restores a state's RAM by zeroing all of it, then copying in the state's non-zero pages
 * (CPU.unpack_memory). In an emulator made for that restore, the RAM is WebAssembly memory that
 * nothing has written above the first MiB, so it already reads as zero: zeroing it made every page
 * resident (256 MiB for the default machine) and took ~1 s of the start, in Node and in Chromium.
 * This cuts that one zeroing, the restore's, to the part init wrote. Later ones (a state put into
 * a running machine, the balloon's) are v86's own.
 */
function zeroOnlyWrittenMemoryAtRestore(emulator: V86Internals): void {
  const cpu = emulator.v86?.cpu as Partial<V86RestoreMemory> | undefined;
  if (cpu === undefined || typeof cpu.zero_memory !== "function" || cpu.mem8 === undefined) return;
  const zero = cpu.zero_memory;
  const ramBytes = cpu.mem8.length;
  cpu.zero_memory = (addr, size) => {
    cpu.zero_memory = zero;
    if (addr === 0 && size === ramBytes) zero(0, Math.min(size, RAM_WRITTEN_BEFORE_RESTORE));
    else zero(addr, size);
  };
}

/**
 * v86 reads a state by copying each of its typed arrays out of it (ArrayBuffer.slice), then
 * CPU.set_state copies guest RAM's pages from that copy into the memory: the RAM pack (26 MB of
 * the pre-booted state's 35 MB) was copied twice, and the first copy made resident for nothing.
 * For the restore of an emulator made from a state, the state's info block says the pack is empty
 * while v86 reads it (findRamPack: the same bytes with the pack's length 0), and CPU.unpack_memory,
 * called once, copies the pages from the state itself. The info block is changed in place and put
 * back within the restore (synchronous from "emulator-ready" on; a microtask puts it back should
 * the restore fail first), so whoever holds the state never sees it changed. A state laid out
 * otherwise is left to v86.
 */
function unpackRamFromTheState(emulator: V86Internals, state: Uint8Array): void {
  const cpu = emulator.v86?.cpu as Partial<V86RestoreMemory> | undefined;
  if (cpu === undefined || cpu.mem8 === undefined || typeof cpu.unpack_memory !== "function" || typeof cpu.zero_memory !== "function") return;
  const pack = findRamPack(state);
  if (pack === undefined) return;
  const c = cpu as V86RestoreMemory;
  const own = c.unpack_memory;
  let pending = true;
  const putBack = (): void => {
    if (!pending) return;
    pending = false;
    state.set(pack.info, 16);
    c.unpack_memory = own;
  };
  state.set(pack.infoWithoutPack, 16);
  void Promise.resolve().then(putBack);
  c.unpack_memory = (bitmap, packed) => {
    putBack();
    if (packed.length !== 0) return own.call(c, bitmap, packed);
    c.zero_memory(0, c.mem8.length);
    const pages = state.subarray(pack.offset, pack.offset + pack.length);
    const count = c.mem8.length / PAGE_BYTES;
    let at = 0;
    for (let page = 0; page < count && at < pages.length; page++) {
      if (!bitmap.get(page)) continue;
      c.mem8.set(pages.subarray(at, at + PAGE_BYTES), page * PAGE_BYTES);
      at += PAGE_BYTES;
    }
  };
}

/**
 * How much guest code v86's JIT puts in one WebAssembly module: at most this many 4 KiB pages of
 * guest code, and this many basic blocks beyond those reached in them (v86's own: 3 and 250). V8
 * compiles each module at once with its baseline compiler and recompiles the hot ones with its
 * optimizing compiler on background threads; for modules of ~80 KB that recompiling took most of a
 * core while a guest read a file, on a machine with two. One page and 10 blocks make modules of
 * about half the size. A/B in Chromium, one run, three each (stop 29): a guest's cold read of
 * 128 MiB 22.7-24.5 → 31.1-38.2 MB/s, writing it 14.6-17.3 → 10.9-12.2 s.
 */
export const JIT_MODULE_LIMITS = { pages: 1, extraBlocks: 10 } as const;

/** v86's JIT settings (src/rust/jit.rs, set_jit_config): 1 is pages per module, 3 extra blocks. */
const JIT_CONFIG_MAX_PAGES = 1;
const JIT_CONFIG_MAX_EXTRA_BASIC_BLOCKS = 3;

function smallerJitModules(emulator: V86Internals): void {
  const cpu = emulator.v86?.cpu as Partial<Pick<V86Cpu, "set_jit_config">> | undefined;
  if (typeof cpu?.set_jit_config !== "function") return;
  cpu.set_jit_config(JIT_CONFIG_MAX_PAGES, JIT_MODULE_LIMITS.pages);
  cpu.set_jit_config(JIT_CONFIG_MAX_EXTRA_BASIC_BLOCKS, JIT_MODULE_LIMITS.extraBlocks);
}

interface V86RestoreMemory {
  mem8: Uint8Array;
  zero_memory: (addr: number, size: number) => void;
  unpack_memory: (bitmap: { get(index: number): unknown }, packed: Uint8Array) => void;
}

/** The parts of v86's internals we reach into, typed by what we use. */
interface V86Internals {
  v86?: {
    running: boolean;
    do_tick: () => void;
    /** v86's yield between time slices (src/main.js: setImmediate/setTimeout in Node, a helper Worker in a browser). */
    yield: (delayMs: number, tick: number) => void;
    yield_callback: (tick: number) => void;
    register_yield: () => void;
    unregister_yield: () => void;
    worker?: unknown;
    cpu?: Partial<V86Pic> & {
      reboot_internal: () => void;
      devices?: V86Devices;
    } & Partial<V86CpuMemory>;
  };
  bus: { send(name: string, value: unknown): void };
  screen_adapter?: { get_text_screen?: () => string[] };
}

/** The devices we reach into (`net` is the NE2000, under the register names of v86's src/ne2k.js). */
interface V86Devices {
  virtio_balloon?: V86Balloon;
  virtio_console?: V86VirtioDevice;
  net?: Partial<Ne2kRing>;
  virtio_net?: V86VirtioDevice;
  ide?: { primary?: { master?: V86IdeDrive; slave?: V86IdeDrive }; secondary?: { master?: V86IdeDrive; slave?: V86IdeDrive } };
}

/**
 * Whether the guest's NIC can take a frame now: the NE2000's ring has room for it, or virtio-net
 * has a receive buffer posted. A NIC whose state does not read as expected takes the frame (v86
 * decides, as it did before the queue).
 */
function nicHasRoom(devices: V86Devices | undefined, frameLength: number): boolean {
  const ne2k = devices?.net;
  if (ne2k !== undefined) {
    const { cr, curpg, boundary, pstart, pstop } = ne2k;
    if (cr === undefined || curpg === undefined || boundary === undefined || pstart === undefined || pstop === undefined) return true;
    return ne2kHasRoom({ cr, curpg, boundary, pstart, pstop }, frameLength);
  }
  const receive = devices?.virtio_net?.virtio?.queues?.[0];
  if (receive !== undefined && typeof receive.has_request === "function") return receive.has_request();
  return true;
}

/** The repair of v86's lost cascade interrupt, on this CPU's two PIC records (none if v86 does not show them). */
function picCascadeRepairOf(cpu: Partial<V86Pic> | undefined): PicCascadeRepair | undefined {
  if (cpu === undefined || typeof cpu.get_pic_addr_master !== "function" || typeof cpu.get_pic_addr_slave !== "function" || cpu.wasm_memory === undefined) return undefined;
  const { get_pic_addr_master, get_pic_addr_slave, wasm_memory } = cpu as V86Pic;
  // Checked after every slice (tens of thousands a second on an idle guest): the views are made
  // again only when the Wasm memory has grown (a new buffer).
  let records: PicRecords | undefined;
  return new PicCascadeRepair(() => {
    const buffer = wasm_memory.buffer;
    if (records?.master.buffer !== buffer) {
      records = {
        master: new Uint8Array(buffer, get_pic_addr_master.call(cpu), PIC_RECORD_BYTES),
        slave: new Uint8Array(buffer, get_pic_addr_slave.call(cpu), PIC_RECORD_BYTES),
      };
    }
    return records;
  });
}

/** Where v86 keeps its two 8259 records in its Wasm memory (the exports its own save_state reads). */
interface V86Pic {
  get_pic_addr_master: () => number;
  get_pic_addr_slave: () => number;
  wasm_memory: { buffer: ArrayBuffer };
}

/** v86's virtio-balloon (src/virtio_balloon.js): counts in pages; Inflate/Deflate add and subtract. */
interface V86Balloon {
  num_pages: number;
  actual: number;
  Inflate(pages: number): void;
  Deflate(pages: number): void;
}

/**
 * v86's virtio-console (src/virtio_console.js) and the virtqueue parts we use. Its own input path
 * ("virtio-console0-input-bytes") drops the bytes when the guest has no receive buffer posted at
 * that moment, which is often: keys typed or pasted quickly went missing.
 */
interface V86VirtioDevice {
  virtio?: { queues?: V86Virtqueue[] };
}
interface V86Virtqueue {
  has_request(): boolean;
  pop_request(): { set_next_blob(bytes: Uint8Array): number };
  push_reply(request: unknown): void;
  flush_replies(): void;
}

// --- microscope, guest memory (issue 13) ---
/**
 * v86's CPU state lives in its Wasm memory; the release build keeps these names (checked in
 * 0.5.462's libv86.mjs): `cr` is an Int32Array view of CR0..CR7, `mem8` a Uint8Array view of
 * guest RAM at some offset in `wasm_memory` (both re-made on each access, since the memory can grow).
 */
interface V86CpuMemory {
  cr: ArrayLike<number>;
  mem8: Uint8Array;
  wasm_memory: { buffer: ArrayBuffer };
}

function guestMemoryOf(cpu: Partial<V86CpuMemory> | undefined): GuestMemory | undefined {
  if (cpu?.cr === undefined || cpu.mem8 === undefined || cpu.wasm_memory === undefined) return undefined;
  const { cr, wasm_memory } = cpu as V86CpuMemory;
  const layout = (): { wasmOffset: number; bytes: number } => {
    const ram = (cpu as V86CpuMemory).mem8;
    return { wasmOffset: ram.byteOffset, bytes: ram.length };
  };
  // Read at once (between slices: the emulator runs on this thread), handed over as promises.
  return {
    controlRegisters: () => Promise.resolve({ cr0: cr[0]! >>> 0, cr3: cr[3]! >>> 0, cr4: cr[4]! >>> 0 }),
    readPhysical: (address, length) => {
      const { wasmOffset, bytes } = layout();
      if (!Number.isInteger(address) || !Number.isInteger(length) || address < 0 || length < 0 || address + length > bytes) return Promise.resolve(undefined);
      return Promise.resolve(new Uint8Array(wasm_memory.buffer, wasmOffset + address, length).slice());
    },
    layout: () => Promise.resolve(layout()),
  };
}
// --- end microscope, guest memory ---

/**
 * v86's set_tsc (src/rust/cpu/cpu.rs) sets `tsc_offset = read_tsc() - value`, where read_tsc is
 * `microtick * rate - tsc_offset`: the counter then reads `value + old offset`, right only in a
 * fresh emulator (offset 0). A state restored into an emulator that was itself restored before
 * (the pre-booted start, then a move or a snapshot) gave the guest a TSC off by that first offset:
 * its clock jumped by tens of seconds (measured: uptime +70 s over a 4 s move). Setting the
 * counter to its own value first brings the offset to ~0 (the microseconds between two reads), so
 * the restore's set_tsc lands where the state says.
 */
interface V86Tsc {
  store_current_tsc(): void;
  current_tsc: Uint32Array;
  set_tsc(low: number, high: number): void;
}

function tscOf(internals: V86Internals): V86Tsc | undefined {
  const cpu = internals.v86?.cpu as Partial<V86Tsc> | undefined;
  if (cpu === undefined || typeof cpu.store_current_tsc !== "function" || typeof cpu.set_tsc !== "function" || cpu.current_tsc === undefined) return undefined;
  return cpu as V86Tsc;
}

function zeroTscOffset(internals: V86Internals): void {
  const cpu = tscOf(internals);
  if (cpu === undefined) return;
  cpu.store_current_tsc();
  cpu.set_tsc(cpu.current_tsc[0] ?? 0, cpu.current_tsc[1] ?? 0);
}

/** Enough reads of the host's clock to see it step once, on any clock that moves. */
const CLOCK_STEP_SPINS = 10_000_000;
/**
 * Counter reads on consecutive steps of the host's clock. v86 keeps the smallest gap it saw
 * between two reads, and a thread stalled between two of them shows a larger one (a loaded CI run
 * learned 9.2 ms from a single pair, where the clock steps 0.1 ms): several gaps, the smallest wins.
 */
const CLOCK_STEP_READS = 6;

/**
 * v86's read_tsc (src/rust/cpu/cpu.rs) makes up for a coarse host clock (performance.now steps
 * 100 µs in a browser thread that is not cross-origin isolated): a read that finds the clock where
 * the last one did returns it plus up to one "resolution" more, and the resolution is the smallest
 * step it has seen between two reads. It starts at the first read's value: the CPU's constructor
 * reads the counter at its thread's age, and a restore's set_tsc moves the counter back. Until the
 * guest's own reads see the clock step once, every read within one step of the host's clock could
 * add up to the thread's age to the counter. Measured: two reads right after a start from a state,
 * in a thread 20 s old, 22.6 s apart. A guest kernel that read its clock then armed its next tick
 * that far ahead of the clock it read after: with no tick, an RCU grace period (`ip link set
 * address` in the lab's identity step) waited ~19 s, about one lab start in five while another
 * machine was busy. Reading the counter on consecutive steps of the host's clock teaches v86 the
 * real step before the guest runs. The clock read here is systemClock (performance.now),
 * not the injected Clock: it has to be the one v86 reads (its microtick), whatever a test injects.
 */
function learnHostClockStep(internals: V86Internals): void {
  const cpu = tscOf(internals);
  if (cpu === undefined) return;
  for (let step = 0; step < CLOCK_STEP_READS; step++) {
    const from = systemClock.now();
    for (let spins = 0; spins < CLOCK_STEP_SPINS && systemClock.now() === from; spins++);
    cpu.store_current_tsc();
  }
}

// --- migration (issue 15): checked in the 0.5.462 release bundle (src/cpu.js, src/state.js) ---
/**
 * v86's state format is described in snapshot/ramPack.ts: the CPU's state array holds guest RAM
 * as its non-zero pages packed (index 77) and a bitmap of them (78). CPU.get_state fills them from
 * `cpu.pack_memory()`, CPU.set_state empties RAM and refills it through `cpu.unpack_memory(bitmap,
 * packed)`. Both are kept as named properties in the release build, so a move swaps them for the
 * length of one save or restore: the state then carries an empty bitmap instead of the RAM, and the
 * restore leaves the RAM the rounds wrote into the stopped target as it is.
 */
interface V86MigrationCpu {
  mem8: Uint8Array;
  wasm_memory: { buffer: ArrayBuffer };
  pack_memory: () => { bitmap: { get_buffer(): ArrayBuffer }; packed_memory: Uint8Array };
  unpack_memory: (bitmap: unknown, packed: Uint8Array) => void;
}

function migrationOf(internals: V86Internals, emulator: () => V86): MigrationHooks | undefined {
  const cpu = internals.v86?.cpu as Partial<V86MigrationCpu> | undefined;
  if (cpu === undefined || cpu.mem8 === undefined || cpu.wasm_memory === undefined || typeof cpu.pack_memory !== "function" || typeof cpu.unpack_memory !== "function") return undefined;
  const c = cpu as V86MigrationCpu;
  // A fresh view each time: the Wasm memory may have grown (and replaced its buffer) since.
  const ram = (): Uint8Array => new Uint8Array(c.wasm_memory.buffer, c.mem8.byteOffset, c.mem8.length);
  return {
    ram,
    pageHasher: wasmPageHasher(c.wasm_memory),
    async saveDeviceState() {
      const pack = c.pack_memory;
      const bitmapBytes = Math.ceil(c.mem8.length / 4096 / 8);
      c.pack_memory = () => ({ bitmap: { get_buffer: () => new ArrayBuffer(bitmapBytes) }, packed_memory: new Uint8Array(0) });
      try {
        return new Uint8Array(await emulator().save_state());
      } finally {
        c.pack_memory = pack;
      }
    },
    async restoreDeviceState(state) {
      const unpack = c.unpack_memory;
      // RAM stays: v86 would zero it and fill in the (empty) pack.
      c.unpack_memory = () => undefined;
      zeroTscOffset(internals);
      try {
        await emulator().restore_state(state.slice().buffer);
      } finally {
        c.unpack_memory = unpack;
      }
      fitDiskGeometry(internals);
    },
  };
}
// --- end migration ---

function balloonOf(device: V86Balloon): BalloonDevice {
  return {
    setTarget: (pages) => {
      const delta = pages - device.num_pages;
      if (delta > 0) device.Inflate(delta);
      else if (delta < 0) device.Deflate(-delta);
    },
    target: () => device.num_pages,
    actual: () => device.actual,
  };
}

// --- VGA output for a view that draws it itself (checked in 0.5.462's vga.js and dummy_screen.js) ---
/**
 * v86's VGA device. Headless, v86 gives it a screen adapter that keeps only the text; the device
 * still renders graphics modes into `image_data` (an ImageData over its Wasm memory, where
 * ImageData exists: browsers and Workers, not Node) when `screen_fill_buffer` is called.
 */
interface V86Vga {
  graphical_mode: boolean;
  screen_width: number;
  screen_height: number;
  virtual_width: number;
  image_data: { data: Uint8ClampedArray; width: number; height: number } | null;
  screen_fill_buffer(): void;
  screen?: { update_buffer?: (layers: unknown[]) => void; get_text_screen?: () => string[] };
}

function screenOf(internals: V86Internals): ScreenSource | undefined {
  const vga = (internals.v86?.cpu?.devices as { vga?: V86Vga } | undefined)?.vga;
  if (vga === undefined || typeof vga.screen_fill_buffer !== "function") return undefined;
  // The adapter's update_buffer is told which rows changed: note that something did.
  let dirty = true;
  const adapter = vga.screen;
  if (adapter !== undefined && typeof adapter.update_buffer === "function") {
    const inner = adapter.update_buffer.bind(adapter);
    adapter.update_buffer = (layers) => {
      if (layers.length > 0) dirty = true;
      inner(layers);
    };
  }
  let lastMode = "";
  return {
    mode: (): ScreenMode => {
      if (!vga.graphical_mode) {
        const lines = internals.screen_adapter?.get_text_screen?.() ?? [];
        return { kind: "text", cols: lines[0]?.length ?? 0, rows: lines.length };
      }
      return { kind: "graphics", width: vga.screen_width, height: vga.screen_height };
    },
    frame: (force): ScreenFrame | undefined => {
      if (!vga.graphical_mode) return undefined;
      vga.screen_fill_buffer();
      const image = vga.image_data;
      const width = vga.screen_width;
      const height = vga.screen_height;
      if (image === null || width <= 0 || height <= 0 || image.data.byteLength === 0) return undefined;
      const mode = `${width}x${height}`;
      if (!dirty && !force && mode === lastMode) return undefined;
      dirty = false;
      lastMode = mode;
      // The visible part of the (virtual) buffer, row by row: the view gets exactly width × height.
      const stride = image.width * 4;
      const rows = Math.min(height, image.height);
      const cols = Math.min(width, image.width) * 4;
      const rgba = new Uint8Array(width * height * 4);
      const source = new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.byteLength);
      for (let y = 0; y < rows; y++) rgba.set(source.subarray(y * stride, y * stride + cols), y * width * 4);
      return { width, height, rgba };
    },
  };
}
// --- end VGA output ---

class V86Backend implements EmulatorBackend {
  private readonly output = new Emitter<{ port: ConsolePort; bytes: Uint8Array }>();
  private readonly crash = new Emitter<unknown>();
  readonly onOutput = this.output.event;
  readonly onCrash = this.crash.event;
  private readonly reboot = new Emitter<void>();
  readonly onRebootRequest = this.reboot.event;

  /** v86 reports each UART byte as an event: one batch per port per emulator time slice (a microtask). */
  private readonly onSerialByte = this.byteBatcher("serial0");
  /** The guest agent's port (agent.ts). */
  private readonly onAgentByte = this.byteBatcher("serial1");
  private byteBatcher(port: ConsolePort): (byte: number) => void {
    let pending: number[] = [];
    const flush = (): void => {
      const bytes = Uint8Array.from(pending);
      pending = [];
      if (bytes.length > 0) this.output.fire({ port, bytes });
    };
    return (byte) => {
      if (pending.push(byte) === 1) globals.queueMicrotask(flush);
    };
  }
  private readonly onVirtioBytes = (bytes: Uint8Array): void => {
    // v86 may reuse the buffer it hands us: keep a copy.
    this.output.fire({ port: "virtio0", bytes: bytes.slice() });
  };

  private crashed = false;
  /** Ends a lost cascade interrupt at the master PIC (picCascade.ts), checked after each emulator slice. */
  private picRepair: PicCascadeRepair | undefined;
  readonly balloon: BalloonDevice | undefined;
  readonly guestMemory: GuestMemory | undefined;

  readonly microscope: MicroscopeHooks | undefined;
  readonly screen: ScreenSource | undefined;
  readonly migration: MigrationHooks | undefined;

  constructor(
    private readonly emulator: V86,
    jit: boolean,
    headless: boolean,
  ) {
    this.screen = headless ? screenOf(this.internals) : undefined;
    this.guestMemory = guestMemoryOf(this.internals.v86?.cpu);
    this.migration = migrationOf(this.internals, () => this.emulator);
    const balloon = this.internals.v86?.cpu?.devices?.virtio_balloon;
    this.balloon = balloon === undefined ? undefined : balloonOf(balloon);
    const cpu = (emulator as unknown as { v86?: { cpu?: V86Cpu } }).v86?.cpu;
    this.microscope = cpu === undefined || !hasMicroscopeHooks(cpu) ? undefined : new V86Microscope(cpu, jit, () => this.instructionCounter());
    emulator.add_listener("serial0-output-byte", this.onSerialByte);
    emulator.add_listener("serial1-output-byte", this.onAgentByte);
    emulator.add_listener("virtio-console0-output-bytes", this.onVirtioBytes);
    this.catchCrashes();
    this.listenToNetwork();
    this.resizeConsole(DEFAULT_COLS, DEFAULT_ROWS);
  }

  private get internals(): V86Internals {
    return this.emulator as unknown as V86Internals;
  }

  /**
   * Some guests make v86's core throw (a Wasm RuntimeError) out of its main loop, where no v86
   * event reports it. Wrap the tick so the exception becomes a crash event and the machine stops.
   */
  private catchCrashes(): void {
    const inner = this.internals.v86;
    if (inner === undefined) return;
    this.picRepair = picCascadeRepairOf(inner.cpu);
    const tick = inner.do_tick.bind(inner);
    inner.do_tick = () => {
      try {
        tick();
        if (this.virtioInput.length > 0) this.feedVirtioConsole();
        this.picRepair?.check();
        if (this.nicQueue.waiting > 0) this.nicQueue.feed();
      } catch (error) {
        inner.running = false;
        // Tell v86 itself it stopped, so destroy() can finish.
        this.internals.bus.send("emulator-stopped", undefined);
        if (error === REBOOT) {
          this.reboot.fire();
          return;
        }
        this.crashed = true;
        this.crash.fire(error);
      }
    };
    this.interceptReboot(inner.cpu);
  }

  /**
   * v86 reboots in place: it reloads the BIOS but forgets how it booted the kernel, and with
   * Debian's SeaBIOS the second POST ends in an unimplemented #GP ("RuntimeError: unreachable").
   * So a guest's reboot request stops this emulator (by unwinding out of the instruction that
   * asked) and the owner power-cycles with a fresh one.
   */
  private interceptReboot(cpu: { reboot_internal: () => void } | undefined): void {
    if (cpu === undefined) return;
    cpu.reboot_internal = () => {
      throw REBOOT;
    };
  }

  write(port: ConsolePort, bytes: Uint8Array): void {
    if (port === "serial0" || port === "serial1") {
      this.emulator.serial_send_bytes(port === "serial0" ? 0 : 1, bytes);
      return;
    }
    if (this.virtioReceiveQueue() === undefined) {
      this.internals.bus.send("virtio-console0-input-bytes", bytes);
      return;
    }
    // Kept until the guest has a receive buffer for them (fed after each emulator slice).
    this.virtioInput.push(bytes.slice());
    this.feedVirtioConsole();
  }

  /**
   * v86 writes its resize message with rows and cols the other way round from the Linux driver,
   * so its defaults (80x25) reached the guest as 25 columns: line editing wrapped after a few
   * characters. Handing v86 the pair swapped puts each number where the guest reads it, both in
   * the message sent now and in the one v86 sends when the guest opens the port.
   */
  resizeConsole(cols: number, rows: number): void {
    if (this.internals.v86?.cpu?.devices?.virtio_console === undefined) return;
    this.internals.bus.send("virtio-console0-resize", [rows, cols]);
  }

  /** Bytes typed into the virtio console that the guest has not taken yet, oldest first. */
  private virtioInput: Uint8Array[] = [];

  private virtioReceiveQueue(): V86Virtqueue | undefined {
    const queue = this.internals.v86?.cpu?.devices?.virtio_console?.virtio?.queues?.[0];
    return queue !== undefined && typeof queue.has_request === "function" && typeof queue.pop_request === "function" ? queue : undefined;
  }

  /** Put pending input into the receive buffers the guest has posted; what does not fit waits. */
  private feedVirtioConsole(): void {
    const queue = this.virtioReceiveQueue();
    if (queue === undefined) return;
    let fed = false;
    while (this.virtioInput.length > 0 && queue.has_request()) {
      const bytes = this.virtioInput[0] as Uint8Array;
      const request = queue.pop_request();
      const written = request.set_next_blob(bytes);
      queue.push_reply(request);
      fed = true;
      if (written >= bytes.length) this.virtioInput.shift();
      else this.virtioInput[0] = bytes.subarray(written);
    }
    if (fed) queue.flush_replies();
  }

  run(): Promise<void> {
    if (this.crashed) return Promise.reject(new AppError("emulator-crashed", "The emulator has crashed; reset the machine."));
    return this.emulator.run();
  }

  stop(): Promise<void> {
    return this.emulator.stop();
  }

  isRunning(): boolean {
    return this.emulator.is_running();
  }

  instructionCounter(): number {
    return this.emulator.get_instruction_counter() >>> 0;
  }

  async saveState(): Promise<Uint8Array> {
    return new Uint8Array(await this.emulator.save_state());
  }

  async restoreState(state: Uint8Array): Promise<void> {
    this.nicQueue.clear();
    zeroTscOffset(this.internals);
    await this.emulator.restore_state(state.slice().buffer);
    fitDiskGeometry(this.internals);
  }

  sendCtrlAltDel(): void {
    this.emulator.keyboard_send_scancodes(CTRL_ALT_DEL);
  }

  sendScancodes(codes: readonly number[]): void {
    this.emulator.keyboard_send_scancodes([...codes]);
  }

  textScreen(): string[] {
    return this.internals.screen_adapter?.get_text_screen?.() ?? [];
  }

  // --- device lab (issue 5) ---
  private readonly netFrames = new Emitter<Uint8Array>();
  readonly onNetworkFrame = this.netFrames.event;
  private netListening = false;
  private readonly onNetSend = (frame: Uint8Array): void => {
    // v86 may reuse the buffer: keep a copy.
    this.netFrames.fire(frame.slice());
  };

  /** Frames only flow when the guest has a NIC and sends; without listeners firing costs nothing. */
  private listenToNetwork(): void {
    if (this.netListening) return;
    this.netListening = true;
    this.emulator.add_listener("net0-send", this.onNetSend);
  }

  /** Frames for the guest's NIC wait here while the card is full (nicQueue.ts), fed after each emulator slice. */
  private readonly nicQueue = new NicReceiveQueue(
    (frame) => nicHasRoom(this.internals.v86?.cpu?.devices, frame.length),
    (frame) => this.internals.bus.send("net0-receive", frame),
  );

  sendNetworkFrame(frame: Uint8Array): void {
    this.nicQueue.offer(frame);
  }

  async readSharedFile(path: string): Promise<Uint8Array> {
    try {
      return await this.emulator.read_file(path);
    } catch (error) {
      throw new AppError("not-running", `The 9p share has no readable file ${path}.`, { cause: error, details: { subject: path } });
    }
  }
  // --- end device lab ---

  dispose(): void {
    (this.microscope as V86Microscope | undefined)?.dispose();
    this.emulator.remove_listener("serial0-output-byte", this.onSerialByte);
    this.emulator.remove_listener("serial1-output-byte", this.onAgentByte);
    this.emulator.remove_listener("virtio-console0-output-bytes", this.onVirtioBytes);
    this.emulator.remove_listener("net0-send", this.onNetSend);
    this.netFrames.dispose();
    this.output.dispose();
    this.crash.dispose();
    this.reboot.dispose();
    void this.emulator.destroy().catch(() => undefined);
  }
}

// --- microscope (issue 13, items 1-3): v86 internals checked in the 0.5.462 release bundle ---

/** One I/O port entry (src/io.js): the handlers and the device object they are called on. */
interface PortEntry {
  device: unknown;
  read8: (port: number) => number;
  read16: (port: number) => number;
  read32: (port: number) => number;
  write8: (port: number, value: number) => void;
  write16: (port: number, value: number) => void;
  write32: (port: number, value: number) => void;
}
type PortFn = keyof Omit<PortEntry, "device">;
const PORT_FNS: readonly [PortFn, Width, boolean][] = [
  ["read8", 8, false],
  ["read16", 16, false],
  ["read32", 32, false],
  ["write8", 8, true],
  ["write16", 16, true],
  ["write32", 32, true],
];
type MmapFn = "mmap_read8" | "mmap_read32" | "mmap_write8" | "mmap_write16" | "mmap_write32" | "mmap_write64" | "mmap_write128";
const MMAP_FNS: readonly [MmapFn, Width, boolean][] = [
  ["mmap_read8", 8, false],
  ["mmap_read32", 32, false],
  ["mmap_write8", 8, true],
  ["mmap_write16", 16, true],
  ["mmap_write32", 32, true],
  // 64/128-bit stores (SSE) count as one 32-bit-class access each.
  ["mmap_write64", 32, true],
  ["mmap_write128", 32, true],
];

interface V86Pci {
  raise_irq(pciAddr: number): void;
}
type PciBars = ({ entries?: PortEntry[] } | undefined)[];
interface V86Device {
  pci_id?: number;
  /** A PCI device's I/O BARs: the port entries at each (pci.js register_device fills them). */
  pci_bars?: PciBars;
  virtio?: { pci_id?: number; pci_bars?: PciBars };
}
type AnyFn = (...args: number[]) => unknown;
interface V86Cpu extends Record<MmapFn, AnyFn> {
  io: { ports: PortEntry[]; mmap_register(start: number, size: number, r8: AnyFn, w8: AnyFn, r32: AnyFn, w32: AnyFn): void };
  devices: Record<string, V86Device | undefined>;
  device_raise_irq(line: number): void;
  codegen_finalize(...args: number[]): void;
  jit_clear_func(index: number): void;
  set_jit_config(index: number, value: number): void;
  jit_clear_cache(): void;
}

function hasMicroscopeHooks(cpu: V86Cpu): boolean {
  const fns = [cpu.device_raise_irq, cpu.codegen_finalize, cpu.jit_clear_func, cpu.set_jit_config, cpu.jit_clear_cache, cpu.io?.mmap_register, ...MMAP_FNS.map(([n]) => cpu[n])];
  return Array.isArray(cpu.io?.ports) && fns.every((f) => typeof f === "function");
}

/** A PCI device's bus address as v86 keys it (device number << 3). */
function pciAddress(device: V86Device): number | undefined {
  const id = device.pci_id ?? device.virtio?.pci_id;
  return typeof id === "number" ? id : undefined;
}

class V86Microscope implements MicroscopeHooks {
  private readonly hypercalls = new Emitter<HypercallRecord>();
  readonly onHypercall = this.hypercalls.event;
  private jitOn: boolean;

  constructor(
    private readonly cpu: V86Cpu,
    jit: boolean,
    instructionCounter: () => number,
  ) {
    this.jitOn = jit;
    const device = new HypercallDevice({ instructionCounter }, (record) => this.hypercalls.fire(record));
    const offset = (address: number): number => (address - HYPERCALL_BASE) & 0x1ffff;
    cpu.io.mmap_register(
      HYPERCALL_BASE,
      0x20000,
      (a) => (device.read32(offset(a) & ~3) >>> ((offset(a) & 3) * 8)) & 0xff,
      () => undefined,
      (a) => device.read32(offset(a)) | 0,
      (a, v) => device.write32(offset(a), v ?? 0),
    );
  }

  /** Names of devices by their object (port entries point at it) and by PCI address. */
  private owners(): { byObject: Map<unknown, string>; byEntry: Map<PortEntry, string>; byPci: Map<number, string>; notify: Set<PortEntry> } {
    const byObject = new Map<unknown, string>();
    const byEntry = new Map<PortEntry, string>();
    const byPci = new Map<number, string>();
    const notify = new Set<PortEntry>();
    for (const [name, device] of Object.entries(this.cpu.devices)) {
      if (device === undefined || device === null || typeof device !== "object") continue;
      byObject.set(device, name);
      // A PCI device's I/O BARs name their ports' entries, whatever object registered them: the
      // IDE's are its channels' (command blocks, also at their legacy addresses, and bus-master DMA).
      for (const bar of [...(device.pci_bars ?? []), ...(device.virtio?.pci_bars ?? [])]) for (const entry of bar?.entries ?? []) byEntry.set(entry, name);
      if (device.virtio !== undefined) {
        byObject.set(device.virtio, name);
        // Capability bar 1 is virtio's notification structure in v86: a write there is a kick.
        for (const entry of device.virtio.pci_bars?.[1]?.entries ?? []) notify.add(entry);
      }
      const address = pciAddress(device);
      if (address !== undefined) byPci.set(address, name);
    }
    byObject.set(this.hypercallOwner, "hypercall");
    return { byObject, byEntry, byPci, notify };
  }
  private readonly hypercallOwner = {};

  watchTraps(sink: TrapSink): Disposable {
    const cpu = this.cpu;
    const { byObject, byEntry, byPci, notify } = this.owners();
    const undo: (() => void)[] = [];
    // One port's entry can sit at several addresses: v86 maps a PCI device's I/O BAR to the same
    // entries as its legacy ports (the IDE's command block at 0x1f0 and at its BAR). Wrapped once,
    // an access counts once, named by the first address.
    const seen = new Set<PortEntry>();
    for (const [port, entry] of cpu.io.ports.entries()) {
      if (seen.has(entry)) continue;
      seen.add(entry);
      const owner = byEntry.get(entry) ?? (entry.device === undefined ? undefined : byObject.get(entry.device));
      const kick = notify.has(entry);
      for (const [fn, width, write] of PORT_FNS) {
        const inner = entry[fn] as AnyFn;
        const wrapped = function (this: unknown, ...args: number[]): unknown {
          sink.port(port, width, write, owner, kick);
          return inner.apply(this, args);
        };
        (entry as unknown as Record<PortFn, AnyFn>)[fn] = wrapped;
        undo.push(() => {
          // Leave an entry alone if someone re-registered its handler meanwhile.
          if ((entry as unknown as Record<PortFn, AnyFn>)[fn] === wrapped) (entry as unknown as Record<PortFn, AnyFn>)[fn] = inner;
        });
      }
    }
    for (const [fn, width, write] of MMAP_FNS) {
      const inner = cpu[fn];
      cpu[fn] = (...args: number[]) => {
        const address = (args[0] ?? 0) >>> 0;
        sink.mmio(address, width, write, address >= HYPERCALL_BASE && address < HYPERCALL_BASE + 0x20000 ? "hypercall" : address >= 0xa0000 && address < 0xc0000 ? "vga" : undefined);
        return inner.apply(cpu, args);
      };
      undo.push(() => (cpu[fn] = inner));
    }
    // A PCI device raises its interrupt through pci.raise_irq, which calls device_raise_irq.
    let pciOwner: string | undefined;
    const pci = cpu.devices["pci"] as V86Pci | undefined;
    if (pci !== undefined) {
      const inner = pci.raise_irq;
      pci.raise_irq = function (this: unknown, address: number) {
        pciOwner = byPci.get(address) ?? `pci ${address}`;
        try {
          inner.call(this, address);
        } finally {
          pciOwner = undefined;
        }
      };
      undo.push(() => (pci.raise_irq = inner));
    }
    const raise = cpu.device_raise_irq;
    cpu.device_raise_irq = (line: number) => {
      sink.irq(line, pciOwner);
      raise(line);
    };
    undo.push(() => (cpu.device_raise_irq = raise));
    return toDisposable(() => {
      for (const u of undo.splice(0).reverse()) u();
    });
  }

  watchJit(): Disposable & { read(): JitCounts } {
    const cpu = this.cpu;
    let blocks = 0;
    let wasmBytes = 0;
    let invalidations = 0;
    const finalize = cpu.codegen_finalize;
    const clear = cpu.jit_clear_func;
    // codegen_finalize(table index, start address, state flags, Wasm pointer, Wasm length)
    cpu.codegen_finalize = (...args: number[]) => {
      blocks++;
      wasmBytes += args[4] ?? 0;
      finalize.apply(cpu, args);
    };
    cpu.jit_clear_func = (index: number) => {
      invalidations++;
      clear.call(cpu, index);
    };
    return {
      read: () => ({ blocks, wasmBytes, invalidations }),
      dispose: () => {
        cpu.codegen_finalize = finalize;
        cpu.jit_clear_func = clear;
      },
    };
  }

  setJit(enabled: boolean): void {
    // Config index 0 is "JIT disabled" (v86 itself calls set_jit_config(0, 1) for disable_jit).
    this.cpu.set_jit_config(0, enabled ? 0 : 1);
    this.cpu.jit_clear_cache();
    this.jitOn = enabled;
  }

  jitEnabled(): boolean {
    return this.jitOn;
  }

  dispose(): void {
    this.hypercalls.dispose();
  }
}
// --- end microscope ---
