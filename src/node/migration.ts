/**
 * A move between two sessions in one Node process (the bench and the boot test): the engine of
 * src/core/migration over an in-process port, with the sessions' own requirements and a shared
 * disk-lock table.
 */
import {
  AppError,
  MemoryDiskLocks,
  V86_PACKAGE_VERSION,
  V86_STATE_VERSION,
  inProcessPair,
  migrateIn,
  migrateOut,
  systemClock,
  type ArrivalReport,
  type MachineSession,
  type MigrationMethod,
  type MigrationReport,
  type RoundPolicy,
} from "../core/index.ts";

export interface SessionMove {
  readonly source: MigrationReport;
  readonly target: ArrivalReport;
}

export interface SessionMoveOptions {
  readonly method: MigrationMethod;
  readonly policy?: RoundPolicy;
  readonly roundGapMs?: number;
  /** The disks' store as both sides name it (both must reach it). */
  readonly diskStore?: string;
  readonly locks?: MemoryDiskLocks;
}

/** Move the machine running in `source` into `target`'s machine (same hardware; its guest is replaced). */
export async function moveBetweenSessions(source: MachineSession, target: MachineSession, options: SessionMoveOptions): Promise<SessionMove> {
  const from = source.machine;
  const to = target.machine;
  if (from === undefined || to === undefined) throw new AppError("not-running", "Both sessions need a running machine.");
  const sourceMachine = from.migrationSource(() => source.saveDisks());
  const landing = to.migrationTarget();
  if (sourceMachine === undefined || landing === undefined) throw new AppError("not-running", "This emulator backend cannot move a machine.");
  const store = options.diskStore ?? "memory:shared";
  const machineId = "default";
  const locks = options.locks ?? new MemoryDiskLocks();
  if (locks.holder(machineId) === undefined) locks.take(machineId, "source");
  const pair = inProcessPair();
  const [out, arrival] = await Promise.all([
    migrateOut(sourceMachine, {
      method: options.method,
      requirements: { v86: V86_PACKAGE_VERSION, stateVersion: V86_STATE_VERSION, fingerprint: await source.fingerprint(), disks: { store, machineId }, network: from.network, wallTime: Date.now() },
      port: pair.source,
      clock: systemClock,
      wallTime: () => Date.now(),
      ...(options.policy === undefined ? {} : { policy: options.policy }),
      ...(options.roundGapMs === undefined ? {} : { roundGapMs: options.roundGapMs }),
      locks: { locks, machineId, source: "source", target: "target" },
    }),
    migrateIn({
      port: pair.target,
      clock: systemClock,
      offer: { v86: V86_PACKAGE_VERSION, stateVersion: V86_STATE_VERSION, fingerprint: await target.fingerprint(), diskStores: [store], diskHolder: (id) => locks.holder(id), sourceName: "source", networkAvailable: true, wallTime: Date.now() },
      // The landing machine stops its own guest; the arriving one replaces it.
      machine: async () => {
        await to.pause();
        return landing;
      },
      locks: { locks, machineId, target: "target" },
    }),
  ]);
  return { source: out, target: arrival };
}
