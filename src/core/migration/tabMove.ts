/**
 * A move between two tabs of one browser (issue 15), as the page runs it: the source asks the
 * target tab for its offer and shows every requirement, orders it to get ready, then has its
 * Worker send the machine (remote/migrationServer.ts); the target's Worker lands it. The disks'
 * lock goes with it: the source writes its pending pages and lets the lock go at the pause, the
 * target takes it and only then opens the disks. Until the target runs the machine, any failure
 * leaves the source running with its lock; after that the source stops for good.
 */
import type { MovePageSide } from "../backend.ts";
import type { Clock } from "../clock.ts";
import { lastLineToShow } from "../console.ts";
import { AppError, toAppError } from "../errors.ts";
import { Emitter, type Disposable } from "../events.ts";
import { randomId } from "../host.ts";
import type { Machine } from "../machine.ts";
import type { AttachedDisks } from "../profile.ts";
import type { MachineFingerprint } from "../snapshot/fingerprint.ts";
import { V86_PACKAGE_VERSION, V86_STATE_VERSION } from "../v86Version.ts";
import type { ChannelLike } from "./channelPort.ts";
import type { RoundRecord } from "./planner.ts";
import type { MigrationMethod } from "./protocol.ts";
import { offerFromWire, refusalError, requirementChecks, type RequirementCheck, type Requirements, type WireOffer } from "./requirements.ts";
import type { MigrationReport } from "./source.ts";
import { MigrationTabs, type MoveUpdate, type ReceiveOrder, type TabCard } from "./tabs.ts";
import { migrationWorkload, type MigrationWorkloadId } from "./workloads.ts";

/** What the page gives the mover: its machine, its disks and their lock. */
export interface TabMoveHost {
  machine(): Machine | undefined;
  /** The running machine's saved-machine id and fingerprint. */
  machineId(): string | undefined;
  fingerprint(): Promise<MachineFingerprint>;
  /** Where this page's disk overlays live (both tabs of one origin reach the same IndexedDB). */
  readonly diskStore: string;
  /** This tab's name on the disk lock (its Web Lock client id). */
  lockName(): Promise<string>;
  /** Who holds `machineId`'s disk lock now (a Web Lock client id), if anyone. */
  lockHolder(machineId: string): Promise<string | undefined>;
  /** Source: write pending pages and let the lock go. Target: let it go (an arrival that failed). */
  releaseDisks(): Promise<void>;
  /** Source: the move failed; take the lock back (rejects when another tab took it). */
  reclaimDisks(): Promise<void>;
  /** Target: take the lock handed over and open the disks anew. */
  takeDisks(): Promise<AttachedDisks>;
  /** Source, after the hand-over: the disks close without writing, the machine stops here. */
  handedOver(): Promise<void>;
  /** Target, after a failed arrival: its machine's memory is half-written; start it afresh. */
  restart(): Promise<void>;
  /**
   * Target: the guest from tab `fromTab` runs here now (MachineSession.arrived): a fresh screen,
   * then `screen`, the line the source's console ended with at the pause, when it came.
   */
  arrived(fromTab: string, screen: string | undefined): void;
  /** A label for this tab in the other tabs' lists. */
  label(): string;
  readonly clock: Clock;
  wallTime(): number;
}

export type MoveState =
  | { readonly role: "idle" }
  | {
      readonly role: "source" | "target";
      readonly tab: string;
      readonly method: MigrationMethod;
      readonly rounds: readonly RoundRecord[];
      readonly paused: boolean;
      readonly outcome?: { readonly kind: "done"; readonly report: MigrationReport | undefined } | { readonly kind: "failed"; readonly message: string };
    };

export interface MoveCheck {
  readonly requirements: Requirements;
  readonly checks: readonly RequirementCheck[];
  readonly ok: boolean;
}

export const MOVE_CHANNEL_PREFIX = "virtlab-move:";

export class TabMover implements Disposable {
  readonly tabs: MigrationTabs;
  readonly tabId = randomId().slice(0, 8);
  private current: MoveState = { role: "idle" };
  /** Target: the line the source's console ended with, sent with its pause (before the guest lands here). */
  private screenAtPause: string | undefined;
  private readonly changed = new Emitter<MoveState>();
  readonly onChange = this.changed.event;

  constructor(
    private readonly host: TabMoveHost,
    channel: ChannelLike,
  ) {
    this.tabs = new MigrationTabs(channel, () => this.card(), host.clock, {
      offer: () => this.offer(),
      receive: (order) => this.receive(order),
      progress: (from, _move, update) => this.progress(from, update),
    });
  }

  get state(): MoveState {
    return this.current;
  }

  /** What this tab's machine asks of a target, checked against what `tab` offers. */
  async check(tab: string): Promise<MoveCheck> {
    const requirements = await this.requirements();
    const offer = offerFromWire(await this.tabs.askOffer(tab), await this.host.lockName());
    const checks = requirementChecks(requirements, offer);
    return { requirements, checks, ok: checks.every((c) => c.refusal === undefined) };
  }

  /**
   * Move this tab's machine to `tab`, with `workload` started in the guest first (migration/
   * workloads.ts). Resolves with the report once the machine runs there.
   */
  async moveTo(tab: string, method: MigrationMethod, workload: MigrationWorkloadId = "idle"): Promise<MigrationReport> {
    if (this.current.role !== "idle" && this.current.outcome === undefined) throw new AppError("migration-refused", "A move is already under way.", { details: { requirement: "busy", differences: ["a move is under way"] } });
    const machine = this.host.machine();
    const hooks = machine?.workerMigration;
    if (machine === undefined || hooks === undefined) throw new AppError("not-running", "Start a machine first: only a running machine can move.");
    const requirements = await this.requirements();
    const sourceName = await this.host.lockName();
    const refusal = requirementChecks(requirements, offerFromWire(await this.tabs.askOffer(tab), sourceName)).find((c) => c.refusal !== undefined)?.refusal;
    if (refusal !== undefined) throw refusalError(refusal);
    const command = migrationWorkload(workload).command;
    if (command !== undefined) {
      const started = await machine.housekeep(command, { timeoutMs: 30_000 });
      if (started.exitCode !== 0) throw new AppError("migration-failed", `The workload did not start in the guest: ${started.output}`, { details: { phase: "workload" } });
    }
    const move = randomId();
    const channel = MOVE_CHANNEL_PREFIX + move;
    await this.tabs.orderReceive(tab, { move, channel, sourceName, method });
    this.set({ role: "source", tab, method, rounds: [], paused: false });
    const report = await sendFromSource((page) => hooks.migrateOut({ channel, move, method, requirements: { ...requirements, wallTime: this.host.wallTime() }, shellReady: machine.shellReady }, page), {
      tabs: this.tabs,
      tab,
      move,
      releaseDisks: () => this.host.releaseDisks(),
      reclaimDisks: () => this.host.reclaimDisks(),
      onRound: (round) => this.addRound(round),
      onPause: () => this.patch({ paused: true }),
      machine,
      onFailed: (message) => this.patch({ paused: false, outcome: { kind: "failed", message } }),
    });
    this.patch({ outcome: { kind: "done", report } });
    this.tabs.progress(tab, move, { kind: "done", report });
    // The machine runs in the other tab: this one never writes its disks again.
    await this.host.handedOver();
    this.tabs.announce();
    return report;
  }

  dispose(): void {
    this.tabs.dispose();
    this.changed.dispose();
  }

  private card(): TabCard {
    const machine = this.host.machine();
    return { tab: this.tabId, label: this.host.label(), machineId: this.host.machineId(), canReceive: machine?.workerMigration !== undefined && this.current.role !== "source" };
  }

  private async requirements(): Promise<Requirements> {
    const machine = this.host.machine();
    const machineId = this.host.machineId();
    if (machine === undefined || machineId === undefined) throw new AppError("not-running", "Start a machine first: only a running machine can move.");
    return {
      v86: V86_PACKAGE_VERSION,
      stateVersion: V86_STATE_VERSION,
      fingerprint: await this.host.fingerprint(),
      disks: { store: this.host.diskStore, machineId },
      network: machine.network,
      wallTime: this.host.wallTime(),
    };
  }

  private async offer(): Promise<WireOffer> {
    const machine = this.host.machine();
    const machineId = this.host.machineId();
    if (machine?.workerMigration === undefined || machineId === undefined) throw new Error("this tab runs no machine that can land one");
    if (this.current.role !== "idle" && this.current.outcome === undefined) throw new Error("this tab is in a move already");
    const holder = await this.host.lockHolder(machineId);
    return {
      v86: V86_PACKAGE_VERSION,
      stateVersion: V86_STATE_VERSION,
      fingerprint: await this.host.fingerprint(),
      diskStores: [this.host.diskStore],
      machineId,
      diskHolders: holder === undefined ? {} : { [machineId]: holder },
      networkAvailable: machine.network === "on",
      wallTime: this.host.wallTime(),
    };
  }

  /** Target: stop the landing machine and have its Worker listen; the arrival goes on after this resolves. */
  private async receive(order: ReceiveOrder): Promise<void> {
    const machine = this.host.machine();
    const hooks = machine?.workerMigration;
    if (machine === undefined || hooks === undefined) throw new Error("this tab runs no machine that can land one");
    const offer = await this.offer();
    this.set({ role: "target", tab: order.from, method: order.method, rounds: [], paused: false });
    this.screenAtPause = undefined;
    await machine.pause();
    let listening: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (listening = resolve));
    const arrival = hooks.migrateIn(
      { channel: order.channel, move: order.move, offer, sourceName: order.sourceName },
      {
        releaseDisks: () => this.host.releaseDisks(),
        reclaimDisks: () => Promise.resolve(),
        takeDisks: () => this.host.takeDisks(),
        landed: async (guest) => {
          await machine.landed(guest);
          // Before the guest's first output here: its terminal starts afresh under the arrival's line.
          this.host.arrived(order.from, this.screenAtPause);
        },
        onListening: () => listening(),
      },
    );
    arrival.then(
      () => this.tabs.announce(),
      (error: unknown) => {
        const appError = toAppError(error, "migration-failed", "The machine could not arrive.", { phase: "arrival" });
        this.patch({ outcome: { kind: "failed", message: appError.message } });
        // Its memory is half-written: start this tab's own machine afresh.
        void this.host.restart();
      },
    );
    await Promise.race([ready, arrival.then(() => undefined)]);
  }

  private progress(from: string, update: MoveUpdate): void {
    const s = this.current;
    if (s.role !== "target" || s.tab !== from) return;
    if (update.kind === "round") this.addRound(update.round);
    else if (update.kind === "paused") {
      this.screenAtPause = typeof update.screen === "string" ? update.screen : undefined;
      this.patch({ paused: true });
    } else if (update.kind === "done") this.patch({ paused: false, outcome: { kind: "done", report: update.report } });
    else if (update.kind === "failed" && s.outcome === undefined) this.patch({ outcome: { kind: "failed", message: update.message } });
  }

  private addRound(round: RoundRecord): void {
    if (this.current.role !== "idle") this.patch({ rounds: [...this.current.rounds, round] });
  }

  private patch(p: Partial<Exclude<MoveState, { role: "idle" }>>): void {
    if (this.current.role === "idle") return;
    this.set({ ...this.current, ...p });
  }

  private set(state: MoveState): void {
    this.current = state;
    this.changed.fire(state);
  }
}

/** What a source tab's mover does around its Worker's move (TabMover here, LabMover for lab machines). */
export interface SourceMoveSide {
  readonly tabs: MigrationTabs;
  readonly tab: string;
  readonly move: string;
  releaseDisks(): Promise<void>;
  reclaimDisks(): Promise<void>;
  /** A round was sent / the guest paused / the move failed: for the mover's own state. */
  onRound(round: RoundRecord): void;
  onPause(): void;
  onFailed(message: string): void;
  /** The machine that moves: at the pause its console's last line (every byte from before it is in by then) is told to the target. */
  readonly machine: Pick<Machine, "recentOutput">;
}

/**
 * Run `migrateOut` with the page side a source gives its Worker: each round, the pause and the
 * outcome are shown here and told to the target tab; a failure comes back as a typed error.
 */
export async function sendFromSource(migrateOut: (page: MovePageSide) => Promise<MigrationReport>, side: SourceMoveSide): Promise<MigrationReport> {
  const { tabs, tab, move } = side;
  const page: MovePageSide = {
    releaseDisks: () => side.releaseDisks(),
    reclaimDisks: () => side.reclaimDisks(),
    takeDisks: () => Promise.reject(new AppError("migration-failed", "The source does not take disks.", { details: { phase: "source" } })),
    landed: () => Promise.reject(new AppError("migration-failed", "The source does not land a machine.", { details: { phase: "source" } })),
    onRound: (round) => {
      side.onRound(round);
      tabs.progress(tab, move, { kind: "round", round });
    },
    onPause: () => {
      side.onPause();
      tabs.progress(tab, move, { kind: "paused", screen: lastLineToShow(side.machine.recentOutput()) });
    },
  };
  try {
    return await migrateOut(page);
  } catch (error) {
    const appError = toAppError(error, "migration-failed", "The move failed.", { phase: "source" });
    side.onFailed(appError.message);
    tabs.progress(tab, move, { kind: "failed", message: appError.message });
    throw appError;
  }
}
