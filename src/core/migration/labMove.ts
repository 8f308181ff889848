/**
 * A network lab's machine moves to the lab of another tab of this browser (issue 15, the network
 * requirement): it stays on the same virtual LAN. Both labs must be bridged and joined over the
 * tab trunk (net/tabTrunk.ts), so the target tab's switch reaches the source tab's. The target
 * lab starts a landing machine from its pre-booted state (off the switch); the Workers move the
 * guest as for the page's machine (remote/migrationServer.ts); the machine's memory disks go page
 * to page at the pause; the target puts the guest on its switch with the name, MAC and address it
 * had and announces it on its behalf (a gratuitous ARP, as QEMU's announce-self), so both tabs'
 * switches learn at once that the MAC is behind the other tab's port. Until the target runs it,
 * any failure leaves the machine running in the source tab, on its switch.
 */
import type { Clock } from "../clock.ts";
import { AppError, toAppError } from "../errors.ts";
import { Emitter, type Disposable } from "../events.ts";
import { randomId } from "../host.ts";
import { labRecord, type LabNic, type NetworkLab } from "../net/networkLab.ts";
import type { DiskDump } from "../session/scratch.ts";
import type { MachineFingerprint } from "../snapshot/fingerprint.ts";
import { V86_PACKAGE_VERSION, V86_STATE_VERSION } from "../v86Version.ts";
import type { ChannelLike } from "./channelPort.ts";
import type { MigrationMethod } from "./protocol.ts";
import { offerFromWire, refusalError, requirementChecks, type Requirements, type WireOffer } from "./requirements.ts";
import type { MigrationReport } from "./source.ts";
import { sendFromSource, type MoveCheck, type MoveState } from "./tabMove.ts";
import { MigrationTabs, type MoveUpdate, type OfferWant, type ReceiveOrder, type TabCard } from "./tabs.ts";

/** The channel the labs of this origin's tabs find each other on for moves (the page's machine has its own). */
export const LAB_MOVES_CHANNEL = "virtlab-lab-moves";
const LAB_MOVE_PREFIX = "virtlab-lab-move:";
/** A landing machine restores the lab's pre-booted state before the target can answer: give it time. */
const OFFER_MS = 120_000;
/** A landing machine no move came for goes after this long (a check without a move). */
export const LANDING_IDLE_MS = 120_000;
/** How long the target waits for the source's disks after the source's Worker sent its last pages. */
const DISKS_MS = 30_000;

export interface LabMoveHost {
  /** This tab's network lab, once opened. */
  lab(): NetworkLab | undefined;
  /** A label for this tab in the other tabs' lists. */
  label(): string;
  readonly clock: Clock;
  wallTime(): number;
  /** This tab's id among the movers (the lab's own id, so both lists name a tab the same way); random when left out. */
  readonly tabId?: string;
}

/** What the lab move adds to a report: which machine, where it landed, what was announced. */
export interface LabMoveOutcome {
  readonly machine: string;
  readonly report: MigrationReport;
}

/**
 * The lab machine's identity is in its kernel command line (virtlab.hostname, virtlab.mac), but a
 * moved guest brings its own name and MAC in its state: the hardware is the rest.
 */
export function labHardware(fingerprint: MachineFingerprint): MachineFingerprint {
  const cmdline = fingerprint.cmdline?.replace(/\s*virtlab\.hostname=\S+/g, "").replace(/\s*virtlab\.mac=\S+/g, "") ?? null;
  return { ...fingerprint, cmdline };
}

export class LabMover implements Disposable {
  readonly tabs: MigrationTabs;
  readonly tabId: string;
  private current: MoveState = { role: "idle" };
  private moving: string | undefined;
  private readonly changed = new Emitter<MoveState>();
  readonly onChange = this.changed.event;
  /** Target: the source's disks, by move, once they came (or a waiter for them). */
  /** Target, per move: the source's disks (sent at the pause) and the line its console ended with. */
  private readonly disks = new Map<string, { dump?: DiskDump; waiter?: (dump: DiskDump) => void; screen?: string }>();
  private idleLanding: Disposable | undefined;

  constructor(
    private readonly host: LabMoveHost,
    channel: ChannelLike,
  ) {
    this.tabId = host.tabId ?? randomId().slice(0, 8);
    this.tabs = new MigrationTabs(channel, () => this.card(), host.clock, {
      offer: (want) => this.offer(want),
      receive: (order) => this.receive(order),
      progress: (from, move, update) => this.progress(from, move, update),
    });
  }

  get state(): MoveState {
    return this.current;
  }

  /** The lab machine being moved out, while it is. */
  get machineMoving(): string | undefined {
    return this.moving;
  }

  /** What lab machine `name` asks of a target, checked against what `tab` offers (the target may start a landing machine first). */
  async check(tab: string, name: string): Promise<MoveCheck> {
    const { requirements, nic } = await this.requirements(name);
    const offer = offerFromWire(await this.tabs.askOffer(tab, { nic }, OFFER_MS), this.sourceName());
    const checks = requirementChecks(requirements, offer);
    return { requirements, checks, ok: checks.every((c) => c.refusal === undefined) };
  }

  /** Move lab machine `name` to the lab of `tab`. Resolves with the report once it runs there, on the same LAN. */
  async moveTo(tab: string, name: string, method: MigrationMethod): Promise<LabMoveOutcome> {
    if (this.current.role !== "idle" && this.current.outcome === undefined) throw new AppError("migration-refused", "A move is already under way.", { details: { requirement: "busy", differences: ["a move is under way"] } });
    const lab = this.host.lab();
    const { requirements, nic } = await this.requirements(name);
    const movable = lab?.movable(name);
    const machine = movable?.session.machine;
    const hooks = machine?.workerMigration;
    if (lab === undefined || movable === undefined || machine === undefined || hooks === undefined) throw new AppError("not-running", `${name} cannot move: it does not run in a Worker of this tab's lab.`);
    const offer = offerFromWire(await this.tabs.askOffer(tab, { nic }, OFFER_MS), this.sourceName());
    const refusal = requirementChecks(requirements, offer).find((c) => c.refusal !== undefined)?.refusal;
    if (refusal !== undefined) throw refusalError(refusal);
    const move = randomId();
    const channel = LAB_MOVE_PREFIX + move;
    await this.tabs.orderReceive(tab, { move, channel, sourceName: this.sourceName(), method, lab: movable.arrival });
    this.moving = name;
    this.set({ role: "source", tab, method, rounds: [], paused: false });
    const report = await sendFromSource((page) => hooks.migrateOut({ channel, move, method, requirements: { ...requirements, wallTime: this.host.wallTime() }, shellReady: machine.shellReady }, page), {
      tabs: this.tabs,
      tab,
      move,
      // No lock: the disks live in this tab's memory; they go to the target with the pause.
      releaseDisks: async () => {
        const dump = await movable.disks.dump();
        this.tabs.progress(tab, move, { kind: "disks", dump });
      },
      reclaimDisks: () => Promise.resolve(),
      onRound: (round) => {
        if (this.current.role !== "idle") this.patch({ rounds: [...this.current.rounds, round] });
      },
      onPause: () => this.patch({ paused: true }),
      machine,
      onFailed: (message) => {
        this.moving = undefined;
        this.patch({ paused: false, outcome: { kind: "failed", message } });
      },
    });
    this.moving = undefined;
    this.patch({ outcome: { kind: "done", report } });
    this.tabs.progress(tab, move, { kind: "done", report });
    // It runs in the other tab, on the same LAN: its port here goes, and with it what this switch learned behind it.
    lab.remove(name);
    this.tabs.announce();
    return { machine: name, report };
  }

  dispose(): void {
    this.idleLanding?.dispose();
    this.tabs.dispose();
    this.changed.dispose();
  }

  private sourceName(): string {
    return `lab ${this.tabId}`;
  }

  private card(): TabCard {
    const lab = this.host.lab();
    // Listed as soon as its lab is open: whether it is on the same LAN is a requirement the check shows.
    return { tab: this.tabId, label: this.host.label(), machineId: undefined, canReceive: lab !== undefined && this.current.role !== "source" };
  }

  private async requirements(name: string): Promise<{ requirements: Requirements; nic: LabNic }> {
    const lab = this.host.lab();
    const entry = lab?.machines.find((m) => m.name === name);
    const movable = lab?.movable(name);
    if (lab === undefined || entry === undefined || movable === undefined) throw new AppError("not-running", `${name} is not a running machine of this tab's lab.`);
    return {
      nic: entry.nic,
      requirements: {
        v86: V86_PACKAGE_VERSION,
        stateVersion: V86_STATE_VERSION,
        fingerprint: labHardware(await movable.session.fingerprint()),
        disks: undefined,
        disksInMove: true,
        network: "on",
        lan: lab.lanPlace(),
        wallTime: this.host.wallTime(),
      },
    };
  }

  /** Target: a landing machine of the NIC model asked for, and this lab's place on the LAN. */
  private async offer(want: OfferWant): Promise<WireOffer> {
    const lab = this.host.lab();
    if (lab === undefined) throw new Error("this tab has no network lab open");
    if (this.current.role !== "idle" && this.current.outcome === undefined) throw new Error("this tab is in a move already");
    const nic: LabNic = want.nic === "ne2k" ? "ne2k" : "virtio";
    const landing = await lab.landing(nic);
    this.idleLanding?.dispose();
    this.idleLanding = this.host.clock.after(LANDING_IDLE_MS, () => {
      // Nobody moved a machine here after asking: the landing machine stops (an arrival under way keeps it).
      const waiting = lab.machines.find((m) => m.name === landing.name);
      if (waiting?.state === "arriving" && !(this.current.role === "target" && this.current.outcome === undefined)) lab.remove(landing.name);
    });
    return {
      v86: V86_PACKAGE_VERSION,
      stateVersion: V86_STATE_VERSION,
      fingerprint: labHardware(await landing.session.fingerprint()),
      diskStores: [],
      diskHolders: {},
      networkAvailable: true,
      lan: lab.lanOffer(),
      wallTime: this.host.wallTime(),
    };
  }

  /** Target: pause the landing machine and have its Worker listen; the arrival goes on after this resolves. */
  private async receive(order: ReceiveOrder): Promise<void> {
    const lab = this.host.lab();
    const arrival = order.lab;
    if (lab === undefined || arrival === undefined) throw new Error("this tab's lab cannot land a machine that is not a lab machine");
    const nic: LabNic = arrival.nic === "ne2k" ? "ne2k" : "virtio";
    const offer = await this.offer({ nic });
    const landing = await lab.landing(nic);
    const machine = landing.session.machine;
    const hooks = machine?.workerMigration;
    if (machine === undefined || hooks === undefined) throw new Error("the landing machine does not run in a Worker");
    this.set({ role: "target", tab: order.from, method: order.method, rounds: [], paused: false });
    this.disks.set(order.move, this.disks.get(order.move) ?? {});
    await machine.pause();
    let listening: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (listening = resolve));
    const done = hooks.migrateIn(
      { channel: order.channel, move: order.move, offer, sourceName: order.sourceName },
      {
        releaseDisks: () => Promise.resolve(),
        reclaimDisks: () => Promise.resolve(),
        takeDisks: async () => landing.disks.replace(labRecord(landing.name), await this.dumpFor(order.move)),
        landed: async (guest) => {
          await machine.landed(guest);
          const name = lab.arrived(landing.name, arrival);
          // Before the guest's first output here: its terminal starts afresh under a line naming the tab it came from.
          landing.session.arrived(order.from, this.disks.get(order.move)?.screen, name);
        },
        onListening: () => listening(),
      },
    );
    done.then(
      () => {
        this.disks.delete(order.move);
        this.tabs.announce();
      },
      (error: unknown) => {
        this.disks.delete(order.move);
        const appError = toAppError(error, "migration-failed", "The machine could not arrive.", { phase: "arrival" });
        this.patch({ outcome: { kind: "failed", message: appError.message } });
        // Its memory is half-written: the landing machine goes; the machine runs on in the source tab.
        lab.remove(landing.name);
      },
    );
    await Promise.race([ready, done.then(() => undefined)]);
  }

  /** The source's disks for `move`, waiting for them if the Workers were quicker than the pages' channel. */
  private dumpFor(move: string): Promise<DiskDump> {
    const slot = this.disks.get(move) ?? {};
    this.disks.set(move, slot);
    if (slot.dump !== undefined) return Promise.resolve(slot.dump);
    return new Promise((resolve, reject) => {
      const timer = this.host.clock.after(DISKS_MS, () => reject(new AppError("migration-failed", `The source's disks did not come within ${DISKS_MS / 1000} s.`, { details: { phase: "disks" } })));
      slot.waiter = (dump) => {
        timer.dispose();
        resolve(dump);
      };
    });
  }

  private progress(from: string, move: string, update: MoveUpdate): void {
    const s = this.current;
    if (s.role !== "target" || s.tab !== from) return;
    if (update.kind === "disks") {
      const slot = this.disks.get(move);
      if (slot === undefined) return;
      slot.dump = update.dump;
      slot.waiter?.(update.dump);
    } else if (update.kind === "round") this.patch({ rounds: [...s.rounds, update.round] });
    else if (update.kind === "paused") {
      const slot = this.disks.get(move);
      if (slot !== undefined && typeof update.screen === "string") slot.screen = update.screen;
      this.patch({ paused: true });
    } else if (update.kind === "done") this.patch({ paused: false, outcome: { kind: "done", report: update.report } });
    else if (s.outcome === undefined) this.patch({ outcome: { kind: "failed", message: update.message } });
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
