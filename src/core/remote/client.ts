/**
 * The page's side: an EmulatorBackend whose emulator runs behind a port (a Worker). Machine and
 * everything above it use it as they use v86.ts in process. The page's disk objects stay here:
 * the Worker's v86 reads and writes them by message, so write-back, the storage lock, quota
 * errors and unsaved pages remain the page's (a terminated Worker loses none of them).
 */
import type { WorkerMigrationHooks, BackendHost, BalloonDevice, ConsoleChunk, ConsolePort, EmulatorBackend, GuestLayout, GuestMemory, HypercallRecord, InstructionSample, JitCounts, MicroscopeHooks, ScreenFrame, ScreenMode } from "../backend.ts";
import { AppError, ERROR_CODES, type ErrorCode, type ErrorDetailsByCode } from "../errors.ts";
import { DisposableStore, Emitter, toDisposable, type Event } from "../events.ts";
import type { ControlRegisters } from "../microscope/pagewalk.ts";
import type { TrapSink } from "../microscope/traps.ts";
import { DISK_SLOTS, type AttachedDisks, type DiskDevice, type DiskSlot, type EmulatorConfig } from "../profile.ts";
import { OverlayDisk } from "../storage/disk.ts";
import { WorkerMoves } from "./migrationClient.ts";
import type { Call, CallResults, Features, FromWorker, MirrorState, PagePort, RemoteDiskInfo, WireError } from "./protocol.ts";

export function fromWire(error: WireError, fallback: ErrorCode = "emulator-crashed"): AppError {
  const known = ERROR_CODES.find((c) => c === error.code);
  const cause = error.cause === undefined ? {} : { cause: new Error(error.cause) };
  if (known === undefined) return new AppError(fallback, error.message, cause);
  // The details an AppError of this code had in the Worker (toWire), structured-cloned: the same
  // program made them on the other side, so they are this code's details.
  const details = (error.details ?? {}) as ErrorDetailsByCode[typeof known];
  return new AppError(known, error.message, { ...cause, details });
}

function isDiskDevice(disk: unknown): disk is DiskDevice {
  return typeof disk === "object" && disk !== null && typeof (disk as { get?: unknown }).get === "function";
}

/** What the page sees of a VGA screen drawn in the Worker. */
export interface RemoteScreen {
  /** The mode changed, or (text modes) the text did. */
  readonly onChange: Event<void>;
  mode(): ScreenMode | undefined;
  text(): string[];
  /** The graphics screen now; undefined in text modes, or unchanged since the last frame unless `force`. */
  frame(force: boolean): Promise<ScreenFrame | undefined>;
}

/**
 * Start a backend behind `port` and resolve once it runs there. `dispose` of the backend tells
 * the Worker to stop; `onClose` runs after that (the owner terminates the Worker).
 */
export async function connectRemoteBackend(port: PagePort, config: EmulatorConfig, host: BackendHost, onClose: () => void): Promise<RemoteBackend> {
  const localDisks: Partial<Record<DiskSlot, DiskDevice>> = {};
  const remote: RemoteDiskInfo[] = [];
  const sent: Record<string, unknown> = { ...config };
  for (const slot of DISK_SLOTS) {
    const disk = (config as AttachedDisks)[slot];
    if (!isDiskDevice(disk)) continue;
    localDisks[slot] = disk;
    remote.push({ slot, byteLength: disk.byteLength });
    delete sent[slot];
  }
  const backend = new RemoteBackend(port, localDisks, onClose);
  try {
    await backend.started(sent as unknown as EmulatorConfig, remote, host.wasm);
  } catch (error) {
    backend.dispose();
    throw error;
  }
  return backend;
}

export class RemoteBackend implements EmulatorBackend {
  private readonly store = new DisposableStore();
  private readonly output = this.store.add(new Emitter<ConsoleChunk>());
  private readonly crash = this.store.add(new Emitter<unknown>());
  private readonly reboot = this.store.add(new Emitter<void>());
  private readonly frames = this.store.add(new Emitter<Uint8Array>());
  private readonly hypercalls = this.store.add(new Emitter<HypercallRecord>());
  private readonly screenChanged = this.store.add(new Emitter<void>());
  readonly onOutput = this.output.event;
  readonly onCrash = this.crash.event;
  readonly onRebootRequest = this.reboot.event;
  onNetworkFrame?: Event<Uint8Array>;
  sendNetworkFrame?: (frame: Uint8Array) => void;
  readSharedFile?: (path: string) => Promise<Uint8Array>;
  resizeConsole?: (cols: number, rows: number) => void;
  sendScancodes?: (codes: readonly number[]) => void;
  balloon: BalloonDevice | undefined;
  guestMemory: GuestMemory | undefined;
  microscope: MicroscopeHooks | undefined;
  /** The VGA output, when the Worker's emulator has one to forward. */
  remoteScreen: RemoteScreen | undefined;
  workerMigration: WorkerMigrationHooks | undefined;
  private moves: WorkerMoves | undefined;

  private state: MirrorState = { running: false, counter: 0, counterAt: 0, jit: false, balloon: undefined, mode: undefined };
  private text: string[] = [];
  private nextId = 1;
  private readonly calls = new Map<number, { resolve(value: unknown): void; reject(error: unknown): void }>();
  private readonly trapSinks = new Map<number, TrapSink>();
  private readonly jitCounts = new Map<number, JitCounts>();
  private disposed = false;
  private startWaiter: { resolve(features: Features): void; reject(error: unknown): void } | undefined;

  constructor(
    private readonly port: PagePort,
    private readonly disks: Partial<Record<DiskSlot, DiskDevice>>,
    private readonly onClose: () => void,
  ) {
    this.store.add(port.onMessage((message) => this.receive(message)));
  }

  /** Send the start message and wire the optional parts the Worker's backend has. */
  async started(config: EmulatorConfig, disks: readonly RemoteDiskInfo[], wasm: ArrayBuffer): Promise<void> {
    const features = await new Promise<Features>((resolve, reject) => {
      this.startWaiter = { resolve, reject };
      // The state to restore and the boot's files go over, not copies: cloning tens of MiB held
      // the page's thread for ~0.35 s and the Worker's for ~0.2 s (a state), ~0.2 s (a boot's
      // 22 MB). The Machine loads the files again for a later boot. (The wasm bytes are the
      // page's, for every machine: those are copied.)
      const moved = [config.initial_state, config.bios, config.vga_bios, config.bzimage, config.initrd].flatMap((file) => (file === undefined ? [] : [file.buffer]));
      this.port.post({ type: "start", config, disks, wasm }, moved.length === 0 ? undefined : moved);
    });
    if (features.network) {
      this.onNetworkFrame = this.frames.event;
      this.sendNetworkFrame = (frame) => {
        const copy = frame.slice();
        this.port.post({ type: "net-frame", frame: copy }, [copy.buffer]);
      };
    }
    if (features.share) this.readSharedFile = (path) => this.call({ op: "read-shared-file", path });
    if (features.resize) this.resizeConsole = (cols, rows) => this.port.post({ type: "resize", cols, rows });
    if (features.keyboard) this.sendScancodes = (codes) => this.port.post({ type: "scancodes", codes: [...codes] });
    if (features.balloon) {
      this.balloon = {
        setTarget: (pages) => {
          // Mirrored at once: the page reads target() right after setting it.
          if (this.state.balloon !== undefined) this.state = { ...this.state, balloon: { ...this.state.balloon, target: pages } };
          this.port.post({ type: "balloon", pages });
        },
        target: () => this.state.balloon?.target ?? 0,
        actual: () => this.state.balloon?.actual ?? 0,
      };
    }
    if (features.guestMemory) {
      this.guestMemory = {
        controlRegisters: () => this.call<ControlRegisters>({ op: "control-registers" }),
        readPhysical: (address, length) => this.call<Uint8Array | undefined>({ op: "read-physical", address, length }),
        layout: () => this.call<GuestLayout>({ op: "layout" }),
      };
    }
    if (features.microscope) this.microscope = this.microscopeHooks();
    if (features.migration) {
      this.moves = new WorkerMoves(
        this.port,
        () => this.nextId++,
        () => this.call<Float64Array>({ op: "page-keys" }),
        (disks) => this.replaceDisks(disks),
      );
      this.workerMigration = this.moves;
    }
    if (features.screen) {
      this.remoteScreen = {
        onChange: this.screenChanged.event,
        mode: () => this.state.mode,
        text: () => this.text,
        frame: (force) => this.call<ScreenFrame | undefined>({ op: "screen-frame", force }),
      };
    }
  }

  private microscopeHooks(): MicroscopeHooks {
    return {
      onHypercall: this.hypercalls.event,
      jitEnabled: () => this.state.jit,
      setJit: (enabled) => {
        this.state = { ...this.state, jit: enabled };
        this.port.post({ type: "set-jit", enabled });
      },
      watchTraps: (sink) => {
        const id = this.nextId++;
        this.trapSinks.set(id, sink);
        this.port.post({ type: "watch", id, what: "traps" });
        return toDisposable(() => {
          this.trapSinks.delete(id);
          if (!this.disposed) this.port.post({ type: "unwatch", id });
        });
      },
      watchJit: () => {
        const id = this.nextId++;
        this.jitCounts.set(id, { blocks: 0, wasmBytes: 0, invalidations: 0 });
        this.port.post({ type: "watch", id, what: "jit" });
        return {
          read: () => this.jitCounts.get(id) ?? { blocks: 0, wasmBytes: 0, invalidations: 0 },
          dispose: () => {
            this.jitCounts.delete(id);
            if (!this.disposed) this.port.post({ type: "unwatch", id });
          },
        };
      },
    };
  }

  private call<T>(call: Call): Promise<T> {
    if (this.disposed) return Promise.reject(new AppError("disposed", "The machine was shut down."));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.calls.set(id, { resolve: resolve as (value: unknown) => void, reject });
      const transfer = call.op === "restore-state" ? [call.state] : undefined;
      this.port.post({ type: "call", id, call }, transfer);
    });
  }

  private receive(message: FromWorker): void {
    if (this.disposed) return;
    if (this.moves?.receive(message) === true) return;
    switch (message.type) {
      case "started":
        this.mirror(message.state);
        this.startWaiter?.resolve(message.features);
        this.startWaiter = undefined;
        return;
      case "start-failed":
        this.startWaiter?.reject(fromWire(message.error, "emulator-start-failed"));
        this.startWaiter = undefined;
        return;
      case "reply": {
        const waiter = this.calls.get(message.id);
        this.calls.delete(message.id);
        if (message.ok) waiter?.resolve(message.value);
        else waiter?.reject(fromWire(message.error));
        return;
      }
      case "status":
        this.mirror(message.state);
        return;
      case "output":
        // The counter first: a listener timing a section reads it as of these bytes.
        this.state = { ...this.state, counter: message.counter, counterAt: message.counterAt };
        this.output.fire({ port: message.port, bytes: message.bytes });
        return;
      case "crash":
        this.state = { ...this.state, running: false };
        this.crash.fire(fromWire(message.error));
        return;
      case "reboot":
        this.state = { ...this.state, running: false };
        this.reboot.fire();
        return;
      case "net-frame":
        this.frames.fire(message.frame);
        return;
      case "hypercall":
        this.hypercalls.fire(message.record);
        return;
      case "traps":
        this.trapSinks.get(message.id)?.merge?.(message.delta);
        return;
      case "jit-counts":
        if (this.jitCounts.has(message.id)) this.jitCounts.set(message.id, message.counts);
        return;
      case "disk-get":
        this.diskGet(message.id, message.slot, message.start, message.length, message.plan);
        return;
      case "disk-set":
        this.diskSet(message.id, message.slot, message.start, message.data);
        return;
    }
  }

  private mirror(state: MirrorState): void {
    const modeBefore = JSON.stringify(this.state.mode);
    const { text, ...rest } = state;
    this.state = rest;
    let changed = JSON.stringify(rest.mode) !== modeBefore;
    if (text !== undefined) {
      this.text = [...text];
      changed = true;
    }
    if (changed) this.screenChanged.fire();
  }

  /** A move's target opened the machine's disks anew (after the handover): the Worker reads these now. */
  private replaceDisks(disks: AttachedDisks): void {
    for (const slot of DISK_SLOTS) {
      const disk = (disks as Partial<Record<DiskSlot, unknown>>)[slot];
      if (isDiskDevice(disk)) this.disks[slot] = disk;
    }
  }

  private diskGet(id: number, slot: DiskSlot, start: number, length: number, plan: boolean): void {
    const disk = this.disks[slot];
    if (disk === undefined) {
      this.port.post({ type: "disk-done", id, bytes: new Uint8Array(length) });
      return;
    }
    // The Worker reads saved pages from IndexedDB itself: this thread only says which (issue 17).
    if (plan && disk instanceof OverlayDisk) {
      disk.locate(start, length).then(
        (located) => {
          if (this.disposed) return;
          if (located === undefined) this.diskGet(id, slot, start, length, false);
          else this.port.post({ type: "disk-done", id, plan: located }, located.held.map((part) => part.bytes.buffer as ArrayBuffer));
        },
        () => this.diskGet(id, slot, start, length, false),
      );
      return;
    }
    disk.get(start, length, (data) => {
      if (this.disposed) return;
      const bytes = data.slice();
      this.port.post({ type: "disk-done", id, bytes }, [bytes.buffer]);
    });
  }

  private diskSet(id: number, slot: DiskSlot, start: number, data: Uint8Array): void {
    const disk = this.disks[slot];
    if (disk === undefined) {
      this.port.post({ type: "disk-done", id });
      return;
    }
    // The write is the page's from here on: it is saved whether or not the Worker lives on.
    if (disk instanceof OverlayDisk) {
      // The message's bytes are this thread's own: the overlay copies them into its pages without
      // a copy first, and then they go back for the Worker's next write.
      disk.setOwned(start, data, () => {
        if (!this.disposed) this.port.post({ type: "disk-done", id, bytes: data }, [data.buffer as ArrayBuffer]);
      });
      return;
    }
    disk.set(start, data, () => {
      if (!this.disposed) this.port.post({ type: "disk-done", id });
    });
  }

  write(port: ConsolePort, bytes: Uint8Array): void {
    this.port.post({ type: "write", port, bytes: bytes.slice() });
  }

  async run(): Promise<void> {
    await this.call<CallResults["run"]>({ op: "run" });
    this.state = { ...this.state, running: true };
  }

  async stop(): Promise<void> {
    await this.call<CallResults["stop"]>({ op: "stop" });
    this.state = { ...this.state, running: false };
  }

  isRunning(): boolean {
    return this.state.running;
  }

  instructionCounter(): number {
    return this.state.counter;
  }

  instructionSample(): InstructionSample {
    return { counter: this.state.counter, atMs: this.state.counterAt };
  }

  async saveState(): Promise<Uint8Array> {
    return new Uint8Array(await this.call<ArrayBuffer>({ op: "save-state" }));
  }

  async restoreState(state: Uint8Array): Promise<void> {
    await this.call({ op: "restore-state", state: state.slice().buffer });
  }

  sendCtrlAltDel(): void {
    this.port.post({ type: "ctrl-alt-del" });
  }

  textScreen(): string[] {
    return this.state.mode?.kind === "graphics" ? [] : [...this.text];
  }

  dispose(): void {
    if (this.disposed) return;
    this.port.post({ type: "dispose" });
    this.disposed = true;
    const error = new AppError("disposed", "The machine was shut down.");
    for (const waiter of this.calls.values()) waiter.reject(error);
    this.calls.clear();
    this.startWaiter?.reject(error);
    this.moves?.dispose();
    this.store.dispose();
    this.onClose();
  }
}
