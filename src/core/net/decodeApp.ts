/**
 * The decoder's upper layers: DHCP and DNS on UDP, and a short look at IPv6 (guests send router
 * and neighbour solicitations on their own). Each returns what it read and, when the bytes
 * ran out or made no sense, a `malformed` note; none throws.
 */
import { formatIpv4, formatMac, readIpv4, readMac, u16, u32 } from "./frames.ts";

interface Result<T> {
  readonly info?: T;
  readonly malformed?: string;
}

// --- DHCP (RFC 2131, 2132) ---

export const DHCP_MESSAGE_TYPES = ["", "Discover", "Offer", "Request", "Decline", "ACK", "NAK", "Release", "Inform"] as const;
const DHCP_MAGIC = 0x63825363;

export interface DhcpInfo {
  /** 1 from a client (BOOTREQUEST), 2 from a server. */
  readonly op: number;
  readonly xid: number;
  readonly clientMac: string;
  readonly clientIp: string;
  readonly yourIp: string;
  readonly serverIp: string;
  /** Option 53: 1 Discover … 8 Inform; undefined for plain BOOTP. */
  readonly messageType?: number;
  readonly messageTypeName?: string;
  readonly requestedIp?: string;
  readonly serverId?: string;
  readonly hostname?: string;
  readonly subnetMask?: string;
  readonly routers?: readonly string[];
  readonly dnsServers?: readonly string[];
  readonly leaseSeconds?: number;
}

function ipList(bytes: Uint8Array, at: number, length: number): string[] {
  const out: string[] = [];
  for (let i = at; i + 4 <= at + length; i += 4) out.push(formatIpv4(readIpv4(bytes, i)));
  return out;
}

function text(bytes: Uint8Array, at: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(at, at + length)).replace(/[^\x20-\x7e]/g, "?");
}

export function decodeDhcp(frame: Uint8Array, at: number, end: number): Result<DhcpInfo> {
  if (end < at + 240) return { malformed: `DHCP message cut short (${Math.max(0, end - at)} of at least 240 bytes)` };
  const base = {
    op: frame[at] as number,
    xid: u32(frame, at + 4),
    clientIp: formatIpv4(readIpv4(frame, at + 12)),
    yourIp: formatIpv4(readIpv4(frame, at + 16)),
    serverIp: formatIpv4(readIpv4(frame, at + 20)),
    clientMac: formatMac(readMac(frame, at + 28)),
  };
  if (u32(frame, at + 236) !== DHCP_MAGIC) return { info: base, malformed: "no DHCP magic cookie (plain BOOTP?)" };
  const info: { -readonly [K in keyof DhcpInfo]: DhcpInfo[K] } = { ...base };
  let i = at + 240;
  while (i < end) {
    const code = frame[i] as number;
    if (code === 255) return { info };
    if (code === 0) {
      i++;
      continue;
    }
    if (i + 2 > end || i + 2 + (frame[i + 1] as number) > end) return { info, malformed: `DHCP option ${code} runs past the end` };
    const length = frame[i + 1] as number;
    const v = i + 2;
    if (code === 53 && length >= 1) {
      info.messageType = frame[v] as number;
      info.messageTypeName = DHCP_MESSAGE_TYPES[info.messageType] || `type ${info.messageType}`;
    } else if (code === 50 && length === 4) info.requestedIp = formatIpv4(readIpv4(frame, v));
    else if (code === 54 && length === 4) info.serverId = formatIpv4(readIpv4(frame, v));
    else if (code === 1 && length === 4) info.subnetMask = formatIpv4(readIpv4(frame, v));
    else if (code === 12) info.hostname = text(frame, v, length);
    else if (code === 3) info.routers = ipList(frame, v, length);
    else if (code === 6) info.dnsServers = ipList(frame, v, length);
    else if (code === 51 && length === 4) info.leaseSeconds = u32(frame, v);
    i = v + length;
  }
  // Many clients pad after the end option; a missing one is common enough not to be an error.
  return { info };
}

export function dhcpSummary(info: DhcpInfo): string {
  const kind = info.messageTypeName ?? (info.op === 1 ? "BOOTP request" : "BOOTP reply");
  return `DHCP ${kind} - Transaction ID 0x${info.xid.toString(16).padStart(8, "0")}`;
}

// --- DNS (RFC 1035) ---

const DNS_TYPES: Record<number, string> = { 1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV", 65: "HTTPS", 255: "ANY" };
const DNS_RCODES = ["No error", "Format error", "Server failure", "No such name", "Not implemented", "Refused"];

export interface DnsAnswer {
  readonly name: string;
  readonly type: number;
  readonly ttl: number;
  /** A and AAAA as addresses, CNAME/PTR/NS as names, anything else as its length. */
  readonly data: string;
}

export interface DnsInfo {
  readonly id: number;
  readonly response: boolean;
  readonly opcode: number;
  readonly rcode: number;
  readonly questionCount: number;
  readonly answerCount: number;
  readonly queryName?: string;
  readonly queryType?: number;
  readonly answers: readonly DnsAnswer[];
}

export function dnsTypeName(type: number): string {
  return DNS_TYPES[type] ?? `TYPE${type}`;
}

/** A possibly compressed name at `at`; `next` is where the record goes on. */
function readName(bytes: Uint8Array, start: number, at: number, end: number): { name: string; next: number } | undefined {
  const labels: string[] = [];
  let next: number | undefined;
  for (let hops = 0; hops < 64; hops++) {
    if (at >= end) return undefined;
    const length = bytes[at] as number;
    if (length === 0) return { name: labels.length === 0 ? "<Root>" : labels.join("."), next: next ?? at + 1 };
    if ((length & 0xc0) === 0xc0) {
      if (at + 2 > end) return undefined;
      next ??= at + 2;
      at = start + (u16(bytes, at) & 0x3fff);
      continue;
    }
    if (length > 63 || at + 1 + length > end) return undefined;
    labels.push(text(bytes, at + 1, length));
    at += 1 + length;
  }
  return undefined; // a pointer loop
}

function ipv6Text(bytes: Uint8Array, at: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(u16(bytes, at + i * 2).toString(16));
  // Shorten the longest run of zero groups, as RFC 5952 says.
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLength) [best, bestLength] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  if (best < 0) return groups.join(":");
  return `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLength).join(":")}`;
}

export function decodeDns(frame: Uint8Array, at: number, end: number): Result<DnsInfo> {
  if (end < at + 12) return { malformed: `DNS header cut short (${Math.max(0, end - at)} of 12 bytes)` };
  const flags = u16(frame, at + 2);
  const base = {
    id: u16(frame, at),
    response: (flags & 0x8000) !== 0,
    opcode: (flags >>> 11) & 0x0f,
    rcode: flags & 0x0f,
    questionCount: u16(frame, at + 4),
    answerCount: u16(frame, at + 6),
  };
  const answers: DnsAnswer[] = [];
  const info: { -readonly [K in keyof DnsInfo]: DnsInfo[K] } = { ...base, answers };
  let i = at + 12;
  for (let q = 0; q < base.questionCount; q++) {
    const name = readName(frame, at, i, end);
    if (name === undefined || name.next + 4 > end) return { info, malformed: "DNS question cut short" };
    if (q === 0) {
      info.queryName = name.name;
      info.queryType = u16(frame, name.next);
    }
    i = name.next + 4;
  }
  for (let a = 0; a < base.answerCount; a++) {
    const name = readName(frame, at, i, end);
    if (name === undefined || name.next + 10 > end) return { info, malformed: "DNS answer cut short" };
    const type = u16(frame, name.next);
    const ttl = u32(frame, name.next + 4);
    const length = u16(frame, name.next + 8);
    const data = name.next + 10;
    if (data + length > end) return { info, malformed: "DNS answer data runs past the end" };
    let value = `${length} bytes`;
    if (type === 1 && length === 4) value = formatIpv4(readIpv4(frame, data));
    else if (type === 28 && length === 16) value = ipv6Text(frame, data);
    else if (type === 5 || type === 12 || type === 2) value = readName(frame, at, data, data + length)?.name ?? value;
    answers.push({ name: name.name, type, ttl, data: value });
    i = data + length;
  }
  return { info };
}

export function dnsSummary(info: DnsInfo): string {
  const question = info.queryName === undefined ? "" : ` ${dnsTypeName(info.queryType ?? 0)} ${info.queryName}`;
  if (!info.response) return `Standard query 0x${info.id.toString(16).padStart(4, "0")}${question}`;
  const error = info.rcode === 0 ? "" : ` ${DNS_RCODES[info.rcode] ?? `Error ${info.rcode}`}`;
  const answers = info.answers.map((a) => ` ${dnsTypeName(a.type)} ${a.data}`).join("");
  return `Standard query response 0x${info.id.toString(16).padStart(4, "0")}${error}${question}${answers}`;
}

// --- IPv6: addresses and the next header, enough to name the frames a guest sends unasked ---

export interface Ipv6Info {
  readonly src: string;
  readonly dst: string;
  readonly nextHeader: number;
  readonly hopLimit: number;
  readonly payloadLength: number;
  /** ICMPv6 type, when the next header is ICMPv6 (58). */
  readonly icmpType?: number;
}

const ICMPV6_TYPES: Record<number, string> = {
  1: "Destination Unreachable",
  3: "Time Exceeded",
  128: "Echo (ping) request",
  129: "Echo (ping) reply",
  133: "Router Solicitation",
  134: "Router Advertisement",
  135: "Neighbor Solicitation",
  136: "Neighbor Advertisement",
  143: "Multicast Listener Report Message v2",
};

export function decodeIpv6(frame: Uint8Array, at: number): { info?: Ipv6Info; protocol: string; summary: string; malformed?: string } {
  if (frame.length < at + 40) return { protocol: "IPv6", summary: "IPv6", malformed: `IPv6 header cut short (${frame.length - at} of 40 bytes)` };
  const nextHeader = frame[at + 6] as number;
  const base: Ipv6Info = { src: ipv6Text(frame, at + 8), dst: ipv6Text(frame, at + 24), nextHeader, hopLimit: frame[at + 7] as number, payloadLength: u16(frame, at + 4) };
  // Past the extension headers a guest's stack puts first (MLD reports come after hop-by-hop
  // options with the router alert), to the header that says what the packet is, as Wireshark does.
  let next = nextHeader;
  let offset = at + 40;
  while (IPV6_EXTENSION_HEADERS.has(next) && frame.length >= offset + 8) {
    // A fragment after the first carries the middle of a message: nothing to name in it.
    if (next === IPV6_FRAGMENT && u16(frame, offset + 2) >> 3 !== 0) return { info: base, protocol: "IPv6", summary: "IPv6 fragment" };
    const length = (next === IPV6_FRAGMENT ? 0 : (frame[offset + 1] as number)) * 8 + 8;
    next = frame[offset] as number;
    offset += length;
  }
  if (next === 58 && frame.length > offset) {
    const icmpType = frame[offset] as number;
    return { info: { ...base, icmpType }, protocol: "ICMPv6", summary: ICMPV6_TYPES[icmpType] ?? `ICMPv6 type ${icmpType}` };
  }
  if (IPV6_EXTENSION_HEADERS.has(next)) return { info: base, protocol: "IPv6", summary: "IPv6 extension header", malformed: "IPv6 extension header cut short" };
  return { info: base, protocol: "IPv6", summary: `IPv6 next header ${next}` };
}

/** Hop-by-hop options, routing, fragment, destination options: each says the next header. */
const IPV6_FRAGMENT = 44;
const IPV6_EXTENSION_HEADERS: ReadonlySet<number> = new Set([0, 43, IPV6_FRAGMENT, 60]);
