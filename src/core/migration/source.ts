/**
 * The sending side of a move. stop-and-copy: pause, send the whole state, wait until the target
 * runs. pre-copy: send memory in rounds while the guest runs (each round the pages written since
 * the last, found by page hashes), then pause and send the last dirty pages with the device state.
 *
 * Until the target says it runs, the source owns the machine: any failure (the target refuses, goes
 * away, does not answer) resumes the source's guest and takes its disk lock back.
 */
import type { Clock } from "../clock.ts";
import { AppError, toAppError } from "../errors.ts";
import { Inbox } from "./channel.ts";
import type { DiskLocks } from "./diskLock.ts";
import { PageHashes, batchBytes, collectPages, pageCount, type PageBatch } from "./pages.ts";
import { DEFAULT_ROUND_POLICY, nextStep, policyProblems, type RoundPolicy, type RoundRecord, type StopReason } from "./planner.ts";
import type { PageHasher } from "./pageHash.ts";
import type { MigrationMethod, SourceMessage, SourcePort, TargetMessage } from "./protocol.ts";
import { refusalError, type Requirements } from "./requirements.ts";

/** What the engine needs of the machine that moves (Machine.migrationSource() gives it). */
export interface SourceMachine {
  /** Guest RAM now, a live view: read between emulator time slices, never kept across awaits. */
  memory(): Uint8Array;
  /** Hashes pages of `memory()` in place (the emulator's SIMD hasher); JavaScript when absent. */
  readonly pageHasher?: PageHasher | undefined;
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** The whole emulator state (stop-and-copy). */
  saveFullState(): Promise<Uint8Array>;
  /** The emulator state without guest RAM (pre-copy sent that already). */
  saveDeviceState(): Promise<Uint8Array>;
  shellReady(): boolean;
  /** Write the disks' pending pages to their store before the lock goes. */
  flushDisks(): Promise<void>;
}

export interface SourceOptions {
  readonly method: MigrationMethod;
  readonly requirements: Requirements;
  readonly port: SourcePort;
  readonly clock: Clock;
  readonly wallTime: () => number;
  readonly policy?: RoundPolicy;
  /** How long to wait for any answer of the target (default 30 s). */
  readonly answerTimeoutMs?: number;
  /**
   * Time the guest runs between live rounds at least (default 100 ms). A round is sent as fast as
   * the channel takes it; in one process that is near instant, and the guest would have no time
   * to write anything between two scans.
   */
  readonly roundGapMs?: number;
  /** Disk lock handover: the source's name, the target's, and the locks. */
  readonly locks?: { readonly locks: DiskLocks; readonly machineId: string; readonly source: string; readonly target: string };
  /** Told of each live round as it ends, and of the pause (a page shows the move as it goes). */
  readonly onRound?: (round: RoundRecord) => void;
  readonly onPause?: () => void;
}

export interface MigrationReport {
  readonly method: MigrationMethod;
  readonly rounds: readonly RoundRecord[];
  readonly stopReason: StopReason | undefined;
  /** Pages sent during the pause (pre-copy; 0 for stop-and-copy). */
  readonly finalPages: number;
  /** Bytes of the state sent during the pause (whole state, or device state). */
  readonly stateBytes: number;
  /** Everything sent: rounds, final pages and state. */
  readonly totalBytes: number;
  /** Guest paused on the source until the target said it runs. */
  readonly downtimeMs: number;
  /** Parts of the downtime: pausing and saving, and waiting for the target's restore. */
  readonly pauseToSentMs: number;
  /** Of the pause, the last look for written pages: a hash of every page (pre-copy; 0 for stop-and-copy). */
  readonly finalScanMs: number;
  readonly totalMs: number;
}

const DEFAULT_ANSWER_TIMEOUT_MS = 30_000;
const DEFAULT_ROUND_GAP_MS = 100;

export async function migrateOut(machine: SourceMachine, options: SourceOptions): Promise<MigrationReport> {
  const policy = options.policy ?? DEFAULT_ROUND_POLICY;
  const problems = policyProblems(policy);
  if (problems.length > 0) throw new AppError("bad-profile", `The pre-copy policy cannot work: ${problems.join("; ")}.`, { details: { problems } });
  const { port, clock } = options;
  const timeout = options.answerTimeoutMs ?? DEFAULT_ANSWER_TIMEOUT_MS;
  const inbox = new Inbox<TargetMessage>(port, clock);
  const started = clock.now();
  const send = (m: SourceMessage): void => port.send(m);
  let paused = false;
  let handed = false;
  try {
    send({ type: "hello", method: options.method, requirements: options.requirements, memoryBytes: machine.memory().byteLength });
    const answer = await inbox.next("waiting for the target to accept", timeout);
    if (answer.type === "refused") throw refusalError({ requirement: answer.requirement, differences: answer.differences });
    if (answer.type !== "ready") throw unexpected(answer, "hello");

    const rounds: RoundRecord[] = [];
    let stopReason: StopReason | undefined;
    let hashes: PageHashes | undefined;
    let dirty: number[] = [];
    if (options.method === "pre-copy") {
      hashes = new PageHashes(pageCount(machine.memory()), machine.pageHasher);
      dirty = hashes.scan(machine.memory());
      for (let round = 1; ; round++) {
        const t0 = clock.now();
        const batch = collectPages(machine.memory(), dirty);
        send({ type: "pages", round, batch });
        await expectAck(inbox, round, timeout);
        await sleep(clock, options.roundGapMs ?? DEFAULT_ROUND_GAP_MS);
        const next = hashes.scan(machine.memory());
        const record: RoundRecord = { round, pagesSent: dirty.length, bytesSent: batchBytes(batch), pagesDirtied: next.length, ms: clock.now() - t0 };
        rounds.push(record);
        options.onRound?.(record);
        dirty = next;
        const decision = nextStep(rounds, dirty.length, policy);
        if (decision.kind === "stop") {
          stopReason = decision.reason;
          break;
        }
      }
    }

    // Downtime from here: the guest stops on the source.
    const pausedAt = clock.now();
    await machine.pause();
    paused = true;
    options.onPause?.();
    let finalBatch: PageBatch | undefined;
    let state: Uint8Array;
    let finalScanMs = 0;
    if (hashes !== undefined) {
      // Pages written since the last scan, and those found then but not sent yet.
      const scanFrom = clock.now();
      const since = new Set([...dirty, ...hashes.scan(machine.memory())]);
      finalScanMs = clock.now() - scanFrom;
      finalBatch = collectPages(
        machine.memory(),
        [...since].sort((a, b) => a - b),
      );
      state = await machine.saveDeviceState();
    } else {
      state = await machine.saveFullState();
    }
    await machine.flushDisks();
    if (options.locks !== undefined) {
      const { locks, machineId, source, target } = options.locks;
      if (!locks.handOver(machineId, source, target)) throw new AppError("migration-refused", "The source does not hold its disks' lock: it cannot hand it over.", { details: { requirement: "disk-lock", differences: [`disk lock: held by ${locks.holder(machineId) ?? "nobody"}, not by ${source}`] } });
      handed = true;
    }
    send({ type: "final", state, ...(finalBatch === undefined ? {} : { batch: finalBatch }), guest: { shellReady: machine.shellReady(), wallTime: options.wallTime() } });
    const sentAt = clock.now();
    const done = await inbox.next("waiting for the target to run the machine", timeout);
    if (done.type === "refused") throw refusalError({ requirement: done.requirement, differences: done.differences });
    if (done.type !== "resumed") throw unexpected(done, "final");
    const resumedAt = clock.now();
    const finalBytes = finalBatch === undefined ? 0 : batchBytes(finalBatch);
    return {
      method: options.method,
      rounds,
      stopReason,
      finalPages: finalBatch === undefined ? 0 : finalBatch.pages.length + finalBatch.zeros.length,
      stateBytes: state.byteLength,
      totalBytes: rounds.reduce((s, r) => s + r.bytesSent, 0) + finalBytes + state.byteLength,
      downtimeMs: resumedAt - pausedAt,
      pauseToSentMs: sentAt - pausedAt,
      finalScanMs,
      totalMs: resumedAt - started,
    };
  } catch (error) {
    const appError = toAppError(error, "migration-failed", "The move failed.", { phase: "unknown" });
    if (!inbox.isClosed) send({ type: "abort", reason: appError.message });
    if (handed && options.locks !== undefined) {
      const { locks, machineId, source } = options.locks;
      // The target took the lock: it may run the guest, so this side must not.
      if (!locks.takeBack(machineId, source)) throw new AppError("migration-failed", "The target took the disks and then stopped answering; the machine stays paused here.", { cause: appError, details: { phase: "handed-over" } });
    }
    if (paused) await machine.resume();
    throw appError;
  } finally {
    inbox.dispose();
  }
}

async function expectAck(inbox: Inbox<TargetMessage>, round: number, timeoutMs: number): Promise<void> {
  const m = await inbox.next(`round ${round}`, timeoutMs);
  if (m.type === "refused") throw refusalError({ requirement: m.requirement, differences: m.differences });
  if (m.type !== "ack" || m.round !== round) throw unexpected(m, `round ${round}`);
}

function unexpected(m: TargetMessage, phase: string): AppError {
  const reason = m.type === "failed" ? `the target failed: ${m.reason}` : `the target answered "${m.type}"`;
  return new AppError("migration-failed", `The move stopped at ${phase}: ${reason}.`, { details: { phase } });
}

function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.after(ms, resolve));
}
