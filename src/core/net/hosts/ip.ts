/**
 * IPv4 for the in-page hosts: addresses and subnets as numbers, and parsers and builders of
 * Ethernet frames carrying IPv4, UDP and ICMP, every checksum filled in or verified. Pure
 * functions on bytes. (ARP, echo and TCP frames come from lab/frames.ts and lab/tcp.ts.)
 */
import { internetChecksum, type Ipv4, type Mac } from "../../lab/frames.ts";
import {
  BROADCAST_MAC,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETH_HEADER,
  PROTO_ICMP,
  PROTO_TCP,
  PROTO_UDP,
  ipv4Frame,
  transportChecksum,
  udpFrame,
  type Ipv4PacketOptions as Ipv4FrameOptions,
  type UdpFrameOptions,
} from "../frames.ts";

// The constants and builders are the network's own (net/frames.ts), re-exported for the hosts' modules.
export { BROADCAST_MAC, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETH_HEADER, PROTO_ICMP, PROTO_TCP, PROTO_UDP, ipv4Frame, udpFrame, type Ipv4FrameOptions, type UdpFrameOptions };
export const BROADCAST_IP: Ipv4 = [255, 255, 255, 255];
export const ZERO_IP: Ipv4 = [0, 0, 0, 0];

export const ICMP_ECHO_REPLY = 0;
export const ICMP_UNREACHABLE = 3;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;
/** Codes of ICMP destination unreachable. */
export const UNREACHABLE = { net: 0, host: 1, port: 3, prohibited: 13 } as const;

export function u16(b: Uint8Array, at: number): number {
  return ((b[at] as number) << 8) | (b[at + 1] as number);
}

export function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 8) & 0xff;
  b[at + 1] = v & 0xff;
}

export function ipToNumber(ip: Ipv4): number {
  return ((ip[0] << 24) | (ip[1] << 16) | (ip[2] << 8) | ip[3]) >>> 0;
}

export function numberToIp(n: number): Ipv4 {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

/** "10.0.1.1" to an Ipv4; undefined when it is not a dotted quad. */
export function parseIpv4(text: string): Ipv4 | undefined {
  const parts = text.trim().split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.map(Number) as unknown as Ipv4;
}

export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function sameIp(a: Ipv4, b: Ipv4): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3];
}

export function sameMac(a: Mac, b: Mac): boolean {
  return a.every((x, i) => x === b[i]);
}

export function inSubnet(ip: Ipv4, net: Ipv4, prefix: number): boolean {
  const mask = maskOf(prefix);
  return ((ipToNumber(ip) & mask) >>> 0) === ((ipToNumber(net) & mask) >>> 0);
}

export function broadcastOf(ip: Ipv4, prefix: number): Ipv4 {
  return numberToIp((ipToNumber(ip) | ~maskOf(prefix)) >>> 0);
}

export function readMac(b: Uint8Array, at: number): Mac {
  return Array.from(b.subarray(at, at + 6)) as unknown as Mac;
}

export function readIp(b: Uint8Array, at: number): Ipv4 {
  return Array.from(b.subarray(at, at + 4)) as unknown as Ipv4;
}

/** An IPv4 packet inside an Ethernet frame, as read off the bus. */
export interface Ipv4Packet {
  readonly frame: Uint8Array;
  readonly dstMac: Mac;
  readonly srcMac: Mac;
  readonly src: Ipv4;
  readonly dst: Ipv4;
  readonly protocol: number;
  readonly ttl: number;
  /** Offsets in `frame`: the IP header, the payload, and the end of the packet. */
  readonly ipStart: number;
  readonly payloadStart: number;
  readonly end: number;
  /** More fragments follow, or this is not the first fragment. */
  readonly fragment: boolean;
  readonly headerOk: boolean;
}

/** Parse an Ethernet frame carrying IPv4; undefined for anything else or a malformed header. */
export function parseIpv4Frame(frame: Uint8Array): Ipv4Packet | undefined {
  if (frame.length < ETH_HEADER + 20 || u16(frame, 12) !== ETHERTYPE_IPV4) return undefined;
  const ipStart = ETH_HEADER;
  const first = frame[ipStart] as number;
  const headerLength = (first & 0x0f) * 4;
  const total = u16(frame, ipStart + 2);
  if (first >>> 4 !== 4 || headerLength < 20 || total < headerLength || ipStart + total > frame.length) return undefined;
  const fragmentField = u16(frame, ipStart + 6);
  return {
    frame,
    dstMac: readMac(frame, 0),
    srcMac: readMac(frame, 6),
    src: readIp(frame, ipStart + 12),
    dst: readIp(frame, ipStart + 16),
    protocol: frame[ipStart + 9] as number,
    ttl: frame[ipStart + 8] as number,
    ipStart,
    payloadStart: ipStart + headerLength,
    end: ipStart + total,
    fragment: (fragmentField & 0x3fff) !== 0,
    headerOk: internetChecksum(frame, ipStart, ipStart + headerLength) === 0,
  };
}

export interface UdpDatagram {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly payload: Uint8Array;
  /** The UDP checksum verified (or absent, which UDP over IPv4 allows). */
  readonly checksumOk: boolean;
}

/** The UDP datagram in `packet`; undefined when it is not UDP or is malformed. */
export function parseUdp(packet: Ipv4Packet): UdpDatagram | undefined {
  if (packet.protocol !== PROTO_UDP || packet.fragment || packet.end - packet.payloadStart < 8) return undefined;
  const at = packet.payloadStart;
  const f = packet.frame;
  const length = u16(f, at + 4);
  if (length < 8 || at + length > packet.end) return undefined;
  const checksum = u16(f, at + 6);
  return {
    srcPort: u16(f, at),
    dstPort: u16(f, at + 2),
    payload: f.slice(at + 8, at + length),
    checksumOk: checksum === 0 || transportChecksum(packet.src, packet.dst, PROTO_UDP, f, at, at + length) === 0,
  };
}

/** ICMP message bytes: type, code, 4 bytes of `rest` (id/seq or unused), then `data`; checksummed. */
export function icmpMessage(type: number, code: number, rest: Uint8Array, data: Uint8Array): Uint8Array {
  const icmp = new Uint8Array(8 + data.length);
  icmp[0] = type;
  icmp[1] = code;
  icmp.set(rest.subarray(0, 4), 4);
  icmp.set(data, 8);
  put16(icmp, 2, internetChecksum(icmp));
  return icmp;
}

/** RFC 1812: an ICMP error quotes as much of the datagram as fits in 576 bytes. */
const ICMP_ERROR_MAX = 576 - 20 - 8;

/**
 * An ICMP error (time exceeded, unreachable) about `packet`, sent from `src` back to its sender,
 * or undefined when RFC 1122 forbids one: about an ICMP error, a broadcast, a later fragment.
 */
export function icmpErrorFrame(packet: Ipv4Packet, o: { from: Mac; src: Ipv4; type: number; code: number }): Uint8Array | undefined {
  const f = packet.frame;
  if (packet.protocol === PROTO_ICMP) {
    const icmpType = f[packet.payloadStart] as number;
    if (icmpType !== ICMP_ECHO_REQUEST && icmpType !== ICMP_ECHO_REPLY) return undefined;
  }
  if ((u16(f, packet.ipStart + 6) & 0x1fff) !== 0) return undefined;
  if (sameIp(packet.dst, BROADCAST_IP) || sameIp(packet.src, ZERO_IP) || (packet.dstMac[0] & 1) === 1) return undefined;
  const quoted = f.subarray(packet.ipStart, Math.min(packet.end, packet.ipStart + ICMP_ERROR_MAX));
  return ipv4Frame({ from: o.from, to: packet.srcMac, src: o.src, dst: packet.src, protocol: PROTO_ICMP, payload: icmpMessage(o.type, o.code, new Uint8Array(4), quoted) });
}

/** A copy of `packet`'s frame with TTL one less and the header checksum fixed (addresses to fill in). */
export function decrementTtl(packet: Ipv4Packet): Uint8Array {
  const out = packet.frame.slice(0, packet.end);
  const ip = packet.ipStart;
  out[ip + 8] = packet.ttl - 1;
  put16(out, ip + 10, 0);
  put16(out, ip + 10, internetChecksum(out, ip, packet.payloadStart));
  return out;
}
