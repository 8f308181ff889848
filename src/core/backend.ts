/**
 * What the core needs from an emulator. v86.ts implements it with v86; unit tests implement it
 * with a scripted fake. Nothing outside v86.ts sees v86's own types.
 */
import type { Clock } from "./clock.ts";
import type { Disposable, Event } from "./events.ts";
import type { TrapSink } from "./microscope/traps.ts";
import type { AttachedDisks, EmulatorConfig } from "./profile.ts";
import type { ControlRegisters } from "./microscope/pagewalk.ts";
import type { GuestAtPause, MigrationMethod } from "./migration/protocol.ts";
import type { RoundPolicy, RoundRecord } from "./migration/planner.ts";
import type { Requirements, WireOffer } from "./migration/requirements.ts";
import type { PageHasher } from "./migration/pageHash.ts";
import type { MigrationReport } from "./migration/source.ts";
import type { ArrivalReport } from "./migration/target.ts";

/**
 * Consoles a guest can talk on: the first 8250 UART, the first virtio console, and the second
 * 8250 UART, which only the guest agent uses (agent.ts; never shown to the user).
 */
export type ConsolePort = "serial0" | "virtio0" | "serial1";

export interface ConsoleChunk {
  readonly port: ConsolePort;
  readonly bytes: Uint8Array;
}

/** An instruction counter reading and when it was taken, in ms of the emulator's own clock. */
export interface InstructionSample {
  readonly counter: number;
  readonly atMs: number;
}

export interface EmulatorBackend extends Disposable {
  /** Console output, batched per emulator time slice (v86 itself reports serial byte by byte). */
  readonly onOutput: Event<ConsoleChunk>;
  /** The emulator core threw while running; the machine is dead. */
  readonly onCrash: Event<unknown>;
  /**
   * The guest asked for a reboot (Ctrl-Alt-Del, `reboot`, a reset port). The backend has stopped;
   * the owner starts a fresh emulator, which is what a power cycle is.
   */
  readonly onRebootRequest: Event<void>;
  write(port: ConsolePort, bytes: Uint8Array): void;
  run(): Promise<void>;
  stop(): Promise<void>;
  isRunning(): boolean;
  /** v86's instruction counter: 32 bits, wraps. */
  instructionCounter(): number;
  /**
   * The instruction counter with the time it was read (ms, on the clock of the thread that runs
   * the emulator). A remote backend's counter reaches the page with its status, up to a status
   * interval (200 ms) late or more, by a varying amount, so a rate taken between two readings on
   * the page's clock could be off by that much in a 1 s sample. Left out by a backend in the
   * caller's own thread: the caller reads its own clock.
   */
  instructionSample?(): InstructionSample;
  /** v86's whole machine state (memory, CPU, devices). */
  saveState(): Promise<Uint8Array>;
  /** Put a state saved by the same emulator version on the same hardware back. */
  restoreState(state: Uint8Array): Promise<void>;
  /** Press Ctrl-Alt-Del on the PS/2 keyboard. */
  sendCtrlAltDel(): void;
  /** Raw PS/2 keyboard scan codes (set 1), for keys typed into the VGA view. Optional. */
  sendScancodes?(codes: readonly number[]): void;
  /** The VGA text screen as lines (empty in graphics modes). */
  textScreen(): string[];
  /**
   * The VGA output, for a view that draws it itself (a backend in a Worker has no DOM to draw
   * into). Optional: v86.ts has it; a backend given a screen container draws there instead.
   */
  readonly screen?: ScreenSource | undefined;
  /**
   * Tell the guest the size of the terminal on its virtio console (a resize control message;
   * the 8250 UART has no such channel). Optional: a backend without it leaves the guest's size.
   */
  resizeConsole?(cols: number, rows: number): void;
  // --- device lab (issue 5): optional, a backend without them has no NIC bus or 9p access ---
  /** Every Ethernet frame the guest's NIC transmits, at the emulator's network bus. */
  readonly onNetworkFrame?: Event<Uint8Array>;
  /** Hand an Ethernet frame to the guest's NIC, as if it arrived on the wire. */
  sendNetworkFrame?(frame: Uint8Array): void;
  /** Read a file from the machine's 9p share (path from the share's root). */
  readSharedFile?(path: string): Promise<Uint8Array>;
  // --- end device lab ---
  /** The virtio-balloon device, when the machine has one. */
  readonly balloon?: BalloonDevice | undefined;
  // --- microscope, guest memory (issue 13): optional, only v86.ts implements it ---
  /** The guest CPU's control registers and physical memory, read between emulator time slices. */
  readonly guestMemory?: GuestMemory | undefined;
  // --- end microscope, guest memory ---
  // --- microscope (issue 13, items 1-3): optional ---
  readonly microscope?: MicroscopeHooks | undefined;
  // --- end microscope ---
  // --- migration (issue 15): optional, only v86.ts implements it ---
  readonly migration?: MigrationHooks | undefined;
  /** A machine in a Worker (remote/client.ts): the move runs in the Worker, next to guest RAM. */
  readonly workerMigration?: WorkerMigrationHooks | undefined;
  // --- end migration ---
}

/** A move ordered from the page, run by the engine in the machine's Worker (remote/migrationServer.ts). */
export interface MoveOutOrder {
  /** The BroadcastChannel both Workers open, and the move's id on it. */
  readonly channel: string;
  readonly move: string;
  readonly method: MigrationMethod;
  readonly requirements: Requirements;
  readonly shellReady: boolean;
  readonly policy?: RoundPolicy;
}

export interface MoveInOrder {
  readonly channel: string;
  readonly move: string;
  readonly offer: WireOffer;
  readonly sourceName: string;
}

/**
 * What the Worker asks of the page during a move (the disks and their lock are the page's; the
 * machine's status is the page's). Each may reject: the engine then takes the failure path.
 */
export interface MovePageSide {
  /** Source: write the disks' pending pages and let the lock go (the guest is paused). */
  releaseDisks(): Promise<void>;
  /** Source: the move failed; take the lock back before the guest runs again here. */
  reclaimDisks(): Promise<void>;
  /** Target: take the lock handed over and (re)open the disks, now that the source flushed them; the Worker reads these from then on. */
  takeDisks(): Promise<AttachedDisks>;
  /** Target: the state is in; the page's machine runs it (console, shell as at the pause). */
  landed(guest: GuestAtPause): Promise<void>;
  /** Target: the Worker listens on the move's channel (the source may start). */
  onListening?(): void;
  onRound?(round: RoundRecord): void;
  onPause?(): void;
}

export interface WorkerMigrationHooks {
  migrateOut(order: MoveOutOrder, page: MovePageSide): Promise<MigrationReport>;
  migrateIn(order: MoveInOrder, page: MovePageSide): Promise<ArrivalReport>;
  /** The guest's pages as keys (migration/ksm.ts samePageKeys), for the same-page meter. */
  samePageKeys(): Promise<Float64Array>;
}

/**
 * What a move needs of the emulator beyond save and restore: guest RAM read in place while the
 * guest runs, and the machine state without RAM, so memory sent ahead is not sent again.
 */
export interface MigrationHooks {
  /**
   * Guest RAM as a live view of the emulator's memory: read it between time slices and do not
   * keep it (a restore or a memory growth replaces it).
   */
  ram(): Uint8Array;
  /** Hashes pages of `ram()` where they lie (migration/pageHash.ts), if the emulator can. */
  readonly pageHasher?: PageHasher | undefined;
  /** The machine state (CPU, devices) with no guest RAM in it. */
  saveDeviceState(): Promise<Uint8Array>;
  /**
   * Put a state from saveDeviceState back, keeping guest RAM as it is now (a move wrote it through
   * `ram()` while the emulator was stopped). The emulator stays stopped.
   */
  restoreDeviceState(state: Uint8Array): Promise<void>;
}

/**
 * Read-only access to the guest's paging state: what a page walk needs. Asynchronous because the
 * emulator may run in another thread (a Worker): each read is taken between its time slices.
 */
export interface GuestMemory {
  /** CR0, CR3, CR4 as the guest set them last. */
  controlRegisters(): Promise<ControlRegisters>;
  /** A copy of guest physical memory [address, address + length); undefined unless all of it is RAM. */
  readPhysical(address: number, length: number): Promise<Uint8Array | undefined>;
  /** Where guest physical address 0 lies in the emulator's own (Wasm) linear memory, and the RAM size. */
  layout(): Promise<GuestLayout>;
}

export interface GuestLayout {
  readonly wasmOffset: number;
  readonly bytes: number;
}

/** What the VGA shows now: a text mode's lines, or a graphics mode's pixels. */
export type ScreenMode = { readonly kind: "text"; readonly cols: number; readonly rows: number } | { readonly kind: "graphics"; readonly width: number; readonly height: number };

/** A copy of the visible graphics screen: RGBA, `width * height * 4` bytes. */
export interface ScreenFrame {
  readonly width: number;
  readonly height: number;
  readonly rgba: Uint8Array;
}

/** The VGA output read from the emulator's video memory (v86 renders into it even headless). */
export interface ScreenSource {
  mode(): ScreenMode;
  /** Render the graphics screen and copy it out; undefined in text modes or when nothing changed since the last frame (unless `force`). */
  frame(force: boolean): ScreenFrame | undefined;
}

// --- microscope (issue 13, items 1-3) ---
/** What dynamic translation did since the counters were installed. */
export interface JitCounts {
  /** Guest code blocks compiled to Wasm. */
  readonly blocks: number;
  /** Bytes of Wasm generated. */
  readonly wasmBytes: number;
  /** Compiled functions thrown away (guest code pages written, cache full). */
  readonly invalidations: number;
}

/** One call of the hypercall device: what the guest asked, what it got back. */
export interface HypercallRecord {
  readonly nr: number;
  readonly args: readonly [number, number];
  readonly reply: number;
}

/**
 * Instruments inside the emulator. Counting wrappers exist only between `watchTraps`/`watchJit`
 * and the dispose of what they return: nobody looking costs nothing.
 */
export interface MicroscopeHooks {
  /** Count every port access, MMIO access and device interrupt into the sink. */
  watchTraps(sink: TrapSink): Disposable;
  /** Count JIT compilations; `read` gives the totals since the watch began. */
  watchJit(): Disposable & { read(): JitCounts };
  /** Switch dynamic translation on or off on the running machine (the cache is cleared). */
  setJit(enabled: boolean): void;
  jitEnabled(): boolean;
  /** Calls the guest made to the hypercall device (physical address HYPERCALL_BASE). */
  readonly onHypercall: Event<HypercallRecord>;
}
// --- end microscope ---

/** The host's side of virtio-balloon. Sizes are in 4 KiB pages, as the device counts them. */
export interface BalloonDevice {
  /** Ask the guest to hand over this many pages in all (0 gives everything back). */
  setTarget(pages: number): void;
  /** What the host asks for now. */
  target(): number;
  /** What the guest has handed over so far. */
  actual(): number;
}

export interface BackendHost {
  /** The bytes of v86.wasm, already loaded by the caller so a failure is reported, not lost. */
  readonly wasm: ArrayBuffer;
  /** Browser only: the element v86 draws the VGA screen into. */
  readonly screenContainer?: unknown;
  /** Every wait the backend makes (its load deadline) goes through this clock; the system clock when absent. */
  readonly clock?: Clock;
  /** v86.wasm compiled and warmed ahead (warmUpEmulator); used when it is the module of `wasm`. */
  readonly compiled?: CompiledEmulator;
}

/**
 * The emulator's wasm compiled ahead of a start, with the code a guest runs first already compiled
 * by the engine (warmUpEmulator in v86.ts). Opaque outside the backend.
 */
export interface CompiledEmulator {
  /** The size of the wasm it was compiled from: a start with other bytes compiles its own. */
  readonly wasmBytes: number;
  readonly module: object;
  /** How many guest instructions the warm-up ran on it (0: compiled only, the warm-up ended first or failed). */
  readonly warmedInstructions: number;
}

export type BackendFactory = (config: EmulatorConfig, host: BackendHost) => Promise<EmulatorBackend>;
