/**
 * A DHCP server (RFC 2131) for one segment, as busybox udhcpc expects it: DISCOVER → OFFER,
 * REQUEST → ACK or NAK, RELEASE, DECLINE and INFORM, with the server identifier in every answer.
 * Addresses come from a pool and stay with a MAC (a machine that asks again gets the same
 * address, even after its lease ran out, unless the pool needed it for another). Pure logic on
 * DHCP payloads; the host that owns it wraps them in UDP (see `service.ts`).
 */
import type { Clock } from "../../clock.ts";
import { AppError } from "../../errors.ts";
import { Emitter, type Disposable, type Event } from "../../events.ts";
import { formatIpv4, formatMac, type Ipv4, type Mac } from "../../lab/frames.ts";
import { broadcastOf, inSubnet, ipToNumber, maskOf, numberToIp, readIp, readMac, sameIp, u16, put16 } from "./ip.ts";

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
const MAGIC = [99, 130, 83, 99];
const FIXED = 236;
/** BOOTP's minimum message: some clients drop shorter ones. */
const MIN_MESSAGE = 300;

export const DHCP = { discover: 1, offer: 2, request: 3, decline: 4, ack: 5, nak: 6, release: 7, inform: 8 } as const;
const TYPE_NAMES: Record<number, string> = { 1: "DISCOVER", 2: "OFFER", 3: "REQUEST", 4: "DECLINE", 5: "ACK", 6: "NAK", 7: "RELEASE", 8: "INFORM" };

export function dhcpTypeName(type: number): string {
  return TYPE_NAMES[type] ?? `type ${type}`;
}

/** What a DHCP message says (either direction). */
export interface DhcpMessage {
  readonly op: 1 | 2;
  readonly xid: number;
  readonly flags: number;
  readonly ciaddr: Ipv4;
  readonly yiaddr: Ipv4;
  readonly siaddr: Ipv4;
  readonly chaddr: Mac;
  readonly type: number;
  /** Options by code, raw bytes. */
  readonly options: ReadonlyMap<number, Uint8Array>;
}

export function parseDhcp(bytes: Uint8Array): DhcpMessage | undefined {
  if (bytes.length < FIXED + 4 || (bytes[0] !== 1 && bytes[0] !== 2) || bytes[1] !== 1 || bytes[2] !== 6) return undefined;
  if (!MAGIC.every((b, i) => bytes[FIXED + i] === b)) return undefined;
  const options = new Map<number, Uint8Array>();
  for (let at = FIXED + 4; at < bytes.length; ) {
    const code = bytes[at] as number;
    if (code === 255) break;
    if (code === 0) {
      at++;
      continue;
    }
    const length = bytes[at + 1];
    if (length === undefined || at + 2 + length > bytes.length) return undefined;
    options.set(code, bytes.slice(at + 2, at + 2 + length));
    at += 2 + length;
  }
  const type = options.get(53)?.[0];
  if (type === undefined) return undefined;
  return {
    op: bytes[0] as 1 | 2,
    xid: ((u16(bytes, 4) << 16) | u16(bytes, 6)) >>> 0,
    flags: u16(bytes, 10),
    ciaddr: readIp(bytes, 12),
    yiaddr: readIp(bytes, 16),
    siaddr: readIp(bytes, 20),
    chaddr: readMac(bytes, 28),
    type,
    options,
  };
}

/** Encode a DHCP message; options in the order given, padded to BOOTP's 300 bytes. */
export function encodeDhcp(m: Omit<DhcpMessage, "options"> & { readonly options: readonly (readonly [number, Uint8Array])[] }): Uint8Array {
  const optionBytes = 3 + m.options.reduce((n, [, v]) => n + 2 + v.length, 0) + 1;
  const out = new Uint8Array(Math.max(MIN_MESSAGE, FIXED + 4 + optionBytes));
  out[0] = m.op;
  out[1] = 1;
  out[2] = 6;
  put16(out, 4, m.xid >>> 16);
  put16(out, 6, m.xid & 0xffff);
  put16(out, 10, m.flags);
  out.set(m.ciaddr, 12);
  out.set(m.yiaddr, 16);
  out.set(m.siaddr, 20);
  out.set(m.chaddr, 28);
  out.set(MAGIC, FIXED);
  let at = FIXED + 4;
  out.set([53, 1, m.type], at);
  at += 3;
  for (const [code, value] of m.options) {
    out[at] = code;
    out[at + 1] = value.length;
    out.set(value, at + 2);
    at += 2 + value.length;
  }
  out[at] = 255;
  return out;
}

const u32Bytes = (n: number): Uint8Array => Uint8Array.of((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
const textBytes = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0x7f);

export interface DhcpServerOptions {
  /** The server's own address (the server identifier) and the segment's prefix length. */
  readonly serverIp: Ipv4;
  readonly prefix: number;
  /** The first and last address handed out, both inside the subnet. */
  readonly poolFirst: Ipv4;
  readonly poolLast: Ipv4;
  /** Option 3, only when the segment has a gateway. */
  readonly router?: Ipv4;
  /** Option 6, only when something answers DNS. */
  readonly dns?: Ipv4;
  /** Lease time in seconds (default 3600). */
  readonly leaseSeconds?: number;
  /** The machine's name for option 12, e.g. "vm1" for the machine behind that NIC. */
  readonly hostnameFor?: (mac: Mac) => string | undefined;
  readonly clock: Clock;
}

export type LeaseState = "offered" | "bound" | "released" | "expired";

export interface DhcpLease {
  readonly mac: string;
  readonly ip: string;
  /** The name given in option 12, or the one the client sent; "" when none. */
  readonly hostname: string;
  readonly state: LeaseState;
  /** Clock time the lease ends (bound leases). */
  readonly expiresAt: number | undefined;
}

/** The answer to send: a message, and whether it goes to everyone or to the client's address. */
export interface DhcpAnswer {
  readonly message: Uint8Array;
  readonly type: number;
  readonly broadcast: boolean;
  /** Where a unicast answer goes: the client's MAC and the address it has or is given. */
  readonly toMac: Mac;
  readonly toIp: Ipv4;
}

interface Binding {
  ip: number;
  mac: Mac;
  hostname: string;
  state: LeaseState;
  expiresAt: number | undefined;
  timer: Disposable | undefined;
  /** Clock time of the last change: the oldest free binding is reused first. */
  touched: number;
  /** Taken over from another server (`adopt`): its address may lie outside this pool. */
  adopted?: boolean;
}

const OFFER_HOLD_MS = 30_000;

/** A hostname safe for option 12 (RFC 1123 letters, digits, hyphens and dots), or "". */
export function cleanHostname(name: string | undefined): string {
  return (name ?? "").replace(/[^A-Za-z0-9.-]/g, "-").replace(/^[-.]+|[-.]+$/g, "").slice(0, 63);
}

export class DhcpServer implements Disposable {
  private readonly bindings = new Map<string, Binding>();
  /** Addresses a client declined (another host uses them): never handed out again. */
  private readonly declined = new Set<number>();
  private readonly changed = new Emitter<readonly DhcpLease[]>();
  private readonly leaseSeconds: number;
  /** Counts of what was answered. */
  readonly counts = { offers: 0, acks: 0, naks: 0, releases: 0, declines: 0 };
  /** Fires with all leases whenever one is offered, bound, released or runs out. */
  readonly onLeasesChanged: Event<readonly DhcpLease[]> = this.changed.event;

  constructor(private readonly options: DhcpServerOptions) {
    const o = options;
    const problems: string[] = [];
    if (o.prefix < 8 || o.prefix > 30) problems.push(`prefix /${o.prefix} (use /8 to /30)`);
    for (const [name, ip] of [["server", o.serverIp], ["pool start", o.poolFirst], ["pool end", o.poolLast], ["router", o.router]] as const) {
      if (ip !== undefined && !inSubnet(ip, o.serverIp, o.prefix)) problems.push(`${name} ${formatIpv4(ip)} is outside ${formatIpv4(o.serverIp)}/${o.prefix}`);
    }
    const first = ipToNumber(o.poolFirst);
    const last = ipToNumber(o.poolLast);
    if (first > last) problems.push("the pool ends before it starts");
    const network = (ipToNumber(o.serverIp) & maskOf(o.prefix)) >>> 0;
    if (first === network || last === ipToNumber(broadcastOf(o.serverIp, o.prefix))) problems.push("the pool holds the network or broadcast address");
    if (problems.length > 0) throw new AppError("bad-network", `DHCP settings cannot work: ${problems.join("; ")}`, { details: { subject: "dhcp", problems } });
    this.leaseSeconds = o.leaseSeconds ?? 3600;
  }

  get leases(): readonly DhcpLease[] {
    return [...this.bindings.values()]
      .sort((a, b) => a.ip - b.ip)
      .map((b) => ({ mac: formatMac(b.mac), ip: formatIpv4(numberToIp(b.ip)), hostname: b.hostname, state: b.state, expiresAt: b.expiresAt }));
  }

  /** The address bound to `mac`, if any (bound leases only). */
  addressOf(mac: Mac): Ipv4 | undefined {
    const b = this.bindings.get(formatMac(mac));
    return b?.state === "bound" ? numberToIp(b.ip) : undefined;
  }

  /** The address of a bound lease with this hostname (case-insensitive), for a DNS answer. */
  addressOfHost(name: string): Ipv4 | undefined {
    const wanted = name.toLowerCase();
    for (const b of this.bindings.values()) if (b.state === "bound" && b.hostname.toLowerCase() === wanted) return numberToIp(b.ip);
    return undefined;
  }

  /**
   * Take over a lease another server gave (a machine moved here from another tab keeps its
   * address): bound from now for a full lease time, so the guest's renewals are acknowledged
   * here even when the address lies outside this server's pool. Ignored when another MAC holds
   * the address, or it is outside the subnet.
   */
  adopt(mac: Mac, ip: Ipv4, hostname = ""): boolean {
    const key = formatMac(mac);
    const wanted = ipToNumber(ip);
    const holder = [...this.bindings].find(([k, b]) => b.ip === wanted && k !== key && (b.state === "bound" || b.state === "offered"));
    if (holder !== undefined || !inSubnet(ip, this.options.serverIp, this.options.prefix) || sameIp(ip, this.options.serverIp)) return false;
    const b: Binding = this.bindings.get(key) ?? { ip: wanted, mac, hostname: cleanHostname(this.options.hostnameFor?.(mac)) || cleanHostname(hostname), state: "bound", expiresAt: undefined, timer: undefined, touched: 0 };
    b.ip = wanted;
    b.adopted = true;
    this.bindings.set(key, b);
    this.setState(b, "bound");
    return true;
  }

  /** Answer one client message; undefined when no answer is due. */
  handle(m: DhcpMessage): DhcpAnswer | undefined {
    if (m.op !== 1) return undefined;
    const key = formatMac(m.chaddr);
    const serverId = m.options.get(54);
    const requested = m.options.get(50);
    switch (m.type) {
      case DHCP.discover: {
        const ip = this.choose(key, requested === undefined ? undefined : ipToNumber(readIp(requested, 0)));
        if (ip === undefined) return undefined; // pool exhausted: stay silent, as servers do
        const b = this.bind(key, m, ip, "offered");
        this.counts.offers++;
        return this.answer(m, DHCP.offer, b.ip);
      }
      case DHCP.request: {
        if (serverId !== undefined && !sameIp(readIp(serverId, 0), this.options.serverIp)) {
          // The client took another server's offer: let ours go.
          const b = this.bindings.get(key);
          if (b?.state === "offered") this.setState(b, "released");
          return undefined;
        }
        const wanted = requested !== undefined ? ipToNumber(readIp(requested, 0)) : ipToNumber(m.ciaddr);
        const b = this.bindings.get(key);
        const free = this.isFree(wanted, key);
        // A lease taken over from another server (adopt) is renewed where it is, in the pool or not.
        const adoptedHere = b?.adopted === true && b.ip === wanted;
        if (!adoptedHere && (wanted === 0 || !this.inPool(wanted) || (b?.ip !== wanted && !free))) {
          this.counts.naks++;
          return this.answer(m, DHCP.nak, 0);
        }
        const bound = this.bind(key, m, wanted, "bound");
        this.counts.acks++;
        return this.answer(m, DHCP.ack, bound.ip);
      }
      case DHCP.release:
      case DHCP.decline: {
        const b = this.bindings.get(key);
        if (b === undefined) return undefined;
        if (m.type === DHCP.release) {
          this.counts.releases++;
          this.setState(b, "released");
        } else {
          // Someone else answers ARP for it: forget this binding; the address stays out of use.
          this.counts.declines++;
          b.timer?.dispose();
          this.bindings.delete(key);
          this.declined.add(b.ip);
          this.fire();
        }
        return undefined;
      }
      case DHCP.inform:
        return this.answer(m, DHCP.ack, 0);
      default:
        return undefined;
    }
  }

  private inPool(ip: number): boolean {
    return ip >= ipToNumber(this.options.poolFirst) && ip <= ipToNumber(this.options.poolLast) && ip !== ipToNumber(this.options.serverIp);
  }

  private isFree(ip: number, forKey: string): boolean {
    for (const [key, b] of this.bindings) if (b.ip === ip && key !== forKey) return false;
    return this.inPool(ip) && !this.declined.has(ip) && (this.options.router === undefined || ip !== ipToNumber(this.options.router));
  }

  /** The MAC's own address, else the one it asks for if free, else a free one, else the oldest unused. */
  private choose(key: string, wanted: number | undefined): number | undefined {
    const own = this.bindings.get(key);
    if (own !== undefined) return own.ip;
    if (wanted !== undefined && this.isFree(wanted, key)) return wanted;
    for (let ip = ipToNumber(this.options.poolFirst); ip <= ipToNumber(this.options.poolLast); ip++) if (this.isFree(ip, key)) return ip;
    const reusable = [...this.bindings.entries()].filter(([, b]) => b.state === "released" || b.state === "expired").sort(([, a], [, b]) => a.touched - b.touched)[0];
    if (reusable === undefined) return undefined;
    reusable[1].timer?.dispose();
    this.bindings.delete(reusable[0]);
    return reusable[1].ip;
  }

  private bind(key: string, m: DhcpMessage, ip: number, state: LeaseState): Binding {
    const clientName = m.options.get(12);
    const hostname = cleanHostname(this.options.hostnameFor?.(m.chaddr)) || cleanHostname(clientName === undefined ? undefined : String.fromCharCode(...clientName));
    const b: Binding = this.bindings.get(key) ?? { ip, mac: m.chaddr, hostname, state, expiresAt: undefined, timer: undefined, touched: 0 };
    b.ip = ip;
    b.hostname = hostname;
    this.bindings.set(key, b);
    this.setState(b, state);
    return b;
  }

  private setState(b: Binding, state: LeaseState): void {
    const clock = this.options.clock;
    b.timer?.dispose();
    b.timer = undefined;
    b.state = state;
    b.touched = clock.now();
    b.expiresAt = state === "bound" ? clock.now() + this.leaseSeconds * 1000 : undefined;
    if (state === "bound" || state === "offered") {
      const ms = state === "bound" ? this.leaseSeconds * 1000 : OFFER_HOLD_MS;
      b.timer = clock.after(ms, () => {
        b.timer = undefined;
        this.setState(b, state === "bound" ? "expired" : "released");
      });
    }
    this.fire();
  }

  private fire(): void {
    this.changed.fire(this.leases);
  }

  private answer(m: DhcpMessage, type: number, ip: number): DhcpAnswer {
    const o = this.options;
    const options: [number, Uint8Array][] = [[54, Uint8Array.from(o.serverIp)]];
    if (type !== DHCP.nak) {
      if (type !== DHCP.ack || ip !== 0) {
        options.push([51, u32Bytes(this.leaseSeconds)], [58, u32Bytes(Math.floor(this.leaseSeconds / 2))], [59, u32Bytes(Math.floor((this.leaseSeconds * 7) / 8))]);
      }
      options.push([1, Uint8Array.from(numberToIp(maskOf(o.prefix)))], [28, Uint8Array.from(broadcastOf(o.serverIp, o.prefix))]);
      if (o.router !== undefined) options.push([3, Uint8Array.from(o.router)]);
      if (o.dns !== undefined) options.push([6, Uint8Array.from(o.dns)]);
      const hostname = ip === 0 ? "" : (this.bindings.get(formatMac(m.chaddr))?.hostname ?? "");
      if (hostname !== "") options.push([12, textBytes(hostname)]);
    } else {
      options.push([56, textBytes("address not valid on this segment")]);
    }
    const yiaddr = numberToIp(ip);
    const message = encodeDhcp({ op: 2, xid: m.xid, flags: m.flags, ciaddr: type === DHCP.ack && ip === 0 ? m.ciaddr : [0, 0, 0, 0], yiaddr, siaddr: o.serverIp, chaddr: m.chaddr, type, options });
    // RFC 2131 4.1: NAKs and answers to clients that asked for it go to everyone; a client with an
    // address gets it at that address; otherwise to its MAC and the address offered.
    const ciaddr = ipToNumber(m.ciaddr);
    const broadcast = type === DHCP.nak || ((m.flags & 0x8000) !== 0 && ciaddr === 0);
    return { message, type, broadcast, toMac: m.chaddr, toIp: ciaddr !== 0 ? m.ciaddr : yiaddr };
  }

  dispose(): void {
    for (const b of this.bindings.values()) b.timer?.dispose();
    this.changed.dispose();
  }
}
