/**
 * The Worker's side: starts one real backend (v86.ts in the browser) from a `start` message,
 * answers calls, forwards console bytes, frames and meters, and pushes the mirrored state.
 * Disks the page keeps are RemoteDisks here: v86's asynchronous get/set become messages.
 */
import type { BackendFactory, EmulatorBackend, JitCounts } from "../backend.ts";
import type { Clock } from "../clock.ts";
import { isAppError } from "../errors.ts";
import { DisposableStore, type Disposable } from "../events.ts";
import { TrapMeter, type TrapSnapshot } from "../microscope/traps.ts";
import type { DiskDevice, DiskSlot, EmulatorConfig } from "../profile.ts";
import { MigrationServer, type MigrationServerHost } from "./migrationServer.ts";
import { readPlanned, type DiskReadPlan } from "../storage/disk.ts";
import type { KeyValueStore, StoreLocation } from "../storage/kv.ts";
import { DiskReadAhead } from "./readAhead.ts";
import type { WarmUp } from "../v86.ts";
import type { WarmUpRefs } from "./warmUp.ts";
import { STATUS_INTERVAL_MS, type Call, type CallResults, type Features, type FromWorker, type MirrorState, type ToWorker, type WireError, type WorkerPort } from "./protocol.ts";

export function toWire(error: unknown): WireError {
  if (isAppError(error)) {
    return { code: error.code, message: error.message, details: cloneable(error.details), cause: causeText(error.cause) };
  }
  return { code: undefined, message: error instanceof Error ? `${error.name}: ${error.message}` : String(error), details: undefined, cause: undefined };
}

function causeText(cause: unknown): string | undefined {
  if (cause === undefined) return undefined;
  return cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
}

/** Details are data by convention; drop anything that would not survive structured cloning. */
function cloneable(details: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(details)) if (typeof value !== "function" && typeof value !== "symbol") out[key] = value;
  return out;
}

/**
 * A disk the page owns, seen from the Worker. v86 calls get/set with callbacks; each is one round
 * trip, except sequential reads, which come from a window read ahead in bigger pieces (readAhead.ts).
 */
class RemoteDisk implements DiskDevice {
  onload: ((event: object) => void) | undefined;
  /** The ranges read through get_and_cache, for get_from_cache. */
  private readonly cached: { start: number; bytes: Uint8Array }[] = [];
  private readAhead: DiskReadAhead;

  constructor(
    private readonly slot: DiskSlot,
    readonly byteLength: number,
    private readonly requests: DiskRequests,
  ) {
    this.readAhead = this.newReadAhead();
  }

  load(): void {
    this.onload?.({});
  }

  /** The page put other disk objects behind this slot (a move's target): forget what was read. */
  forget(): void {
    this.cached.length = 0;
    this.readAhead = this.newReadAhead();
  }

  private newReadAhead(): DiskReadAhead {
    return new DiskReadAhead(this.byteLength, (start, length, into) => new Promise((resolve) => this.requests.get(this.slot, start, length, resolve, into === undefined ? {} : { into })));
  }

  get(start: number, length: number, callback: (data: Uint8Array) => void): void {
    this.readAhead.read(start, length, callback);
  }

  get_and_cache(start: number, length: number, callback: (data: Uint8Array) => void): void {
    this.requests.get(this.slot, start, length, (bytes) => {
      this.cached.push({ start, bytes });
      callback(bytes);
    });
  }

  get_from_cache(start: number, length: number): Uint8Array | undefined {
    const hit = this.cached.find((c) => c.start <= start && start + length <= c.start + c.bytes.length);
    return hit?.bytes.slice(start - hit.start, start - hit.start + length);
  }

  set(start: number, data: Uint8Array, callback: () => void): void {
    this.readAhead.write(start, data);
    this.requests.set(this.slot, start, data, callback);
  }

  get_state(): unknown[] {
    return [this.byteLength];
  }

  set_state(_state: unknown[]): void {}
}

/** Write buffers kept per size, and sizes kept (Linux writes a few sizes: 4 KiB up to 128 KiB or 1.25 MiB). */
const SPARE_WRITES_PER_SIZE = 2;
const SPARE_WRITE_SIZES = 8;

/** Opens, in the Worker, a store the page named (an IndexedDB store of the same origin). */
export type StoreOpener = (location: StoreLocation) => KeyValueStore;

/**
 * A disk read with no answer for this long is asked of the page again, for the bytes themselves
 * (`DiskRequests.get`). A read of a whole 8 MiB window takes 0.05-0.2 s; Linux gives a command
 * 30 s before it resets the controller and asks again, and an answer that never comes would make
 * every later read of the same sectors wait behind it.
 */
export const DISK_READ_STALL_MS = 5_000;
/** How many times a read with no answer is asked of the page again, DISK_READ_STALL_MS apart. */
const DISK_READ_ASKS_AGAIN = 3;

class DiskRequests {
  private nextId = 1;
  private readonly waiting = new Map<number, (bytes: Uint8Array | undefined, plan: DiskReadPlan | undefined) => void>();
  private readonly stores = new Map<string, KeyValueStore>();
  /** Write buffers the page gave back, by size (v86 runs one disk command at a time: a few do). */
  private readonly spareWrites = new Map<number, ArrayBuffer[]>();
  /** The timers of reads not answered yet (see get). */
  private readonly stallTimers = new Set<Disposable>();

  constructor(
    private readonly port: WorkerPort,
    /** Without one, the page reads every byte (tests in one thread, a host without IndexedDB). */
    private readonly openStore: StoreOpener | undefined,
    private readonly clock: Clock,
  ) {}

  /**
   * A read: the page answers with the bytes, or (when this Worker can open its stores) with the
   * bytes it holds and the saved pages to read from IndexedDB here, off the page's thread. If that
   * fails (a page gone meanwhile, storage refusing), the page is asked for the bytes themselves.
   * The page is asked for the bytes, too, when no answer has come after DISK_READ_STALL_MS: in
   * Chromium a read of stored Blobs can stop answering for good (a 1 GiB read in the page did, and
   * a guest's read in the Worker in 3 of 7 benchmark runs), and the guest's disk would wait for
   * ever. The first answer is the read's.
   */
  get(slot: DiskSlot, start: number, length: number, callback: (data: Uint8Array) => void, options: { readonly plan?: boolean; readonly into?: Uint8Array } = {}): void {
    let answered = false;
    let timer: Disposable | undefined;
    const answer = (bytes: Uint8Array): void => {
      if (answered) return;
      answered = true;
      this.unwatch(timer);
      callback(bytes);
    };
    const watch = (asksLeft: number): void => {
      timer = this.clock.after(DISK_READ_STALL_MS, () => {
        this.stallTimers.delete(timer as Disposable);
        if (asksLeft > 1) watch(asksLeft - 1);
        this.ask(slot, start, length, answer, { plan: false });
      });
      this.stallTimers.add(timer);
    };
    watch(DISK_READ_ASKS_AGAIN);
    this.ask(slot, start, length, answer, options);
  }

  private unwatch(timer: Disposable | undefined): void {
    if (timer === undefined) return;
    timer.dispose();
    this.stallTimers.delete(timer);
  }

  private ask(slot: DiskSlot, start: number, length: number, callback: (data: Uint8Array) => void, options: { readonly plan?: boolean; readonly into?: Uint8Array }): void {
    const plan = options.plan ?? this.openStore !== undefined;
    const id = this.nextId++;
    this.waiting.set(id, (bytes, located) => {
      if (located === undefined) {
        callback(bytes ?? new Uint8Array(length));
        return;
      }
      readPlanned(this.store(located.location), located, options.into).then(callback, () => this.ask(slot, start, length, callback, { plan: false }));
    });
    this.port.post({ type: "disk-get", id, slot, start, length, plan });
  }

  /** The page is gone or done with this machine: no read is asked again. */
  dispose(): void {
    for (const timer of this.stallTimers) timer.dispose();
    this.stallTimers.clear();
  }

  set(slot: DiskSlot, start: number, data: Uint8Array, callback: () => void): void {
    const id = this.nextId++;
    this.waiting.set(id, (returned) => {
      if (returned !== undefined) this.keepWriteBuffer(returned.buffer as ArrayBuffer);
      callback();
    });
    // v86 may reuse its buffer: a copy crosses (and is transferred, not copied again), in a buffer
    // an earlier write of the same size gave back when there is one.
    const copy = new Uint8Array(this.spareWrites.get(data.length)?.pop() ?? new ArrayBuffer(data.length));
    copy.set(data);
    this.port.post({ type: "disk-set", id, slot, start, data: copy }, [copy.buffer]);
  }

  private keepWriteBuffer(buffer: ArrayBuffer): void {
    const spare = this.spareWrites.get(buffer.byteLength) ?? [];
    if (spare.length >= SPARE_WRITES_PER_SIZE) return;
    if (spare.length === 0 && this.spareWrites.size >= SPARE_WRITE_SIZES) this.spareWrites.clear();
    spare.push(buffer);
    this.spareWrites.set(buffer.byteLength, spare);
  }

  done(id: number, bytes: Uint8Array | undefined, plan: DiskReadPlan | undefined): void {
    const callback = this.waiting.get(id);
    this.waiting.delete(id);
    callback?.(bytes, plan);
  }

  private store(location: StoreLocation): KeyValueStore {
    const key = `${location.dbName}\u0000${location.storeName}`;
    let kv = this.stores.get(key);
    if (kv === undefined) {
      kv = (this.openStore as StoreOpener)(location);
      this.stores.set(key, kv);
    }
    return kv;
  }
}

/** What a Worker adds: how moves reach another tab, and how it opens the page's disk stores. */
export interface ServeOptions extends Pick<MigrationServerHost, "openChannel" | "heartbeatMs" | "silenceMs"> {
  readonly openStore?: StoreOpener;
  /** How this Worker warms the emulator ahead of its start (a `warm` message; warmUp.ts). Without it, `warm` is ignored. */
  readonly warmUp?: (refs: WarmUpRefs) => WarmUp;
}

/** Serve one machine over `port`. Returns when the page said dispose (or never, in a Worker). */
export function serveBackend(port: WorkerPort, factory: BackendFactory, clock: Clock, options: ServeOptions = {}): Disposable {
  const { openStore, warmUp, ...moveOptions } = options;
  const store = new DisposableStore();
  let warming: WarmUp | undefined;
  const disks = new DiskRequests(port, openStore, clock);
  let backend: EmulatorBackend | undefined;
  let disposed = false;
  let statusTimer: Disposable | undefined;
  let lastText = "";
  const trapWatches = new Map<number, { meter: TrapMeter; watch: Disposable; sent: TrapSnapshot | undefined }>();
  const jitWatches = new Map<number, { watch: Disposable & { read(): JitCounts }; sent: string }>();
  const remoteDisks: RemoteDisk[] = [];

  const post = (message: FromWorker, transfer?: ArrayBuffer[]): void => port.post(message, transfer);

  const mirror = (withText: boolean): MirrorState => {
    const b = backend as EmulatorBackend;
    const mode = b.screen?.mode();
    const state: MirrorState = {
      running: b.isRunning(),
      counter: b.instructionCounter(),
      counterAt: clock.now(),
      jit: b.microscope?.jitEnabled() ?? false,
      balloon: b.balloon === undefined ? undefined : { target: b.balloon.target(), actual: b.balloon.actual() },
      mode,
    };
    if (!withText) return state;
    const lines = b.textScreen();
    const joined = lines.join("\n");
    if (joined === lastText) return state;
    lastText = joined;
    return { ...state, text: lines };
  };

  /** Meters first: what a watch counted up to now reaches the page before the output that follows. */
  const flushMeters = (): void => {
    for (const [id, w] of trapWatches) {
      const now = w.meter.snapshot();
      if (now.totals.portIo + now.totals.mmio + now.totals.irq === 0) continue;
      w.meter.reset();
      post({ type: "traps", id, delta: now });
    }
    for (const [id, w] of jitWatches) {
      const counts = w.watch.read();
      const key = `${counts.blocks}/${counts.wasmBytes}/${counts.invalidations}`;
      if (key === w.sent) continue;
      w.sent = key;
      post({ type: "jit-counts", id, counts });
    }
  };

  const tick = (): void => {
    statusTimer = clock.after(STATUS_INTERVAL_MS, () => {
      if (disposed || backend === undefined) return;
      flushMeters();
      post({ type: "status", state: mirror(true) });
      tick();
    });
  };

  const start = async (message: Extract<ToWorker, { type: "start" }>): Promise<void> => {
    const config: Record<string, unknown> = { ...message.config };
    for (const disk of message.disks) {
      const remote = new RemoteDisk(disk.slot, disk.byteLength, disks);
      remoteDisks.push(remote);
      config[disk.slot] = remote;
    }
    // A warm-up under way ends now; the start takes the module it compiled.
    warming?.end();
    const compiled = await warming?.compiled;
    warming = undefined;
    try {
      backend = await factory(config as unknown as EmulatorConfig, { wasm: message.wasm, clock, ...(compiled === undefined ? {} : { compiled }) });
    } catch (error) {
      post({ type: "start-failed", error: toWire(error) });
      return;
    }
    if (disposed) {
      backend.dispose();
      return;
    }
    const b = backend;
    store.add(b);
    store.add(
      b.onOutput((chunk) => {
        flushMeters();
        const bytes = chunk.bytes.slice();
        post({ type: "output", port: chunk.port, bytes, counter: b.instructionCounter(), counterAt: clock.now() }, [bytes.buffer]);
      }),
    );
    store.add(b.onCrash((error) => post({ type: "crash", error: toWire(error) })));
    store.add(b.onRebootRequest(() => post({ type: "reboot" })));
    if (b.onNetworkFrame !== undefined) store.add(b.onNetworkFrame((frame) => post({ type: "net-frame", frame }, [frame.buffer as ArrayBuffer])));
    if (b.microscope !== undefined) store.add(b.microscope.onHypercall((record) => post({ type: "hypercall", record })));
    const features: Features = {
      balloon: b.balloon !== undefined,
      guestMemory: b.guestMemory !== undefined,
      microscope: b.microscope !== undefined,
      network: b.sendNetworkFrame !== undefined,
      share: b.readSharedFile !== undefined,
      screen: b.screen !== undefined,
      resize: b.resizeConsole !== undefined,
      keyboard: b.sendScancodes !== undefined,
      migration: b.migration !== undefined,
    };
    post({ type: "started", features, state: mirror(true) });
    tick();
  };

  const answer = async (call: Call): Promise<{ value: unknown; transfer?: ArrayBuffer[] }> => {
    const b = backend;
    if (b === undefined) throw new Error("The emulator has not started.");
    switch (call.op) {
      case "run":
        await b.run();
        return { value: undefined };
      case "stop":
        await b.stop();
        return { value: undefined };
      case "save-state": {
        const state = await b.saveState();
        const buffer = state.byteOffset === 0 && state.byteLength === state.buffer.byteLength ? (state.buffer as ArrayBuffer) : state.slice().buffer;
        return { value: buffer, transfer: [buffer] };
      }
      case "restore-state":
        await b.restoreState(new Uint8Array(call.state));
        return { value: undefined };
      case "read-shared-file": {
        if (b.readSharedFile === undefined) throw new Error("This machine has no 9p share.");
        const bytes = await b.readSharedFile(call.path);
        return { value: bytes };
      }
      case "control-registers":
        return { value: await need(b.guestMemory).controlRegisters() };
      case "read-physical":
        return { value: await need(b.guestMemory).readPhysical(call.address, call.length) };
      case "layout":
        return { value: await need(b.guestMemory).layout() };
      case "screen-frame": {
        const frame = b.screen?.frame(call.force);
        return frame === undefined ? { value: undefined } : { value: frame, transfer: [frame.rgba.buffer as ArrayBuffer] };
      }
      case "page-keys": {
        const keys = moves.pageKeys();
        return { value: keys, transfer: [keys.buffer as ArrayBuffer] };
      }
    }
  };

  const moves = new MigrationServer({
    backend: () => backend,
    post: (message) => post(message),
    statusChanged: () => {
      if (backend !== undefined && !disposed) post({ type: "status", state: mirror(false) });
    },
    forgetDiskReads: () => remoteDisks.forEach((d) => d.forget()),
    clock,
    ...moveOptions,
  });

  store.add(
    port.onMessage((message) => {
      if (disposed) return;
      if (moves.handle(message)) return;
      const b = backend;
      switch (message.type) {
        case "warm":
          if (warmUp !== undefined && warming === undefined && backend === undefined) warming = warmUp(message.files);
          return;
        case "start":
          void start(message);
          return;
        case "call":
          answer(message.call).then(
            ({ value, transfer }) => {
              // The page's mirror of `running` is right as soon as run/stop answer.
              if (message.call.op === "run" || message.call.op === "stop" || message.call.op === "restore-state") post({ type: "status", state: mirror(false) });
              post({ type: "reply", id: message.id, ok: true, value: value as CallResults[Call["op"]] }, transfer);
            },
            (error: unknown) => post({ type: "reply", id: message.id, ok: false, error: toWire(error) }),
          );
          return;
        case "disk-done":
          disks.done(message.id, message.bytes, message.plan);
          return;
        case "dispose":
          dispose();
          return;
      }
      if (b === undefined) return;
      switch (message.type) {
        case "write":
          b.write(message.port, message.bytes);
          return;
        case "ctrl-alt-del":
          b.sendCtrlAltDel();
          return;
        case "scancodes":
          b.sendScancodes?.(message.codes);
          return;
        case "resize":
          b.resizeConsole?.(message.cols, message.rows);
          return;
        case "net-frame":
          b.sendNetworkFrame?.(message.frame);
          return;
        case "balloon":
          b.balloon?.setTarget(message.pages);
          post({ type: "status", state: mirror(false) });
          return;
        case "set-jit":
          b.microscope?.setJit(message.enabled);
          post({ type: "status", state: mirror(false) });
          return;
        case "watch":
          if (b.microscope === undefined) return;
          if (message.what === "traps") {
            const meter = new TrapMeter();
            trapWatches.set(message.id, { meter, watch: b.microscope.watchTraps(meter), sent: undefined });
          } else {
            jitWatches.set(message.id, { watch: b.microscope.watchJit(), sent: "" });
          }
          return;
        case "unwatch": {
          flushMeters();
          trapWatches.get(message.id)?.watch.dispose();
          trapWatches.delete(message.id);
          jitWatches.get(message.id)?.watch.dispose();
          jitWatches.delete(message.id);
          return;
        }
      }
    }),
  );

  const dispose = (): void => {
    if (disposed) return;
    disposed = true;
    statusTimer?.dispose();
    disks.dispose();
    for (const w of trapWatches.values()) w.watch.dispose();
    for (const w of jitWatches.values()) w.watch.dispose();
    store.dispose();
  };
  return { dispose };
}

function need<T>(value: T | undefined): T {
  if (value === undefined) throw new Error("This emulator does not show the guest's memory.");
  return value;
}
