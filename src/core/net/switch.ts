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
import { Emitter, type Disposable, type Event } from "../events.ts";
import { host } from "../host.ts";
import type { NetworkBus } from "./bus.ts";
import { ETH_HEADER, isGroupMac, macKey } from "./frames.ts";
import { seededRandom, type DropReason, type Impairments } from "./link.ts";
import { SwitchPort, type PortKind, type PortOwner, type TapRecord } from "./port.ts";
import { switchSummary, type NetworkSummary } from "./summary.ts";

export const DEFAULT_SEGMENT = "default";
/** The largest frame a virtio-net guest with MTU 65535 sends, with a VLAN tag. */
export const MAX_FRAME_BYTES = 65535 + ETH_HEADER + 4;
/** Linux bridges' default ageing time. */
export const AGEING_MS = 300_000;
/**
 * Learned MACs kept at most. A guest is untrusted: one sending from ever new source MACs fills
 * the table, after which new MACs are not learned (their frames are flooded), as a real switch
 * with a full table does, instead of the page's memory growing.
 */
export const MAX_TABLE_ENTRIES = 4096;

export interface SwitchOptions {
  readonly clock: Clock;
  /** Uniform in [0, 1), for loss; a fixed-seed generator when left out. */
  readonly random?: () => number;
  /** Runs `fn` on a later turn; `queueMicrotask` when left out. */
  readonly schedule?: (fn: () => void) => void;
  readonly maxFrameBytes?: number;
  readonly ageingMs?: number;
  readonly maxTableEntries?: number;
}

export interface PortOptions {
  readonly kind?: PortKind;
  readonly segment?: string;
  readonly impairments?: Partial<Impairments>;
  /**
   * A protected port (as on managed switches) never forwards to another protected port: the
   * ports toward other tabs (tabTrunk.ts) each reach their tab directly, so a frame from one
   * tab must not be relayed to another (it would arrive twice, and loop).
   */
  readonly protected?: boolean;
}

export type { PortCounters, PortKind, TapRecord } from "./port.ts";
export { SwitchPort };

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

interface Pending {
  readonly port: SwitchPort;
  readonly frame: Uint8Array;
}

interface Entry {
  readonly port: SwitchPort;
  lastSeen: number;
}

function colonMac(key: string): string {
  return key.replace(/(..)(?!$)/g, "$1:");
}

export class VirtualSwitch implements Disposable {
  private readonly portList: SwitchPort[] = [];
  /** `${segment}/${mac}` → where that MAC was last seen. */
  private readonly table = new Map<string, Entry>();
  private pending: (Pending | undefined)[] = [];
  private pendingHead = 0;
  private lastSweep = Number.NEGATIVE_INFINITY;
  private draining = false;
  private disposed = false;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly schedule: (fn: () => void) => void;
  readonly maxFrameBytes: number;
  readonly ageingMs: number;
  readonly maxTableEntries: number;

  /** What ports may ask of the switch, kept off its public face. */
  private readonly owner: PortOwner = {
    forward: (from, frame) => this.forward(from, frame),
    tap: (port, direction, frame, extra) => this.tap(port, direction, frame, extra),
    forget: (port) => this.forget(port),
    detach: (port) => this.detach(port),
    topology: (change) => this.topology(change),
    changed: () => this.changed(),
    macTable: () => this.macTable(),
  };

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
    this.maxTableEntries = options.maxTableEntries ?? MAX_TABLE_ENTRIES;
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
    const port = new SwitchPort(this.owner, label, options.kind ?? "machine", options.segment ?? DEFAULT_SEGMENT, bus, this.clock, this.random, options.protected ?? false);
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

  private takePending(): Pending | undefined {
    const item = this.pending[this.pendingHead];
    if (item === undefined) {
      this.pending = [];
      this.pendingHead = 0;
      return undefined;
    }
    this.pending[this.pendingHead++] = undefined;
    return item;
  }

  private drain(): void {
    // Frames that arrive while draining (an endpoint answering at once) join this same loop.
    try {
      for (let item = this.takePending(); item !== undefined; item = this.takePending()) {
        if (!item.port.attached) continue;
        const { port, frame } = item;
        port.ingress(frame, frame.length < ETH_HEADER ? "runt" : frame.length > this.maxFrameBytes ? "oversize" : undefined);
      }
    } finally {
      // A listener that threw must not stall the switch: what is left goes on the next turn.
      this.draining = false;
      if (this.pendingHead < this.pending.length && !this.disposed) {
        this.draining = true;
        this.schedule(() => this.drain());
      }
    }
  }

  /** A frame off a port's up link, at the switch fabric. */
  private forward(from: SwitchPort, frame: Uint8Array): void {
    if (!from.attached) return;
    const segment = from.segment;
    if (!isGroupMac(frame, 6)) this.learn(`${segment}/${macKey(frame, 6)}`, from);
    const reachable = (p: SwitchPort): boolean => p !== from && p.segment === segment && !(from.isProtected && p.isProtected);
    let targets: SwitchPort[];
    if (isGroupMac(frame, 0)) {
      targets = this.portList.filter(reachable);
    } else {
      const known = this.live(`${segment}/${macKey(frame, 0)}`);
      if (known !== undefined && !reachable(known.port)) {
        from.dropped(frame, "in", "filtered");
        return;
      }
      targets = known !== undefined ? [known.port] : this.portList.filter(reachable);
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
    if (entry === undefined && this.table.size >= this.maxTableEntries) {
      // Sweep for aged entries at most once a second: a guest inventing MACs must not make every frame cost a sweep.
      if (now - this.lastSweep < 1000) return;
      this.lastSweep = now;
      for (const old of [...this.table.keys()]) this.live(old);
      if (this.table.size >= this.maxTableEntries) return;
    }
    this.table.set(key, { port, lastSeen: now });
    this.changed();
  }

  private tap(port: SwitchPort, direction: "in" | "out", frame: Uint8Array, extra: { to?: readonly string[]; dropped?: DropReason }): void {
    if (!this.tapEmitter.hasListeners) return;
    this.tapEmitter.fire({ time: this.clock.now(), port: port.label, kind: port.kind, segment: port.segment, direction, frame, ...extra });
  }

  /** Forget every MAC learned behind `port`. */
  private forget(port: SwitchPort): void {
    let removed = false;
    for (const [key, entry] of this.table) {
      if (entry.port === port) {
        this.table.delete(key);
        removed = true;
      }
    }
    if (removed) this.changed();
  }

  private detach(port: SwitchPort): void {
    const index = this.portList.indexOf(port);
    if (index < 0) return;
    this.portList.splice(index, 1);
    this.forget(port);
    this.topology({ type: "detached", port: port.label });
  }

  private topology(change: TopologyChange): void {
    // Changed first: a NetworkMonitor tells a topology change at once and cancels what it had pending.
    this.changed();
    this.topologyEmitter.fire(change);
  }

  private changed(): void {
    this.changeEmitter.fire();
  }

  /** Detaches every port (each fires its "detached") and stops all events. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const port of [...this.portList]) port.dispose();
    this.pending = [];
    this.pendingHead = 0;
    this.topologyEmitter.dispose();
    this.tapEmitter.dispose();
    this.changeEmitter.dispose();
  }
}
