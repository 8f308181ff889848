/**
 * The virtlab tabs of one browser that could take a machine, found over a BroadcastChannel (issue
 * 15), and the few page-to-page messages of a move: "what do you offer", "get ready to receive",
 * and the source's progress, so both tabs show the rounds and the downtime. Memory itself goes
 * Worker to Worker (remote/migrationServer.ts), never through here.
 */
import type { Clock } from "../clock.ts";
import { AppError } from "../errors.ts";
import { Emitter, type Disposable } from "../events.ts";
import type { ChannelLike } from "./channelPort.ts";
import type { RoundRecord } from "./planner.ts";
import type { MigrationMethod } from "./protocol.ts";
import type { WireOffer } from "./requirements.ts";
import type { MigrationReport } from "./source.ts";
import type { DiskDump } from "../session/scratch.ts";

/** A tab as the others see it. */
export interface TabCard {
  readonly tab: string;
  /** What a user tells tabs apart by (the tab's short id and what it runs). */
  readonly label: string;
  readonly machineId: string | undefined;
  /** It runs a machine that can land a moved one (a Worker with migration hooks). */
  readonly canReceive: boolean;
}

/** What the source tells the target as the move goes. */
export type MoveUpdate =
  | { readonly kind: "round"; readonly round: RoundRecord }
  /** `screen`: the line the source's console ended with at the pause (its prompt), for the target's fresh screen. */
  | { readonly kind: "paused"; readonly screen?: string }
  | { readonly kind: "done"; readonly report: MigrationReport }
  | { readonly kind: "failed"; readonly message: string }
  /** A lab machine's memory disks, sent at the pause (session/scratch.ts MemoryDisks). */
  | { readonly kind: "disks"; readonly dump: DiskDump };

/** What a source asks a target to offer for (a lab machine: its NIC model, for the landing machine). */
export interface OfferWant {
  readonly nic?: string;
}

/** A lab machine's place on the LAN, carried with the order so the target puts it on its switch as it was. */
export interface LabArrival {
  readonly name: string;
  /** Its NIC model (the landing machine has the same hardware). */
  readonly nic: string;
  readonly hostname: string;
  readonly mac: string;
  /** Its address on the LAN (its lease in the source tab), when it had one. */
  readonly address: string | undefined;
}

/** The order a target gets: where the Workers meet, and who the source is (its lock name). */
export interface ReceiveOrder {
  readonly move: string;
  readonly channel: string;
  readonly sourceName: string;
  readonly method: MigrationMethod;
  readonly from: string;
  /** Set when a network lab's machine moves. */
  readonly lab?: LabArrival;
}

type TabMessage =
  | { readonly kind: "roll-call"; readonly card: TabCard }
  | { readonly kind: "here"; readonly card: TabCard }
  | { readonly kind: "leaving"; readonly tab: string }
  | { readonly kind: "offer-ask"; readonly from: string; readonly to: string; readonly ask: number; readonly want?: OfferWant }
  | { readonly kind: "offer"; readonly from: string; readonly to: string; readonly ask: number; readonly offer?: WireOffer; readonly reason?: string }
  | { readonly kind: "receive"; readonly to: string; readonly ask: number; readonly order: ReceiveOrder }
  | { readonly kind: "receiving"; readonly from: string; readonly to: string; readonly ask: number; readonly reason?: string }
  | { readonly kind: "progress"; readonly from: string; readonly to: string; readonly move: string; readonly update: MoveUpdate };

export interface TabHandlers {
  /** This tab's offer as a target (what it is, what it reaches); rejects when it cannot receive. */
  offer(want: OfferWant): Promise<WireOffer>;
  /** Get ready to receive: resolves once this tab's Worker listens on the move's channel. */
  receive(order: ReceiveOrder): Promise<void>;
  /** The source's progress on a move this tab receives. */
  progress(from: string, move: string, update: MoveUpdate): void;
}

/** A tab not heard from for this long is gone from the list. */
export const TAB_SILENCE_MS = 7000;
const ANNOUNCE_MS = 2000;
const ANSWER_MS = 10_000;

export class MigrationTabs implements Disposable {
  private readonly seen = new Map<string, { card: TabCard; at: number }>();
  private readonly changed = new Emitter<void>();
  private readonly waiting = new Map<number, { resolve(m: TabMessage): void; timer: Disposable }>();
  private nextAsk = 1;
  private announcer: Disposable;
  private disposed = false;
  /** The list of other tabs changed. */
  readonly onChange = this.changed.event;

  constructor(
    private readonly channel: ChannelLike,
    private readonly card: () => TabCard,
    private readonly clock: Clock,
    private readonly handlers: TabHandlers,
  ) {
    channel.onmessage = (event) => this.receive(event.data as TabMessage);
    this.post({ kind: "roll-call", card: card() });
    const tick = (): void => {
      if (this.disposed) return;
      // A tab left in the background five minutes runs its timers about once a minute (Chromium's
      // intensive throttling) but its message handler at once: one not heard for a while is asked
      // (a roll call, which every tab answers from its handler) rather than let drop off the list.
      const now = clock.now();
      const asking = [...this.seen.values()].some((s) => now - s.at > ANNOUNCE_MS * 1.5);
      this.post(asking ? { kind: "roll-call", card: this.card() } : { kind: "here", card: this.card() });
      this.expire();
      this.announcer = clock.after(ANNOUNCE_MS, tick);
    };
    this.announcer = clock.after(ANNOUNCE_MS, tick);
  }

  get self(): string {
    return this.card().tab;
  }

  /** The other tabs heard from lately. */
  tabs(): readonly TabCard[] {
    return [...this.seen.values()].map((s) => s.card);
  }

  /** Ask `tab` for its offer as a target. */
  async askOffer(tab: string, want?: OfferWant, answerMs = ANSWER_MS): Promise<WireOffer> {
    const ask = this.nextAsk++;
    const answer = await this.request(ask, { kind: "offer-ask", from: this.self, to: tab, ask, ...(want === undefined ? {} : { want }) }, `tab ${tab} did not say what it offers`, answerMs);
    if (answer.kind !== "offer" || answer.offer === undefined) throw gone(tab, answer.kind === "offer" ? (answer.reason ?? "it cannot receive") : "it answered something else");
    return answer.offer;
  }

  /** Tell `tab` to get ready; resolves once its Worker listens on the move's channel. */
  async orderReceive(tab: string, order: Omit<ReceiveOrder, "from">): Promise<void> {
    const ask = this.nextAsk++;
    const answer = await this.request(ask, { kind: "receive", to: tab, ask, order: { ...order, from: this.self } }, `tab ${tab} did not get ready`);
    if (answer.kind !== "receiving" || answer.reason !== undefined) throw gone(tab, answer.kind === "receiving" ? (answer.reason ?? "") : "it answered something else");
  }

  progress(tab: string, move: string, update: MoveUpdate): void {
    this.post({ kind: "progress", from: this.self, to: tab, move, update });
  }

  /** Tell the others now (the card changed: a machine started or stopped). */
  announce(): void {
    this.post({ kind: "here", card: this.card() });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.post({ kind: "leaving", tab: this.self });
    this.announcer.dispose();
    for (const w of this.waiting.values()) w.timer.dispose();
    this.waiting.clear();
    this.channel.onmessage = null;
    this.channel.close();
    this.changed.dispose();
  }

  private request(ask: number, message: TabMessage, silence: string, answerMs = ANSWER_MS): Promise<TabMessage> {
    return new Promise((resolve, reject) => {
      const timer = this.clock.after(answerMs, () => {
        this.waiting.delete(ask);
        reject(new AppError("migration-refused", `The other tab is gone: ${silence} within ${answerMs / 1000} s.`, { details: { requirement: "busy", differences: [silence] } }));
      });
      this.waiting.set(ask, { resolve, timer });
      this.post(message);
    });
  }

  private receive(m: TabMessage): void {
    if (this.disposed || typeof m !== "object" || m === null) return;
    const self = this.self;
    switch (m.kind) {
      case "roll-call":
      case "here":
        if (m.card.tab === self) return;
        this.seen.set(m.card.tab, { card: m.card, at: this.clock.now() });
        if (m.kind === "roll-call") this.post({ kind: "here", card: this.card() });
        this.changed.fire();
        return;
      case "leaving":
        if (this.seen.delete(m.tab)) this.changed.fire();
        return;
      case "offer-ask":
        if (m.to !== self) return;
        this.handlers.offer(m.want ?? {}).then(
          (offer) => this.post({ kind: "offer", from: self, to: m.from, ask: m.ask, offer }),
          (error: unknown) => this.post({ kind: "offer", from: self, to: m.from, ask: m.ask, reason: error instanceof Error ? error.message : String(error) }),
        );
        return;
      case "receive":
        if (m.to !== self) return;
        this.handlers.receive(m.order).then(
          () => this.post({ kind: "receiving", from: self, to: m.order.from, ask: m.ask }),
          (error: unknown) => this.post({ kind: "receiving", from: self, to: m.order.from, ask: m.ask, reason: error instanceof Error ? error.message : String(error) }),
        );
        return;
      case "offer":
      case "receiving": {
        if (m.to !== self) return;
        const w = this.waiting.get(m.ask);
        if (w === undefined) return;
        this.waiting.delete(m.ask);
        w.timer.dispose();
        w.resolve(m);
        return;
      }
      case "progress":
        if (m.to === self) this.handlers.progress(m.from, m.move, m.update);
        return;
    }
  }

  private expire(): void {
    const now = this.clock.now();
    let dropped = false;
    for (const [tab, s] of this.seen) {
      if (now - s.at > TAB_SILENCE_MS) {
        this.seen.delete(tab);
        dropped = true;
      }
    }
    if (dropped) this.changed.fire();
  }

  private post(m: TabMessage): void {
    if (!this.disposed || m.kind === "leaving") this.channel.postMessage(m);
  }
}

function gone(tab: string, reason: string): AppError {
  return new AppError("migration-refused", `Tab ${tab} cannot take the machine: ${reason}.`, { details: { requirement: "busy", differences: [reason] } });
}
