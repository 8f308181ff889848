/**
 * A move in the Worker (issue 15): the engine (migration/source.ts, target.ts) runs here, next to
 * guest RAM, over a BroadcastChannel this Worker opens (the other tab's Worker opens the same
 * one; Workers of one origin reach each other so). The page only orders the move and answers what
 * only it can do: the disks and their lock, and its machine's status (MoveAsk).
 */
import type { EmulatorBackend, MigrationHooks, MoveInOrder, MoveOutOrder } from "../backend.ts";
import type { Clock } from "../clock.ts";
import { AppError } from "../errors.ts";
import { host } from "../host.ts";
import { channelPort, type ChannelLike } from "../migration/channelPort.ts";
import { samePageKeys } from "../migration/ksm.ts";
import type { GuestAtPause, SourceMessage, TargetMessage } from "../migration/protocol.ts";
import { offerFromWire } from "../migration/requirements.ts";
import { migrateOut, type SourceMachine } from "../migration/source.ts";
import { landingRam, migrateIn, type TargetMachine } from "../migration/target.ts";
import { fromWire } from "./client.ts";
import type { FromWorker, MoveAsk, MoveEvent, ToWorker } from "./protocol.ts";
import { toWire } from "./server.ts";

export interface MigrationServerHost {
  backend(): EmulatorBackend | undefined;
  post(message: FromWorker): void;
  /** The machine was paused or resumed here: push the mirrored state to the page. */
  statusChanged(): void;
  /** New disks behind the same slots: drop what was read (and read ahead) of the old ones. */
  forgetDiskReads(): void;
  readonly clock: Clock;
  /** Opens the move's channel (default: the host's BroadcastChannel). */
  openChannel?: (name: string) => ChannelLike;
  /** Heartbeat timing of the move's channel (tests shorten it). */
  readonly heartbeatMs?: number;
  readonly silenceMs?: number;
}

export class MigrationServer {
  private nextAsk = 1;
  private readonly asks = new Map<number, { resolve(): void; reject(error: unknown): void }>();

  constructor(private readonly h: MigrationServerHost) {}

  /** Handle a move's message; false when it is not one. */
  handle(message: ToWorker): boolean {
    switch (message.type) {
      case "migrate-out":
        this.run(message.id, (hooks, b) => this.out(message.id, message.order, hooks, b));
        return true;
      case "migrate-in":
        this.run(message.id, (hooks, b) => this.in(message.id, message.order, hooks, b));
        return true;
      case "move-answer": {
        const waiter = this.asks.get(message.ask);
        this.asks.delete(message.ask);
        if (message.ok) waiter?.resolve();
        else waiter?.reject(message.error === undefined ? new AppError("migration-failed", "The page could not do its part of the move.", { details: { phase: "page" } }) : fromWire(message.error, "migration-failed"));
        return true;
      }
      default:
        return false;
    }
  }

  /** The guest's pages as keys, for the same-page meter. */
  pageKeys(): Float64Array {
    const hooks = this.hooks(this.h.backend());
    return samePageKeys(hooks.ram(), hooks.pageHasher);
  }

  private run(id: number, move: (hooks: MigrationHooks, b: EmulatorBackend) => Promise<MoveEvent>): void {
    const event = (e: MoveEvent): void => this.h.post({ type: "move-event", id, event: e });
    let started: Promise<MoveEvent>;
    try {
      const b = this.h.backend();
      started = move(this.hooks(b), b as EmulatorBackend);
    } catch (error) {
      started = Promise.reject(error);
    }
    started.then(event, (error: unknown) => event({ kind: "failed", error: toWire(error) }));
  }

  private hooks(b: EmulatorBackend | undefined): MigrationHooks {
    const hooks = b?.migration;
    if (hooks === undefined) throw new AppError("not-running", "This machine's emulator cannot move it (no migration hooks, or not started).");
    return hooks;
  }

  private ask(id: number, what: MoveAsk, guest?: GuestAtPause): Promise<void> {
    const ask = this.nextAsk++;
    return new Promise<void>((resolve, reject) => {
      this.asks.set(ask, { resolve, reject });
      this.h.post({ type: "move-event", id, event: { kind: "ask", ask, what, ...(guest === undefined ? {} : { guest }) } });
    });
  }

  private port<In, Out>(channel: string, move: string, side: "source" | "target") {
    const open = this.h.openChannel ?? ((name: string): ChannelLike => new (host.BroadcastChannel as NonNullable<typeof host.BroadcastChannel>)(name));
    if (this.h.openChannel === undefined && host.BroadcastChannel === undefined) throw new AppError("migration-refused", "This browser gives Workers no BroadcastChannel: the machine cannot move.", { details: { requirement: "busy", differences: ["no BroadcastChannel in the Worker"] } });
    return channelPort<In, Out>(open(channel), { move, side, clock: this.h.clock, ...(this.h.heartbeatMs === undefined ? {} : { heartbeatMs: this.h.heartbeatMs }), ...(this.h.silenceMs === undefined ? {} : { silenceMs: this.h.silenceMs }) });
  }

  private async out(id: number, order: MoveOutOrder, hooks: MigrationHooks, b: EmulatorBackend): Promise<MoveEvent> {
    const { clock } = this.h;
    const port = this.port<TargetMessage, SourceMessage>(order.channel, order.move, "source");
    // Wall time as the page gave it, run on by the monotonic clock (core reads no wall clock itself).
    const t0 = clock.now();
    const machine: SourceMachine = {
      memory: () => hooks.ram(),
      pageHasher: hooks.pageHasher,
      pause: async () => {
        await b.stop();
        this.h.statusChanged();
      },
      resume: async () => {
        // The lock first: if the target took it, this side must not run the guest.
        await this.ask(id, "reclaim-disks");
        await b.run();
        this.h.statusChanged();
      },
      saveFullState: () => b.saveState(),
      saveDeviceState: () => hooks.saveDeviceState(),
      shellReady: () => order.shellReady,
      flushDisks: () => this.ask(id, "release-disks"),
    };
    try {
      const report = await migrateOut(machine, {
        method: order.method,
        requirements: order.requirements,
        port,
        clock,
        wallTime: () => order.requirements.wallTime + (clock.now() - t0),
        ...(order.policy === undefined ? {} : { policy: order.policy }),
        onRound: (round) => this.h.post({ type: "move-event", id, event: { kind: "round", round } }),
        onPause: () => this.h.post({ type: "move-event", id, event: { kind: "paused" } }),
      });
      return { kind: "done", report };
    } finally {
      port.close();
    }
  }

  private async in(id: number, order: MoveInOrder, hooks: MigrationHooks, b: EmulatorBackend): Promise<MoveEvent> {
    const port = this.port<SourceMessage, TargetMessage>(order.channel, order.move, "target");
    // The offer's wall time as the page gave it, run on by the monotonic clock until the hello (as the source's).
    const t0 = this.h.clock.now();
    this.h.post({ type: "move-event", id, event: { kind: "listening" } });
    const land = async (put: () => Promise<void>, guest: GuestAtPause): Promise<void> => {
      // The source flushed its disks and let the lock go: take it and open the disks only now.
      await this.ask(id, "take-disks");
      this.h.forgetDiskReads();
      try {
        await put();
        await this.ask(id, "landed", guest);
      } catch (error) {
        // Nothing ran here: let the lock go so the source can take it back and run on.
        await this.ask(id, "release-disks").catch(() => undefined);
        throw error;
      }
    };
    const target: TargetMachine = {
      memoryBytes: hooks.ram().byteLength,
      ram: () => landingRam(b.isRunning(), () => hooks.ram()),
      restoreFull: (state, guest) => land(() => b.restoreState(state), guest),
      restoreWithRam: (state, guest) => land(() => hooks.restoreDeviceState(state), guest),
    };
    try {
      const report = await migrateIn({
        port,
        clock: this.h.clock,
        offer: offerFromWire(order.offer, order.sourceName),
        wallTime: () => order.offer.wallTime + (this.h.clock.now() - t0),
        machine: async () => {
          if (b.isRunning()) {
            await b.stop();
            this.h.statusChanged();
          }
          return target;
        },
      });
      return { kind: "done", report };
    } finally {
      port.close();
    }
  }
}
