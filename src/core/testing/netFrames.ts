/** Frames of the protocols the decoder names, built by hand: for unit tests. */
import { SYN, tcpFrame } from "../lab/tcp.ts";
import { put16, put32, transportChecksum, type Ipv4, type Mac } from "../net/frames.ts";

const M1: Mac = [0x52, 0x54, 0, 0x12, 0x34, 0x01];
const M2: Mac = [0x52, 0x54, 0, 0x12, 0x34, 0x02];
const IP1: Ipv4 = [10, 0, 0, 1];
const IP2: Ipv4 = [10, 0, 0, 2];

/** A BOOTP/DHCP message from `client` with option 53 = `type` and the options given as [code, bytes]. */
export function dhcpMessage(op: number, type: number, xid: number, options: [number, number[]][] = [], client: Mac = M1): Uint8Array {
  const body = [53, 1, type, ...options.flatMap(([code, bytes]) => [code, bytes.length, ...bytes]), 255];
  const message = new Uint8Array(240 + body.length);
  message[0] = op;
  message[1] = 1;
  message[2] = 6;
  put32(message, 4, xid);
  message.set(client, 28);
  put32(message, 236, 0x63825363);
  message.set(body, 240);
  return message;
}

function dnsName(name: string): number[] {
  return [...name.split(".").flatMap((label) => [label.length, ...[...label].map((c) => c.charCodeAt(0))]), 0];
}

export function dnsQuery(id: number, name: string, type = 1): Uint8Array {
  return Uint8Array.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, ...dnsName(name), 0, type, 0, 1]);
}

/** A response to `dnsQuery(id, name)` with one A answer (name compressed to the question) and `rcode`. */
export function dnsResponse(id: number, name: string, address: Ipv4 | undefined, rcode = 0): Uint8Array {
  const answer = address === undefined ? [] : [0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, ...address];
  return Uint8Array.from([id >> 8, id & 0xff, 0x81, 0x80 | rcode, 0, 1, 0, answer.length > 0 ? 1 : 0, 0, 0, 0, 0, ...dnsName(name), 0, 1, 0, 1, ...answer]);
}

/** A SYN from 10.0.0.1:40000 to 10.0.0.2:80 as Linux sends it: MSS, SACK_PERM, timestamps, NOP, window scale 7. */
export function linuxSyn(): Uint8Array {
  const frame = tcpFrame({ from: M1, to: M2, src: IP1, dst: IP2, srcPort: 40000, dstPort: 80, seq: 0, ack: 0, flags: SYN, window: 64240, payload: new Uint8Array(20) });
  const tcp = 14 + 20;
  frame[tcp + 12] = (40 / 4) << 4; // the 20 "payload" bytes become options
  frame.set([2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0x30, 0x39, 0, 0, 0, 0, 1, 3, 3, 7], tcp + 20);
  put16(frame, tcp + 16, 0);
  put16(frame, tcp + 16, transportChecksum(IP1, IP2, 6, frame, tcp, frame.length));
  return frame;
}
