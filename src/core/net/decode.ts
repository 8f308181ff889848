/**
 * Decoding frames for a packet list: Ethernet (802.1Q tags skipped), ARP, IPv4, ICMP, UDP, TCP,
 * and on top of UDP DHCP and DNS (decodeApp.ts). The result is structured fields plus the
 * columns a Wireshark user knows: source, destination, protocol and a one-line Info summary.
 * Never throws: whatever cannot be read ends the decoding with a `malformed` note, keeping the
 * layers read so far.
 */
import { decodeDhcp, decodeDns, decodeIpv6, dhcpSummary, dnsSummary, type DhcpInfo, type DnsInfo, type Ipv6Info } from "./decodeApp.ts";
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN, ETH_HEADER, PROTO_ICMP, PROTO_TCP, PROTO_UDP, formatIpv4, formatMac, internetChecksum, readIpv4, readMac, u16, u32 } from "./frames.ts";

export type ProtocolName = "ethernet" | "vlan" | "arp" | "ipv4" | "ipv6" | "icmp" | "udp" | "tcp" | "dhcp" | "dns";
export const PROTOCOL_NAMES: readonly ProtocolName[] = ["ethernet", "vlan", "arp", "ipv4", "ipv6", "icmp", "udp", "tcp", "dhcp", "dns"];

export interface EthernetInfo {
  readonly src: string;
  readonly dst: string;
  /** The EtherType after any VLAN tags (below 0x0600: an 802.3 length). */
  readonly etherType: number;
  /** VLAN ids of the 802.1Q tags skipped, outermost first. */
  readonly vlans: readonly number[];
}

export interface ArpInfo {
  readonly operation: "request" | "reply" | number;
  readonly senderMac: string;
  readonly senderIp: string;
  readonly targetMac: string;
  readonly targetIp: string;
}

export interface Ipv4Info {
  readonly src: string;
  readonly dst: string;
  readonly ttl: number;
  readonly protocol: number;
  readonly headerLength: number;
  readonly totalLength: number;
  readonly id: number;
  readonly dontFragment: boolean;
  readonly moreFragments: boolean;
  /** Bytes. */
  readonly fragmentOffset: number;
  readonly checksumOk: boolean;
}

export interface IcmpInfo {
  readonly type: number;
  readonly code: number;
  /** Echo request and reply only. */
  readonly id?: number;
  readonly seq?: number;
}

export interface UdpInfo {
  readonly srcPort: number;
  readonly dstPort: number;
  /** The UDP length field (header + payload). */
  readonly length: number;
}

export interface TcpInfo {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack: number;
  /** The low 9 flag bits (NS CWR ECE URG ACK PSH RST SYN FIN). */
  readonly flags: number;
  readonly flagNames: readonly string[];
  readonly window: number;
  readonly headerLength: number;
  readonly payloadLength: number;
  /** Options read from the header, in their order (MSS, SACK_PERM, timestamps, window scale). */
  readonly options: TcpOptions;
}

export interface TcpOptions {
  readonly mss?: number;
  readonly sackPermitted?: boolean;
  /** The shift count; the window is multiplied by 2^shift. */
  readonly windowScale?: number;
  readonly timestamp?: { readonly value: number; readonly echo: number };
  /** As Wireshark shows them: "MSS=1460 SACK_PERM TSval=1 TSecr=0 WS=128". */
  readonly words: readonly string[];
}

export interface DecodedFrame {
  /** Bytes given (a capture may hold fewer than were on the wire). */
  readonly length: number;
  /** The layers recognised, outermost first. */
  readonly layers: readonly ProtocolName[];
  /** The highest layer, as Wireshark names it: "ARP", "ICMP", "DHCP", "TCP"… */
  readonly protocol: string;
  readonly source: string;
  readonly destination: string;
  /** One line, like Wireshark's Info column. */
  readonly summary: string;
  readonly ethernet?: EthernetInfo;
  readonly arp?: ArpInfo;
  readonly ipv4?: Ipv4Info;
  readonly ipv6?: Ipv6Info;
  readonly icmp?: IcmpInfo;
  readonly udp?: UdpInfo;
  readonly tcp?: TcpInfo;
  readonly dhcp?: DhcpInfo;
  readonly dns?: DnsInfo;
  /** What could not be read, when the bytes ended early or made no sense. */
  readonly malformed?: string;
}

type Draft = { -readonly [K in keyof DecodedFrame]: DecodedFrame[K] } & { layers: ProtocolName[] };

const TCP_FLAGS = ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR", "NS"] as const;
/** Wireshark's order in the Info column. */
const TCP_FLAG_ORDER = ["NS", "CWR", "ECE", "URG", "SYN", "FIN", "RST", "PSH", "ACK"];

const ICMP_UNREACHABLE = ["Network unreachable", "Host unreachable", "Protocol unreachable", "Port unreachable", "Fragmentation needed", "Source route failed", "Destination network unknown", "Destination host unknown"];

function macName(mac: string): string {
  return mac === "ff:ff:ff:ff:ff:ff" ? "Broadcast" : mac;
}

function hex(value: number, digits: number): string {
  return `0x${value.toString(16).padStart(digits, "0")}`;
}

export function decodeFrame(frame: Uint8Array): DecodedFrame {
  const d: Draft = { length: frame.length, layers: [], protocol: "Ethernet", source: "", destination: "", summary: "" };
  const fail = (note: string): DecodedFrame => {
    d.malformed = note;
    d.summary = `${d.summary === "" ? d.protocol : d.summary} [Malformed Packet: ${note}]`;
    return d;
  };
  if (frame.length < ETH_HEADER) return fail(`${frame.length} bytes, shorter than an Ethernet header`);
  const src = formatMac(readMac(frame, 6));
  const dst = formatMac(readMac(frame, 0));
  let at = 12;
  let etherType = u16(frame, at);
  const vlans: number[] = [];
  d.layers.push("ethernet");
  while (etherType === ETHERTYPE_VLAN || etherType === 0x88a8) {
    if (frame.length < at + 6) return fail("VLAN tag cut short");
    vlans.push(u16(frame, at + 2) & 0x0fff);
    at += 4;
    etherType = u16(frame, at);
    if (!d.layers.includes("vlan")) d.layers.push("vlan");
  }
  at += 2;
  d.ethernet = { src, dst, etherType, vlans };
  d.source = src;
  d.destination = macName(dst);
  if (etherType === ETHERTYPE_ARP) return decodeArp(frame, at, d, fail);
  if (etherType === ETHERTYPE_IPV4) return decodeIpv4(frame, at, d, fail);
  if (etherType === ETHERTYPE_IPV6) {
    d.layers.push("ipv6");
    d.protocol = "IPv6";
    const result = decodeIpv6(frame, at);
    if (result.info !== undefined) {
      d.ipv6 = result.info;
      d.source = result.info.src;
      d.destination = result.info.dst;
      d.protocol = result.protocol;
    }
    d.summary = result.summary;
    return result.malformed === undefined ? d : fail(result.malformed);
  }
  d.summary = etherType < 0x0600 ? `IEEE 802.3 frame, length ${etherType}` : `Ethernet type ${hex(etherType, 4)}`;
  return d;
}

function decodeArp(frame: Uint8Array, at: number, d: Draft, fail: (note: string) => DecodedFrame): DecodedFrame {
  d.layers.push("arp");
  d.protocol = "ARP";
  if (frame.length < at + 28) return fail(`ARP cut short (${frame.length - at} of 28 bytes)`);
  if (u16(frame, at) !== 1 || u16(frame, at + 2) !== ETHERTYPE_IPV4 || frame[at + 4] !== 6 || frame[at + 5] !== 4) {
    return fail("ARP for something other than Ethernet and IPv4");
  }
  const op = u16(frame, at + 6);
  const arp: ArpInfo = {
    operation: op === 1 ? "request" : op === 2 ? "reply" : op,
    senderMac: formatMac(readMac(frame, at + 8)),
    senderIp: formatIpv4(readIpv4(frame, at + 14)),
    targetMac: formatMac(readMac(frame, at + 18)),
    targetIp: formatIpv4(readIpv4(frame, at + 24)),
  };
  d.arp = arp;
  if (arp.senderIp === arp.targetIp && op <= 2) d.summary = `Gratuitous ARP for ${arp.senderIp} (${op === 1 ? "Request" : "Reply"})`;
  else if (op === 1) d.summary = `Who has ${arp.targetIp}? Tell ${arp.senderIp}`;
  else if (op === 2) d.summary = `${arp.senderIp} is at ${arp.senderMac}`;
  else d.summary = `ARP operation ${op}`;
  return d;
}

function decodeIpv4(frame: Uint8Array, at: number, d: Draft, fail: (note: string) => DecodedFrame): DecodedFrame {
  d.layers.push("ipv4");
  d.protocol = "IPv4";
  if (frame.length < at + 20) return fail(`IPv4 header cut short (${frame.length - at} of 20 bytes)`);
  const version = (frame[at] as number) >>> 4;
  const headerLength = ((frame[at] as number) & 0x0f) * 4;
  if (version !== 4) return fail(`IP version ${version} in an IPv4 frame`);
  if (headerLength < 20 || frame.length < at + headerLength) return fail(`bad IPv4 header length ${headerLength}`);
  const fragment = u16(frame, at + 6);
  const ip: Ipv4Info = {
    src: formatIpv4(readIpv4(frame, at + 12)),
    dst: formatIpv4(readIpv4(frame, at + 16)),
    ttl: frame[at + 8] as number,
    protocol: frame[at + 9] as number,
    headerLength,
    totalLength: u16(frame, at + 2),
    id: u16(frame, at + 4),
    dontFragment: (fragment & 0x4000) !== 0,
    moreFragments: (fragment & 0x2000) !== 0,
    fragmentOffset: (fragment & 0x1fff) * 8,
    checksumOk: internetChecksum(frame, at, at + headerLength) === 0,
  };
  d.ipv4 = ip;
  d.source = ip.src;
  d.destination = ip.dst;
  if (ip.totalLength < headerLength) return fail(`IPv4 total length ${ip.totalLength} below its header length`);
  // The payload ends at the total length (Ethernet pads short frames); a capture may have cut it.
  const end = Math.min(at + ip.totalLength, frame.length);
  const cut = at + ip.totalLength > frame.length;
  const payload = at + headerLength;
  if (ip.fragmentOffset > 0) {
    d.summary = `Fragmented IP protocol (proto=${ip.protocol}, off=${ip.fragmentOffset}, ID=${hex(ip.id, 4)})`;
    return d;
  }
  if (ip.protocol === PROTO_ICMP) return decodeIcmp(frame, payload, end, d, fail);
  if (ip.protocol === PROTO_UDP) return decodeUdp(frame, payload, end, cut, d, fail);
  if (ip.protocol === PROTO_TCP) return decodeTcp(frame, payload, end, d, fail);
  d.summary = `IPv4 protocol ${ip.protocol}`;
  return d;
}

function decodeIcmp(frame: Uint8Array, at: number, end: number, d: Draft, fail: (note: string) => DecodedFrame): DecodedFrame {
  d.layers.push("icmp");
  d.protocol = "ICMP";
  if (end < at + 8) return fail(`ICMP header cut short (${Math.max(0, end - at)} of 8 bytes)`);
  const type = frame[at] as number;
  const code = frame[at + 1] as number;
  if (type === 0 || type === 8) {
    const id = u16(frame, at + 4);
    const seq = u16(frame, at + 6);
    d.icmp = { type, code, id, seq };
    d.summary = `Echo (ping) ${type === 8 ? "request" : "reply"} id=${hex(id, 4)}, seq=${seq}, ttl=${d.ipv4?.ttl ?? 0}`;
    return d;
  }
  d.icmp = { type, code };
  if (type === 3) d.summary = `Destination unreachable (${ICMP_UNREACHABLE[code] ?? `code ${code}`})`;
  else if (type === 11) d.summary = `Time-to-live exceeded (${code === 0 ? "Time to live exceeded in transit" : "Fragment reassembly time exceeded"})`;
  else if (type === 5) d.summary = "Redirect";
  else d.summary = `ICMP type ${type}, code ${code}`;
  return d;
}

function decodeUdp(frame: Uint8Array, at: number, end: number, cut: boolean, d: Draft, fail: (note: string) => DecodedFrame): DecodedFrame {
  d.layers.push("udp");
  d.protocol = "UDP";
  if (end < at + 8) return fail(`UDP header cut short (${Math.max(0, end - at)} of 8 bytes)`);
  const udp: UdpInfo = { srcPort: u16(frame, at), dstPort: u16(frame, at + 2), length: u16(frame, at + 4) };
  d.udp = udp;
  d.summary = `${udp.srcPort} → ${udp.dstPort} Len=${Math.max(0, udp.length - 8)}`;
  if (udp.length < 8 || (!cut && at + udp.length > end)) return fail(`UDP length ${udp.length} does not fit the packet`);
  const payloadEnd = Math.min(at + udp.length, end);
  const ports = [udp.srcPort, udp.dstPort];
  if (ports.includes(67) && ports.includes(68)) {
    d.layers.push("dhcp");
    d.protocol = "DHCP";
    const result = decodeDhcp(frame, at + 8, payloadEnd);
    if (result.info !== undefined) {
      d.dhcp = result.info;
      d.summary = dhcpSummary(result.info);
    }
    return result.malformed === undefined ? d : fail(result.malformed);
  }
  if (ports.includes(53)) {
    d.layers.push("dns");
    d.protocol = "DNS";
    const result = decodeDns(frame, at + 8, payloadEnd);
    if (result.info !== undefined) {
      d.dns = result.info;
      d.summary = dnsSummary(result.info);
    }
    return result.malformed === undefined ? d : fail(result.malformed);
  }
  return d;
}

function decodeTcp(frame: Uint8Array, at: number, end: number, d: Draft, fail: (note: string) => DecodedFrame): DecodedFrame {
  d.layers.push("tcp");
  d.protocol = "TCP";
  if (end < at + 20) return fail(`TCP header cut short (${Math.max(0, end - at)} of 20 bytes)`);
  const headerLength = ((frame[at + 12] as number) >>> 4) * 4;
  const flags = (((frame[at + 12] as number) & 0x01) << 8) | (frame[at + 13] as number);
  const flagNames = TCP_FLAGS.filter((_, bit) => (flags & (1 << bit)) !== 0);
  const ipv4 = d.ipv4 as Ipv4Info;
  const options = tcpOptions(frame, at + 20, Math.min(at + headerLength, end));
  const tcp: TcpInfo = {
    srcPort: u16(frame, at),
    dstPort: u16(frame, at + 2),
    seq: u32(frame, at + 4),
    ack: u32(frame, at + 8),
    flags,
    flagNames,
    window: u16(frame, at + 14),
    headerLength,
    // From the IP lengths: what was on the wire even if a capture cut the bytes.
    payloadLength: Math.max(0, ipv4.totalLength - ipv4.headerLength - headerLength),
    options,
  };
  d.tcp = tcp;
  const shown = TCP_FLAG_ORDER.filter((f) => flagNames.includes(f as (typeof TCP_FLAGS)[number]));
  const ack = (flags & 0x10) !== 0 ? ` Ack=${tcp.ack}` : "";
  const words = options.words.length > 0 ? ` ${options.words.join(" ")}` : "";
  d.summary = `${tcp.srcPort} → ${tcp.dstPort} [${shown.join(", ")}] Seq=${tcp.seq}${ack} Win=${tcp.window} Len=${tcp.payloadLength}${words}`;
  if (headerLength < 20 || at + headerLength > end) return fail(`bad TCP header length ${headerLength}`);
  return d;
}

/** The options in `[at, end)`; stops quietly at anything that does not fit. */
function tcpOptions(frame: Uint8Array, at: number, end: number): TcpOptions {
  const options: { -readonly [K in keyof TcpOptions]: TcpOptions[K] } & { words: string[] } = { words: [] };
  while (at < end) {
    const kind = frame[at] as number;
    if (kind === 0) break;
    if (kind === 1) {
      at++;
      continue;
    }
    const length = at + 1 < end ? (frame[at + 1] as number) : 0;
    if (length < 2 || at + length > end) break;
    if (kind === 2 && length === 4) {
      options.mss = u16(frame, at + 2);
      options.words.push(`MSS=${options.mss}`);
    } else if (kind === 3 && length === 3) {
      options.windowScale = frame[at + 2] as number;
      options.words.push(`WS=${2 ** Math.min(options.windowScale, 14)}`);
    } else if (kind === 4 && length === 2) {
      options.sackPermitted = true;
      options.words.push("SACK_PERM");
    } else if (kind === 8 && length === 10) {
      options.timestamp = { value: u32(frame, at + 2), echo: u32(frame, at + 6) };
      options.words.push(`TSval=${options.timestamp.value}`, `TSecr=${options.timestamp.echo}`);
    }
    at += length;
  }
  return options;
}
