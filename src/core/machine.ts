/**
 * A machine session: load the files, start the emulator, follow its console, answer "is the
 * shell there?" and run commands with deadlines. Runs the same in Node and in the browser.
 */
import { decodeAsset, verifyAsset, type AssetLoader } from "./assets.ts";
import type { BackendFactory, ConsoleChunk, ConsolePort, EmulatorBackend, GuestMemory, MicroscopeHooks, WorkerMigrationHooks } from "./backend.ts";
import { samePageKeys } from "./migration/ksm.ts";
import type { GuestAtPause } from "./migration/protocol.ts";
import { systemClock, type Clock } from "./clock.ts";
import { CommandCapture, ConsoleTranscript, markedCommand, type CommandResult, type TypedCommand } from "./console.ts";
import { AGENT_PORT, GuestAgent } from "./agent.ts";
import { AppError, toAppError } from "./errors.ts";
import { DisposableStore, Emitter, toDisposable, type Disposable } from "./events.ts";
import { decodeText, encodeText } from "./host.ts";
import type { SourceMachine } from "./migration/source.ts";
import { landingRam, type TargetMachine } from "./migration/target.ts";
import { guestAssets, maxBalloonMiB, profileProblems, toEmulatorConfig, type AssetRef, type AttachedDisks, type AssetRole, type DeviceProfile, type EmulatorConfig, type GuestSpec, type LoadedAssets } from "./profile.ts";

/** What a command meets on a machine whose guest powered itself off (in flight, or asked after). */
function poweredOffError(): AppError {
  return new AppError("not-running", "The guest powered itself off.");
}

/** What a command meets on a machine whose guest's kernel panicked. */
function panickedError(reason: string): AppError {
  return new AppError("not-running", `The guest's kernel panicked (${reason}).`);
}

/**
 * "off": the guest powered itself off (`poweroff` or `halt` in its shell); "panicked": the guest's
 * kernel panicked (`MachineStatus.panic` says why). Either way its emulator is stopped and a
 * restart starts it again.
 */
export type MachineStage = "idle" | "downloading" | "booting" | "ready" | "off" | "panicked" | "failed" | "crashed" | "disposed";

/** The guest stopped itself (powered off, or its kernel panicked): nothing runs until a restart. */
export function stoppedByGuest(stage: MachineStage): boolean {
  return stage === "off" || stage === "panicked";
}

/** The run is over (the guest stopped itself, the emulator crashed, the start failed): Reset starts the machine afresh. */
export function runIsOver(stage: MachineStage): boolean {
  return stoppedByGuest(stage) || stage === "crashed" || stage === "failed";
}

/**
 * The last line of a Linux kernel panic's report, with its reason ("sysrq triggered crash",
 * "VFS: Unable to mount root fs on unknown-block(0,0)", "Attempted to kill init! …"). Linux prints
 * it once the whole report is out, then spins: nothing more comes from the guest.
 */
const KERNEL_PANIC_END = /---\[ end Kernel panic - not syncing: ([^\r\n]*?) \]---/;
/** Console text kept across chunks for finding that line (it may be cut anywhere). */
const PANIC_SCAN_CARRY = 160;
/** A prompt followed by keys typed ahead is looked for within the line's first this many characters. */
const LONGEST_PROMPT = 256;

/**
 * Whether the guest's shell is there: "none" for a guest with no known serial prompt (it is
 * ready as soon as it runs), "waiting" until the prompt shows, "ready" once it did, and
 * "not-detected" for a guest that ran and printed but showed no prompt within a while (its
 * own program owns the console: the user types to it).
 */
export type ShellPresence = "none" | "waiting" | "ready" | "not-detected";

export interface MachineStatus {
  readonly stage: MachineStage;
  /** The emulator is executing (false while paused or before start). */
  readonly running: boolean;
  /** Million instructions per second over the last sample, when running. */
  readonly mips: number | undefined;
  readonly error: AppError | undefined;
  /** Whether a shell was seen; meaningful while booting or ready. */
  readonly shell: ShellPresence;
  /** Stage "panicked": the kernel's reason, as it printed it. */
  readonly panic?: string | undefined;
}

export interface DownloadProgress {
  readonly file: string;
  readonly loaded: number;
  readonly total: number | undefined;
  /** Bytes loaded over bytes expected, across all files, when sizes are known. */
  readonly fraction: number | undefined;
}

export interface MachineOptions {
  readonly profile: DeviceProfile;
  readonly guest: GuestSpec;
  /** The emulator's WebAssembly module. */
  readonly wasm: AssetRef;
  readonly loader: AssetLoader;
  readonly backend: BackendFactory;
  readonly clock?: Clock;
  /** Browser only: where v86 draws the VGA screen. */
  readonly screenContainer?: unknown;
  /** Disks opened by the caller (e.g. OverlayDisks); they outlive reboots of this machine. */
  readonly disks?: AttachedDisks;
  /**
   * Start from a saved state instead of booting (the caller has checked it fits this machine).
   * Used once: a later reset or guest reboot boots normally. The emulator takes the bytes (a
   * Worker backend is sent them, not a copy): the caller does not use them after the start.
   */
  readonly initialState?: {
    readonly state: Uint8Array;
    readonly shellReady: boolean;
    /**
     * The console's last line at the save (a snapshot's preview): the guest printed it before
     * the save and prints nothing after a restore, so `recentOutput` starts with it.
     */
    readonly screen?: string;
  };
  /**
   * "off": the NIC is unplugged: the guest's frames go nowhere and none reach it, until
   * setNetwork("on"). Default "on". (A machine from a link starts "off": see snapshot/link.ts.)
   */
  readonly network?: "on" | "off";
  /**
   * After a start from a saved state, v86's JIT stays off while its owner sets the machine up,
   * and comes on at releaseJit() (the set-up done). A state put into the running machine
   * (restoreState, a move's arrival) ends the hold too. For a guest with a known prompt whose
   * profile does not ask for the interpreter. The set-up's code runs once: in Chromium it took
   * 0.30-0.43 s this way against 0.50-0.58 s with the JIT on, V8 not compiling the JIT's modules
   * twice over meanwhile. Boots are not held: a cold boot reached 42 sooner with the JIT on
   * (docs/architecture.md, "Workers"). Node's sessions leave this off.
   */
  readonly holdJitWhileSettingUp?: boolean;
}

/** The balloon's size: what the host asks for and what the guest has handed over, in MiB. */
export interface BalloonReading {
  readonly targetMiB: number;
  readonly actualMiB: number;
}

export interface WaitOptions {
  readonly timeoutMs?: number;
}

const DEFAULT_BOOT_TIMEOUT_MS = 120_000;
const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;
const MIPS_SAMPLE_MS = 1000;
const PAGES_PER_MIB = 256;
const POLL_MS = 50;
/**
 * A guest with a known prompt that printed and then stayed quiet this long without showing it
 * runs a program of its own on the console; one that keeps printing, after this long.
 */
export const NO_SHELL_QUIET_MS = 15_000;
export const NO_SHELL_MAX_MS = 90_000;
const NO_SHELL_CHECK_MS = 1000;
/**
 * After Ctrl-Alt-Del, prompts are not taken as "the shell is back" until the guest reboots, or
 * this long without a reboot (a guest that ignores Ctrl-Alt-Del keeps its shell): the old shell's
 * prompt, still on its way when the keys were pressed, is not the new boot's.
 */
export const REBOOT_GRACE_MS = 10_000;
/** Ctrl-U: clears whatever half-typed line sits at the prompt before a command is sent. */
const KILL_LINE = "\x15";

/** A file loadAll loaded, by its role. */
function loadedFile(byRole: ReadonlyMap<string, ArrayBuffer>, role: AssetRole | "wasm"): ArrayBuffer {
  const buffer = byRole.get(role);
  if (buffer === undefined) throw new AppError("asset-load-failed", `Missing ${role}.`, { details: { subject: role } });
  return buffer;
}

interface Waiter {
  check(): boolean;
  fail(error: AppError): void;
}

export class Machine implements Disposable {
  readonly profile: DeviceProfile;
  readonly guest: GuestSpec;
  /** The console the user's terminal and `run` talk to. */
  readonly consolePort: ConsolePort;

  private readonly options: MachineOptions;
  private readonly clock: Clock;
  /** The guest's shell prompt; undefined for guests without a known serial shell. */
  private readonly prompt: RegExp | undefined;
  private readonly store = new DisposableStore();
  private readonly transcripts: Record<ConsolePort, ConsoleTranscript> = {
    serial0: new ConsoleTranscript(),
    virtio0: new ConsoleTranscript(),
    serial1: new ConsoleTranscript(),
  };
  private backend: EmulatorBackend | undefined;
  private backendStore = new DisposableStore();
  private launch: (() => Promise<EmulatorBackend>) | undefined;
  private waiters = new Set<Waiter>();
  private commandQueue: Promise<unknown> = Promise.resolve();
  private nextCommandId = 1;
  private commandsInFlight = 0;
  private shellUp = false;
  /** Set from Ctrl-Alt-Del until the guest reboots (or REBOOT_GRACE_MS pass): prompts meanwhile are the old shell's. */
  private rebootExpected: Disposable | undefined;
  /** Power-ons begun (powerOn): only the latest one's emulator runs. */
  private launches = 0;
  /** An emulator is being launched in place of the last one (a first start, a reset, the guest's reboot). */
  private poweringOn = false;
  /** Keys were typed before the shell came up: the line editor echoes them after its prompt. */
  private typedAhead = false;
  /** The end of the console text seen so far, for a panic's last line cut between chunks (scanForPanic). */
  private panicScan = "";
  /** v86's JIT is held off for the start in progress (MachineOptions.holdJitWhileSettingUp). */
  private jitHeld = false;
  private state: MachineStatus = { stage: "idle", running: false, mips: undefined, error: undefined, shell: "waiting" };
  /** Console output since the emulator started: first and last time (for "no shell detected"). */
  private outputSeen: { first: number; last: number } | undefined;
  private lastSample: { at: number; counter: number } | undefined;
  private mipsTimer: Disposable | undefined;
  private consoleSize: { readonly cols: number; readonly rows: number } | undefined;

  private readonly statusEmitter = this.store.add(new Emitter<MachineStatus>());
  private readonly outputEmitter = this.store.add(new Emitter<ConsoleChunk>());
  private readonly progressEmitter = this.store.add(new Emitter<DownloadProgress>());
  private readonly shellEmitter = this.store.add(new Emitter<void>());
  private readonly powerCycleEmitter = this.store.add(new Emitter<"reset" | "reboot">());
  private readonly commandEmitter = this.store.add(new Emitter<{ readonly typed: TypedCommand } | { readonly ended: number }>());
  /** Any change of stage, running or MIPS. */
  readonly onStatus = this.statusEmitter.event;
  /** Console output of every port, batched per emulator time slice. */
  readonly onOutput = this.outputEmitter.event;
  readonly onDownloadProgress = this.progressEmitter.event;
  /** The guest's shell prompt appeared (after boot, reboot or reset). */
  readonly onShellReady = this.shellEmitter.event;
  /** A fresh emulator is about to start in place of the running one: a hard reset, or the guest rebooted. */
  readonly onPowerCycle = this.powerCycleEmitter.event;
  /** `run` typed a command into the console (just before its bytes go), and it ended: for the display's `EchoFilter`. */
  readonly onCommand = this.commandEmitter.event;

  /**
   * The guest agent on the second serial port, for housekeeping the user does not see (agent.ts);
   * its `run` fails with `not-running` for a guest without one.
   */
  readonly agent: GuestAgent;
  /** The guest listens for the agent on AGENT_PORT. */
  private readonly hasAgent: boolean;

  constructor(options: MachineOptions) {
    this.options = options;
    this.profile = options.profile;
    this.guest = options.guest;
    this.clock = options.clock ?? systemClock;
    this.networkState = options.network ?? "on";
    this.consolePort = options.profile.console === "virtio" ? "virtio0" : "serial0";
    const problems = profileProblems(options.profile, options.guest);
    if (problems.length > 0) {
      throw new AppError("bad-profile", `This machine cannot start: ${problems.join("; ")}.`, { details: { problems } });
    }
    this.prompt = options.guest.prompt === undefined ? undefined : new RegExp(options.guest.prompt);
    this.hasAgent = options.guest.kind === "linux" && options.guest.agent === AGENT_PORT;
    this.agent = this.store.add(
      new GuestAgent((bytes) => {
        if (!this.hasAgent || this.backend === undefined) return false;
        this.backend.write(AGENT_PORT, bytes);
        return true;
      }, this.clock),
    );
    if (this.prompt === undefined) this.state = { ...this.state, shell: "none" };
    this.store.add(this.agent.onPowerOff(() => void this.guestStopped({ stage: "off" })));
  }

  /** Whether the guest's shell is there (also in `status.shell`). */
  get shellPresence(): ShellPresence {
    return this.state.shell;
  }

  get status(): MachineStatus {
    return this.state;
  }

  /** A command sent by `run` is being typed or is running in the guest. */
  get runningCommand(): boolean {
    return this.commandsInFlight > 0;
  }

  /** True once the shell prompt has been seen since the last boot. */
  get shellReady(): boolean {
    return this.shellUp;
  }

  /** Whether v86's JIT is still held off for the start (MachineOptions.holdJitWhileSettingUp). */
  get jitHeldForStart(): boolean {
    return this.jitHeld;
  }

  /**
   * The start is over: v86's JIT comes on if it was held off for it. After a start from a state
   * the owner calls it once its set-up is done (a state saved with no shell, or a kernel panic,
   * releases it by itself). Does nothing otherwise (the JIT as the profile and the microscope's
   * switch have it stays as it is).
   */
  releaseJit(): void {
    if (!this.jitHeld) return;
    this.jitHeld = false;
    this.backend?.microscope?.setJit(true);
  }

  /**
   * Whether this machine's starts from a state hold v86's JIT off (MachineOptions.holdJitWhileSettingUp):
   * not for a guest without a known prompt, nor for a profile whose CPU is the interpreter anyway.
   */
  private get holdsJit(): boolean {
    return this.options.holdJitWhileSettingUp === true && this.prompt !== undefined && this.profile.cpu !== "interpreter";
  }

  /** `config` (a start from a state) with v86's JIT off for its set-up, when this machine holds it. */
  private holdJit(config: EmulatorConfig): EmulatorConfig {
    return this.holdsJit ? { ...config, disable_jit: true } : config;
  }

  /** Download (or read) every file, then start the emulator. Resolves when it runs. */
  async start(): Promise<void> {
    if (this.state.stage !== "idle") throw new AppError("emulator-start-failed", "This machine has already been started.");
    try {
      this.setStatus({ stage: "downloading" });
      // A start from a saved state has the booted kernel in the state's memory: the kernel and
      // initrd are loaded only when a reset or reboot boots again.
      const initial = this.options.initialState;
      const files = await this.loadFiles(initial !== undefined);
      this.throwIfDisposed();
      this.setStatus({ stage: "booting" });
      const host = this.options.screenContainer === undefined ? { wasm: files.wasm, clock: this.clock } : { wasm: files.wasm, clock: this.clock, screenContainer: this.options.screenContainer };
      // Checked now, so a profile that cannot run fails here and not at the first reset.
      const restoreConfig = toEmulatorConfig(this.profile, this.guest, files.assets, this.options.disks, { restoring: initial !== undefined });
      let bootConfig = initial === undefined ? restoreConfig : undefined;
      let assets = files.assets;
      this.launch = () => {
        if (bootConfig !== undefined && holdsBootFiles(bootConfig)) return this.options.backend(bootConfig, host);
        // A backend in a Worker takes the boot files (moved, not copied: cloning 22 MB held the
        // page's thread for ~0.2 s), so a later boot (a reset, a reboot) loads them again.
        return this.withBootFiles(assets).then((loadedAssets) => {
          this.throwIfDisposed();
          assets = loadedAssets;
          const loaded = toEmulatorConfig(this.profile, this.guest, assets, this.options.disks);
          bootConfig = bootConfig === undefined ? loaded : { ...bootConfig, ...bootFiles(loaded) };
          return this.options.backend(bootConfig, host);
        });
      };
      if (initial === undefined) await this.powerOn();
      else {
        await this.powerOn(() => this.options.backend(this.holdJit({ ...restoreConfig, initial_state: { buffer: exactBuffer(initial.state) } }), host), { shellReady: initial.shellReady });
        if (initial.screen !== undefined) this.transcripts[this.consolePort].push(encodeText(initial.screen));
      }
      this.store.add(toDisposable(() => this.mipsTimer?.dispose()));
      this.sampleMips();
    } catch (error) {
      const appError = toAppError(error, "emulator-start-failed", "The machine could not start.");
      if (!this.isDisposed()) this.setStatus({ stage: "failed", running: false, error: appError });
      this.failWaiters(appError);
      throw appError;
    }
  }

  /** Resolve when the shell prompt is on the console, or reject at the deadline. */
  waitForShell(options: WaitOptions = {}): Promise<void> {
    if (this.prompt === undefined) {
      return Promise.reject(new AppError("bad-profile", "This guest has no known shell prompt to wait for."));
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_BOOT_TIMEOUT_MS;
    return this.waitUntil(() => this.shellUp, timeoutMs, "the shell prompt");
  }

  /**
   * Run a shell command in the guest and return what it printed and its exit status. Commands
   * run one at a time; each waits for the shell first.
   */
  run(command: string, options: WaitOptions = {}): Promise<CommandResult> {
    const job = this.commandQueue.then(() => this.runNow(command, options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS));
    this.commandQueue = job.catch(() => undefined);
    return job;
  }

  /**
   * Run `job` alone: commands asked for meanwhile (`run`) wait until it has ended, as they wait for
   * each other. For work that must not interleave with commands, e.g. unmounting a disk to save
   * the machine (the job itself talks to the guest through the agent, not `run`).
   */
  exclusive<T>(job: () => Promise<T>): Promise<T> {
    const result = this.commandQueue.then(job);
    this.commandQueue = result.catch(() => undefined);
    return result;
  }

  /** housekeep goes through the guest agent: nothing is typed into, or printed on, the user's console. */
  setUpIsQuiet(): boolean {
    return this.hasAgent;
  }

  /**
   * Housekeeping the user should not see (mount the data disk, set the clock after a restore):
   * through the guest agent when the guest has one, else typed into the shell as `run` does
   * (`typed` says which, so the page can tidy its terminal after a typed one).
   */
  async housekeep(command: string, options: WaitOptions = {}): Promise<CommandResult & { readonly typed: boolean }> {
    if (this.setUpIsQuiet()) return { ...(await this.agent.run(command, options)), typed: false };
    return { ...(await this.run(command, options)), typed: true };
  }

  /**
   * The size of the terminal the user sees; the guest learns it where the console can carry it
   * (virtio-console), now and after every reboot or reset.
   */
  resizeConsole(cols: number, rows: number): void {
    if (!Number.isInteger(cols) || !Number.isInteger(rows) || cols < 1 || rows < 1) return;
    this.consoleSize = { cols, rows };
    this.backend?.resizeConsole?.(cols, rows);
  }

  /** Type into the machine's console, as the terminal does. */
  write(data: string | Uint8Array): void {
    // Keys typed while the emulator restarts (a reset, the guest's reboot) are lost, as a PC's are.
    if (this.backend === undefined && this.poweringOn && !this.isDisposed()) return;
    const backend = this.requireBackend();
    if (!this.shellUp) this.typedAhead = true;
    backend.write(this.consolePort, typeof data === "string" ? encodeText(data) : data);
  }

  async pause(): Promise<void> {
    const backend = this.requireBackend();
    await backend.stop();
    this.lastSample = undefined;
    this.setStatus({ running: false, mips: undefined });
  }

  async resume(): Promise<void> {
    const backend = this.requireBackend();
    await backend.run();
    this.setStatus({ running: true });
  }

  /** The whole machine state, as v86 saves it. Works running or paused. */
  async saveState(): Promise<{ state: Uint8Array; shellReady: boolean }> {
    const backend = this.requireBackend();
    return { state: await backend.saveState(), shellReady: this.shellUp };
  }

  /**
   * Put a saved state back into this machine (which must have the same hardware; the caller
   * checks fingerprints). The shell is ready at once when it was ready at the save.
   */
  async restoreState(state: Uint8Array, options: { shellReady: boolean }): Promise<void> {
    await this.restoreWith((backend) => backend.restoreState(state), options);
  }

  // --- migration (issue 15) ---
  /**
   * This machine as the sending side of a move (migration/source.ts); undefined when its backend
   * cannot read guest RAM (a Worker backend). `flushDisks` writes the disks' pending pages.
   */
  migrationSource(flushDisks: () => Promise<void>): SourceMachine | undefined {
    const hooks = this.backend?.migration;
    if (hooks === undefined) return undefined;
    return {
      memory: () => hooks.ram(),
      pageHasher: hooks.pageHasher,
      pause: () => this.pause(),
      resume: () => this.resume(),
      saveFullState: async () => (await this.saveState()).state,
      saveDeviceState: () => hooks.saveDeviceState(),
      shellReady: () => this.shellUp,
      flushDisks,
    };
  }

  /** This machine as the receiving side of a move (its own guest is replaced); undefined when its backend cannot. */
  migrationTarget(): TargetMachine | undefined {
    const hooks = this.backend?.migration;
    if (hooks === undefined) return undefined;
    return {
      memoryBytes: hooks.ram().byteLength,
      ram: () => landingRam(this.backend?.isRunning() !== false, () => hooks.ram()),
      restoreFull: (state, guest) => this.restoreState(state, { shellReady: guest.shellReady }),
      restoreWithRam: (state, guest) => this.restoreWith(() => hooks.restoreDeviceState(state), { shellReady: guest.shellReady }),
    };
  }
  /** A machine in a Worker moves through these (remote/migrationServer.ts); undefined in process. */
  get workerMigration(): WorkerMigrationHooks | undefined {
    return this.backend?.workerMigration;
  }

  /**
   * A move's state is in this (stopped) machine's emulator: run it, the console starting afresh,
   * the shell as it was at the source's pause.
   */
  async landed(guest: GuestAtPause): Promise<void> {
    await this.restoreWith(async () => undefined, { shellReady: guest.shellReady });
  }

  /** The guest's pages as keys for the same-page meter (migration/ksm.ts); undefined when the backend cannot. */
  async samePageKeys(): Promise<Float64Array | undefined> {
    const backend = this.backend;
    if (backend?.workerMigration !== undefined) return backend.workerMigration.samePageKeys();
    if (backend?.migration !== undefined) return samePageKeys(backend.migration.ram(), backend.migration.pageHasher);
    return undefined;
  }
  // --- end migration ---

  /** Stop, put a state in (`put`), and run it: the console starts afresh, the shell as it was at the save. */
  private async restoreWith(put: (backend: EmulatorBackend) => Promise<void>, options: { shellReady: boolean }): Promise<void> {
    const backend = this.requireBackend();
    const wasRunning = backend.isRunning();
    if (wasRunning) await backend.stop();
    await put(backend);
    this.transcripts.serial0.reset();
    this.transcripts.virtio0.reset();
    this.shellUp = options.shellReady && this.prompt !== undefined;
    this.lastSample = undefined;
    this.outputSeen = undefined;
    // A state put into the running machine (a snapshot, a move's arrival) ends a start in progress.
    this.releaseJit();
    await backend.run();
    this.runningNow(true);
  }

  /**
   * The status once an emulator runs. A boot waits for its shell ("booting"). A state saved
   * with the shell up has it; one saved with none (the guest's own program had the console: an
   * installer, a shell virtlab does not know) is not booting either: it runs, no shell detected
   * (a prompt that shows later is still found), and the JIT need not wait for one.
   */
  private runningNow(fromState: boolean): void {
    const noShell = fromState && !this.shellUp && this.prompt !== undefined;
    if (noShell) this.releaseJit();
    this.setStatus({ stage: this.prompt === undefined || this.shellUp || noShell ? "ready" : "booting", running: true, error: undefined, panic: undefined, shell: noShell ? "not-detected" : this.presence() });
    if (this.shellUp) this.shellEmitter.fire();
  }

  /** Press Ctrl-Alt-Del: the guest reboots and the shell comes back after boot. */
  sendCtrlAltDel(): void {
    this.requireBackend().sendCtrlAltDel();
    this.shellGone();
    this.rebootExpected?.dispose();
    this.rebootExpected = this.clock.after(REBOOT_GRACE_MS, () => {
      // No reboot came: the guest kept its shell, and a prompt on the line is its own.
      this.rebootExpected = undefined;
      if (!this.shellUp && this.promptOnLine()) this.shellIsUp();
    });
  }

  /**
   * Hard reset, like the reset button of a PC: a fresh emulator with the same hardware and
   * files (v86's in-place reboot cannot boot a kernel + initrd guest again). Works after a crash.
   */
  async reset(): Promise<void> {
    if (this.launch === undefined) throw new AppError("not-running", "The machine has not been started.");
    this.throwIfDisposed();
    this.powerCycleEmitter.fire("reset");
    // A reset that cannot start again (its boot files no longer load) leaves no emulator running.
    await this.powerOn().catch((error: unknown) => {
      throw this.restartFailed(error);
    });
  }

  /** Start a fresh emulator in place of the current one (first start, reset, guest reboot). */
  private async powerOn(launch = this.launch, fromState?: { readonly shellReady: boolean }): Promise<void> {
    if (launch === undefined) return;
    // A fresh emulator: whatever Ctrl-Alt-Del was waiting for has happened.
    this.rebootExpected?.dispose();
    this.rebootExpected = undefined;
    this.backendStore.dispose();
    this.backend = undefined;
    this.shellGone();
    // A fresh emulator from a state, launched with the JIT off when this machine holds it (holdJit).
    this.jitHeld = fromState !== undefined && this.holdsJit;
    const launching = ++this.launches;
    this.poweringOn = true;
    let backend: EmulatorBackend;
    try {
      backend = await launch();
    } finally {
      if (launching === this.launches) this.poweringOn = false;
    }
    // Disposed meanwhile, or a later power-on took over (a second reset while this one loaded,
    // the guest's reboot): this emulator never runs beside the one that counts.
    if (this.isDisposed() || launching !== this.launches) {
      backend.dispose();
      this.throwIfDisposed();
      return;
    }
    const store = new DisposableStore();
    store.add(backend);
    store.add(backend.onOutput((chunk) => this.handleOutput(chunk)));
    store.add(backend.onCrash((error) => this.handleCrash(error)));
    store.add(backend.onRebootRequest(() => this.handleReboot()));
    this.attachLabEvents(backend, store);
    this.backendStore = store;
    this.backend = backend;
    if (this.consoleSize !== undefined) backend.resizeConsole?.(this.consoleSize.cols, this.consoleSize.rows);
    this.lastSample = undefined;
    // autostart is on: v86 runs as soon as it has loaded. A guest without a known prompt is
    // "ready" as soon as it runs: there is no shell to wait for.
    this.shellUp = fromState?.shellReady === true && this.prompt !== undefined;
    this.outputSeen = undefined;
    this.runningNow(fromState !== undefined);
    if (this.prompt !== undefined) this.watchForNoShell(store);
  }

  private presence(): ShellPresence {
    return this.prompt === undefined ? "none" : this.shellUp ? "ready" : "waiting";
  }

  /**
   * A guest that prints but never shows the prompt (an initrd whose own program owns the
   * console) would stay "booting" forever: after a quiet while, or a long one, it is running
   * with no shell detected, and the user types to its program.
   */
  private watchForNoShell(store: DisposableStore): void {
    let timer: Disposable | undefined;
    const tick = (): void => {
      const seen = this.outputSeen;
      if (this.state.stage === "booting" && this.state.running && !this.shellUp && seen !== undefined) {
        const now = this.clock.now();
        if (now - seen.last >= NO_SHELL_QUIET_MS || now - seen.first >= NO_SHELL_MAX_MS) {
          this.setStatus({ stage: "ready", shell: "not-detected" });
        }
      }
      timer = this.clock.after(NO_SHELL_CHECK_MS, tick);
    };
    timer = this.clock.after(NO_SHELL_CHECK_MS, tick);
    store.add(toDisposable(() => timer?.dispose()));
  }

  private handleReboot(): void {
    this.setStatus({ running: false, mips: undefined });
    this.shellGone();
    this.powerCycleEmitter.fire("reboot");
    this.powerOn().catch((error: unknown) => this.restartFailed(error));
  }

  /** A reset or reboot that could not start the emulator again: the machine has failed, and says why. */
  private restartFailed(error: unknown): AppError {
    const appError = toAppError(error, "emulator-start-failed", "The machine could not restart.");
    if (!this.isDisposed()) this.setStatus({ stage: "failed", running: false, error: appError });
    this.failWaiters(appError);
    return appError;
  }

  /** The last console output as text, for error messages and tests. */
  recentOutput(port: ConsolePort = this.consolePort): string {
    return this.transcripts[port].recentText();
  }

  textScreen(): string[] {
    return this.backend?.textScreen() ?? [];
  }

  // --- device lab (issue 5) ---
  private readonly netFrameEmitter = this.store.add(new Emitter<Uint8Array>());
  /** Ethernet frames the guest's NIC transmits (only when the profile has a NIC). */
  readonly onNetworkFrame = this.netFrameEmitter.event;

  private networkState: "on" | "off" = "on";

  /** Whether the NIC is plugged in: "off" drops frames both ways. */
  get network(): "on" | "off" {
    return this.networkState;
  }

  setNetwork(state: "on" | "off"): void {
    this.networkState = state;
  }

  /** Deliver an Ethernet frame to the guest's NIC. */
  sendNetworkFrame(frame: Uint8Array): void {
    if (this.networkState === "off") throw new AppError("not-running", "This machine's network is off: turn it on first.");
    const backend = this.requireBackend();
    if (backend.sendNetworkFrame === undefined) throw new AppError("not-running", "This emulator has no network bus.");
    backend.sendNetworkFrame(frame);
  }

  /** v86's raw instruction counter (32 bits, wraps): take differences with `>>> 0`. */
  instructionCounter(): number {
    return this.requireBackend().instructionCounter();
  }

  /** A file from the machine's 9p share. */
  readSharedFile(path: string): Promise<Uint8Array> {
    const backend = this.requireBackend();
    if (backend.readSharedFile === undefined) return Promise.reject(new AppError("not-running", "This emulator has no 9p share."));
    return backend.readSharedFile(path);
  }

  private attachLabEvents(backend: EmulatorBackend, store: DisposableStore): void {
    if (backend.onNetworkFrame !== undefined) store.add(
        backend.onNetworkFrame((frame) => {
          if (this.networkState === "on") this.netFrameEmitter.fire(frame);
        }),
      );
  }
  // --- end device lab ---

  // --- microscope, guest memory (issue 13) ---
  /** The guest's control registers and physical memory, when the emulator exposes them. */
  guestMemory(): GuestMemory | undefined {
    return this.backend?.guestMemory;
  }
  // --- end microscope, guest memory ---

  // --- memory balloon ---
  /** The balloon's size in MiB: what the host asks for and what the guest has handed over. */
  /** The emulator's instruments (trap meter, JIT counters and switch, hypercall log) while it runs. */
  microscope(): MicroscopeHooks | undefined {
    return this.backend?.microscope;
  }

  balloon(): BalloonReading | undefined {
    const device = this.backend?.balloon;
    if (device === undefined) return undefined;
    return { targetMiB: device.target() / PAGES_PER_MIB, actualMiB: device.actual() / PAGES_PER_MIB };
  }

  /**
   * Inflate the balloon to `mib` MiB (0 deflates it): the guest's driver hands that much of its
   * memory to the host, and the guest's MemTotal drops by as much. Resolves once the guest has
   * done it, with how long that took.
   */
  async setBalloon(mib: number, options: WaitOptions = {}): Promise<{ readonly actualMiB: number; readonly ms: number }> {
    const device = this.requireBackend().balloon;
    if (device === undefined) throw new AppError("not-running", "This machine has no balloon device: turn it on in the machine's devices first.");
    const limit = maxBalloonMiB(this.profile);
    if (!Number.isInteger(mib) || mib < 0 || mib > limit) {
      throw new AppError("bad-profile", `The balloon can take a whole number of MiB from 0 to ${limit} of this machine's ${this.profile.memoryMiB} MiB.`, { details: { subject: String(mib) } });
    }
    const started = this.clock.now();
    const pages = mib * PAGES_PER_MIB;
    device.setTarget(pages);
    await this.poll(() => device.actual() === pages, options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS, `the guest to bring its balloon to ${mib} MiB (is its driver loaded?)`);
    return { actualMiB: device.actual() / PAGES_PER_MIB, ms: this.clock.now() - started };
  }

  /** Wait for a condition nothing announces (device registers), checking every few milliseconds. */
  private async poll(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
    let timer: Disposable | undefined;
    const tick = (): void => {
      this.checkWaiters();
      if (!condition()) timer = this.clock.after(POLL_MS, tick);
    };
    if (!condition()) timer = this.clock.after(POLL_MS, tick);
    try {
      await this.waitUntil(condition, timeoutMs, what);
    } finally {
      timer?.dispose();
    }
  }
  // --- end memory balloon ---

  dispose(): void {
    if (this.state.stage === "disposed") return;
    this.rebootExpected?.dispose();
    this.failWaiters(new AppError("disposed", "The machine was shut down."));
    this.setStatus({ stage: "disposed", running: false, mips: undefined });
    this.backendStore.dispose();
    this.store.dispose();
    this.backend = undefined;
  }

  /**
   * The wasm, and the guest's files (BIOSes, kernel, initrd) unless `restoring`: a start from a
   * saved state does without them, since the state's memory holds the booted kernel and the
   * BIOSes' copies in low memory (issue 12: 0.17 MB and two requests less before a restored
   * machine's prompt). withBootFiles loads them the first time a reset or reboot boots again.
   */
  private async loadFiles(restoring: boolean): Promise<{ wasm: ArrayBuffer; assets: LoadedAssets }> {
    const refs = restoring ? [] : guestAssets(this.guest);
    const byRole = await this.loadAll([["wasm", this.options.wasm], ...refs]);
    return { wasm: loadedFile(byRole, "wasm"), assets: Object.fromEntries(refs.map(([role]) => [role, loadedFile(byRole, role)])) };
  }

  /** `assets` with the files a boot needs, loading those it lacks (after a restore, the first time). */
  private async withBootFiles(assets: LoadedAssets): Promise<LoadedAssets> {
    const missing = guestAssets(this.guest).filter(([role]) => !held(assets[role]));
    if (missing.length === 0) return assets;
    const byRole = await this.loadAll(missing);
    return { ...assets, ...Object.fromEntries(missing.map(([role]) => [role, loadedFile(byRole, role)])) };
  }

  private async loadAll(refs: readonly (readonly [AssetRole | "wasm", AssetRef])[]): Promise<Map<string, ArrayBuffer>> {
    const loaded = new Map<string, number>();
    const expected = refs.reduce<number | undefined>((sum, [, ref]) => (sum === undefined || ref.size === undefined ? undefined : sum + ref.size), 0);
    const buffers = await Promise.all(
      refs.map(async ([role, ref]) => {
        const served = await this.options.loader.load(ref, (bytes, total) => {
          loaded.set(ref.name, bytes);
          const sum = [...loaded.values()].reduce((a, b) => a + b, 0);
          this.progressEmitter.fire({ file: ref.name, loaded: bytes, total, fraction: expected ? Math.min(1, sum / expected) : undefined });
        });
        const buffer = await decodeAsset(ref, served);
        await verifyAsset(ref, buffer);
        return [role, buffer] as const;
      }),
    );
    return new Map<string, ArrayBuffer>(buffers);
  }

  private async runNow(command: string, timeoutMs: number): Promise<CommandResult> {
    const started = this.clock.now();
    await this.waitForShell({ timeoutMs });
    const capture = new CommandCapture(this.nextCommandId++);
    const listener = this.outputEmitter.event((chunk) => {
      if (chunk.port !== this.consolePort) return;
      capture.push(chunk.bytes);
      // Ctrl+C makes the shell drop the whole group, end marker included: the prompt coming
      // back after the command started, with no end marker, means it was interrupted.
      if (capture.result === undefined && capture.started && this.promptOnLine()) capture.interrupt();
    });
    this.commandsInFlight++;
    try {
      this.commandEmitter.fire({ typed: { id: capture.id, command } });
      this.write(KILL_LINE + markedCommand(command, capture.id));
      const remaining = Math.max(1, timeoutMs - (this.clock.now() - started));
      await this.waitUntil(() => capture.result !== undefined, remaining, `the command "${command}" to finish`);
      return capture.result as CommandResult;
    } finally {
      this.commandsInFlight--;
      listener.dispose();
      this.commandEmitter.fire({ ended: capture.id });
    }
  }

  private promptOnLine(): boolean {
    const prompt = this.prompt;
    if (prompt === undefined) return false;
    const line = this.transcripts[this.consolePort].currentLine();
    if (prompt.test(line)) return true;
    // Keys typed before the shell came up are echoed after its prompt ("root@virtlab:/# ls"), so
    // the line ends with them: the prompt is then a beginning of the line.
    if (!this.typedAhead) return false;
    for (let end = Math.min(line.length - 1, LONGEST_PROMPT); end > 0; end--) if (prompt.test(line.slice(0, end))) return true;
    return false;
  }

  private handleOutput(chunk: ConsoleChunk): void {
    if (chunk.port === AGENT_PORT) {
      this.agent.push(chunk.bytes);
      return;
    }
    const transcript = this.transcripts[chunk.port];
    transcript.push(chunk.bytes);
    if (chunk.port === this.consolePort && chunk.bytes.length > 0) {
      const now = this.clock.now();
      this.outputSeen = { first: this.outputSeen?.first ?? now, last: now };
    }
    // Not once off: the shell's prompt may come after PID 1's notice (both write at once), and
    // took the machine back to "ready" (paused) with its emulator stopped.
    if (chunk.port === this.consolePort && !this.shellUp && !stoppedByGuest(this.state.stage) && this.rebootExpected === undefined && this.promptOnLine()) this.shellIsUp();
    this.outputEmitter.fire(chunk);
    // After the chunk is shown: what says the guest panicked goes under the whole report.
    this.scanForPanic(chunk.bytes);
    this.checkWaiters();
  }

  private shellIsUp(): void {
    this.releaseJit();
    this.shellUp = true;
    this.typedAhead = false;
    this.setStatus({ stage: "ready", shell: "ready" });
    this.shellEmitter.fire();
  }

  private handleCrash(error: unknown): void {
    const appError = new AppError("emulator-crashed", "The emulator stopped with an internal error.", { cause: error });
    this.agent.abort(appError);
    this.shellUp = false;
    this.setStatus({ stage: "crashed", running: false, mips: undefined, error: appError, shell: this.presence() });
    this.failWaiters(appError);
  }

  /**
   * The guest stopped itself: it said it powers itself off (its disks are synced by then), or its
   * kernel panicked. The emulator stops, as a PC's power would, and the machine is "off" or
   * "panicked" until it is started again. Commands in flight fail with why.
   */
  private async guestStopped(change: { readonly stage: "off" } | { readonly stage: "panicked"; readonly panic: string }): Promise<void> {
    this.shellUp = false;
    this.lastSample = undefined;
    this.setStatus({ ...change, running: false, mips: undefined, shell: this.presence() });
    const error = this.guestStoppedError();
    this.agent.abort(error);
    this.failWaiters(error);
    try {
      await this.backend?.stop();
    } catch (stopError) {
      // An emulator that cannot even stop has crashed: say so instead of "off".
      this.handleCrash(stopError);
    }
  }

  /** What a command meets on a machine whose guest stopped itself. */
  private guestStoppedError(): AppError {
    return this.state.stage === "panicked" ? panickedError(this.state.panic ?? "") : poweredOffError();
  }

  /**
   * The kernel's console (any console port) ends a panic's report with a line giving the reason;
   * the guest then spins for good. The machine says so and stops its emulator (a core no longer
   * burnt), as after poweroff: a restart starts it again, the report stays on the screen.
   */
  private scanForPanic(bytes: Uint8Array): void {
    if (this.state.stage !== "booting" && this.state.stage !== "ready") return;
    const text = this.panicScan + decodeText(bytes);
    const found = KERNEL_PANIC_END.exec(text);
    this.panicScan = text.slice(-PANIC_SCAN_CARRY);
    if (found === null) return;
    this.panicScan = "";
    this.releaseJit();
    void this.guestStopped({ stage: "panicked", panic: found[1] ?? "" });
  }

  private shellGone(): void {
    this.panicScan = "";
    this.agent.abort(new AppError("not-running", "The machine restarted while the guest agent ran a command."));
    this.shellUp = false;
    this.outputSeen = undefined;
    this.transcripts.serial0.reset();
    this.transcripts.virtio0.reset();
    if (this.state.stage === "ready") this.setStatus({ stage: "booting", shell: this.presence() });
  }

  private sampleMips(): void {
    const tick = (): void => {
      const backend = this.backend;
      if (backend === undefined || this.state.stage === "disposed") return;
      if (this.state.running) {
        // The emulator's own reading and its time where it has them (a Worker's), else now.
        const { counter, atMs } = backend.instructionSample?.() ?? { counter: backend.instructionCounter(), atMs: this.clock.now() };
        const last = this.lastSample;
        // Unchanged: a Worker too busy to send a status since the last sample; the next one counts.
        if (last === undefined || atMs !== last.at) this.lastSample = { at: atMs, counter };
        if (last !== undefined && atMs > last.at) {
          // The counter is 32-bit and wraps; at v86's speed it cannot wrap twice in a second.
          const executed = (counter - last.counter) >>> 0;
          this.setStatus({ mips: executed / 1000 / (atMs - last.at) });
        }
      }
      this.mipsTimer = this.clock.after(MIPS_SAMPLE_MS, tick);
    };
    tick();
  }

  private waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (this.state.error !== undefined && (this.state.stage === "failed" || this.state.stage === "crashed")) {
      return Promise.reject(this.state.error);
    }
    if (this.state.stage === "disposed") return Promise.reject(new AppError("disposed", "The machine was shut down."));
    if (stoppedByGuest(this.state.stage)) return Promise.reject(this.guestStoppedError());
    if (condition()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = this.clock.after(timeoutMs, () => {
        this.waiters.delete(waiter);
        reject(
          new AppError("timeout", `Gave up waiting for ${what} after ${Math.round(timeoutMs / 1000)} s.`, {
            details: { deadlineMs: timeoutMs, recentOutput: this.recentOutput() },
          }),
        );
      });
      const waiter: Waiter = {
        check: () => {
          if (!condition()) return false;
          timer.dispose();
          resolve();
          return true;
        },
        fail: (error) => {
          timer.dispose();
          reject(error);
        },
      };
      this.waiters.add(waiter);
    });
  }

  private checkWaiters(): void {
    for (const waiter of [...this.waiters]) {
      if (waiter.check()) this.waiters.delete(waiter);
    }
  }

  private failWaiters(error: AppError): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const waiter of waiters) waiter.fail(error);
  }

  private requireBackend(): EmulatorBackend {
    if (this.backend === undefined) {
      throw new AppError(this.state.stage === "disposed" ? "disposed" : "not-running", "The machine is not running.");
    }
    return this.backend;
  }

  private isDisposed(): boolean {
    return this.state.stage === "disposed";
  }

  private throwIfDisposed(): void {
    if (this.isDisposed()) throw new AppError("disposed", "The machine was shut down.");
  }

  private setStatus(change: Partial<MachineStatus>): void {
    const next = { ...this.state, ...change };
    if (next.stage === this.state.stage && next.running === this.state.running && next.mips === this.state.mips && next.error === this.state.error && next.shell === this.state.shell && next.panic === this.state.panic) return;
    this.state = next;
    this.statusEmitter.fire(next);
  }
}

/** The files of a boot in `config` (BIOSes, kernel, initrd), as v86 takes them. */
function bootFiles(config: EmulatorConfig): Pick<EmulatorConfig, "bios" | "vga_bios" | "bzimage" | "initrd"> {
  const { bios, vga_bios, bzimage, initrd } = config;
  return { ...(bios === undefined ? {} : { bios }), ...(vga_bios === undefined ? {} : { vga_bios }), ...(bzimage === undefined ? {} : { bzimage }), ...(initrd === undefined ? {} : { initrd }) };
}

/**
 * Whether the page still has this file: loaded, and not taken by a backend in a Worker (moved
 * there, it is detached here: its length is 0, which no file has).
 */
function held(file: ArrayBuffer | undefined): file is ArrayBuffer {
  return file !== undefined && file.byteLength > 0;
}

/** Whether `config` still has its boot files (none was taken by a backend in a Worker). */
function holdsBootFiles(config: EmulatorConfig): boolean {
  return Object.values(bootFiles(config)).every((file) => held(file.buffer));
}

/** The ArrayBuffer holding exactly these bytes (copied only when the view is partial). */
function exactBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? (bytes.buffer as ArrayBuffer) : (bytes.slice().buffer as ArrayBuffer);
}
