/**
 * The router of routed mode: two (or more) interfaces, each on its own subnet and each a
 * NetworkBus for a switch port. It answers ARP and ping on each (ping of any of its addresses),
 * gives addresses by DHCP on each interface naming that interface as the router, and forwards
 * IPv4 between its subnets: TTL one less and the header checksum fixed, the next hop's MAC found
 * by ARP (packets wait for the answer, up to three requests a second apart, then the senders get
 * ICMP host unreachable). A packet whose TTL runs out gets ICMP time exceeded from the interface
 * it came in on, which is the hop busybox traceroute shows; for the last hop the destination
 * itself answers port unreachable. No NAT, no routes beyond the connected subnets.
 */
import type { Clock } from "../../clock.ts";
import { AppError } from "../../errors.ts";
import { Emitter, type Disposable, type Event } from "../../events.ts";
import { arpRequestFrame, formatIpv4, formatMac, type Ipv4, type Mac } from "../../lab/frames.ts";
import type { NetworkBus } from "../../lab/netPeer.ts";
import { DhcpServer, type DhcpLease } from "./dhcp.ts";
import { BROADCAST_IP, ETHERTYPE_ARP, ETHERTYPE_IPV4, ICMP_TIME_EXCEEDED, ICMP_UNREACHABLE, UNREACHABLE, broadcastOf, decrementTtl, icmpErrorFrame, inSubnet, ipToNumber, parseIpv4Frame, readIp, readMac, sameIp, u16, type Ipv4Packet } from "./ip.ts";
import { HostInterface, answerLocal, checkAddress, defaultPool, microtask, zeroCounters, type DhcpSettings, type HostCounters, type InterfaceAddress, type LocalServices, type Schedule } from "./station.ts";

export interface RouterInterfaceOptions extends InterfaceAddress {
  /** A name for the UI and the capture, e.g. "net1". */
  readonly name?: string;
  /** DHCP on this interface (default: a pool in its subnet); false for none. */
  readonly dhcp?: DhcpSettings | false;
}

export interface RouterOptions {
  readonly interfaces: readonly RouterInterfaceOptions[];
  readonly clock: Clock;
  readonly hostnameFor?: (mac: Mac) => string | undefined;
  readonly schedule?: Schedule;
}

const ARP_RETRY_MS = 1000;
const ARP_TRIES = 3;
const ARP_CACHE_MS = 60_000;
const QUEUE_LIMIT = 32;

/** One interface of the router: attach it to a switch port like a machine's NIC. */
export class RouterInterface implements NetworkBus, Disposable {
  constructor(
    readonly name: string,
    readonly iface: HostInterface,
    readonly dhcp: DhcpServer | undefined,
  ) {}

  get onNetworkFrame(): Event<Uint8Array> {
    return this.iface.onNetworkFrame;
  }

  sendNetworkFrame(frame: Uint8Array): void {
    this.iface.sendNetworkFrame(frame);
  }

  get address(): InterfaceAddress {
    return this.iface.address;
  }

  /** Frames and bytes through this interface. */
  get traffic(): { readonly framesIn: number; readonly framesOut: number; readonly bytesIn: number; readonly bytesOut: number } {
    return { ...this.iface.traffic };
  }

  dispose(): void {
    this.dhcp?.dispose();
    this.iface.dispose();
  }
}

interface Neighbour {
  mac: Mac;
  at: number;
}

interface Pending {
  readonly queue: { frame: Uint8Array; packet: Ipv4Packet; from: RouterInterface }[];
  tries: number;
  timer: Disposable | undefined;
}

export interface ArpEntry {
  readonly ip: string;
  readonly mac: string;
  readonly interface: string;
}

export class Router implements Disposable {
  private readonly counts = zeroCounters();
  readonly interfaces: readonly RouterInterface[];
  private readonly neighbours = new Map<string, { entry: Neighbour; on: RouterInterface }>();
  private readonly pending = new Map<string, Pending>();
  private readonly subscriptions: Disposable[] = [];
  private readonly leasesChanged = new Emitter<readonly (DhcpLease & { readonly interface: string })[]>();
  /** Fires with all leases of all interfaces when one changes. */
  readonly onLeasesChanged: Event<readonly (DhcpLease & { readonly interface: string })[]> = this.leasesChanged.event;
  private readonly own: readonly Ipv4[];
  private readonly noServices: LocalServices = { udp: () => false, tcp: () => false };

  constructor(private readonly options: RouterOptions) {
    const specs = options.interfaces;
    const problems: string[] = [];
    if (specs.length === 0) problems.push("a router needs at least one interface");
    specs.forEach((a, i) => {
      checkAddress(`router interface ${a.name ?? i + 1}`, a);
      specs.slice(0, i).forEach((b) => {
        const shorter = Math.min(a.prefix, b.prefix);
        if (inSubnet(a.ip, b.ip, shorter)) problems.push(`${formatIpv4(a.ip)}/${a.prefix} and ${formatIpv4(b.ip)}/${b.prefix} overlap: each interface needs its own subnet`);
      });
    });
    if (problems.length > 0) throw new AppError("bad-network", `Router: ${problems.join("; ")}`, { details: { subject: "router", problems } });
    this.own = specs.map((s) => s.ip);
    const schedule = options.schedule ?? microtask;
    this.interfaces = specs.map((spec, i) => {
      const name = spec.name ?? `net${i + 1}`;
      const self: { on?: RouterInterface } = {};
      const iface = new HostInterface(spec, (frame) => self.on && this.receive(frame, self.on), this.counts, schedule);
      const dhcp =
        spec.dhcp === false
          ? undefined
          : new DhcpServer({ serverIp: spec.ip, prefix: spec.prefix, ...defaultPool(spec.ip, spec.prefix), ...spec.dhcp, router: spec.ip, clock: options.clock, ...(options.hostnameFor === undefined ? {} : { hostnameFor: options.hostnameFor }) });
      self.on = new RouterInterface(name, iface, dhcp);
      if (dhcp !== undefined) this.subscriptions.push(dhcp.onLeasesChanged(() => this.leasesChanged.fire(this.leases)));
      return self.on;
    });
  }

  get counters(): HostCounters {
    return { ...this.counts };
  }

  get leases(): readonly (DhcpLease & { readonly interface: string })[] {
    return this.interfaces.flatMap((i) => (i.dhcp?.leases ?? []).map((l) => ({ ...l, interface: i.name })));
  }

  /** Neighbours the router knows by ARP. */
  get arpTable(): readonly ArpEntry[] {
    const now = this.options.clock.now();
    return [...this.neighbours]
      .filter(([, n]) => now - n.entry.at < ARP_CACHE_MS)
      .map(([ip, n]) => ({ ip, mac: formatMac(n.entry.mac), interface: n.on.name }));
  }

  private receive(frame: Uint8Array, on: RouterInterface): void {
    const iface = on.iface;
    if (!iface.accepts(frame)) return;
    if (frame.length >= 42 && u16(frame, 12) === ETHERTYPE_ARP) this.learn(frame, on);
    if (answerLocal(frame, iface, this.counts, on.dhcp, this.noServices, this.own)) return;
    if (frame.length < 34 || u16(frame, 12) !== ETHERTYPE_IPV4) return;
    const packet = parseIpv4Frame(frame);
    if (packet === undefined || (packet.dstMac[0] & 1) === 1) return;
    if (!packet.headerOk) {
      this.counts.badChecksums++;
      return;
    }
    this.forward(packet, on);
  }

  /** RFC 826: note the sender of any ARP on the subnet we already know, or that asks for us. */
  private learn(frame: Uint8Array, on: RouterInterface): void {
    if (u16(frame, 14) !== 1 || u16(frame, 16) !== ETHERTYPE_IPV4) return;
    const senderIp = readIp(frame, 28);
    const a = on.address;
    if (!inSubnet(senderIp, a.ip, a.prefix) || sameIp(senderIp, a.ip) || ipToNumber(senderIp) === 0) return;
    const key = formatIpv4(senderIp);
    const forUs = sameIp(readIp(frame, 38), a.ip);
    if (!forUs && !this.neighbours.has(key) && !this.pending.has(key)) return;
    this.neighbours.set(key, { entry: { mac: readMac(frame, 22), at: this.options.clock.now() }, on });
    this.flush(key);
  }

  private forward(packet: Ipv4Packet, from: RouterInterface): void {
    if (sameIp(packet.dst, BROADCAST_IP)) return;
    const to = this.interfaces.find((i) => inSubnet(packet.dst, i.address.ip, i.address.prefix));
    if (to === undefined) {
      this.error(packet, from, ICMP_UNREACHABLE, UNREACHABLE.net);
      return;
    }
    // Not back where it came from, and no directed broadcasts (RFC 2644).
    if (to === from || sameIp(packet.dst, broadcastOf(to.address.ip, to.address.prefix))) {
      this.counts.dropped++;
      return;
    }
    if (packet.ttl <= 1) {
      this.counts.ttlExceeded++;
      this.error(packet, from, ICMP_TIME_EXCEEDED, 0);
      return;
    }
    const frame = decrementTtl(packet);
    const key = formatIpv4(packet.dst);
    const known = this.neighbours.get(key);
    if (known !== undefined && this.options.clock.now() - known.entry.at < ARP_CACHE_MS) {
      this.send(frame, known.entry.mac, to);
      return;
    }
    let pending = this.pending.get(key);
    if (pending === undefined) {
      pending = { queue: [], tries: 0, timer: undefined };
      this.pending.set(key, pending);
      this.ask(key, packet.dst, to);
    }
    if (pending.queue.length >= QUEUE_LIMIT) {
      pending.queue.shift();
      this.counts.dropped++;
    }
    pending.queue.push({ frame, packet, from });
  }

  /** Ask who has `ip`, again each second; after the last try, give up on what waits for it. */
  private ask(key: string, ip: Ipv4, on: RouterInterface): void {
    const pending = this.pending.get(key);
    if (pending === undefined) return;
    pending.tries++;
    on.iface.emit(arpRequestFrame(on.iface.mac, on.iface.ip, ip));
    pending.timer = this.options.clock.after(ARP_RETRY_MS, () => {
      pending.timer = undefined;
      if (pending.tries < ARP_TRIES) {
        this.ask(key, ip, on);
        return;
      }
      this.pending.delete(key);
      for (const item of pending.queue) this.error(item.packet, item.from, ICMP_UNREACHABLE, UNREACHABLE.host);
    });
  }

  private flush(key: string): void {
    const pending = this.pending.get(key);
    const known = this.neighbours.get(key);
    if (pending === undefined || known === undefined) return;
    pending.timer?.dispose();
    this.pending.delete(key);
    for (const item of pending.queue) this.send(item.frame, known.entry.mac, known.on);
  }

  private send(frame: Uint8Array, mac: Mac, on: RouterInterface): void {
    frame.set(mac, 0);
    frame.set(on.iface.mac, 6);
    this.counts.forwarded++;
    on.iface.emit(frame);
  }

  private error(packet: Ipv4Packet, from: RouterInterface, type: number, code: number): void {
    const reply = icmpErrorFrame(packet, { from: from.iface.mac, src: from.iface.ip, type, code });
    if (reply === undefined) {
      this.counts.dropped++;
      return;
    }
    if (type === ICMP_UNREACHABLE) this.counts.unreachable++;
    from.iface.emit(reply);
  }

  dispose(): void {
    for (const p of this.pending.values()) p.timer?.dispose();
    this.pending.clear();
    for (const s of this.subscriptions) s.dispose();
    this.leasesChanged.dispose();
    for (const i of this.interfaces) i.dispose();
  }
}
