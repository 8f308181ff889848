/**
 * Just enough Ethernet, ARP, IPv4 and ICMP to be the guest's network peer at the emulator's
 * network bus: answer "who has 10.86.0.1?" and echo requests, checking every checksum. Pure
 * functions on bytes; no network stack, no sockets.
 */

import { ETHERTYPE_ARP, ETHERTYPE_IPV4, ETH_HEADER, PROTO_ICMP, formatIpv4, formatMac, internetChecksum, put16, sameBytes, u16, type Ipv4, type Mac } from "../net/frames.ts";

// The general helpers live in net/frames.ts; the lab's callers keep importing them from here.
export { formatIpv4, formatMac, internetChecksum, type Ipv4, type Mac };

const ICMP_ECHO_REPLY = 0;
const ICMP_ECHO_REQUEST = 8;

/** An ARP reply telling `request`'s sender that `ip` is at `mac`, or undefined if not asked for `ip`. */
export function arpReply(request: Uint8Array, mac: Mac, ip: Ipv4): Uint8Array | undefined {
  if (request.length < ETH_HEADER + 28 || u16(request, 12) !== ETHERTYPE_ARP) return undefined;
  const arp = ETH_HEADER;
  // Ethernet / IPv4 / request for our address.
  if (u16(request, arp) !== 1 || u16(request, arp + 2) !== ETHERTYPE_IPV4 || u16(request, arp + 6) !== 1) return undefined;
  if (!sameBytes(request, arp + 24, ip)) return undefined;
  const reply = new Uint8Array(ETH_HEADER + 28);
  reply.set(request.subarray(arp + 8, arp + 14), 0); // to the asker's MAC
  reply.set(mac, 6);
  put16(reply, 12, ETHERTYPE_ARP);
  reply.set(request.subarray(arp, arp + 6), arp); // htype, ptype, hlen, plen
  put16(reply, arp + 6, 2); // reply
  reply.set(mac, arp + 8);
  reply.set(ip, arp + 14);
  reply.set(request.subarray(arp + 8, arp + 18), arp + 18); // target = the asker's MAC and IP
  return reply;
}

export interface EchoRequest {
  /** ICMP payload bytes (after the 8-byte ICMP header). */
  readonly payloadBytes: number;
  /** IP header and ICMP checksums both verified. */
  readonly checksumsOk: boolean;
  /** The echo reply to send back. */
  readonly reply: Uint8Array;
}

/** Parse an ICMP echo request to `ip`; undefined for any other frame. */
export function parseEchoRequest(frame: Uint8Array, ip: Ipv4): EchoRequest | undefined {
  if (frame.length < ETH_HEADER + 20 + 8 || u16(frame, 12) !== ETHERTYPE_IPV4) return undefined;
  const ipStart = ETH_HEADER;
  const version = (frame[ipStart] as number) >>> 4;
  const headerLength = ((frame[ipStart] as number) & 0x0f) * 4;
  if (version !== 4 || headerLength < 20 || frame[ipStart + 9] !== PROTO_ICMP || !sameBytes(frame, ipStart + 16, ip)) return undefined;
  const totalLength = u16(frame, ipStart + 2);
  const ipEnd = ipStart + totalLength;
  if (ipEnd > frame.length || totalLength < headerLength + 8) return undefined;
  const icmp = ipStart + headerLength;
  if (frame[icmp] !== ICMP_ECHO_REQUEST) return undefined;
  const checksumsOk = internetChecksum(frame, ipStart, icmp) === 0 && internetChecksum(frame, icmp, ipEnd) === 0;

  const reply = frame.slice(0, ipEnd);
  reply.set(frame.subarray(6, 12), 0); // back to the sender's MAC
  reply.set(frame.subarray(0, 6), 6); // from the MAC it addressed
  reply.set(frame.subarray(ipStart + 16, ipStart + 20), ipStart + 12); // swap IPs
  reply.set(frame.subarray(ipStart + 12, ipStart + 16), ipStart + 16);
  reply[ipStart + 8] = 64; // TTL
  put16(reply, ipStart + 10, 0);
  put16(reply, ipStart + 10, internetChecksum(reply, ipStart, icmp));
  reply[icmp] = ICMP_ECHO_REPLY;
  put16(reply, icmp + 2, 0);
  put16(reply, icmp + 2, internetChecksum(reply, icmp, ipEnd));
  return { payloadBytes: ipEnd - icmp - 8, checksumsOk, reply };
}

/** Build an ICMP echo request frame (for tests, and to check `parseEchoRequest` both ways). */
export function echoRequestFrame(opts: { from: Mac; to: Mac; src: Ipv4; dst: Ipv4; id: number; seq: number; payload: Uint8Array }): Uint8Array {
  const ipStart = ETH_HEADER;
  const icmp = ipStart + 20;
  const frame = new Uint8Array(icmp + 8 + opts.payload.length);
  frame.set(opts.to, 0);
  frame.set(opts.from, 6);
  put16(frame, 12, ETHERTYPE_IPV4);
  frame[ipStart] = 0x45;
  put16(frame, ipStart + 2, 20 + 8 + opts.payload.length);
  frame[ipStart + 8] = 64;
  frame[ipStart + 9] = PROTO_ICMP;
  frame.set(opts.src, ipStart + 12);
  frame.set(opts.dst, ipStart + 16);
  put16(frame, ipStart + 10, internetChecksum(frame, ipStart, icmp));
  frame[icmp] = ICMP_ECHO_REQUEST;
  put16(frame, icmp + 4, opts.id);
  put16(frame, icmp + 6, opts.seq);
  frame.set(opts.payload, icmp + 8);
  put16(frame, icmp + 2, internetChecksum(frame, icmp, frame.length));
  return frame;
}

/** An ARP request frame (for tests). */
export function arpRequestFrame(from: Mac, src: Ipv4, target: Ipv4): Uint8Array {
  const frame = new Uint8Array(ETH_HEADER + 28);
  frame.fill(0xff, 0, 6);
  frame.set(from, 6);
  put16(frame, 12, ETHERTYPE_ARP);
  put16(frame, 14, 1);
  put16(frame, 16, ETHERTYPE_IPV4);
  frame[18] = 6;
  frame[19] = 4;
  put16(frame, 20, 1);
  frame.set(from, 22);
  frame.set(src, 28);
  frame.set(target, 38);
  return frame;
}
