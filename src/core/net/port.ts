/**
 * One port of a VirtualSwitch (switch.ts): its endpoint's bus, its cable as two Links (up:
 * endpoint to switch, down: switch to endpoint) with the port's impairments, and its counters.
 */
import type { Clock } from "../clock.ts";
import { DisposableStore, type Disposable } from "../events.ts";
import type { NetworkBus } from "./bus.ts";
import type { LearnedMac, TopologyChange } from "./switch.ts";
import { DROP_REASONS, Link, checkImpairments, type DropReason, type Impairments } from "./link.ts";

/** A machine's NIC, one of the page's own hosts, or the way to another tab's switch (tabTrunk.ts). */
export type PortKind = "machine" | "host" | "tab";

export interface PortCounters {
  /** What the endpoint emitted into the port. */
  readonly framesIn: number;
  readonly bytesIn: number;
  /** What the port handed to its endpoint. */
  readonly framesOut: number;
  readonly bytesOut: number;
  readonly drops: Readonly<Record<DropReason, number>>;
}

/** One frame at the switch: on its way in (at the fabric) or out (handed to the endpoint), or dropped. */
export interface TapRecord {
  /** Clock milliseconds. */
  readonly time: number;
  readonly port: string;
  readonly kind: PortKind;
  readonly segment: string;
  readonly direction: "in" | "out";
  /** The switch's own bytes: copy what you keep, change nothing. */
  readonly frame: Uint8Array;
  /** For a frame in: the ports it was forwarded to. */
  readonly to?: readonly string[];
  readonly dropped?: DropReason;
}

/** What a port needs of its switch. */
export interface PortOwner {
  forward(from: SwitchPort, frame: Uint8Array): void;
  tap(port: SwitchPort, direction: "in" | "out", frame: Uint8Array, extra: { to?: readonly string[]; dropped?: DropReason }): void;
  forget(port: SwitchPort): void;
  detach(port: SwitchPort): void;
  topology(change: TopologyChange): void;
  changed(): void;
  macTable(): LearnedMac[];
}

function zeroDrops(): Record<DropReason, number> {
  return Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;
}

/** A port of a VirtualSwitch; dispose to detach it. */
export class SwitchPort implements Disposable {
  private readonly counts = { framesIn: 0, bytesIn: 0, framesOut: 0, bytesOut: 0, drops: zeroDrops() };
  private readonly up: Link;
  private readonly down: Link;
  private readonly store = new DisposableStore();
  private segmentId: string;
  private detached = false;

  /** @internal Use VirtualSwitch.attach. */
  constructor(
    private readonly owner: PortOwner,
    readonly label: string,
    readonly kind: PortKind,
    segment: string,
    readonly bus: NetworkBus,
    clock: Clock,
    random: () => number,
    /** Never forwards to another protected port (switch.ts, PortOptions.protected). */
    readonly isProtected = false,
  ) {
    this.segmentId = segment;
    this.up = this.store.add(new Link(clock, random, (frame) => owner.forward(this, frame), (frame, reason) => this.dropped(frame, "in", reason)));
    this.down = this.store.add(new Link(clock, random, (frame) => this.handOut(frame), (frame, reason) => this.dropped(frame, "out", reason)));
  }

  get segment(): string {
    return this.segmentId;
  }

  get attached(): boolean {
    return !this.detached;
  }

  get counters(): PortCounters {
    return { ...this.counts, drops: { ...this.counts.drops } };
  }

  /** The same impairments apply each way on this port's cable. */
  get impairments(): Impairments {
    return this.up.impairments;
  }

  setImpairments(change: Partial<Impairments>): void {
    const next = checkImpairments({ ...this.up.impairments, ...change });
    this.up.impairments = next;
    this.down.impairments = next;
    this.owner.changed();
  }

  /** Move the port to another segment: what it learned there is forgotten. */
  setSegment(segment: string): void {
    if (segment === this.segmentId || this.detached) return;
    const from = this.segmentId;
    this.owner.forget(this);
    this.segmentId = segment;
    this.owner.topology({ type: "segment", port: this.label, from, to: segment });
  }

  /** MACs the switch has learned behind this port (aa:bb:…), live entries only. */
  learnedMacs(): string[] {
    return this.owner.macTable().filter((e) => e.port === this.label && e.segment === this.segmentId).map((e) => e.mac);
  }

  /** @internal A frame from the endpoint: counted, then dropped as `bad` or sent up the cable. */
  ingress(frame: Uint8Array, bad: DropReason | undefined): void {
    this.counts.framesIn++;
    this.counts.bytesIn += frame.length;
    if (bad === undefined) this.up.send(frame);
    else this.dropped(frame, "in", bad);
  }

  /** @internal Leave toward the endpoint (through the down link). */
  transmit(frame: Uint8Array): void {
    this.down.send(frame);
  }

  /** @internal */
  dropped(frame: Uint8Array, direction: "in" | "out", reason: DropReason): void {
    this.counts.drops[reason]++;
    this.owner.tap(this, direction, frame, { dropped: reason });
  }

  private handOut(frame: Uint8Array): void {
    try {
      this.bus.sendNetworkFrame(frame);
    } catch {
      // The endpoint refused (its network is off, it is shutting down): a drop, not a failure of the switch.
      this.dropped(frame, "out", "refused");
      return;
    }
    this.counts.framesOut++;
    this.counts.bytesOut += frame.length;
    this.owner.tap(this, "out", frame, {});
  }

  /** @internal */
  listen(listener: (frame: Uint8Array) => void): void {
    this.store.add(this.bus.onNetworkFrame(listener));
  }

  dispose(): void {
    if (this.detached) return;
    this.detached = true;
    this.store.dispose();
    this.owner.detach(this);
  }
}

