/**
 * General helpers on frame bytes shared by the switch, the decoder, the pcap writer and the
 * device lab: addresses, big-endian fields, the Internet checksum, and builders of IPv4/UDP
 * frames for tests and in-page hosts. Pure functions; nothing here throws on short input
 * except the `put*` writers, which callers size themselves.
 */

export type Mac = readonly [number, number, number, number, number, number];
export type Ipv4 = readonly [number, number, number, number];

export const ETH_HEADER = 14;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_IPV6 = 0x86dd;
export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const BROADCAST_MAC: Mac = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

/** The Internet checksum (RFC 1071) of `bytes[start, end)`. */
export function internetChecksum(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let sum = 0;
  let i = start;
  for (; i + 1 < end; i += 2) sum += ((bytes[i] as number) << 8) | (bytes[i + 1] as number);
  if (i < end) sum += (bytes[i] as number) << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** Big-endian 16 bits at `at`; the caller checks the length. */
export function u16(bytes: Uint8Array, at: number): number {
  return ((bytes[at] as number) << 8) | (bytes[at + 1] as number);
}

export function u32(bytes: Uint8Array, at: number): number {
  return (((bytes[at] as number) << 24) | ((bytes[at + 1] as number) << 16) | ((bytes[at + 2] as number) << 8) | (bytes[at + 3] as number)) >>> 0;
}

export function put16(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = (value >>> 8) & 0xff;
  bytes[at + 1] = value & 0xff;
}

export function put32(bytes: Uint8Array, at: number, value: number): void {
  put16(bytes, at, (value >>> 16) & 0xffff);
  put16(bytes, at + 2, value & 0xffff);
}

export function sameBytes(bytes: Uint8Array, at: number, expected: readonly number[]): boolean {
  return expected.every((b, i) => bytes[at + i] === b);
}

export function formatMac(mac: Mac): string {
  return mac.map((b) => b.toString(16).padStart(2, "0")).join(":");
}

export function formatIpv4(ip: Ipv4): string {
  return ip.join(".");
}

/** The six bytes at `at` as a Mac (the caller checks the length). */
export function readMac(bytes: Uint8Array, at: number): Mac {
  return Array.from(bytes.subarray(at, at + 6)) as unknown as Mac;
}

export function readIpv4(bytes: Uint8Array, at: number): Ipv4 {
  return Array.from(bytes.subarray(at, at + 4)) as unknown as Ipv4;
}

/** "aa:bb:cc:dd:ee:ff" (or with dashes) to a Mac; undefined when it is not one. */
export function parseMac(text: string): Mac | undefined {
  const parts = text.trim().split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) return undefined;
  return parts.map((p) => parseInt(p, 16)) as unknown as Mac;
}

/** A key for maps: the MAC at `at` as 12 hex digits. */
export function macKey(bytes: Uint8Array, at: number): string {
  let key = "";
  for (let i = at; i < at + 6; i++) key += (bytes[i] as number).toString(16).padStart(2, "0");
  return key;
}

/** The group bit: broadcast and multicast destinations (flooded by a switch). */
export function isGroupMac(bytes: Uint8Array, at: number): boolean {
  return ((bytes[at] as number) & 0x01) !== 0;
}

export interface Ipv4PacketOptions {
  readonly from: Mac;
  readonly to: Mac;
  readonly src: Ipv4;
  readonly dst: Ipv4;
  readonly protocol: number;
  readonly payload: Uint8Array;
  readonly ttl?: number;
  readonly id?: number;
  /** Flags and fragment offset, as the 16 bits of the header (0x4000 = don't fragment). */
  readonly fragment?: number;
}

/** An Ethernet frame carrying one IPv4 packet, its header checksum filled in. */
export function ipv4Frame(o: Ipv4PacketOptions): Uint8Array {
  const ip = ETH_HEADER;
  const frame = new Uint8Array(ip + 20 + o.payload.length);
  frame.set(o.to, 0);
  frame.set(o.from, 6);
  put16(frame, 12, ETHERTYPE_IPV4);
  frame[ip] = 0x45;
  put16(frame, ip + 2, 20 + o.payload.length);
  put16(frame, ip + 4, o.id ?? 0);
  put16(frame, ip + 6, o.fragment ?? 0);
  frame[ip + 8] = o.ttl ?? 64;
  frame[ip + 9] = o.protocol;
  frame.set(o.src, ip + 12);
  frame.set(o.dst, ip + 16);
  put16(frame, ip + 10, internetChecksum(frame, ip, ip + 20));
  frame.set(o.payload, ip + 20);
  return frame;
}

/** UDP's (or TCP's) checksum over the IPv4 pseudo-header and the segment at `[start, end)`. */
export function transportChecksum(src: Ipv4, dst: Ipv4, protocol: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  const length = end - start;
  const pseudo = new Uint8Array(12 + length);
  pseudo.set(src, 0);
  pseudo.set(dst, 4);
  pseudo[9] = protocol;
  put16(pseudo, 10, length);
  pseudo.set(bytes.subarray(start, end), 12);
  return internetChecksum(pseudo);
}

export interface UdpFrameOptions {
  readonly from: Mac;
  readonly to: Mac;
  readonly src: Ipv4;
  readonly dst: Ipv4;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly payload: Uint8Array;
  readonly ttl?: number;
}

/** An Ethernet frame carrying one UDP datagram, with both checksums. */
export function udpFrame(o: UdpFrameOptions): Uint8Array {
  const udp = new Uint8Array(8 + o.payload.length);
  put16(udp, 0, o.srcPort);
  put16(udp, 2, o.dstPort);
  put16(udp, 4, udp.length);
  udp.set(o.payload, 8);
  put16(udp, 6, transportChecksum(o.src, o.dst, PROTO_UDP, udp) || 0xffff);
  return ipv4Frame({ from: o.from, to: o.to, src: o.src, dst: o.dst, protocol: PROTO_UDP, payload: udp, ...(o.ttl === undefined ? {} : { ttl: o.ttl }) });
}

export const ETHERTYPE_RARP = 0x8035;

/** The 28-byte ARP body for Ethernet and IPv4 (hardware 1, protocol 0x0800, lengths 6 and 4). */
function arpFrame(etherType: number, op: number, mac: Mac, senderIp: Ipv4, targetMac: Mac, targetIp: Ipv4): Uint8Array {
  const frame = new Uint8Array(ETH_HEADER + 28);
  frame.set(BROADCAST_MAC, 0);
  frame.set(mac, 6);
  put16(frame, 12, etherType);
  const a = ETH_HEADER;
  put16(frame, a, 1);
  put16(frame, a + 2, ETHERTYPE_IPV4);
  frame[a + 4] = 6;
  frame[a + 5] = 4;
  put16(frame, a + 6, op);
  frame.set(mac, a + 8);
  frame.set(senderIp, a + 14);
  frame.set(targetMac, a + 18);
  frame.set(targetIp, a + 24);
  return frame;
}

/**
 * A gratuitous ARP request: broadcast, "who has `ip`? tell `ip`" from `mac` (sender and target
 * address the same, target MAC zero, as Linux's arping -U sends). Every switch on the way learns
 * where `mac` is now; every host that has `ip` in its ARP cache updates it.
 */
export function gratuitousArp(mac: Mac, ip: Ipv4): Uint8Array {
  return arpFrame(ETHERTYPE_ARP, 1, mac, ip, [0, 0, 0, 0, 0, 0], ip);
}

/**
 * What QEMU's announce-self sends when it does not know the guest's address: a RARP "request
 * reverse" (operation 3) broadcast from `mac` about itself, addresses zero. Switches learn the MAC
 * from it; hosts ignore it.
 */
export function rarpAnnounce(mac: Mac): Uint8Array {
  return arpFrame(ETHERTYPE_RARP, 3, mac, [0, 0, 0, 0], mac, [0, 0, 0, 0]);
}

