/**
 * The receiving side of a move: checks the requirements, builds the guest's memory image from the
 * rounds (written straight into the stopped landing machine's RAM), and at the final message
 * takes the disks' lock and runs the machine. The guest runs here only after the lock is taken; a
 * source that goes away before the final message leaves a stopped machine with half-written RAM,
 * which the caller throws away.
 */
import type { Clock } from "../clock.ts";
import { AppError, toAppError } from "../errors.ts";
import { Inbox } from "./channel.ts";
import type { DiskLocks } from "./diskLock.ts";
import { applyPages } from "./pages.ts";
import type { GuestAtPause, SourceMessage, TargetPort } from "./protocol.ts";
import { checkRequirements, refusalError, type TargetOffer } from "./requirements.ts";

/** What the engine needs of the machine that receives (Machine.migrationTarget() gives it). */
export interface TargetMachine {
  /** Bytes of guest RAM this machine has. */
  readonly memoryBytes: number;
  /**
   * The stopped machine's guest RAM, a live view: pre-copy writes the pages sent straight into
   * it, so nothing is copied again during the pause. Asked for again before each batch.
   */
  ram(): Uint8Array;
  /** Put the whole state in and run it (stop-and-copy). */
  restoreFull(state: Uint8Array, guest: GuestAtPause): Promise<void>;
  /** Put the device state in, keeping the RAM the rounds wrote, and run it (pre-copy). */
  restoreWithRam(deviceState: Uint8Array, guest: GuestAtPause): Promise<void>;
}

/** The landing machine's RAM to write the rounds into; refused while its emulator still runs. */
export function landingRam(running: boolean, ram: () => Uint8Array): Uint8Array {
  if (running) throw new AppError("migration-failed", "The landing machine must be stopped before memory is written into it.", { details: { phase: "arrival" } });
  return ram();
}

export interface TargetOptions {
  readonly port: TargetPort;
  readonly clock: Clock;
  readonly offer: TargetOffer;
  /**
   * This side's wall time when the hello arrives (ms since 1970); default the offer's. The offer
   * is made before the source is told to start, so under load it is seconds old by then.
   */
  readonly wallTime?: () => number;
  /** The machine to land in, stopped (its own guest is replaced); asked for once the requirements hold. */
  readonly machine: () => Promise<TargetMachine>;
  readonly answerTimeoutMs?: number;
  /** The disk lock to take before the guest runs here: the locks, the machine, this side's name. */
  readonly locks?: { readonly locks: DiskLocks; readonly machineId: string; readonly target: string };
}

export interface ArrivalReport {
  readonly rounds: number;
  readonly pagesReceived: number;
  readonly resumedAt: number;
}

const DEFAULT_ANSWER_TIMEOUT_MS = 30_000;

export async function migrateIn(options: TargetOptions): Promise<ArrivalReport> {
  const { port, clock } = options;
  const timeout = options.answerTimeoutMs ?? DEFAULT_ANSWER_TIMEOUT_MS;
  const inbox = new Inbox<SourceMessage>(port, clock);
  let refused = false;
  try {
    const hello = await inbox.next("waiting for the source", timeout);
    if (hello.type !== "hello") throw stopped(hello, "hello");
    const refusal = checkRequirements(hello.requirements, options.wallTime === undefined ? options.offer : { ...options.offer, wallTime: options.wallTime() });
    if (refusal !== undefined) {
      refused = true;
      port.send({ type: "refused", requirement: refusal.requirement, differences: refusal.differences });
      throw refusalError(refusal);
    }
    const machine = await options.machine();
    if (machine.memoryBytes !== hello.memoryBytes) {
      refused = true;
      const differences = [`memory: the source has ${hello.memoryBytes} bytes, the target ${machine.memoryBytes}`];
      port.send({ type: "refused", requirement: "hardware", differences });
      throw refusalError({ requirement: "hardware", differences });
    }
    const precopy = hello.method === "pre-copy";
    port.send({ type: "ready" });
    let rounds = 0;
    let pages = 0;
    for (;;) {
      const m = await inbox.next(rounds === 0 ? "waiting for memory" : `after round ${rounds}`, timeout);
      if (m.type === "pages") {
        if (!precopy) throw stopped(m, "a stop-and-copy move");
        applyPages(machine.ram(), m.batch);
        rounds = m.round;
        pages += m.batch.pages.length + m.batch.zeros.length;
        port.send({ type: "ack", round: m.round });
        continue;
      }
      if (m.type !== "final") throw stopped(m, `round ${rounds}`);
      if (options.locks !== undefined) {
        const { locks, machineId, target } = options.locks;
        if (!locks.take(machineId, target)) {
          refused = true;
          const differences = [`disk lock: ${locks.holder(machineId) ?? "nobody"} holds this machine's disks and did not hand them to ${target}`];
          port.send({ type: "refused", requirement: "disk-lock", differences });
          throw refusalError({ requirement: "disk-lock", differences });
        }
      }
      try {
        if (precopy) {
          if (rounds === 0) throw stopped(m, "a pre-copy move with no memory sent");
          if (m.batch !== undefined) applyPages(machine.ram(), m.batch);
          pages += (m.batch?.pages.length ?? 0) + (m.batch?.zeros.length ?? 0);
          await machine.restoreWithRam(m.state, m.guest);
        } else {
          await machine.restoreFull(m.state, m.guest);
        }
      } catch (error) {
        // Nothing ran here: give the lock back so the source can resume.
        if (options.locks !== undefined) options.locks.locks.handOver(options.locks.machineId, options.locks.target, options.offer.sourceName);
        throw error;
      }
      const resumedAt = clock.now();
      port.send({ type: "resumed", at: resumedAt });
      return { rounds, pagesReceived: pages, resumedAt };
    }
  } catch (error) {
    const appError = toAppError(error, "migration-failed", "The machine could not arrive.", { phase: "arrival" });
    if (!refused && !inbox.isClosed) port.send({ type: "failed", reason: appError.message });
    throw appError;
  } finally {
    inbox.dispose();
  }
}

function stopped(m: SourceMessage, phase: string): AppError {
  const reason = m.type === "abort" ? `the source gave up: ${m.reason}` : `the source sent "${m.type}"`;
  return new AppError("migration-failed", `The move stopped at ${phase}: ${reason}.`, { details: { phase } });
}
