/**
 * Just enough TCP for the lab's network peer to move bulk data to and from the guest over the
 * emulator's network bus: a passive endpoint per connection (no listen queue, no options but
 * MSS, no window scaling, no SACK), cumulative ACKs, slow start and halving on loss, go-back-N
 * retransmission on three duplicate ACKs or a timeout. NICs drop frames when their receive ring
 * is full (the NE2000's holds about eight), so loss and recovery are part of what is measured,
 * as on a real link. Frame functions are pure; `TcpEndpoint` keeps the state of one connection.
 */
import type { Clock } from "../clock.ts";
import type { Disposable } from "../events.ts";
import { internetChecksum, type Ipv4, type Mac } from "./frames.ts";

const ETH_HEADER = 14;
const IP_HEADER = 20;
const TCP_HEADER = 20;
const ETHERTYPE_IPV4 = 0x0800;
const PROTO_TCP = 6;

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;

/** What the peer advertises: it consumes everything at once, so its window never shrinks. */
const RECEIVE_WINDOW = 65535;
/** RFC 879's default when the SYN carries no MSS option. */
const DEFAULT_MSS = 536;
const RETRANSMIT_MS = 300;
const MAX_RETRANSMITS = 50;

export interface TcpSegment {
  readonly srcMac: Mac;
  readonly srcIp: Ipv4;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack: number;
  readonly flags: number;
  readonly window: number;
  /** The MSS option, when the segment carries one (SYNs). */
  readonly mss: number | undefined;
  readonly payload: Uint8Array;
  /** IP header and TCP checksums (with the pseudo-header) both verified. */
  readonly checksumsOk: boolean;
}

function u16(b: Uint8Array, at: number): number {
  return ((b[at] as number) << 8) | (b[at + 1] as number);
}

function u32(b: Uint8Array, at: number): number {
  return (((b[at] as number) << 24) | ((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number)) >>> 0;
}

function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 8) & 0xff;
  b[at + 1] = v & 0xff;
}

function put32(b: Uint8Array, at: number, v: number): void {
  put16(b, at, (v >>> 16) & 0xffff);
  put16(b, at + 2, v & 0xffff);
}

/** TCP's checksum over the pseudo-header (addresses, protocol, length) and the segment. */
function tcpChecksum(frame: Uint8Array, ipStart: number, tcpStart: number, tcpEnd: number): number {
  const length = tcpEnd - tcpStart;
  const pseudo = new Uint8Array(12 + length);
  pseudo.set(frame.subarray(ipStart + 12, ipStart + 20), 0);
  pseudo[9] = PROTO_TCP;
  put16(pseudo, 10, length);
  pseudo.set(frame.subarray(tcpStart, tcpEnd), 12);
  return internetChecksum(pseudo);
}

/** Parse a TCP segment sent to `ip`; undefined for any other frame. */
export function parseTcp(frame: Uint8Array, ip: Ipv4): TcpSegment | undefined {
  if (frame.length < ETH_HEADER + IP_HEADER + TCP_HEADER || u16(frame, 12) !== ETHERTYPE_IPV4) return undefined;
  const ipStart = ETH_HEADER;
  const version = (frame[ipStart] as number) >>> 4;
  const ipHeader = ((frame[ipStart] as number) & 0x0f) * 4;
  if (version !== 4 || ipHeader < IP_HEADER || frame[ipStart + 9] !== PROTO_TCP) return undefined;
  if (!ip.every((b, i) => frame[ipStart + 16 + i] === b)) return undefined;
  const ipEnd = ipStart + u16(frame, ipStart + 2);
  const tcp = ipStart + ipHeader;
  if (ipEnd > frame.length || ipEnd < tcp + TCP_HEADER) return undefined;
  const dataOffset = ((frame[tcp + 12] as number) >>> 4) * 4;
  if (dataOffset < TCP_HEADER || tcp + dataOffset > ipEnd) return undefined;
  let mss: number | undefined;
  for (let at = tcp + TCP_HEADER; at < tcp + dataOffset; ) {
    const kind = frame[at] as number;
    if (kind === 0) break;
    if (kind === 1) {
      at++;
      continue;
    }
    const length = frame[at + 1] as number;
    if (length < 2) break;
    if (kind === 2 && length === 4) mss = u16(frame, at + 2);
    at += length;
  }
  return {
    srcMac: Array.from(frame.subarray(6, 12)) as unknown as Mac,
    srcIp: Array.from(frame.subarray(ipStart + 12, ipStart + 16)) as unknown as Ipv4,
    srcPort: u16(frame, tcp),
    dstPort: u16(frame, tcp + 2),
    seq: u32(frame, tcp + 4),
    ack: u32(frame, tcp + 8),
    flags: (frame[tcp + 13] as number) & 0x3f,
    window: u16(frame, tcp + 14),
    mss,
    payload: frame.slice(tcp + dataOffset, ipEnd),
    checksumsOk: internetChecksum(frame, ipStart, tcp) === 0 && tcpChecksum(frame, ipStart, tcp, ipEnd) === 0,
  };
}

export interface TcpFrameOptions {
  readonly from: Mac;
  readonly to: Mac;
  readonly src: Ipv4;
  readonly dst: Ipv4;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack: number;
  readonly flags: number;
  readonly window: number;
  readonly mss?: number;
  readonly payload?: Uint8Array;
}

/** An Ethernet frame carrying one TCP segment, with both checksums filled in. */
export function tcpFrame(o: TcpFrameOptions): Uint8Array {
  const payload = o.payload ?? new Uint8Array(0);
  const options = o.mss === undefined ? 0 : 4;
  const ipStart = ETH_HEADER;
  const tcp = ipStart + IP_HEADER;
  const end = tcp + TCP_HEADER + options + payload.length;
  const frame = new Uint8Array(end);
  frame.set(o.to, 0);
  frame.set(o.from, 6);
  put16(frame, 12, ETHERTYPE_IPV4);
  frame[ipStart] = 0x45;
  put16(frame, ipStart + 2, end - ipStart);
  put16(frame, ipStart + 6, 0x4000); // don't fragment
  frame[ipStart + 8] = 64;
  frame[ipStart + 9] = PROTO_TCP;
  frame.set(o.src, ipStart + 12);
  frame.set(o.dst, ipStart + 16);
  put16(frame, ipStart + 10, internetChecksum(frame, ipStart, tcp));
  put16(frame, tcp, o.srcPort);
  put16(frame, tcp + 2, o.dstPort);
  put32(frame, tcp + 4, o.seq >>> 0);
  put32(frame, tcp + 8, o.ack >>> 0);
  frame[tcp + 12] = ((TCP_HEADER + options) / 4) << 4;
  frame[tcp + 13] = o.flags;
  put16(frame, tcp + 14, o.window);
  if (o.mss !== undefined) {
    frame[tcp + 20] = 2;
    frame[tcp + 21] = 4;
    put16(frame, tcp + 22, o.mss);
  }
  frame.set(payload, tcp + TCP_HEADER + options);
  put16(frame, tcp + 16, tcpChecksum(frame, ipStart, tcp, end));
  return frame;
}

/** Sequence-number comparison modulo 2^32 (RFC 1982): a is before b. */
function before(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

export interface EndpointAddress {
  readonly mac: Mac;
  readonly ip: Ipv4;
  readonly port: number;
}

export interface EndpointCounters {
  /** Payload bytes accepted in order from the guest. */
  received: number;
  /** Payload bytes the guest acknowledged. */
  acked: number;
  /** Data segments sent again after a loss. */
  retransmits: number;
  /** Segments dropped for a bad checksum. */
  badChecksums: number;
}

export interface TcpEndpointOptions {
  readonly local: EndpointAddress;
  readonly clock: Clock;
  /** Sends one frame to the guest. */
  readonly send: (frame: Uint8Array) => void;
  /** Bytes to send to the guest once connected (then FIN); none for a receiving endpoint. */
  readonly data?: Uint8Array;
  /** Each in-order chunk received from the guest. */
  readonly onData?: (bytes: Uint8Array) => void;
  /** The guest closed its side: everything it sent has arrived. */
  readonly onRemoteFin?: () => void;
  /** The connection is fully closed (both FINs acknowledged) or was reset. */
  readonly onClosed?: (reset: boolean) => void;
  /** Our initial sequence number (fixed in tests). */
  readonly iss?: number;
  /** The data comes later through `respond`: no FIN before it, even if the guest closes first. */
  readonly respondLater?: boolean;
}

type State = "listen" | "syn-received" | "established" | "closed";

/**
 * One connection the guest opened to the peer. It answers the SYN, takes the guest's data in
 * order (ACKing each segment), sends `data` within the guest's window and its own congestion
 * window, and closes after both sides have sent FIN.
 */
export class TcpEndpoint implements Disposable {
  readonly counters: EndpointCounters = { received: 0, acked: 0, retransmits: 0, badChecksums: 0 };
  private state: State = "listen";
  private remote: EndpointAddress | undefined;
  private readonly iss: number;
  /** Next sequence number expected from the guest. */
  private rcvNxt = 0;
  /** Oldest unacknowledged and next sequence number to send. */
  private sndUna: number;
  private sndNxt: number;
  /** Highest sequence number sent so far (sndNxt moves back on a go-back-N retransmission). */
  private sndMax: number;
  private sndWindow = 0;
  private mss = DEFAULT_MSS;
  /** Congestion window and slow-start threshold, in bytes. */
  private cwnd = 0;
  private ssthresh = RECEIVE_WINDOW;
  private dupAcks = 0;
  private finSent = false;
  private finAcked = false;
  private finReceived = false;
  private timer: Disposable | undefined;
  private timeouts = 0;
  /** What we send: `options.data`, or what `respond` gave later. */
  private data: Uint8Array | undefined;

  constructor(private readonly options: TcpEndpointOptions) {
    this.data = options.data;
    this.iss = (options.iss ?? 0x1000) >>> 0;
    this.sndUna = this.iss;
    this.sndNxt = this.iss;
    this.sndMax = this.iss;
  }

  get closed(): boolean {
    return this.state === "closed";
  }

  private get dataLength(): number {
    return this.data?.length ?? 0;
  }

  /**
   * Send `data` (then FIN) on a connection created without any: an answer made after the
   * guest's request arrived (the NAT gateway's HTTP response). Once only; later calls are ignored.
   */
  respond(data: Uint8Array): void {
    if (this.data !== undefined || this.state === "closed") return;
    this.data = data;
    this.pump();
  }

  /** Sequence number of the byte at `offset` of our data (the SYN takes one). */
  private seqOf(offset: number): number {
    return (this.iss + 1 + offset) >>> 0;
  }

  receive(segment: TcpSegment): void {
    if (this.state === "closed") return;
    if (!segment.checksumsOk) {
      this.counters.badChecksums++;
      return;
    }
    if ((segment.flags & RST) !== 0) {
      this.close(true);
      return;
    }
    if (this.state === "listen") {
      if ((segment.flags & SYN) === 0 || (segment.flags & ACK) !== 0) return;
      this.remote = { mac: segment.srcMac, ip: segment.srcIp, port: segment.srcPort };
      this.rcvNxt = (segment.seq + 1) >>> 0;
      // Our segments must fit the guest's MSS and our own frames (1500-byte MTU unless the guest
      // says more: a virtio-net with a large MTU announces a large MSS).
      this.mss = segment.mss ?? DEFAULT_MSS;
      this.cwnd = 2 * this.mss;
      this.sndWindow = segment.window;
      this.state = "syn-received";
      this.sndNxt = (this.iss + 1) >>> 0;
      this.sendSynAck();
      this.arm();
      return;
    }
    if ((segment.flags & SYN) !== 0) {
      // A retransmitted SYN: our SYN-ACK was lost.
      if (this.state === "syn-received") this.sendSynAck();
      return;
    }
    if ((segment.flags & ACK) !== 0) this.onAck(segment);
    if (this.closed) return;
    this.onPayload(segment);
    this.pump();
  }

  private onAck(segment: TcpSegment): void {
    const ack = segment.ack >>> 0;
    this.sndWindow = segment.window;
    if (this.state === "syn-received") {
      if (ack !== ((this.iss + 1) >>> 0)) return;
      this.state = "established";
      this.sndUna = ack;
      this.timeouts = 0;
      this.disarm();
      return;
    }
    if (before(this.sndUna, ack) && !before(this.sndMax, ack)) {
      const advanced = (ack - this.sndUna) >>> 0;
      this.sndUna = ack;
      // Data sent before a go-back-N may be acknowledged past what was sent again.
      if (before(this.sndNxt, ack)) this.sndNxt = ack;
      this.dupAcks = 0;
      this.timeouts = 0;
      const finSeq = this.seqOf(this.dataLength);
      // Only a FIN we sent can be acknowledged there (perhaps one sent before a go-back-N).
      if (ack === ((finSeq + 1) >>> 0)) this.finSent = this.finAcked = true;
      this.counters.acked = Math.min(this.dataLength, (ack - this.seqOf(0)) >>> 0);
      // Slow start below the threshold, then one MSS per window.
      this.cwnd += this.cwnd < this.ssthresh ? Math.min(advanced, this.mss) : Math.max(1, Math.floor((this.mss * this.mss) / this.cwnd));
      if (this.sndUna === this.sndMax) this.disarm();
      else this.arm();
      if (this.finAcked && this.finReceived) this.close(false);
      return;
    }
    if (ack === this.sndUna && this.sndUna !== this.sndMax && segment.payload.length === 0 && (segment.flags & FIN) === 0) {
      this.dupAcks++;
      if (this.dupAcks === 3) this.lose(false);
    }
  }

  private onPayload(segment: TcpSegment): void {
    const fin = (segment.flags & FIN) !== 0;
    if (segment.payload.length === 0 && !fin) return;
    if (segment.seq >>> 0 !== this.rcvNxt) {
      // Out of order or a repeat: say again what we expect.
      this.sendAck();
      return;
    }
    if (segment.payload.length > 0) {
      this.rcvNxt = (this.rcvNxt + segment.payload.length) >>> 0;
      this.counters.received += segment.payload.length;
      this.options.onData?.(segment.payload);
    }
    if (fin && !this.finReceived) {
      this.finReceived = true;
      this.rcvNxt = (this.rcvNxt + 1) >>> 0;
      this.options.onRemoteFin?.();
    }
    this.sendAck();
    if (this.finAcked && this.finReceived) this.close(false);
  }

  /** Send what the windows allow, then our FIN once all data is out and the guest is done. */
  private pump(): void {
    if (this.state !== "established") return;
    const data = this.data ?? new Uint8Array(0);
    const limit = Math.min(this.sndWindow, Math.max(this.mss, this.cwnd));
    let sent = false;
    while (true) {
      const offset = (this.sndNxt - this.seqOf(0)) >>> 0;
      if (offset >= data.length) break;
      const inFlight = (this.sndNxt - this.sndUna) >>> 0;
      const room = limit - inFlight;
      if (room <= 0) break;
      const length = Math.min(this.mss, room, data.length - offset);
      if (length < this.mss && length < data.length - offset && inFlight > 0) break; // no tiny segments
      if (before(this.sndNxt, this.sndMax)) this.counters.retransmits++;
      this.sendSegment(this.sndNxt, ACK | PSH, data.subarray(offset, offset + length));
      this.sndNxt = (this.sndNxt + length) >>> 0;
      if (before(this.sndMax, this.sndNxt)) this.sndMax = this.sndNxt;
      sent = true;
    }
    const allOut = ((this.sndNxt - this.seqOf(0)) >>> 0) >= data.length;
    const waiting = this.options.respondLater === true && this.data === undefined;
    if (allOut && !this.finSent && !waiting) {
      // A sender closes after its data; a receiver once the guest has closed its side.
      if (data.length > 0 || this.finReceived) {
        this.sendSegment(this.sndNxt, ACK | FIN, new Uint8Array(0));
        this.sndNxt = (this.sndNxt + 1) >>> 0;
        if (before(this.sndMax, this.sndNxt)) this.sndMax = this.sndNxt;
        this.finSent = true;
        sent = true;
      }
    }
    if (sent) this.arm();
  }

  /** Loss: halve the window and send again from the oldest unacknowledged byte (go-back-N). */
  private lose(timeout: boolean): void {
    const inFlight = (this.sndMax - this.sndUna) >>> 0;
    this.ssthresh = Math.max(2 * this.mss, Math.floor(inFlight / 2));
    // After a timeout start again from one segment; after duplicate ACKs from half the window.
    this.cwnd = timeout ? this.mss : this.ssthresh;
    this.dupAcks = 0;
    this.sndNxt = this.sndUna;
    if (this.finSent && !this.finAcked) this.finSent = false;
    this.pump();
  }

  private arm(): void {
    this.timer?.dispose();
    this.timer = this.options.clock.after(RETRANSMIT_MS, () => {
      this.timer = undefined;
      if (this.state === "closed") return;
      if (++this.timeouts > MAX_RETRANSMITS) {
        this.close(true);
        return;
      }
      if (this.state === "syn-received") {
        this.sendSynAck();
        this.arm();
        return;
      }
      this.lose(true);
      // Nothing left to resend but the window is closed: probe it.
      if (this.sndUna === this.sndMax) this.sendAck();
      this.arm();
    });
  }

  private disarm(): void {
    this.timer?.dispose();
    this.timer = undefined;
  }

  private sendSynAck(): void {
    // Our MSS: what a 1500-byte frame holds, unless the guest announced more (large MTU).
    this.sendSegment(this.iss, SYN | ACK, new Uint8Array(0), Math.max(1460, this.mss));
  }

  private sendAck(): void {
    this.sendSegment(this.sndNxt, ACK, new Uint8Array(0));
  }

  private sendSegment(seq: number, flags: number, payload: Uint8Array, mss?: number): void {
    const remote = this.remote;
    if (remote === undefined) return;
    const local = this.options.local;
    this.options.send(
      tcpFrame({
        from: local.mac,
        to: remote.mac,
        src: local.ip,
        dst: remote.ip,
        srcPort: local.port,
        dstPort: remote.port,
        seq,
        ack: this.rcvNxt,
        flags,
        window: RECEIVE_WINDOW,
        payload,
        ...(mss === undefined ? {} : { mss }),
      }),
    );
  }

  private close(reset: boolean): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.disarm();
    this.options.onClosed?.(reset);
  }

  dispose(): void {
    this.disarm();
    this.state = "closed";
  }
}
