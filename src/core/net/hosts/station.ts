/**
 * What every in-page host shares: an interface that is a NetworkBus (frames in, frames out,
 * counted), and the answers a host gives about itself — ARP for its address, ICMP echo, DHCP
 * from its pool, ICMP port unreachable for other UDP and a TCP reset for TCP it does not serve.
 * `Station` is a one-interface host built from these; the segment host, the NAT gateway and each
 * router interface use them.
 */
import type { Clock } from "../../clock.ts";
import { AppError } from "../../errors.ts";
import { Emitter, type Disposable, type Event } from "../../events.ts";
import { host } from "../../host.ts";
import { arpReply, formatIpv4, parseEchoRequest, type Ipv4, type Mac } from "../../lab/frames.ts";
import type { NetworkBus } from "../../lab/netPeer.ts";
import { ACK, FIN, RST, SYN, parseTcp, tcpFrame, type TcpSegment } from "../../lab/tcp.ts";
import { DHCP_CLIENT_PORT, DHCP_SERVER_PORT, DhcpServer, parseDhcp, type DhcpAnswer, type DhcpLease } from "./dhcp.ts";
import {
  BROADCAST_IP,
  BROADCAST_MAC,
  ICMP_UNREACHABLE,
  PROTO_TCP,
  PROTO_UDP,
  UNREACHABLE,
  broadcastOf,
  icmpErrorFrame,
  ipToNumber,
  maskOf,
  numberToIp,
  parseIpv4Frame,
  parseUdp,
  sameIp,
  sameMac,
  udpFrame,
  type Ipv4Packet,
  type UdpDatagram,
} from "./ip.ts";

/** What a host counts, for a UI; fields a kind of host does not use stay 0. */
export interface HostCounters {
  readonly framesIn: number;
  readonly framesOut: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly arpReplies: number;
  readonly echoReplies: number;
  /** DHCP ACKs that gave an address, and NAKs. */
  readonly dhcpLeases: number;
  readonly dhcpNaks: number;
  readonly dnsQueries: number;
  /** HTTP requests passed on to fetch, and refused (403) or failed (502). */
  readonly httpRequests: number;
  readonly httpRefused: number;
  readonly httpFailed: number;
  /** Guest TCP connections the NAT took over (one per translation). */
  readonly natTranslations: number;
  /** Packets routed to another interface, and ICMP time exceeded sent. */
  readonly forwarded: number;
  readonly ttlExceeded: number;
  /** ICMP destination unreachable and TCP resets sent. */
  readonly unreachable: number;
  readonly resets: number;
  /** Frames addressed to this host that it did not act on, and frames with bad checksums. */
  readonly dropped: number;
  readonly badChecksums: number;
}

export type MutableCounters = { -readonly [K in keyof HostCounters]: number };

export function zeroCounters(): MutableCounters {
  return { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, arpReplies: 0, echoReplies: 0, dhcpLeases: 0, dhcpNaks: 0, dnsQueries: 0, httpRequests: 0, httpRefused: 0, httpFailed: 0, natTranslations: 0, forwarded: 0, ttlExceeded: 0, unreachable: 0, resets: 0, dropped: 0, badChecksums: 0 };
}

/** Runs a function on a later turn: replies never go out from inside the sender's transmit. */
export type Schedule = (fn: () => void) => void;
export const microtask: Schedule = (fn) => host.queueMicrotask(fn);

export interface InterfaceAddress {
  readonly mac: Mac;
  readonly ip: Ipv4;
  /** Prefix length of the segment, e.g. 24. */
  readonly prefix: number;
}

/** One network interface of a host: a NetworkBus a switch port (or a machine's NIC) attaches to. */
export class HostInterface implements NetworkBus, Disposable {
  private readonly emitter = new Emitter<Uint8Array>();
  private disposed = false;
  readonly onNetworkFrame: Event<Uint8Array> = this.emitter.event;
  /** Frames and bytes through this interface alone. */
  readonly traffic = { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0 };

  constructor(
    readonly address: InterfaceAddress,
    private readonly receive: (frame: Uint8Array, iface: HostInterface) => void,
    private readonly counters: MutableCounters,
    private readonly schedule: Schedule,
  ) {}

  get mac(): Mac {
    return this.address.mac;
  }

  get ip(): Ipv4 {
    return this.address.ip;
  }

  sendNetworkFrame(frame: Uint8Array): void {
    if (this.disposed) return;
    this.traffic.framesIn++;
    this.traffic.bytesIn += frame.length;
    this.counters.framesIn++;
    this.counters.bytesIn += frame.length;
    this.receive(frame, this);
  }

  /** Send a frame out of this interface (on a later turn). */
  emit(frame: Uint8Array): void {
    if (this.disposed) return;
    this.traffic.framesOut++;
    this.traffic.bytesOut += frame.length;
    this.counters.framesOut++;
    this.counters.bytesOut += frame.length;
    this.schedule(() => {
      if (!this.disposed) this.emitter.fire(frame);
    });
  }

  /** Frames for this interface: to its MAC, or broadcast/multicast. */
  accepts(frame: Uint8Array): boolean {
    return (frame[0] as number) & 1 ? true : sameMac(Array.from(frame.subarray(0, 6)) as unknown as Mac, this.address.mac);
  }

  dispose(): void {
    this.disposed = true;
    this.emitter.dispose();
  }
}

/** A TCP reset answering `segment` (RFC 793 "reset generation"), or undefined for a reset. */
export function resetFor(segment: TcpSegment, from: Mac, local: Ipv4): Uint8Array | undefined {
  if ((segment.flags & RST) !== 0) return undefined;
  const base = { from, to: segment.srcMac, src: local, dst: segment.srcIp, srcPort: segment.dstPort, dstPort: segment.srcPort, window: 0 };
  if ((segment.flags & ACK) !== 0) return tcpFrame({ ...base, seq: segment.ack, ack: 0, flags: RST });
  const length = segment.payload.length + ((segment.flags & SYN) !== 0 ? 1 : 0) + ((segment.flags & FIN) !== 0 ? 1 : 0);
  return tcpFrame({ ...base, seq: 0, ack: (segment.seq + length) >>> 0, flags: RST | ACK });
}

/** The UDP frame carrying a DHCP answer from `iface`. */
export function dhcpFrame(answer: DhcpAnswer, iface: InterfaceAddress): Uint8Array {
  return udpFrame({
    from: iface.mac,
    to: answer.broadcast ? BROADCAST_MAC : answer.toMac,
    src: iface.ip,
    dst: answer.broadcast ? BROADCAST_IP : answer.toIp,
    srcPort: DHCP_SERVER_PORT,
    dstPort: DHCP_CLIENT_PORT,
    payload: answer.message,
  });
}

/** A pool for a subnet when none is given: .100–.199 of a /24, the upper half of smaller ones. */
export function defaultPool(ip: Ipv4, prefix: number): { poolFirst: Ipv4; poolLast: Ipv4 } {
  const network = (ipToNumber(ip) & maskOf(prefix)) >>> 0;
  const last = ipToNumber(broadcastOf(ip, prefix)) - 1;
  const hosts = last - network;
  const first = hosts >= 200 ? network + 100 : network + Math.floor(hosts / 2) + 1;
  return { poolFirst: numberToIp(first), poolLast: numberToIp(Math.min(last, first + 99)) };
}

export interface DhcpSettings {
  readonly poolFirst?: Ipv4;
  readonly poolLast?: Ipv4;
  readonly leaseSeconds?: number;
}

export interface StationOptions extends InterfaceAddress {
  readonly clock: Clock;
  /** DHCP from this host; false for none. Default: a pool in the subnet (`defaultPool`). */
  readonly dhcp?: DhcpSettings | false;
  /** The segment's gateway (DHCP option 3); none on an isolated segment. */
  readonly gateway?: Ipv4;
  /** The DNS server announced by DHCP (option 6). */
  readonly dns?: Ipv4;
  /** The name of the machine behind a MAC (DHCP option 12). */
  readonly hostnameFor?: (mac: Mac) => string | undefined;
  readonly schedule?: Schedule;
}

export function checkAddress(subject: string, a: InterfaceAddress): void {
  const problems: string[] = [];
  if (!Number.isInteger(a.prefix) || a.prefix < 8 || a.prefix > 30) problems.push(`prefix /${a.prefix} (use /8 to /30)`);
  else if (sameIp(a.ip, broadcastOf(a.ip, a.prefix)) || ipToNumber(a.ip) === ((ipToNumber(a.ip) & maskOf(a.prefix)) >>> 0)) problems.push(`${formatIpv4(a.ip)} is the network or broadcast address of /${a.prefix}`);
  if ((a.mac[0] & 1) === 1) problems.push("a multicast MAC");
  if (problems.length > 0) throw new AppError("bad-network", `${subject}: ${problems.join("; ")}`, { details: { subject, problems } });
}

/**
 * A host with one interface: ARP, ping, DHCP and refusals about itself. Subclasses add services
 * (`udp`, `tcp`) and what to do with packets for other addresses (`foreign`).
 */
export class Station implements Disposable {
  protected readonly counts = zeroCounters();
  readonly iface: HostInterface;
  readonly dhcp: DhcpServer | undefined;
  private readonly leaseSubscription: Disposable | undefined;
  private readonly leasesChanged = new Emitter<readonly DhcpLease[]>();
  /** Fires with all leases when one changes. */
  readonly onLeasesChanged: Event<readonly DhcpLease[]> = this.leasesChanged.event;

  constructor(protected readonly options: StationOptions) {
    checkAddress(`host ${formatIpv4(options.ip)}`, options);
    this.iface = new HostInterface(options, (frame) => this.receive(frame), this.counts, options.schedule ?? microtask);
    if (options.dhcp !== false) {
      const pool = { ...defaultPool(options.ip, options.prefix), ...options.dhcp };
      this.dhcp = new DhcpServer({
        serverIp: options.ip,
        prefix: options.prefix,
        ...pool,
        ...(options.gateway === undefined ? {} : { router: options.gateway }),
        ...(options.dns === undefined ? {} : { dns: options.dns }),
        ...(options.hostnameFor === undefined ? {} : { hostnameFor: options.hostnameFor }),
        clock: options.clock,
      });
      this.leaseSubscription = this.dhcp.onLeasesChanged((leases) => this.leasesChanged.fire(leases));
    }
  }

  /** The NetworkBus to attach to a switch port. */
  get onNetworkFrame(): Event<Uint8Array> {
    return this.iface.onNetworkFrame;
  }

  sendNetworkFrame(frame: Uint8Array): void {
    this.iface.sendNetworkFrame(frame);
  }

  get counters(): HostCounters {
    return { ...this.counts };
  }

  get leases(): readonly DhcpLease[] {
    return this.dhcp?.leases ?? [];
  }

  private receive(frame: Uint8Array): void {
    if (!this.iface.accepts(frame)) return;
    if (answerLocal(frame, this.iface, this.counts, this.dhcp, this)) return;
    const packet = parseIpv4Frame(frame);
    if (packet === undefined || !sameMac(packet.dstMac, this.iface.mac) || sameIp(packet.dst, BROADCAST_IP) || !packet.headerOk) {
      if (packet !== undefined && !packet.headerOk) this.counts.badChecksums++;
      return;
    }
    this.foreign(packet);
  }

  /** A UDP datagram to this host's address; true when answered. */
  udp(_packet: Ipv4Packet, _udp: UdpDatagram): boolean {
    return false;
  }

  /** A TCP segment to this host's address; true when taken. */
  tcp(_packet: Ipv4Packet, _segment: TcpSegment): boolean {
    return false;
  }

  /** An IPv4 packet sent to this host's MAC for another address (a host is no router: dropped). */
  protected foreign(_packet: Ipv4Packet): void {
    this.counts.dropped++;
  }

  dispose(): void {
    this.leaseSubscription?.dispose();
    this.leasesChanged.dispose();
    this.dhcp?.dispose();
    this.iface.dispose();
  }
}

/** Services on a host's own address; the router uses the same for each of its interfaces. */
export interface LocalServices {
  udp(packet: Ipv4Packet, udp: UdpDatagram): boolean;
  tcp(packet: Ipv4Packet, segment: TcpSegment): boolean;
}

/**
 * Answer what `frame` asks of the host at `iface` itself: ARP, echo, DHCP, other UDP (port
 * unreachable) and TCP (reset) unless `services` take them. True when the frame was for it.
 * `own` are all the host's addresses (a router answers ping on any of them on each interface).
 */
export function answerLocal(frame: Uint8Array, iface: HostInterface, counts: MutableCounters, dhcp: DhcpServer | undefined, services: LocalServices, own: readonly Ipv4[] = [iface.ip]): boolean {
  const arp = arpReply(frame, iface.mac, iface.ip);
  if (arp !== undefined) {
    counts.arpReplies++;
    iface.emit(arp);
    return true;
  }
  const packet = parseIpv4Frame(frame);
  if (packet === undefined) return false;
  const local = own.find((ip) => sameIp(packet.dst, ip));
  const broadcast = sameIp(packet.dst, BROADCAST_IP) || sameIp(packet.dst, broadcastOf(iface.ip, iface.address.prefix));
  if (local === undefined && !broadcast) return false;
  if (!packet.headerOk) {
    counts.badChecksums++;
    return true;
  }
  if (packet.protocol === PROTO_UDP) {
    const udp = parseUdp(packet);
    if (udp === undefined) return true;
    if (!udp.checksumOk) {
      counts.badChecksums++;
      return true;
    }
    if (udp.dstPort === DHCP_SERVER_PORT) {
      const message = dhcp === undefined ? undefined : parseDhcp(udp.payload);
      const answer = message === undefined ? undefined : dhcp?.handle(message);
      if (answer === undefined) return true;
      if (answer.type === 5 && ipToNumber(answer.toIp) !== 0) counts.dhcpLeases++;
      if (answer.type === 6) counts.dhcpNaks++;
      iface.emit(dhcpFrame(answer, iface.address));
      return true;
    }
    if (broadcast || services.udp(packet, udp)) return true;
    return refuse(packet, iface, counts, UNREACHABLE.port, local);
  }
  if (local === undefined) return true;
  const echo = parseEchoRequest(frame, local);
  if (echo !== undefined) {
    if (!echo.checksumsOk) counts.badChecksums++;
    else {
      counts.echoReplies++;
      iface.emit(echo.reply);
    }
    return true;
  }
  if (packet.protocol === PROTO_TCP) {
    const segment = parseTcp(frame, local);
    if (segment === undefined || services.tcp(packet, segment)) return true;
    if (!segment.checksumsOk) {
      counts.badChecksums++;
      return true;
    }
    return sendReset(segment, iface, counts, local);
  }
  counts.dropped++;
  return true;
}

export function sendReset(segment: TcpSegment, iface: HostInterface, counts: MutableCounters, local: Ipv4): true {
  const reset = resetFor(segment, iface.mac, local);
  if (reset !== undefined) {
    counts.resets++;
    iface.emit(reset);
  }
  return true;
}

/** Answer `packet` with ICMP destination unreachable (`code`) from `src`. */
export function refuse(packet: Ipv4Packet, iface: HostInterface, counts: MutableCounters, code: number, src: Ipv4 = iface.ip): true {
  const error = icmpErrorFrame(packet, { from: iface.mac, src, type: ICMP_UNREACHABLE, code });
  if (error === undefined) counts.dropped++;
  else {
    counts.unreachable++;
    iface.emit(error);
  }
  return true;
}

