/**
 * A packet capture on a switch: a bounded ring of the frames the switch saw (each cut to the
 * snap length) and of the frames it dropped, marked with why. By default a frame is kept once,
 * as it reaches the switch fabric, with the ports it was sent to, so the same frame does not
 * show twice; `points: "all"` also keeps each delivery to a port. Filters pick packets by port
 * (a frame matches the port it came from and the ports it went to) and by protocol.
 */
import { Emitter, type Disposable, type Event } from "../events.ts";
import { decodeFrame, type DecodedFrame, type ProtocolName } from "./decode.ts";
import type { DropReason } from "./link.ts";
import { writePcap, type PcapWriteOptions } from "./pcap.ts";
import type { PortKind, TapRecord } from "./switch.ts";

export interface CapturedPacket {
  /** 1, 2, 3… in capture order (Wireshark's "No."), never reused after the ring wraps. */
  readonly number: number;
  /** Clock milliseconds. */
  readonly time: number;
  readonly port: string;
  readonly kind: PortKind;
  readonly segment: string;
  readonly direction: "in" | "out";
  /** For a frame in: the ports it was forwarded to. */
  readonly to: readonly string[];
  /** The first `snapLength` bytes, a copy. */
  readonly frame: Uint8Array;
  /** Bytes the frame had. */
  readonly originalLength: number;
  readonly dropped?: DropReason;
}

export interface CaptureOptions {
  /** Packets kept; the oldest go first. */
  readonly limit?: number;
  /** Frame bytes kept in all (after the snap length); the oldest packets go first. */
  readonly maxBytes?: number;
  /** Bytes kept of each frame (pcap's snaplen). */
  readonly snapLength?: number;
  /** "fabric": each frame once, as it reaches the switch, plus every drop; "all": also each delivery out. */
  readonly points?: "fabric" | "all";
}

export interface PacketFilter {
  /** Port labels; a packet matches when it came in on, or went out to, one of them. */
  readonly ports?: readonly string[];
  /** A packet matches when it has one of these layers ("tcp" matches a TCP segment to any port). */
  readonly protocols?: readonly ProtocolName[];
  /** Dropped frames: kept in the list by default ("include"). */
  readonly dropped?: "include" | "exclude" | "only";
}

export const DEFAULT_CAPTURE_LIMIT = 10_000;
export const DEFAULT_SNAP_LENGTH = 65_535;
/** 10 000 full-size virtio-net frames would be 655 MB: the byte budget is what bounds memory. */
export const DEFAULT_CAPTURE_BYTES = 64 * 1024 * 1024;

/** Whether `packet` passes `filter`; `decoded` saves decoding it again. */
export function packetMatches(packet: CapturedPacket, filter: PacketFilter, decoded?: DecodedFrame): boolean {
  const dropped = filter.dropped ?? "include";
  if (dropped === "exclude" && packet.dropped !== undefined) return false;
  if (dropped === "only" && packet.dropped === undefined) return false;
  if (filter.ports !== undefined && filter.ports.length > 0) {
    if (!filter.ports.includes(packet.port) && !packet.to.some((p) => filter.ports?.includes(p))) return false;
  }
  if (filter.protocols !== undefined && filter.protocols.length > 0) {
    const layers = (decoded ?? decodeFrame(packet.frame)).layers;
    if (!filter.protocols.some((p) => layers.includes(p))) return false;
  }
  return true;
}

export class PacketCapture implements Disposable {
  /** Kept packets are `kept[head…]`, oldest first; the front is compacted now and then. */
  private kept: (CapturedPacket | undefined)[] = [];
  private head = 0;
  private bytes = 0;
  private numbered = 0;
  private clearedBefore = 0;
  private running = true;
  private readonly decodedCache = new WeakMap<CapturedPacket, DecodedFrame>();
  private readonly subscription: Disposable;
  private readonly packetEmitter = new Emitter<CapturedPacket>();
  private readonly clearEmitter = new Emitter<void>();
  readonly limit: number;
  readonly maxBytes: number;
  readonly snapLength: number;
  readonly points: "fabric" | "all";
  /** Each packet as it is kept (a live list appends it). */
  readonly onPacket: Event<CapturedPacket> = this.packetEmitter.event;
  /** The capture was emptied. */
  readonly onCleared: Event<void> = this.clearEmitter.event;

  /** Listens to a switch's `onTap` (or any source of tap records). */
  constructor(source: Event<TapRecord>, options: CaptureOptions = {}) {
    this.limit = Math.max(1, Math.floor(options.limit ?? DEFAULT_CAPTURE_LIMIT));
    this.maxBytes = Math.max(1, Math.floor(options.maxBytes ?? DEFAULT_CAPTURE_BYTES));
    this.snapLength = Math.max(14, Math.floor(options.snapLength ?? DEFAULT_SNAP_LENGTH));
    this.points = options.points ?? "fabric";
    this.subscription = source((record) => this.offer(record));
  }

  /** Whether packets are being kept; a paused capture keeps what it has. */
  get capturing(): boolean {
    return this.running;
  }

  pause(): void {
    this.running = false;
  }

  resume(): void {
    this.running = true;
  }

  get size(): number {
    return this.kept.length - this.head;
  }

  /** Frame bytes kept. */
  get keptBytes(): number {
    return this.bytes;
  }

  /** Packets that fell off the front since the last clear (the limit or the byte budget). */
  get overwritten(): number {
    return this.numbered - this.clearedBefore - this.size;
  }

  clear(): void {
    this.kept = [];
    this.head = 0;
    this.bytes = 0;
    this.clearedBefore = this.numbered;
    this.clearEmitter.fire();
  }

  /** The packets kept, oldest first, those passing `filter` if given. */
  packets(filter?: PacketFilter): CapturedPacket[] {
    const out: CapturedPacket[] = [];
    for (let i = this.head; i < this.kept.length; i++) {
      const packet = this.kept[i] as CapturedPacket;
      if (filter === undefined || packetMatches(packet, filter, this.decode(packet))) out.push(packet);
    }
    return out;
  }

  /**
   * The packets as a .pcap file. Drops are left out unless the filter asks for them (they never
   * reached the other end); the snap length is the capture's unless given.
   */
  toPcap(options: Omit<PcapWriteOptions, "snapLength"> & { readonly snapLength?: number; readonly filter?: PacketFilter }): Uint8Array {
    const filter: PacketFilter = { dropped: "exclude", ...options.filter };
    return writePcap(this.packets(filter), { epochMs: options.epochMs, snapLength: options.snapLength ?? this.snapLength, ...(options.nanoseconds === undefined ? {} : { nanoseconds: options.nanoseconds }) });
  }

  /** The packet decoded (remembered, so a list redraw does not decode again). */
  decode(packet: CapturedPacket): DecodedFrame {
    let decoded = this.decodedCache.get(packet);
    if (decoded === undefined) {
      decoded = decodeFrame(packet.frame);
      this.decodedCache.set(packet, decoded);
    }
    return decoded;
  }

  private offer(record: TapRecord): void {
    if (!this.running) return;
    if (this.points === "fabric" && record.direction === "out" && record.dropped === undefined) return;
    const packet: CapturedPacket = {
      number: ++this.numbered,
      time: record.time,
      port: record.port,
      kind: record.kind,
      segment: record.segment,
      direction: record.direction,
      to: record.to ?? [],
      frame: record.frame.slice(0, this.snapLength),
      originalLength: record.frame.length,
      ...(record.dropped === undefined ? {} : { dropped: record.dropped }),
    };
    this.kept.push(packet);
    this.bytes += packet.frame.length;
    // The newest packet always stays, even alone over the byte budget.
    while (this.size > 1 && (this.size > this.limit || this.bytes > this.maxBytes)) {
      this.bytes -= (this.kept[this.head] as CapturedPacket).frame.length;
      this.kept[this.head++] = undefined;
    }
    if (this.head > 1024 && this.head * 2 > this.kept.length) {
      this.kept = this.kept.slice(this.head);
      this.head = 0;
    }
    this.packetEmitter.fire(packet);
  }

  dispose(): void {
    this.subscription.dispose();
    this.packetEmitter.dispose();
    this.clearEmitter.dispose();
  }
}
