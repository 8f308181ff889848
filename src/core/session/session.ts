/**
 * One machine's life, everything but the drawing: which state a start begins from (a request
 * value, see request.ts), the pre-booted choice, the disks (wired, flushed, restored from a
 * snapshot), the set-up after a restore (data disk, clock) while the machine "settles", saving and
 * restoring snapshots, and the stages, as typed events. The page, Node tools, benchmarks and boot
 * tests all drive this class, so a Node test covers the restore path the page uses.
 */
import type { AssetLoader } from "../assets.ts";
import type { BackendFactory, ConsoleChunk } from "../backend.ts";
import type { Clock } from "../clock.ts";
import { EchoFilter, MarkerFilter, lastLineToShow } from "../console.ts";
import { AppError, describeCause, toAppError } from "../errors.ts";
import { DisposableStore, Emitter } from "../events.ts";
import { DATA_DISK_SLOT, afterRestoreCommand, promptWithHostname, tidyForSaveCommand, type GuestManifest } from "../guest.ts";
import { identityCommand, type MachineIdentity } from "../identity.ts";
import { Machine, type DownloadProgress, type MachineStatus } from "../machine.ts";
import type { AssetRef, AttachedDisks, DeviceProfile, DiskSlot, GuestSpec } from "../profile.ts";
import { notForThisEmulator } from "../snapshot/compat.ts";
import { fingerprintDifferences, guestBuildDiffers, machineFingerprint, type MachineFingerprint } from "../snapshot/fingerprint.ts";
import { encodeSnapshot, keptChunks, openSnapshot, readSnapshotHeader, type OpenedSnapshot, type SnapshotChunks, type SnapshotChunkSink, type SnapshotHeader } from "../snapshot/format.ts";
import { captureSnapshotTo, machineDiskIdentities, restoreSnapshotDisks } from "../snapshot/machineSnapshot.ts";
import { machineForSnapshot } from "../snapshot/match.ts";
import { describeSessionStatus, type RunStart } from "../statusText.ts";
import type { DiskStore, OverlayDisk } from "../storage/disk.ts";
import type { ImageRecord, ImageStore } from "../storage/images.ts";
import { DEFAULT_MACHINE_ID, checkMachineImages, type MachineRecord } from "../storage/machines.ts";
import { V86_PACKAGE_VERSION } from "../v86Version.ts";
import { BOOT_CACHE_COMPRESSION, BOOT_CACHE_LABEL, keptBootStart, type BootCache } from "./bootCache.ts";
import { keptBootFits, type UnpackedBoot, type UnpackedBootSource } from "./unpackedBoot.ts";
import type { UnpackedStateCache } from "./unpackedCache.ts";
import { guestFor, libraryAssetLoader } from "./guests.ts";
import { choosePrebooted, type PrebootedSource } from "./prebooted.ts";
import { planStart, type SavedStart, type StartRequest, type StartedFrom } from "./request.ts";

/** The disks of the machine a session runs (the browser's StorageController, or plain stores in Node). */
export interface SessionDisks {
  /** Take the machine's disks (its lock, its overlays); "busy" when another tab has the machine. */
  prepare(record: MachineRecord): Promise<{ readonly kind: "ready"; readonly disks: AttachedDisks } | { readonly kind: "busy" }>;
  disk(slot: DiskSlot): OverlayDisk | undefined;
  /** Writable slots of the opened disks. */
  readonly view: { readonly slots: readonly DiskSlot[] };
  /** Write every pending page now; rejects (keeping the pages) when storage refused them. */
  save(): Promise<void>;
  /** Let the disks go without writing back and drop what the guest wrote to `record`'s writable disks. */
  erase(record: MachineRecord): Promise<void>;
  /** Write back what is pending and let the disks go. */
  close(): Promise<void>;
}

export interface SessionOptions {
  readonly backend: BackendFactory;
  /** Reads assets that are not in the image library (fetch in the browser, files in Node). */
  readonly loader: AssetLoader;
  readonly wasm: AssetRef;
  readonly clock: Clock;
  /** Wall time in ms since 1970: the guest's clock is set from it after a restore. */
  readonly wallTime: () => number;
  /** The built-in guest: where its files are, and its manifest. */
  readonly guest: { readonly base: string; manifest(): Promise<GuestManifest> };
  readonly images: Pick<ImageStore, "list" | "get" | "reader" | "deleted">;
  /** Where snapshot disks are restored to. */
  readonly diskStore: DiskStore;
  readonly disks: SessionDisks;
  /** The default machine's pre-booted state, where there is one. */
  readonly prebooted?: PrebootedSource;
  /** Boots kept per hardware, so a second start of it restores (bootCache.ts); none: always boot. */
  readonly bootCache?: BootCache;
  /**
   * The kept boot of the page's link read ahead, unpacked (unpackedBoot.ts): the session's first
   * start takes it when it fits, and gives it the boot to keep unpacked otherwise.
   */
  readonly unpackedBoot?: UnpackedBootSource;
  /**
   * Where this session's kept boots are also kept unpacked, for their hardware (the page's own
   * machine: its next device switch to that hardware reads ~0.5 s less; not the labs' machines).
   */
  readonly keptBootsUnpacked?: UnpackedStateCache;
  /** Browser only: where v86 draws the VGA screen. */
  readonly screenContainer?: unknown;
  /**
   * v86's JIT stays off while this session's machine is set up after a start from a state
   * (Machine's holdJitWhileSettingUp). The page sets it: in Chromium the interpreter alone runs
   * the set-up sooner (docs/architecture.md, "Workers").
   */
  readonly holdJitWhileSettingUp?: boolean;
}

export interface StartOptions {
  readonly record: MachineRecord;
  readonly profile: DeviceProfile;
  readonly request: StartRequest;
  readonly network?: "on" | "off";
  /**
   * This machine's own hostname and MAC (identity.ts), applied through the guest agent once it
   * runs: after a restore with the set-up, after a boot at its first prompt. None: the guest's own.
   */
  readonly identity?: MachineIdentity;
}

export type StartOutcome =
  | { readonly kind: "started"; readonly from: StartedFrom }
  | { readonly kind: "busy" }
  | { readonly kind: "failed"; readonly error: AppError }
  /** Another start or a stop came first; this one gave way. */
  | { readonly kind: "superseded" };

/** What the status bar shows: the machine's status and how this session sees it. */
export interface SessionStatus {
  readonly machine: MachineStatus;
  /** Started from a saved state and running its set-up command: not ready for the user yet. */
  readonly settling: boolean;
  /** The settling is this boot being kept for the next start of the same hardware. */
  readonly keepingBoot: boolean;
  /** How the shell came to be ready ("started from the pre-booted state in 1.2 s"). */
  readonly readyDetail: string | undefined;
  /** While idle or downloading: the latest line about it, or why nothing starts. */
  readonly detail: string | undefined;
  /** The start waits for the pre-booted state to download or unpack (no emulator yet: the machine is idle). */
  readonly downloading: boolean;
  readonly guestKind: GuestSpec["kind"] | undefined;
}

/** A run begins: the terminal starts afresh under this line. */
export interface RunBegin {
  readonly machineName: string;
  readonly runStart: RunStart;
  /** What to say under it (why the machine boots from scratch). */
  readonly notice: string | undefined;
}

export const IDLE_STATUS: MachineStatus = { stage: "idle", running: false, mips: undefined, error: undefined, shell: "waiting" };

const SETTLE_TIMEOUT_MS = 30_000;

/** What became of a boot the session meant to keep (bootCache.ts). */
export type BootKept = { readonly kind: "kept"; readonly bytes: number } | { readonly kind: "skipped"; readonly reason: string };

/** What a snapshot the user saves says of itself besides the machine. */
export interface SnapshotCaptureMeta {
  readonly name: string;
  readonly app: string;
  readonly preview: string;
  readonly createdAt: number;
}

export class MachineSession {
  private current: Machine | undefined;
  private machineStore = new DisposableStore();
  private generation = 0;
  /** Starts begun and not yet over (a save asked meanwhile is told the machine is still starting). */
  private startsUnderWay = 0;
  private failed: MachineStatus | undefined;
  private stopped = false;
  private settlingNow = false;
  private keepingBootNow = false;
  /** The machine whose boot is to be kept at its first prompt (it settles from then until saved). */
  private keepFor: Machine | undefined;
  /** What became of the boot kept for the machine of the latest start (none: no boot being kept). */
  private bootKeeping: Promise<BootKept> | undefined;
  /** options.unpackedBoot until the first start takes it. */
  private unpackedBootAhead: UnpackedBootSource | undefined;
  private typedWhileSettling: string[] = [];
  /** When the boot from scratch in progress began (its first prompt says how long it took). */
  private bootStartedAt: number | undefined;
  private readyDetail: string | undefined;
  private detail: string | undefined;
  /** The pre-booted state is downloading or unpacking for the start in progress (SessionStatus.downloading). */
  private fetchingState = false;
  private guestNow: GuestSpec | undefined;
  private recordNow: MachineRecord | undefined;
  private profileNow: DeviceProfile | undefined;
  private from: StartedFrom = "boot";
  private reported: unknown;

  private readonly statusEmitter = new Emitter<SessionStatus>();
  private readonly runEmitter = new Emitter<RunBegin>();
  private readonly outputEmitter = new Emitter<Uint8Array>();
  private readonly progressEmitter = new Emitter<{ readonly detail: string; readonly fraction: number }>();
  private readonly settledEmitter = new Emitter<{ readonly lastLine: string }>();
  private readonly errorEmitter = new Emitter<AppError>();
  private readonly machineEmitter = new Emitter<Machine | undefined>();
  private readonly shellEmitter = new Emitter<void>();
  private readonly crashEmitter = new Emitter<void>();
  private readonly bootKeptEmitter = new Emitter<BootKept>();
  private readonly identityEmitter = new Emitter<MachineIdentity>();
  private readonly identityFailedEmitter = new Emitter<string>();

  /** The status changed (the status bar renders it). */
  readonly onStatus = this.statusEmitter.event;
  /** A run begins: a start, a reset, a guest reboot. */
  readonly onRun = this.runEmitter.event;
  /** Console bytes of the machine's console port, as the user's terminal shows them (`run`'s markers removed). */
  readonly onOutput = this.outputEmitter.event;
  /** Downloading (the guest's files, the pre-booted state). */
  readonly onProgress = this.progressEmitter.event;
  /** A start from a saved state has run its set-up, or a moved machine arrived: the terminal shows this prompt line. */
  readonly onSettled = this.settledEmitter.event;
  /** A start failed or the emulator crashed: reported once per failure. */
  readonly onError = this.errorEmitter.event;
  /** The running machine changed (a start, a stop). */
  readonly onMachine = this.machineEmitter.event;
  readonly onShellReady = this.shellEmitter.event;
  readonly onCrash = this.crashEmitter.event;
  /** A boot from scratch was kept in the boot cache for the next start of its hardware, or why not. */
  readonly onBootKept = this.bootKeptEmitter.event;
  /** The running machine took the identity its start asked for (StartOptions.identity). */
  readonly onIdentity = this.identityEmitter.event;
  /** The running machine could not take its identity: why, in words (it runs on with the guest's own). */
  readonly onIdentityFailed = this.identityFailedEmitter.event;

  constructor(private readonly options: SessionOptions) {
    this.unpackedBootAhead = options.unpackedBoot;
  }

  /** The running machine, if any. */
  get machine(): Machine | undefined {
    return this.current;
  }

  /**
   * What became of the boot being kept for the machine of the latest start (saved, or why not),
   * once it is stored; undefined at once when that start kept none (it restored, or has no boot
   * cache). For a caller that should not share the CPU with the keeping (the device lab measures).
   */
  bootKept(): Promise<BootKept | undefined> {
    return this.bootKeeping ?? Promise.resolve(undefined);
  }

  get status(): SessionStatus {
    return {
      machine: this.current?.status ?? this.failed ?? (this.stopped ? { ...IDLE_STATUS, stage: "disposed" } : IDLE_STATUS),
      settling: this.settlingNow,
      keepingBoot: this.keepingBootNow,
      readyDetail: this.readyDetail,
      detail: this.detail,
      downloading: this.fetchingState,
      guestKind: this.guestNow?.kind,
    };
  }

  get settling(): boolean {
    return this.settlingNow;
  }

  /**
   * The status once the machine is the user's, or has stopped on its way (failed, crashed): a
   * boot from scratch runs on for seconds after start() resolved. At the deadline, the status as
   * it is then (still underway).
   */
  whenSettled(deadlineMs: number): Promise<SessionStatus> {
    return new Promise((resolve) => {
      const done = (): void => {
        listener.dispose();
        timer.dispose();
        resolve(this.status);
      };
      const listener = this.onStatus((status) => {
        if (!describeSessionStatus(status).underway) done();
      });
      const timer = this.options.clock.after(deadlineMs, done);
      if (!describeSessionStatus(this.status).underway) done();
    });
  }

  /** How the running machine started. */
  get startedFrom(): StartedFrom {
    return this.from;
  }

  /** The guest the running machine boots (for fingerprints). */
  get guest(): GuestSpec | undefined {
    return this.guestNow;
  }

  /** Keys from the user: held while the machine settles, else to the machine while it is live. */
  write(data: string): void {
    if (this.settlingNow) this.typedWhileSettling.push(data);
    else if (this.current?.status.stage === "booting" || this.current?.status.stage === "ready") this.current.write(data);
  }

  /** A line about the machine while nothing runs (e.g. "open in another tab"). */
  say(detail: string | undefined): void {
    this.detail = detail;
    this.emitStatus();
  }

  /**
   * (Re)start. The running machine is stopped first; its unsaved disk pages are written back, and
   * when storage refuses them the machine keeps running and the start fails with that error (a
   * restart never drops pages that were not saved). A snapshot that does not fit this machine is
   * refused before anything stops.
   */
  async start(options: StartOptions): Promise<StartOutcome> {
    this.startsUnderWay++;
    try {
      return await this.startNow(options);
    } finally {
      this.startsUnderWay--;
    }
  }

  private async startNow(options: StartOptions): Promise<StartOutcome> {
    const generation = ++this.generation;
    const { record, profile } = options;
    // The link's kept boot read ahead is for the page's first start only.
    const ahead = this.unpackedBootAhead;
    this.unpackedBootAhead = undefined;
    // What becomes of it: taken (checked once the start is over), a boot to keep unpacked in its
    // place, or kept later (a boot made now, kept at its prompt).
    let aheadFate: { readonly kind: "served" } | { readonly kind: "keep"; readonly boot: UnpackedBoot } | { readonly kind: "later" } | undefined;
    let snapshot: { readonly start: SavedStart; readonly disks: OpenedSnapshot["disks"] } | undefined;
    if (options.request.kind === "snapshot") snapshot = await this.checkSnapshot(options.request.file, record, profile);
    await this.stop();
    if (generation !== this.generation) return { kind: "superseded" };
    this.failed = undefined;
    this.stopped = false;
    this.detail = undefined;
    this.readyDetail = undefined;
    this.reported = undefined;
    this.emitStatus();
    // The pre-booted state's source, once this start took its state; told when it is done with it.
    let prebootedTaken: PrebootedSource | undefined;
    // A kept boot's copy unpacked: checked, or kept, once the start no longer waits.
    let afterKeptStart: (() => Promise<void>) | undefined;
    let settledFromState = false;
    try {
      const manifest = await this.options.guest.manifest();
      await checkMachineImages(record, this.options.images);
      const images = await this.options.images.list();
      const guest = guestFor(record, manifest, this.options.guest.base, images);
      this.guestNow = guest;
      this.recordNow = record;
      this.profileNow = profile;
      if (snapshot !== undefined) await restoreSnapshotDisks(this.options.diskStore, record.id, snapshot.disks);
      const prepared = await this.options.disks.prepare(record);
      if (generation !== this.generation) return { kind: "superseded" };
      if (prepared.kind === "busy") {
        this.say(`${record.name} is open in another tab.`);
        return { kind: "busy" };
      }
      const request: Exclude<StartRequest, { kind: "snapshot" }> = snapshot === undefined ? (options.request as Exclude<StartRequest, { kind: "snapshot" }>) : { kind: "state", start: snapshot.start };
      const plan = planStart(request, this.options.prebooted !== undefined && record.id === DEFAULT_MACHINE_ID);
      let runStart = plan.runStart;
      let initial: SavedStart | undefined = request.kind === "state" ? request.start : undefined;
      let notice: string | undefined;
      if (plan.usePrebooted && this.options.prebooted !== undefined) {
        const prebooted = await choosePrebooted(this.options.prebooted, this.fingerprintOf(record, profile, guest, images), V86_PACKAGE_VERSION, (loaded, total) => {
          const mib = (n: number): string => (n / 1048576).toFixed(1);
          // All of it in, the state is unpacked before the restore: said so, not "7.6 of 7.6 MiB" for a second.
          this.detail = loaded < total ? `Downloading the pre-booted machine: ${mib(loaded)} of ${mib(total)} MiB` : `Unpacking the pre-booted machine (${mib(total)} MiB downloaded)…`;
          if (generation === this.generation) this.fetchingState = true;
          this.progressEmitter.fire({ detail: this.detail, fraction: loaded / total });
          this.emitStatus();
        }).finally(() => {
          if (generation === this.generation) this.fetchingState = false;
        });
        if (generation !== this.generation) return { kind: "superseded" };
        if (prebooted.kind === "none") notice = `Booting from scratch: ${prebooted.reason}.`;
        else {
          initial = prebooted.start;
          runStart = { kind: "pre-booted" };
          prebootedTaken = this.options.prebooted;
        }
      }
      // The boot cache: this hardware's own boot, kept the first time it booted here.
      const cache = request.kind === "auto" ? this.bootCacheFor(guest) : undefined;
      const cacheFingerprint = cache === undefined ? undefined : this.fingerprintOf(record, profile, guest, images, { anySizeData: true });
      const readAhead = initial === undefined && cacheFingerprint !== undefined ? await ahead?.find() : undefined;
      if (generation !== this.generation) return { kind: "superseded" };
      if (readAhead !== undefined && cacheFingerprint !== undefined && keptBootFits(readAhead.header, cacheFingerprint, V86_PACKAGE_VERSION)) {
        // Read unpacked while the page loaded: nothing to read or unpack now.
        initial = { ...keptBootStart(readAhead), mountData: hasDataDisk(guest) };
        runStart = { kind: "boot-cache" };
        notice = undefined;
        aheadFate = { kind: "served" };
      } else if (initial === undefined && cache !== undefined && cacheFingerprint !== undefined) {
        const cached = await cache.find(cacheFingerprint, this.options.keptBootsUnpacked);
        if (generation !== this.generation) return { kind: "superseded" };
        if (cached.kind === "hit") {
          initial = { ...cached.start, mountData: hasDataDisk(guest) };
          afterKeptStart = cached.afterStart;
          runStart = { kind: "boot-cache" };
          notice = undefined;
          // A copy: the start takes the state's buffer.
          if (ahead !== undefined) aheadFate = { kind: "keep", boot: { header: cached.header, state: cached.start.state.slice() } };
        } else if (cached.kind === "damaged") {
          notice = `Booting from scratch: ${BOOT_CACHE_LABEL} could not be read back (${cached.reason}), so it was deleted. This boot is kept in its place.`;
        } else {
          notice = `${notice ?? "Booting from scratch."} This boot is kept in this browser, so the next start of this hardware takes a second.`;
        }
      }
      this.from = initial?.from ?? "boot";
      this.bootKeeping = undefined;
      this.runEmitter.fire({ machineName: record.name, runStart, notice });
      const machine = this.createMachine(record, profile, guest, prepared.disks, initial, options.network);
      const started = this.options.clock.now();
      this.bootStartedAt = initial === undefined ? started : undefined;
      this.settlingNow = initial !== undefined;
      try {
        await machine.start();
        if (initial !== undefined && this.current === machine) {
          await this.settle(machine, initial, started, record.name, runStart, options.identity);
          settledFromState = this.current === machine;
        }
        if (initial === undefined && cache !== undefined && cacheFingerprint !== undefined && this.current === machine) {
          this.keepBootAtPrompt(machine, guest, cache, cacheFingerprint, ahead);
          aheadFate = { kind: "later" };
        }
        if (initial === undefined && options.identity !== undefined && this.current === machine) this.identityAtPrompt(machine, options.identity);
      } finally {
        this.settlingNow = false;
        // A start from a state is over once it settled.
        if (initial !== undefined) machine.releaseJit();
        void afterKeptStart?.();
        this.releaseHeldKeys(machine);
      }
      return { kind: "started", from: this.from };
    } catch (error) {
      if (generation !== this.generation) return { kind: "superseded" };
      const appError = toAppError(error, "emulator-start-failed", "The machine could not start.");
      // Nothing runs: the stage says so ("failed", not "starting"), with the reason.
      if (this.current === undefined || this.current.status.stage === "failed") {
        this.disposeMachine();
        this.failed = { ...IDLE_STATUS, stage: "failed", error: appError };
      }
      this.report(appError);
      this.emitStatus();
      return { kind: "failed", error: appError };
    } finally {
      prebootedTaken?.done?.(settledFromState ? "settled" : "unused");
      if (aheadFate?.kind === "served") ahead?.served();
      else if (aheadFate?.kind === "keep" && settledFromState) void ahead?.keep(aheadFate.boot);
      if (aheadFate?.kind !== "later") ahead?.end();
    }
  }

  /**
   * Stop the machine and let its disks go. Pending pages are written first; when storage refuses
   * them, the machine keeps running and this rejects with the reason (nothing is dropped).
   */
  async stop(): Promise<void> {
    const machine = this.current;
    if (machine !== undefined) {
      const wasRunning = machine.status.running;
      if (wasRunning) await machine.pause().catch(() => undefined);
      try {
        await this.options.disks.save();
      } catch (error) {
        if (wasRunning) await machine.resume().catch(() => undefined);
        throw new AppError("storage-full", "The machine's disk has changes the browser would not store, so it was not restarted (restarting would lose them). It keeps running.", { cause: error, details: { subject: "disk" } });
      }
    }
    this.disposeMachine();
    await this.options.disks.close();
  }

  /** A start that could not even be asked for (e.g. storage unreadable): "failed", reported once. */
  fail(error: AppError): void {
    this.generation++;
    this.disposeMachine();
    this.failed = { ...IDLE_STATUS, stage: "failed", error };
    this.report(error);
    this.emitStatus();
  }

  /** Another tab took the machine over: stop here at once, writing nothing more. */
  /**
   * The user asked to drop what the guest wrote to `record`'s disks: the machine stops without
   * saving (its pending pages are what is being dropped), then the disks are erased. Start again
   * after: the guest finds them blank.
   */
  async eraseDisks(record: MachineRecord): Promise<void> {
    this.halt();
    await this.options.disks.erase(record);
  }

  /**
   * The running machine now runs a guest that moved here from tab `fromTab` (Machine.landed put it
   * in): its terminal starts afresh under a line that says so, then `screen`, the line the source's
   * console ended with at the pause (its shell's prompt), when the source sent one. `machineName`:
   * the name it runs under here when that is not its record's (a lab machine keeps the one it had).
   */
  arrived(fromTab: string, screen: string | undefined, machineName?: string): void {
    const record = this.recordNow;
    if (record === undefined || this.current === undefined) return;
    this.from = "moved";
    // Not the landing machine's own start any more ("started from the pre-booted state in …").
    this.readyDetail = `moved here from tab ${fromTab}, running`;
    this.runEmitter.fire({ machineName: machineName ?? record.name, runStart: { kind: "arrived", fromTab }, notice: undefined });
    if (screen !== undefined) this.settledEmitter.fire({ lastLine: screen });
    this.emitStatus();
  }

  /**
   * The running machine takes `identity` at its next prompt, through the agent (a lab machine
   * after its guest rebooted: a boot from scratch comes up with the guest's own name and a MAC of
   * the emulator's). Told by `onIdentity` or `onIdentityFailed`, as a start's identity is.
   */
  takeIdentity(identity: MachineIdentity): void {
    const machine = this.current;
    if (machine !== undefined) this.identityAtPrompt(machine, identity);
  }

  halt(): void {
    this.generation++;
    this.disposeMachine();
    this.stopped = true;
    this.emitStatus();
  }

  /** Write the running machine's pending disk pages to their store (before its disks change hands). */
  async saveDisks(): Promise<void> {
    await this.options.disks.save();
  }

  /** This machine's fingerprint as it runs now (for snapshots). */
  async fingerprint(): Promise<MachineFingerprint> {
    const record = this.recordNow;
    const profile = this.profileNow;
    const guest = this.guestNow;
    if (record === undefined || profile === undefined || guest === undefined) throw new AppError("not-running", "Start a machine first.");
    return this.fingerprintOf(record, profile, guest, await this.options.images.list());
  }

  /** Save the running machine and its disks as snapshot parts (it runs on afterwards). */
  async capture(meta: SnapshotCaptureMeta): Promise<Uint8Array[]> {
    const kept = keptChunks();
    return kept.parts(await this.captureTo(meta, kept.put));
  }

  /**
   * The same, each chunk handed to `put` as it is made (captureSnapshotTo; SnapshotStore.saveEncoded
   * stores it at once): a big disk's pages are never all in memory. Returns the file's head.
   */
  async captureTo(meta: SnapshotCaptureMeta, put: SnapshotChunkSink): Promise<Uint8Array> {
    const machine = this.current;
    const record = this.recordNow;
    if (machine === undefined || record === undefined || (machine.status.stage !== "ready" && machine.status.stage !== "booting")) {
      // (Before, a save asked while a restart was under way said only that nothing ran.)
      if (this.startsUnderWay > 0) throw new AppError("not-running", "The machine is still starting: a snapshot can be saved once it runs.", { details: { starting: true } });
      throw new AppError("not-running", "There is no running machine to save.");
    }
    const identities = machineDiskIdentities(record, await this.options.images.list());
    const disks = this.options.disks.view.slots.flatMap((slot) => {
      const disk = this.options.disks.disk(slot);
      return disk === undefined ? [] : [{ slot, disk, base: identities[slot]?.base ?? "blank" }];
    });
    const options = { fingerprint: await this.fingerprint(), disks, app: meta.app, v86: V86_PACKAGE_VERSION, name: meta.name, createdAt: meta.createdAt, preview: meta.preview };
    const { head } = await captureSnapshotTo(machine, options, put);
    this.emitStatus();
    return head;
  }

  /** A machine (not saved yet, like `draft`) with the snapshot's hardware and disks. */
  async matchingMachine(header: SnapshotHeader, draft: MachineRecord): Promise<MachineRecord> {
    const manifest = await this.options.guest.manifest();
    const images = await this.options.images.list();
    const builtIn = guestFor({ ...draft, boot: { kind: "default-guest" }, disks: { hda: { kind: "blank", sizeBytes: 1 } } }, manifest, this.options.guest.base, images);
    const match = machineForSnapshot(header.fingerprint, builtIn, images, draft);
    if (!match.ok) throw new AppError("snapshot-mismatch", `No machine here can take "${header.name}": ${match.reason}.`, { details: { reason: match.reason } });
    return match.record;
  }

  dispose(): void {
    this.generation++;
    this.disposeMachine();
    void this.options.disks.close();
    for (const e of [this.statusEmitter, this.runEmitter, this.outputEmitter, this.progressEmitter, this.settledEmitter, this.errorEmitter, this.machineEmitter, this.shellEmitter, this.crashEmitter, this.bootKeptEmitter, this.identityEmitter, this.identityFailedEmitter]) e.dispose();
  }

  /** A snapshot for this emulator and this machine, decoded (every checksum checked); else the refusal. */
  private async checkSnapshot(file: Uint8Array | SnapshotChunks, record: MachineRecord, profile: DeviceProfile) {
    const { header } = file instanceof Uint8Array ? readSnapshotHeader(file) : file;
    const refusal = notForThisEmulator(header.v86, header.stateVersion);
    if (refusal !== undefined) throw refusal;
    const manifest = await this.options.guest.manifest();
    const images = await this.options.images.list();
    const guest = guestFor(record, manifest, this.options.guest.base, images);
    const current = this.fingerprintOf(record, profile, guest, images);
    const differences = fingerprintDifferences(header.fingerprint, current);
    if (differences.length > 0) {
      // The built-in guest is rebuilt when virtlab is updated: a snapshot of an earlier build fits no machine here.
      const otherGuestBuild = record.boot.kind === "default-guest" && guestBuildDiffers(header.fingerprint, current);
      throw new AppError("snapshot-mismatch", `"${header.name}" does not fit ${record.name}: ${differences.join("; ")}.`, { details: { differences, ...(otherGuestBuild ? { otherGuestBuild: true as const } : {}) } });
    }
    // Every checksum checked and the state unpacked; the disks' pages are unpacked as they are restored.
    const decoded = await openSnapshot(file);
    // The data-disk decision: a state saved without hda's contents has the disk to mount after the start.
    const mountData = guest.kind === "linux" && guest.cmdline.includes("virtlab.data=") && !decoded.disks.some((d) => d.slot === DATA_DISK_SLOT);
    const start: SavedStart = { state: decoded.state, shellReady: decoded.header.shellReady, mountData, label: `the snapshot "${decoded.header.name}"`, name: decoded.header.name, from: "snapshot", screen: decoded.header.preview.split("\n").at(-1) ?? "" };
    return { start, disks: decoded.disks };
  }

  private fingerprintOf(record: MachineRecord, profile: DeviceProfile, guest: GuestSpec, images: readonly ImageRecord[], options: { readonly anySizeData?: boolean } = {}): MachineFingerprint {
    const disks = machineDiskIdentities(record, images);
    const data = disks[DATA_DISK_SLOT];
    // A kept boot holds nothing of the data disk (unmounted when saved), as the pre-booted state.
    if (options.anySizeData === true && data !== undefined) return machineFingerprint(profile, guest, { ...disks, [DATA_DISK_SLOT]: { ...data, size: "any" } });
    return machineFingerprint(profile, guest, disks);
  }

  /** The boot cache, for a guest whose boot can be kept: the built-in kind, with the guest agent to tidy it. */
  private bootCacheFor(guest: GuestSpec): BootCache | undefined {
    return guest.kind === "linux" && guest.agent !== undefined ? this.options.bootCache : undefined;
  }

  /**
   * Keep a boot from scratch for the next start of this hardware. From its first prompt the machine
   * settles (keys typed meanwhile are held, commands wait: Machine.exclusive) while the data disk
   * is unmounted and caches dropped through the guest agent, the state saved, and the disk mounted
   * again; then it is the user's, and encoding and storing go on behind. A boot that cannot be kept
   * is only not kept: the machine runs on either way. onBootKept tells how it ended.
   */
  private keepBootAtPrompt(machine: Machine, guest: GuestSpec, cache: BootCache, fingerprint: MachineFingerprint, unpacked: UnpackedBootSource | undefined): void {
    this.keepFor = machine;
    const done = (): void => {
      if (this.keepFor !== machine) return;
      this.keepFor = undefined;
      this.settlingNow = false;
      this.keepingBootNow = false;
      this.releaseHeldKeys(machine);
    };
    this.bootKeeping = machine
      .exclusive(() => this.keepBoot(machine, guest, cache, fingerprint, unpacked))
      .then(
        (kept) => {
          done();
          return typeof kept === "function" ? kept() : kept;
        },
        (error: unknown): BootKept => {
          done();
          return { kind: "skipped", reason: describeCause(error) };
        },
      )
      .then((outcome) => {
        unpacked?.end();
        this.bootKeptEmitter.fire(outcome);
        return outcome;
      });
  }

  /** keepBootAtPrompt's work in the guest; what is left (encoding, storing) comes back as a function. */
  private async keepBoot(machine: Machine, guest: GuestSpec, cache: BootCache, fingerprint: MachineFingerprint, unpacked: UnpackedBootSource | undefined): Promise<BootKept | (() => Promise<BootKept>)> {
    const skipped = (reason: string): BootKept => ({ kind: "skipped", reason });
    const data = hasDataDisk(guest);
    let state: { readonly state: Uint8Array; readonly shellReady: boolean };
    let screen: string;
    try {
      await machine.waitForShell({ timeoutMs: SETTLE_TIMEOUT_MS * 8 });
      // The prompt can come before the agent has opened its port (a command sent then is lost).
      await machine.agent.whenListening(SETTLE_TIMEOUT_MS);
      if (this.current !== machine) return skipped("the machine stopped");
      const tidy = await machine.housekeep(tidyForSaveCommand({ dataDisk: data }), { timeoutMs: SETTLE_TIMEOUT_MS });
      if (tidy.exitCode !== 0) return skipped(`the guest could not be tidied for saving (${tidy.output || `exit ${tidy.exitCode}`})`);
      screen = lastLineToShow(machine.recentOutput());
      try {
        state = await machine.saveState();
      } finally {
        if (data) {
          const diskBytes = this.options.disks.disk(DATA_DISK_SLOT)?.byteLength;
          const command = afterRestoreCommand({ mountData: diskBytes === undefined ? {} : { diskBytes }, epochSeconds: this.options.wallTime() / 1000 });
          const mounted = await machine.housekeep(command, { timeoutMs: SETTLE_TIMEOUT_MS }).catch((error: unknown) => ({ output: describeCause(error), exitCode: -1 }));
          // Said where the user looks: the status line (the machine runs on; nothing on the disk is lost).
          if (mounted.exitCode !== 0) this.readyDetail = `the data disk could not be mounted again at /data (${mounted.output}); type /bin/virtlab-data to try again`;
        }
      }
    } catch (error) {
      return skipped(describeCause(error));
    }
    return async (): Promise<BootKept> => {
      try {
        const meta = { app: "virtlab (boot cache)", v86: V86_PACKAGE_VERSION, fingerprint, name: BOOT_CACHE_LABEL, createdAt: this.options.wallTime(), shellReady: state.shellReady, preview: screen };
        const { header, parts } = await encodeSnapshot(state.state, meta, [], BOOT_CACHE_COMPRESSION);
        // The page's link gets it unpacked too (its next start reads that while the page loads),
        // kept beside the boot cache's entry; the boot counts as kept once both are done.
        const keptUnpacked = unpacked?.keep({ header, state: state.state });
        const keptBoots = this.options.keptBootsUnpacked;
        await cache.keep(fingerprint, parts, keptBoots === undefined ? undefined : { cache: keptBoots, header, state: state.state });
        await keptUnpacked;
        return { kind: "kept", bytes: parts.reduce((n, part) => n + part.length, 0) };
      } catch (error) {
        return { kind: "skipped", reason: describeCause(error) };
      }
    };
  }

  private createMachine(record: MachineRecord, profile: DeviceProfile, guest: GuestSpec, disks: AttachedDisks, initial: SavedStart | undefined, network: "on" | "off" | undefined): Machine {
    const machine = new Machine({
      profile,
      guest,
      wasm: this.options.wasm,
      loader: libraryAssetLoader(this.options.images, this.options.loader),
      backend: this.options.backend,
      clock: this.options.clock,
      disks,
      ...(this.options.screenContainer === undefined ? {} : { screenContainer: this.options.screenContainer }),
      ...(initial === undefined ? {} : { initialState: { state: initial.state, shellReady: initial.shellReady, ...(initial.screen === undefined ? {} : { screen: initial.screen }) } }),
      ...(network === undefined ? {} : { network }),
      ...(this.options.holdJitWhileSettingUp === true ? { holdJitWhileSettingUp: true } : {}),
    });
    this.current = machine;
    const store = this.machineStore;
    store.add(machine);
    store.add(
      machine.onStatus((status) => {
        if (status.shell !== "ready") this.readyDetail = undefined;
        else if (this.bootStartedAt !== undefined) {
          // A boot from scratch: how long it took to its first prompt, as a restore says its own.
          this.readyDetail = `booted in ${((this.options.clock.now() - this.bootStartedAt) / 1000).toFixed(1)} s`;
          this.bootStartedAt = undefined;
        }
        // A boot to keep settles from its first prompt on, so the user never sees it ready before.
        if (this.keepFor === machine && status.shell === "ready" && !this.keepingBootNow) {
          this.settlingNow = true;
          this.keepingBootNow = true;
        }
        if (status.stage === "crashed" && status.error !== undefined) {
          this.report(status.error);
          this.crashEmitter.fire();
        }
        this.emitStatus();
      }),
    );
    store.add(
      machine.onPowerCycle((why) => {
        // A reset or the guest's reboot is a boot from scratch, whatever the start was.
        this.from = "boot";
        this.bootStartedAt = this.options.clock.now();
        this.runEmitter.fire({ machineName: record.name, runStart: { kind: why }, notice: undefined });
      }),
    );
    store.add(machine.onDownloadProgress((progress: DownloadProgress) => this.downloadProgress(progress)));
    // The markers around a command `run` typed are for the core, never shown, and the shell's
    // echo of the wrapper shows as the command alone.
    const markers = new MarkerFilter();
    const echo = new EchoFilter();
    const show = (bytes: Uint8Array): void => {
      const shown = markers.filter(bytes);
      if (shown.length > 0) this.outputEmitter.fire(shown);
    };
    store.add(
      machine.onOutput((chunk: ConsoleChunk) => {
        if (chunk.port === machine.consolePort) show(echo.filter(chunk.bytes));
      }),
    );
    store.add(machine.onCommand((event) => show("typed" in event ? echo.typed(event.typed) : echo.ended(event.ended))));
    store.add(machine.onShellReady(() => this.shellEmitter.fire()));
    this.machineEmitter.fire(machine);
    return machine;
  }

  /**
   * After a start from a saved state: mount the data disk when the state did not carry it (the
   * pre-booted one) and set the guest's clock from the host (it stood still while saved). One
   * method, so the mechanism (the guest agent on the second serial port, else a command typed through run()) is in one place.
   */
  private async settle(machine: Machine, initial: SavedStart, started: number, machineName: string, runStart: RunStart, identity: MachineIdentity | undefined): Promise<void> {
    if (!machine.shellReady) return;
    const diskBytes = this.options.disks.disk(DATA_DISK_SLOT)?.byteLength;
    const mountData = initial.mountData ? (diskBytes === undefined ? {} : { diskBytes }) : undefined;
    // A fresh screen: the run's divider, then the guest's prompt (not a typed set-up command's
    // echo), naming this machine (the state's prompt names the one that was saved).
    const showPrompt = (): void => {
      this.runEmitter.fire({ machineName, runStart, notice: undefined });
      const lastLine = lastLineToShow(machine.recentOutput());
      this.settledEmitter.fire({ lastLine: identity === undefined ? lastLine : promptWithHostname(lastLine, identity.hostname) });
    };
    // Through the guest agent when the guest has one: nothing is typed into the user's shell, so
    // its prompt shows at once and the user types ahead (held until the set-up is done, then sent
    // in order: releaseHeldKeys).
    const quiet = machine.setUpIsQuiet();
    if (quiet) showPrompt();
    const profile = this.profileNow;
    const setUpCommand = afterRestoreCommand({
      ...(mountData === undefined ? {} : { mountData }),
      epochSeconds: this.options.wallTime() / 1000,
      ...(profile === undefined ? {} : { nic: profile.nic }),
      ...(identity === undefined ? {} : { identity }),
      // A user's snapshot may have been saved in `vi` or `top`; the other states hold a shell at its
      // prompt. Only through the agent: typed into the console, it would go to that program.
      ...(quiet && initial.from === "snapshot" && profile !== undefined ? { redraw: profile.console } : {}),
    });
    const setUp = await machine.housekeep(setUpCommand, { timeoutMs: SETTLE_TIMEOUT_MS });
    if (identity !== undefined && setUp.exitCode !== 0) this.identityFailed(setUp.output || `exit ${setUp.exitCode}`);
    else if (identity !== undefined) this.identityEmitter.fire(identity);
    if (!quiet) showPrompt();
    const seconds = ((this.options.clock.now() - started) / 1000).toFixed(1);
    this.readyDetail = `started from ${initial.label} in ${seconds} s`;
  }

  /**
   * After a boot from scratch: the machine's own name and MAC at its first prompt, through the
   * agent (after the boot is kept, when it is: the kept state stays the guest's own). A guest
   * without the agent keeps its own; a failure is said in the status line, the machine runs on.
   */
  private identityAtPrompt(machine: Machine, identity: MachineIdentity): void {
    const command = identityCommand(identity);
    void machine
      .exclusive(async () => {
        await machine.waitForShell({ timeoutMs: SETTLE_TIMEOUT_MS * 8 });
        if (machine.guest.kind !== "linux" || machine.guest.agent === undefined || this.current !== machine) return;
        await machine.agent.whenListening(SETTLE_TIMEOUT_MS);
        const result = await machine.agent.run(command, { timeoutMs: SETTLE_TIMEOUT_MS });
        if (result.exitCode !== 0) throw new Error(result.output || `exit ${result.exitCode}`);
        this.identityEmitter.fire(identity);
      })
      .catch((error: unknown) => {
        if (this.current !== machine) return;
        this.identityFailed(describeCause(error));
        this.emitStatus();
      });
  }

  private identityFailed(reason: string): void {
    this.readyDetail = `this machine could not take its own name and network address (${reason})`;
    this.identityFailedEmitter.fire(reason);
  }

  /** The machine is the user's again: keys typed while it settled go to it, in order. */
  private releaseHeldKeys(machine: Machine): void {
    const typed = this.typedWhileSettling.splice(0);
    if (this.current === machine && machine.status.error === undefined) for (const data of typed) machine.write(data);
    this.emitStatus();
  }

  private downloadProgress(progress: DownloadProgress): void {
    const mib = (n: number): string => (n / 1048576).toFixed(1);
    const of = progress.total === undefined ? "" : ` of ${mib(progress.total)}`;
    this.detail = `Downloading ${progress.file}: ${mib(progress.loaded)}${of} MiB`;
    this.progressEmitter.fire({ detail: this.detail, fraction: progress.fraction ?? 0 });
    this.emitStatus();
  }

  /** Each failure once, however often the status is drawn. */
  private report(error: AppError): void {
    if (error === this.reported) return;
    this.reported = error;
    this.errorEmitter.fire(error);
  }

  private disposeMachine(): void {
    if (this.keepFor !== undefined) {
      // Its boot is not kept (keepBoot fails on the disposed machine); nothing settles any more.
      this.keepFor = undefined;
      this.keepingBootNow = false;
      this.settlingNow = false;
      this.typedWhileSettling = [];
    }
    this.machineStore.dispose();
    this.machineStore = new DisposableStore();
    const had = this.current !== undefined;
    this.current?.dispose();
    this.current = undefined;
    if (had) this.machineEmitter.fire(undefined);
  }

  private emitStatus(): void {
    this.statusEmitter.fire(this.status);
  }
}

/** The guest mounts a data disk (/bin/virtlab-data): a kept or pre-booted state has it unmounted. */
function hasDataDisk(guest: GuestSpec): boolean {
  return guest.kind === "linux" && guest.cmdline.includes("virtlab.data=");
}
