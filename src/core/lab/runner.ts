/**
 * The device-lab benchmark runner: boots one machine per compatible set of devices, prepares the
 * guest, runs each workload on the emulated and the paravirtual model (warm-up, then the
 * repetitions), checks byte counts and checksums, and returns a LabReport. No DOM, no Node: the
 * panel, `npm run bench` and the boot tests share it; time comes from the injected Clock.
 */
import type { ConsoleChunk, ConsolePort, MicroscopeHooks } from "../backend.ts";
import { TrapMeter, portCount, type TrapSnapshot } from "../microscope/traps.ts";
import type { Clock } from "../clock.ts";
import type { CommandResult } from "../console.ts";
import { AppError, toAppError } from "../errors.ts";
import { Emitter, type Disposable, type Event } from "../events.ts";
import { sha256Hex } from "../host.ts";
import { DEFAULT_PROFILE, type DeviceProfile } from "../profile.ts";
import { eachAtOnce } from "./atOnce.ts";
import { DEFAULT_9P_MSIZE, SIDES, mtuVariantProfile, mtuVariants, pairById, planMachines, workloadsOf, type MtuVariant, type PairId, type Side, type SizePreset, type Workload } from "./devices.ts";
import { InstructionMeter, SectionMeter } from "./meter.ts";
import { NetPeer, PEER_ADDRESS, SINK_PORT, SOURCE_PORT, peerDelta, type TcpTransfer } from "./netPeer.ts";
import { check, modelRun, type LabTraps, workloadResult, type IntegrityCheck, type LabReport, type ModelRun, type Sample, type WorkloadResult } from "./results.ts";
import * as guest from "./scripts.ts";

/** What the runner needs from a machine: `Machine` has all of it. */
export interface LabMachine {
  readonly consolePort: ConsolePort;
  readonly onOutput: Event<ConsoleChunk>;
  readonly onNetworkFrame: Event<Uint8Array>;
  waitForShell(options: { timeoutMs?: number }): Promise<void>;
  run(command: string, options: { timeoutMs?: number }): Promise<CommandResult>;
  sendNetworkFrame(frame: Uint8Array): void;
  instructionCounter(): number;
  readSharedFile(path: string): Promise<Uint8Array>;
  /** The trap meter's hooks (issue 13); without them runs carry no `traps`. */
  microscope?(): MicroscopeHooks | undefined;
}

/** A lab machine that runs; disposing it ends the machine. */
export interface StartedLabMachine extends Disposable {
  readonly machine: LabMachine;
}

export interface LabEnvironment {
  /**
   * Start a machine with this profile, booting from scratch (the lab's devices are not the
   * pre-booted machine's): session/scratch.ts's startScratch, in the page and in Node.
   */
  startMachine(profile: DeviceProfile): Promise<StartedLabMachine>;
  readonly clock: Clock;
  /** Where this runs, for the report ("Node 20.19.0", a user agent). */
  readonly host: string;
  readonly v86: string;
  readonly bootTimeoutMs?: number;
  /**
   * How many machines may run at once (labMachinesAtOnce; default 1). Above 1, each side with a
   * device gets a machine of its own (planMachines' `spread`) and up to this many run together:
   * only where each machine has a thread of its own (the page's Workers), never in Node.
   */
  readonly machinesAtOnce?: number;
}

export interface LabRunOptions {
  readonly pairs: readonly PairId[];
  readonly preset: SizePreset;
  /** Timed repetitions per model (default 3). */
  readonly repetitions?: number;
  /** Untimed runs first (default 1). */
  readonly warmups?: number;
  /** Measure the extra paravirtual settings too (9p msize values; default true). */
  readonly variants?: boolean;
}

export interface LabProgress {
  readonly machine: number;
  readonly machines: number;
  readonly text: string;
}

const COMMAND_TIMEOUT_MS = 180_000;
const DEFAULT_BOOT_TIMEOUT_MS = 240_000;
const MB = 1e6;

type Measured = Map<string, { main?: ModelRun; variants: ModelRun[] }>;

export class LabRunner {
  private readonly progressEmitter = new Emitter<LabProgress>();
  readonly onProgress = this.progressEmitter.event;

  constructor(private readonly env: LabEnvironment) {}

  async run(options: LabRunOptions): Promise<LabReport> {
    const repetitions = options.repetitions ?? 3;
    const warmups = options.warmups ?? 1;
    if (!Number.isInteger(repetitions) || repetitions < 1 || !Number.isInteger(warmups) || warmups < 0) {
      throw new AppError("bad-profile", "The lab needs at least one repetition and a whole number of warm-ups.");
    }
    if (options.pairs.length === 0) throw new AppError("bad-profile", "Choose at least one device pair to measure.");
    const startedAt = new Date().toISOString();
    const atOnce = Math.max(1, Math.floor(this.env.machinesAtOnce ?? 1));
    const withVariants = options.variants ?? true;
    // Every slot exists before a machine runs: machines at once end in any order, and an MTU
    // variant's machine may end before the paravirtual network side's.
    const measured: Measured = new Map();
    for (const pair of options.pairs) for (const workload of workloadsOf(pair)) for (const side of SIDES) measured.set(key(workload.id, side), { variants: [] });
    // Device hardware variants (virtio-net MTUs) need machines of their own, after the plans.
    const hardwareVariants = withVariants ? mtuVariants(options.pairs) : [];
    const machines: { profile: DeviceProfile; runs: number; testData: number; measure: (session: Session) => Promise<void> }[] = [
      ...planMachines(options.pairs, { spread: atOnce > 1 }).map((plan) => ({
        profile: { ...DEFAULT_PROFILE, ...plan.profile },
        testData: testDataBytes(plan.runs.map((r) => r.pair), options.preset),
        runs: plan.runs.reduce((n, { pair, side }) => n + measuredRuns(pair, side, withVariants), 0),
        measure: async (session: Session) => {
          for (const { pair, side } of plan.runs) await session.measurePair(pair, side, measured);
        },
      })),
      ...hardwareVariants.map((variant) => ({
        profile: { ...DEFAULT_PROFILE, ...mtuVariantProfile(variant.nicMtu) },
        testData: testDataBytes(["network"], options.preset),
        runs: workloadsOf("network").filter((w) => w.variants?.some((v) => v.id === variant.id)).length,
        measure: (session: Session) => session.measureMtuVariant(variant, measured),
      })),
    ];
    // At once, the machines with the most runs first, so that no long one starts last.
    if (atOnce > 1) machines.sort((a, b) => b.runs - a.runs);
    const running = new Set<StartedLabMachine>();
    let stopped = false;
    await eachAtOnce(
      machines,
      atOnce,
      async ({ profile, testData, measure }, index) => {
        const report = (text: string): void => this.progressEmitter.fire({ machine: index + 1, machines: machines.length, text });
        report(`booting machine ${index + 1} of ${machines.length} (${describeProfile(profile)})`);
        let started: StartedLabMachine | undefined;
        let session: Session | undefined;
        try {
          started = await this.env.startMachine(profile);
          running.add(started);
          if (stopped) return;
          session = new Session(started.machine, this.env.clock, options.preset, repetitions, warmups, withVariants, profile, testData, report);
          await started.machine.waitForShell({ timeoutMs: this.env.bootTimeoutMs ?? DEFAULT_BOOT_TIMEOUT_MS });
          await measure(session);
        } catch (error) {
          throw toAppError(error, "lab-failed", `The ${describeProfile(profile)} machine failed during the lab.`);
        } finally {
          session?.dispose();
          if (started !== undefined) running.delete(started);
          started?.dispose();
        }
      },
      () => {
        // One machine failed: the lab has no report, so the others stop now.
        stopped = true;
        for (const machine of running) machine.dispose();
      },
    );
    const results: WorkloadResult[] = [];
    for (const pair of options.pairs) {
      for (const workload of workloadsOf(pair)) {
        const emulated = measured.get(key(workload.id, "emulated"))?.main;
        const paravirtual = measured.get(key(workload.id, "paravirtual"));
        if (emulated === undefined || paravirtual?.main === undefined) throw new AppError("lab-failed", `No result for ${workload.id}.`);
        results.push(workloadResult(workload, workload.size[options.preset], emulated, paravirtual.main, inDeclaredOrder(workload, paravirtual.variants)));
      }
    }
    return {
      format: "virtlab-lab-report",
      version: 1,
      id: `lab-${startedAt}`,
      startedAt,
      finishedAt: new Date().toISOString(),
      host: this.env.host,
      v86: this.env.v86,
      preset: options.preset,
      repetitions,
      warmups,
      machinesAtOnce: Math.min(atOnce, machines.length),
      results,
    };
  }

  dispose(): void {
    this.progressEmitter.dispose();
  }
}

/** The model runs a pair side makes (a workload, and each 9p msize variant of one). */
function measuredRuns(pair: PairId, side: Side, variants: boolean): number {
  return workloadsOf(pair).reduce((n, w) => n + 1 + (variants && side === "paravirtual" ? (w.variants ?? []).filter((v) => "msize" in v).length : 0), 0);
}

/** At most this many timed runs more, the oldest each time counted as a warm-up (stillWarming). */
export const MAX_EXTRA_WARMUPS = 2;
/** The first of the timed runs took this much longer than the last: the runs are still warming up. */
const STILL_WARMING = 1.25;

/**
 * Run `run` for `warmups` warm-ups and `repetitions` timed runs, then, while the timed runs are
 * still getting faster (stillWarming), once more, the oldest timed run counting as a warm-up from
 * then on, at most MAX_EXTRA_WARMUPS times. Returns every run in order and how many of the first
 * are warm-ups.
 */
export async function runUntilSteady<T extends { readonly sample: Sample }>(warmups: number, repetitions: number, run: (index: number) => Promise<T>): Promise<{ runs: T[]; warmups: number }> {
  const runs: T[] = [];
  for (let i = 0; i < warmups + repetitions; i++) runs.push(await run(i));
  let counted = warmups;
  while (counted - warmups < MAX_EXTRA_WARMUPS && stillWarming(runs.slice(counted).map((r) => r.sample.seconds))) {
    counted++;
    runs.push(await run(runs.length));
  }
  return { runs, warmups: counted };
}

/**
 * Whether timed runs (their seconds, in order) are still getting faster: the first took more than
 * STILL_WARMING times the last. In Chromium the JIT (v86's, and V8's optimizing tier that
 * compiles v86's code again) kept warming through a TCP upload's three timed runs after its
 * warm-up (3.2, 1.8, 1.3 s), so their median was the middle one's. Noise goes both ways; a
 * trend from the first run to the last is what a warm-up leaves.
 */
export function stillWarming(seconds: readonly number[]): boolean {
  const first = seconds[0];
  const last = seconds.at(-1);
  return seconds.length >= 2 && first !== undefined && last !== undefined && first > STILL_WARMING * last;
}

/** The most test data (bytes in the guest's tmpfs) the workloads of `pairs` read at `preset`. */
export function testDataBytes(pairs: readonly PairId[], preset: SizePreset): number {
  let most = 0;
  for (const pair of pairs) {
    for (const workload of workloadsOf(pair)) {
      const size = workload.size[preset];
      if (workload.kind === "console-write") most = Math.max(most, guest.consoleSourceBytes(size));
      else if (workload.kind === "storage-write" || workload.kind === "storage-read" || workload.kind === "net-tcp-up") most = Math.max(most, size);
    }
  }
  return most;
}

/** Variant runs in the order the workload lists them, whichever machine ended first. */
function inDeclaredOrder(workload: Workload, runs: readonly ModelRun[]): ModelRun[] {
  const labels = (workload.variants ?? []).map((v) => v.label);
  const rank = (run: ModelRun): number => {
    const i = labels.indexOf(run.variant ?? "");
    return i < 0 ? labels.length : i;
  };
  return [...runs].sort((a, b) => rank(a) - rank(b));
}

function key(workload: string, side: Side): string {
  return `${workload}/${side}`;
}

export function describeProfile(profile: DeviceProfile): string {
  const parts = [profile.cpu === "jit" ? "JIT" : "interpreter", profile.console === "virtio" ? "virtio-console" : "UART"];
  if (profile.nic !== "none") parts.push(profile.nic === "virtio" ? `virtio-net${profile.nicMtu === undefined ? "" : ` MTU ${profile.nicMtu}`}` : "NE2000");
  if (profile.scratchDiskMiB !== undefined) parts.push(`IDE ${profile.scratchDiskMiB} MiB`);
  if (profile.share9p === true) parts.push("9p");
  return parts.join(", ");
}

interface Timed {
  /** Clock times of the section's begin and end markers. */
  readonly startedAt: number;
  readonly seconds: number;
  readonly bytes: Uint8Array;
  readonly byteCount: number;
  readonly instructions: number;
  readonly output: string;
}

/** One booted machine and what has been prepared in its guest. */
class Session implements Disposable {
  private nextSection = 1;
  private peer: NetPeer | undefined;
  /** Test data in the guest's tmpfs: the sizes made or cut so far, each with its sha256. */
  private readonly sources = new Map<number, string>();
  /** The file system (its mount point) whose test file holds test data with this sha256. */
  private readonly testFiles = new Map<string, string>();
  private consoleSha: string | undefined;
  private ideReady = false;
  private zerosReady = false;
  private networkReady = false;

  constructor(
    private readonly machine: LabMachine,
    private readonly clock: Clock,
    private readonly preset: SizePreset,
    private readonly repetitions: number,
    private readonly warmups: number,
    private readonly variants: boolean,
    private readonly profile: DeviceProfile,
    /** The most test data this machine's workloads read (testDataBytes): made first, the rest cut from it. */
    private readonly largestTestData: number,
    private readonly report: (text: string) => void,
  ) {
    if (profile.nic !== "none") this.peer = new NetPeer(machine, clock);
  }

  async measurePair(pairId: PairId, side: Side, measured: Measured): Promise<void> {
    const pair = pairById(pairId);
    const label = pair[side].label;
    if (pairId === "storage") {
      const settings: { variant?: string; msize: number }[] =
        side === "emulated" ? [{ msize: 0 }] : [{ msize: DEFAULT_9P_MSIZE }, ...(this.variants ? (workloadsOf("storage")[0]?.variants ?? []).filter((v) => "msize" in v) : [])];
      for (const setting of settings) {
        for (const workload of workloadsOf("storage")) {
          const run = await this.measureStorage(workload, side, label, setting.msize, setting.msize === DEFAULT_9P_MSIZE || side === "emulated" ? undefined : variantLabel(workload, setting.msize));
          const slot = measured.get(key(workload.id, side));
          if (slot === undefined) continue;
          if (run.variant === undefined) slot.main = run;
          else slot.variants.push(run);
        }
      }
      return;
    }
    for (const workload of workloadsOf(pairId)) {
      const slot = measured.get(key(workload.id, side));
      if (slot === undefined) continue;
      this.report(`${workload.id} on ${label}`);
      slot.main = await this.measure(workload, side, label);
    }
  }

  private async measure(workload: Workload, side: Side, label: string): Promise<ModelRun> {
    const size = workload.size[this.preset];
    switch (workload.kind) {
      case "console-write":
        return this.measureConsole(size, side, label);
      case "net-echo":
        return this.measureNetwork(size, side, label);
      case "net-tcp-up":
      case "net-tcp-down":
        return this.measureTcp(workload.kind, size, side, label);
      case "cpu-hash":
        return this.measureCpu(size, side, label);
      default:
        throw new AppError("lab-failed", `${workload.id} is measured with its pair.`);
    }
  }

  private async repeat(
    each: () => Promise<{ sample: Sample; checks: IntegrityCheck[] }>,
    per: LabTraps["per"] = "MB",
  ): Promise<{ warmup: Sample[]; samples: Sample[]; integrity: IntegrityCheck[]; traps?: LabTraps }> {
    let metered: TrapSnapshot | undefined;
    const { runs, warmups: warmupCount } = await runUntilSteady(this.warmups, this.repetitions, async (index) => {
      // The trap meter slows what it counts: meter the warm-up, or the first run without one.
      const scope = index === 0 ? this.machine.microscope?.() : undefined;
      const meter = scope === undefined ? undefined : new TrapMeter();
      const watch = meter === undefined ? undefined : scope?.watchTraps(meter);
      try {
        return await each();
      } finally {
        watch?.dispose();
        if (meter !== undefined) metered = meter.snapshot();
      }
    });
    const warmup = runs.slice(0, warmupCount);
    const timed = runs.slice(warmupCount);
    const integrity = runs.flatMap(({ checks }, i) => {
      const tag = i < warmup.length ? `warm-up ${i + 1}` : `run ${i - warmup.length + 1}`;
      return checks.map((c) => ({ ...c, what: `${tag}: ${c.what}` }));
    });
    const first = runs[0];
    const traps = metered === undefined || first === undefined ? undefined : labTraps(metered, first.sample.amount, per, warmup.length > 0);
    return { warmup: warmup.map((r) => r.sample), samples: timed.map((r) => r.sample), integrity, ...(traps === undefined ? {} : { traps }) };
  }

  // --- console ---

  private async measureConsole(size: number, side: Side, label: string): Promise<ModelRun> {
    if (this.consoleSha === undefined) {
      const source = await this.ensureSource(guest.consoleSourceBytes(size));
      this.consoleSha = guest.parseDigest((await this.exec(guest.makeConsoleText(size, source.file))).output);
    }
    const expectedSha = this.consoleSha ?? "(guest printed no sha256)";
    const runs = await this.repeat(async () => {
      const timed = await this.timed((id) => guest.consoleWrite(id), { keepBytes: true });
      const sample = { value: size / MB / timed.seconds, seconds: timed.seconds, amount: timed.byteCount };
      return { sample, checks: [check("bytes received", size, timed.byteCount), check("sha256 host = guest", expectedSha, await sha256Hex(timed.bytes))] };
    });
    return modelRun({ side, label, profile: this.profile, ...runs });
  }

  // --- storage ---

  private async measureStorage(workload: Workload, side: Side, label: string, msize: number, variant: string | undefined): Promise<ModelRun> {
    const size = workload.size[this.preset];
    const source = await this.ensureSource(size, true);
    const expectedSha = source.sha;
    const dir = side === "emulated" ? guest.IDE_DIR : guest.SHARE_DIR;
    if (side === "emulated") await this.ensureIde();
    else if (workload.kind === "storage-write") await this.exec(guest.mountShare(msize));
    this.report(`${workload.id} on ${variant ?? label}`);
    // A read needs the test file on the device: the write workload's runs just left it there (on
    // the 9p share whatever the msize), else it is written first, untimed.
    if (workload.kind === "storage-read" && this.testFiles.get(dir) !== expectedSha) await this.exec(guest.storageWrite(this.nextSection++, dir, source.file));
    const runs = await this.repeat(async () => {
      const timed = await this.timed((id) => (workload.kind === "storage-write" ? guest.storageWrite(id, dir, source.file) : guest.storageRead(id, dir)), {});
      return { sample: { value: size / MB / timed.seconds, seconds: timed.seconds, amount: size }, checks: [] };
    });
    this.testFiles.set(dir, expectedSha);
    // Integrity once after the runs: the file read back from the device, caches dropped.
    const verify = (await this.exec(guest.storageVerify(dir))).output;
    const checks = [check("file size", size, /^\s*(\d+)/.exec(verify)?.[1]), check("sha256 of file = source", expectedSha, guest.parseDigest(verify))];
    if (side === "paravirtual") checks.push(check("sha256 of the share's file on the host", expectedSha, await sha256Hex(await this.machine.readSharedFile(`/${guest.TEST_FILE}`))));
    return modelRun({ side, label, ...(variant === undefined ? {} : { variant }), profile: this.profile, ...runs, integrity: [...runs.integrity, ...checks] });
  }

  private async ensureIde(): Promise<void> {
    if (this.ideReady) return;
    this.report("formatting the IDE disk (mke2fs)");
    await this.exec(guest.formatIde());
    this.ideReady = true;
  }

  // --- network ---

  /** The peer, with the guest's interface up and ARP resolved before anything is timed. */
  private async network(): Promise<NetPeer> {
    const peer = this.peer;
    if (peer === undefined) throw new AppError("lab-failed", "This machine has no network card.");
    if (!this.networkReady) {
      await this.exec(guest.networkUp());
      await this.exec(`ping -c 1 -W 5 ${PEER_ADDRESS} >/dev/null`);
      this.networkReady = true;
    }
    return peer;
  }

  /**
   * Bulk TCP to the peer's sink (the guest's source file) or from its source (random bytes made
   * here). Upload time ends when the guest's FIN reaches the peer, i.e. when every byte is in:
   * `nc` may exit while its last bytes still sit in the guest's socket buffer.
   */
  private async measureTcp(kind: "net-tcp-up" | "net-tcp-down", size: number, side: Side, label: string, variant?: string): Promise<ModelRun> {
    const peer = await this.network();
    const up = kind === "net-tcp-up";
    const source = up ? await this.ensureSource(size, true) : undefined;
    const expectedSha = source?.sha ?? (await this.setPeerSource(peer, size));
    const port = up ? SINK_PORT : SOURCE_PORT;
    const runs = await this.repeat(async () => {
      const timed = await this.timed((id) => (source !== undefined ? guest.tcpUpload(id, source.file) : guest.tcpDownload(id)), {});
      const transfer = await this.settled(peer, port);
      const seconds = up && transfer?.remoteFinAt !== undefined ? Math.max(1e-6, (transfer.remoteFinAt - timed.startedAt) / 1000) : timed.seconds;
      const checks = [check("connection closed cleanly (FIN both ways)", "true", String(transfer?.closed === true)), check("TCP checksums bad", 0, transfer?.badChecksums)];
      if (up) {
        checks.push(check("bytes received by the peer", size, transfer?.received), check("sha256 peer = guest's file", expectedSha, await transfer?.receivedSha256));
      } else {
        const received = /(\d+)\s*\n\s*([0-9a-f]{64})\b/.exec(timed.output);
        checks.push(check("bytes received by the guest", size, received?.[1]), check("sha256 guest = peer's bytes", expectedSha, received?.[2]));
      }
      return { sample: { value: size / MB / seconds, seconds, amount: size }, checks };
    });
    return modelRun({ side, label, ...(variant === undefined ? {} : { variant }), profile: this.profile, ...runs });
  }

  /** The network workloads that have this MTU as a variant, on this machine (booted with it). */
  async measureMtuVariant(variant: MtuVariant, measured: Measured): Promise<void> {
    const label = pairById("network").paravirtual.label;
    for (const workload of workloadsOf("network")) {
      if (workload.kind !== "net-tcp-up" && workload.kind !== "net-tcp-down") continue;
      if (!(workload.variants ?? []).some((v) => v.id === variant.id)) continue;
      this.report(`${workload.id} on ${variant.label}`);
      const run = await this.measureTcp(workload.kind, workload.size[this.preset], "paravirtual", label, variant.label);
      measured.get(key(workload.id, "paravirtual"))?.variants.push(run);
    }
  }

  private async setPeerSource(peer: NetPeer, size: number): Promise<string> {
    const bytes = new Uint8Array(size);
    // Not compressible, not a pattern a misplaced segment could hide in: xorshift32.
    let x = 0x9e3779b9;
    for (let i = 0; i < size; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      bytes[i] = x & 0xff;
    }
    peer.setSource(bytes);
    return sha256Hex(bytes);
  }

  /** The newest transfer on `port`, once it has closed (or after a short grace period). */
  private async settled(peer: NetPeer, port: number): Promise<TcpTransfer | undefined> {
    const deadline = this.clock.now() + 5000;
    while (this.clock.now() < deadline) {
      const transfer = peer.lastTransfer(port);
      if (transfer?.closed === true || transfer?.reset === true) return transfer;
      await new Promise<void>((resolve) => this.clock.after(50, resolve));
    }
    return peer.lastTransfer(port);
  }

  private async measureNetwork(count: number, side: Side, label: string): Promise<ModelRun> {
    const peer = await this.network();
    const runs = await this.repeat(async () => {
      const before = peer.snapshot;
      const timed = await this.timed((id) => guest.netEcho(id, count), {});
      const delta = peerDelta(before, peer.snapshot);
      const ping = guest.parsePing(timed.output);
      const sample = { value: delta.frameBytes / MB / timed.seconds, seconds: timed.seconds, amount: delta.frameBytes };
      return {
        sample,
        checks: [
          check("echo requests seen by the peer", count, delta.echoRequests),
          check("request payload bytes", count * guest.ECHO_PAYLOAD, delta.payloadBytes),
          check("bad checksums", 0, delta.badChecksums),
          check("replies received by the guest", count, ping?.received),
        ],
      };
    });
    return modelRun({ side, label, profile: this.profile, ...runs });
  }

  // --- CPU ---

  private async measureCpu(size: number, side: Side, label: string): Promise<ModelRun> {
    if (!this.zerosReady) {
      await this.exec(guest.makeZeros(size));
      this.zerosReady = true;
    }
    const expected = await sha256Hex(new Uint8Array(size));
    const runs = await this.repeat(async () => {
      const timed = await this.timed((id) => guest.cpuHash(id), { countInstructions: true });
      const sample = { value: timed.instructions / MB / timed.seconds, seconds: timed.seconds, amount: timed.instructions };
      return { sample, checks: [check("sha256 of the zeros", expected, guest.parseDigest(timed.output))] };
    }, "M instructions");
    return modelRun({ side, label, profile: this.profile, ...runs });
  }

  // --- helpers ---

  /**
   * Test data in the guest's tmpfs of `bytes` bytes (exactly, or at least): its file and sha256.
   * The first one a machine needs is made at the most its workloads read; smaller exact sizes are
   * cut from it (guest.sourceStep).
   */
  private async ensureSource(bytes: number, exact = false): Promise<{ readonly file: string; readonly sha: string }> {
    for (;;) {
      const step = guest.sourceStep([...this.sources.keys()], bytes, exact, this.largestTestData);
      if ("use" in step) return { file: guest.sourceFile(step.use), sha: this.sources.get(step.use) as string };
      this.report("preparing test data in the guest");
      const made = "make" in step ? step.make : bytes;
      const sha = guest.parseDigest((await this.exec("make" in step ? guest.makeSource(step.make) : guest.cutSource(step.cut, bytes))).output);
      if (sha === undefined) throw new AppError("lab-failed", "The guest did not print the test data's sha256.");
      this.sources.set(made, sha);
    }
  }

  private async exec(command: string): Promise<CommandResult> {
    const result = await this.machine.run(command, { timeoutMs: COMMAND_TIMEOUT_MS });
    if (result.exitCode !== 0) {
      throw new AppError("lab-failed", `A lab command failed in the guest (exit ${result.exitCode}).`, { details: { command, output: result.output.slice(-2000) } });
    }
    return result;
  }

  /** Run a command whose timed part sits between section markers; time it on the host. */
  private async timed(command: (id: number) => string, options: { keepBytes?: boolean; countInstructions?: boolean }): Promise<Timed> {
    const id = this.nextSection++;
    const meter = new SectionMeter(id, options.keepBytes === true);
    let instructions = 0;
    const counting = options.countInstructions === true ? new InstructionMeter(this.machine, this.clock) : undefined;
    const listener = this.machine.onOutput((chunk) => {
      if (chunk.port !== this.machine.consolePort || meter.done) return;
      const wasStarted = meter.started;
      meter.push(chunk.bytes, this.clock.now());
      if (!wasStarted && meter.started) counting?.start();
      if (meter.done && counting !== undefined) instructions = counting.stop();
    });
    try {
      const result = await this.exec(command(id));
      const section = meter.result;
      if (section === undefined) throw new AppError("lab-failed", "The guest never printed the end of a timed section.", { details: { output: result.output.slice(-2000) } });
      const seconds = Math.max(1e-6, (section.endedAt - section.startedAt) / 1000);
      return { startedAt: section.startedAt, seconds, bytes: section.bytes, byteCount: section.byteCount, instructions, output: result.output };
    } finally {
      counting?.dispose();
      listener.dispose();
    }
  }

  dispose(): void {
    this.peer?.dispose();
  }
}

function variantLabel(workload: Workload, msize: number): string {
  return workload.variants?.find((v) => "msize" in v && v.msize === msize)?.label ?? `9p msize ${msize}`;
}

/** A trap-meter snapshot over one run, as the lab report keeps it. */
export function labTraps(snapshot: TrapSnapshot, amount: number, unit: LabTraps["per"], warmup: boolean): LabTraps {
  const millions = amount / 1e6;
  const per = (n: number): number => (millions > 0 ? n / millions : 0);
  const t = snapshot.totals;
  const devices: Record<string, { portIo: number; mmio: number; irq: number; notifications: number }> = {};
  for (const [name, d] of Object.entries(snapshot.devices)) devices[name] = { portIo: portCount(d), mmio: d.mmioReads + d.mmioWrites, irq: d.irqs, notifications: d.notifications };
  return {
    portIo: t.portIo,
    mmio: t.mmio,
    irq: t.irq,
    notifications: t.notifications,
    per: unit,
    perMB: { portIo: per(t.portIo), mmio: per(t.mmio), irq: per(t.irq), notifications: per(t.notifications) },
    devices,
    meteredRun: warmup ? "warm-up" : "timed run 1",
  };
}
