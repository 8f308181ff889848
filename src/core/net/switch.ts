/**
 * A virtual Ethernet switch in the page. Each endpoint (a machine's NIC, an in-page host)
 * attaches through its NetworkBus and gets a port. The switch learns which port each source
 * MAC lives behind (entries age out after `ageingMs` of silence), sends a frame for a known
 * MAC to that port only, floods broadcast, multicast and unknown unicast to every other port
 * of the same segment, and never sends a frame back where it came from. Segments isolate
 * groups of ports inside one switch object (bridged, host-only and routed setups).
 *
 * Each port's cable is two Links (up: endpoint to switch, down: switch to endpoint) carrying
 * the port's impairments. Frames an endpoint emits are handled on a later turn (`schedule`),
 * never from inside the endpoint's own transmit call, so an endpoint that answers at once
 * cannot re-enter its sender. Every frame seen and every drop is offered on `onTap`.
 */
import type { Clock } from "../clock.ts";
import { AppError } from "../errors.ts";
import { DisposableStore, Emitter, type Disposable, type Event } from "../events.ts";
import { host } from "../host.ts";
import type { NetworkBus } from "./bus.ts";
import { ETH_HEADER, isGroupMac, macKey } from "./frames.ts";
import { DROP_REASONS, Link, checkImpairments, seededRandom, type DropReason, type Impairments } from "./link.ts";
import { switchSummary, type NetworkSummary } from "./summary.ts";

export type PortKind = "machine" | "host";
export const DEFAULT_SEGMENT = "default";
/** The largest frame a virtio-net guest with MTU 65535 sends, with a VLAN tag. */
export const MAX_FRAME_BYTES = 65535 + ETH_HEADER + 4;
/** Linux bridges' default ageing time. */
export const AGEING_MS = 300_000;

export interface SwitchOptions {
  readonly clock: Clock;
  /** Uniform in [0, 1), for loss; a fixed-seed generator when left out. */
  readonly random?: () => number;
  /** Runs `fn` on a later turn; `queueMicrotask` when left out. */
  readonly schedule?: (fn: () => void) => void;
  readonly maxFrameBytes?: number;
  readonly ageingMs?: number;
}

export interface PortOptions {
  readonly kind?: PortKind;
  readonly segment?: string;
  readonly impairments?: Partial<Impairments>;
}

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

export type TopologyChange =
  | { readonly type: "attached" | "detached"; readonly port: string }
  | { readonly type: "segment"; readonly port: string; readonly from: string; readonly to: string };

export interface LearnedMac {
  /** aa:bb:cc:dd:ee:ff */
  readonly mac: string;
  readonly port: string;
  readonly segment: string;
  /** Milliseconds since the MAC was last seen as a source. */
  readonly ageMs: number;
}

interface Entry {
  readonly port: SwitchPort;
  lastSeen: number;
}

function zeroDrops(): Record<DropReason, number> {
  return Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;
}

function colonMac(key: string): string {
  return key.replace(/(..)(?!$)/g, "$1:");
}

/** A port of a VirtualSwitch; dispose to detach it. */
export class SwitchPort implements Disposable {
  private readonly counts = { framesIn: 0, bytesIn: 0, framesOut: 0, bytesOut: 0, drops: zeroDrops() };
  /** @internal */ readonly up: Link;
  /** @internal */ readonly down: Link;
  private readonly store = new DisposableStore();
  private segmentId: string;
  private detached = false;

  /** @internal Use VirtualSwitch.attach. */
  constructor(
    private readonly owner: VirtualSwitch,
    readonly label: string,
    readonly kind: PortKind,
    segment: string,
    readonly bus: NetworkBus,
    clock: Clock,
    random: () => number,
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

  /** @internal A frame from the endpoint, counted before anything can drop it. */
  countIn(frame: Uint8Array): void {
    this.counts.framesIn++;
    this.counts.bytesIn += frame.length;
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

export class VirtualSwitch implements Disposable {
  private readonly portList: SwitchPort[] = [];
  /** `${segment}/${mac}` → where that MAC was last seen. */
  private readonly table = new Map<string, Entry>();
  private readonly pending: { port: SwitchPort; frame: Uint8Array }[] = [];
  private draining = false;
  private disposed = false;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly schedule: (fn: () => void) => void;
  readonly maxFrameBytes: number;
  readonly ageingMs: number;

  private readonly topologyEmitter = new Emitter<TopologyChange>();
  private readonly tapEmitter = new Emitter<TapRecord>();
  private readonly changeEmitter = new Emitter<void>();
  /** A port was attached, detached or moved to another segment. */
  readonly onTopologyChanged: Event<TopologyChange> = this.topologyEmitter.event;
  /** Every frame in, every frame out, every drop (capture listens here). */
  readonly onTap: Event<TapRecord> = this.tapEmitter.event;
  /** Anything in `summary()` may have changed: topology, a learned MAC, impairments (not counters: see NetworkMonitor). */
  readonly onChanged: Event<void> = this.changeEmitter.event;

  constructor(options: SwitchOptions) {
    this.clock = options.clock;
    this.random = options.random ?? seededRandom(0x5eed);
    this.schedule = options.schedule ?? ((fn) => host.queueMicrotask(fn));
    this.maxFrameBytes = options.maxFrameBytes ?? MAX_FRAME_BYTES;
    this.ageingMs = options.ageingMs ?? AGEING_MS;
  }

  get ports(): readonly SwitchPort[] {
    return [...this.portList];
  }

  port(label: string): SwitchPort | undefined {
    return this.portList.find((p) => p.label === label);
  }

  /** Connect an endpoint; labels are unique on a switch ("vm1", "dhcp"). */
  attach(label: string, bus: NetworkBus, options: PortOptions = {}): SwitchPort {
    if (this.disposed) throw new AppError("disposed", "This virtual switch was shut down.");
    if (label.trim() === "" || this.port(label) !== undefined) {
      throw new AppError("bad-profile", `The switch already has a port named "${label}": give each machine its own name.`, { details: { subject: label } });
    }
    const port = new SwitchPort(this, label, options.kind ?? "machine", options.segment ?? DEFAULT_SEGMENT, bus, this.clock, this.random);
    if (options.impairments !== undefined) port.setImpairments(options.impairments);
    port.listen((frame) => this.enqueue(port, frame));
    this.portList.push(port);
    this.topology({ type: "attached", port: label });
    return port;
  }

  /** Where the switch would send a frame for `mac` (aa:bb:… or 12 hex digits) in `segment`, if it knows. */
  lookup(mac: string, segment = DEFAULT_SEGMENT): SwitchPort | undefined {
    return this.live(`${segment}/${mac.replace(/[:-]/g, "").toLowerCase()}`)?.port;
  }

  /** The learning table, entries older than the ageing time left out (and forgotten). */
  macTable(): LearnedMac[] {
    const now = this.clock.now();
    const out: LearnedMac[] = [];
    for (const key of [...this.table.keys()]) {
      const entry = this.live(key);
      if (entry === undefined) continue;
      const [segment, mac] = key.split("/") as [string, string];
      out.push({ mac: colonMac(mac), port: entry.port.label, segment, ageMs: now - entry.lastSeen });
    }
    return out;
  }

  summary(): NetworkSummary {
    return switchSummary(this, this.clock.now());
  }

  private live(key: string): Entry | undefined {
    const entry = this.table.get(key);
    if (entry === undefined) return undefined;
    if (this.clock.now() - entry.lastSeen > this.ageingMs) {
      this.table.delete(key);
      this.changed();
      return undefined;
    }
    return entry;
  }

  private enqueue(port: SwitchPort, frame: Uint8Array): void {
    if (this.disposed || !port.attached) return;
    this.pending.push({ port, frame });
    if (this.draining) return;
    this.draining = true;
    this.schedule(() => this.drain());
  }

  private drain(): void {
    // Frames that arrive while draining (an endpoint answering at once) join this same loop.
    try {
      for (let item = this.pending.shift(); item !== undefined; item = this.pending.shift()) {
        if (!item.port.attached) continue;
        const { port, frame } = item;
        port.countIn(frame);
        const bad: DropReason | undefined = frame.length < ETH_HEADER ? "runt" : frame.length > this.maxFrameBytes ? "oversize" : undefined;
        if (bad === undefined) port.up.send(frame);
        else port.dropped(frame, "in", bad);
      }
    } finally {
      // A listener that threw must not stall the switch: what is left goes on the next turn.
      this.draining = false;
      if (this.pending.length > 0 && !this.disposed) {
        this.draining = true;
        this.schedule(() => this.drain());
      }
    }
  }

  /** @internal A frame off a port's up link, at the switch fabric. */
  forward(from: SwitchPort, frame: Uint8Array): void {
    if (!from.attached) return;
    const segment = from.segment;
    if (!isGroupMac(frame, 6)) this.learn(`${segment}/${macKey(frame, 6)}`, from);
    let targets: SwitchPort[];
    if (isGroupMac(frame, 0)) {
      targets = this.portList.filter((p) => p !== from && p.segment === segment);
    } else {
      const known = this.live(`${segment}/${macKey(frame, 0)}`);
      if (known?.port === from) {
        from.dropped(frame, "in", "filtered");
        return;
      }
      targets = known !== undefined ? [known.port] : this.portList.filter((p) => p !== from && p.segment === segment);
    }
    this.tap(from, "in", frame, { to: targets.map((p) => p.label) });
    // Each port gets its own copy: an endpoint may keep or transfer the buffer it is given.
    for (const target of targets) target.transmit(targets.length === 1 ? frame : frame.slice());
  }

  private learn(key: string, port: SwitchPort): void {
    const entry = this.table.get(key);
    const now = this.clock.now();
    if (entry !== undefined && entry.port === port) {
      entry.lastSeen = now;
      return;
    }
    this.table.set(key, { port, lastSeen: now });
    this.changed();
  }

  /** @internal */
  tap(port: SwitchPort, direction: "in" | "out", frame: Uint8Array, extra: { to?: readonly string[]; dropped?: DropReason }): void {
    if (!this.tapEmitter.hasListeners) return;
    this.tapEmitter.fire({ time: this.clock.now(), port: port.label, kind: port.kind, segment: port.segment, direction, frame, ...extra });
  }

  /** @internal Forget every MAC learned behind `port`. */
  forget(port: SwitchPort): void {
    let removed = false;
    for (const [key, entry] of this.table) {
      if (entry.port === port) {
        this.table.delete(key);
        removed = true;
      }
    }
    if (removed) this.changed();
  }

  /** @internal */
  detach(port: SwitchPort): void {
    const index = this.portList.indexOf(port);
    if (index < 0) return;
    this.portList.splice(index, 1);
    this.forget(port);
    this.topology({ type: "detached", port: port.label });
  }

  /** @internal */
  topology(change: TopologyChange): void {
    // Changed first: a NetworkMonitor tells a topology change at once and cancels what it had pending.
    this.changed();
    this.topologyEmitter.fire(change);
  }

  /** @internal */
  changed(): void {
    this.changeEmitter.fire();
  }

  /** Detaches every port (each fires its "detached") and stops all events. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const port of [...this.portList]) port.dispose();
    this.pending.length = 0;
    this.topologyEmitter.dispose();
    this.tapEmitter.dispose();
    this.changeEmitter.dispose();
  }
}
