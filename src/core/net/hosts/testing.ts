/** Helpers for the hosts' unit tests: a guest's frames built by hand, and a probe on a bus. */
import { host } from "../../host.ts";
import type { Ipv4, Mac } from "../../lab/frames.ts";
import { ACK, FIN, PSH, RST, SYN, parseTcp, tcpFrame, type TcpSegment } from "../../lab/tcp.ts";
import type { NetworkBus } from "../../lab/netPeer.ts";
import { DHCP_CLIENT_PORT, DHCP_SERVER_PORT, encodeDhcp, parseDhcp, type DhcpMessage } from "./dhcp.ts";
import { BROADCAST_IP, BROADCAST_MAC, ZERO_IP, parseIpv4Frame, parseUdp, udpFrame, type Ipv4Packet, type UdpDatagram } from "./ip.ts";
import type { Schedule } from "./station.ts";

/** Runs at once: tests see replies right after sending. */
export const now: Schedule = (fn) => fn();

/** Collects what a bus emits. */
export function probe(bus: NetworkBus): { frames: Uint8Array[]; take(): Uint8Array[] } {
  const frames: Uint8Array[] = [];
  bus.onNetworkFrame((f) => frames.push(f));
  return {
    frames,
    take: () => frames.splice(0, frames.length),
  };
}

export function udpOf(frame: Uint8Array): { packet: Ipv4Packet; udp: UdpDatagram } {
  const packet = parseIpv4Frame(frame);
  const udp = packet === undefined ? undefined : parseUdp(packet);
  if (packet === undefined || udp === undefined) throw new Error("not a UDP frame");
  return { packet, udp };
}

export function dhcpOf(frame: Uint8Array): DhcpMessage & { packet: Ipv4Packet } {
  const { packet, udp } = udpOf(frame);
  if (udp.srcPort !== DHCP_SERVER_PORT || udp.dstPort !== DHCP_CLIENT_PORT || !udp.checksumOk || !packet.headerOk) throw new Error("not a good DHCP answer");
  const message = parseDhcp(udp.payload);
  if (message === undefined) throw new Error("DHCP payload not parsed");
  return { ...message, packet };
}

export function ipOption(m: DhcpMessage, code: number): string | undefined {
  const v = m.options.get(code);
  return v === undefined ? undefined : [...v].join(".");
}

/** A DHCP message from a client, as udhcpc sends it (broadcast from 0.0.0.0 unless `ciaddr`/`unicastTo`). */
export function dhcpClientFrame(o: { mac: Mac; type: number; xid?: number; requested?: Ipv4; serverId?: Ipv4; ciaddr?: Ipv4; hostname?: string; broadcastFlag?: boolean; unicastTo?: { mac: Mac; ip: Ipv4 } }): Uint8Array {
  const options: [number, Uint8Array][] = [];
  if (o.requested !== undefined) options.push([50, Uint8Array.from(o.requested)]);
  if (o.serverId !== undefined) options.push([54, Uint8Array.from(o.serverId)]);
  if (o.hostname !== undefined) options.push([12, Uint8Array.from(o.hostname, (c) => c.charCodeAt(0))]);
  options.push([55, Uint8Array.of(1, 3, 6, 12, 15, 28, 51, 54)]);
  const payload = encodeDhcp({ op: 1, xid: o.xid ?? 0x1234abcd, flags: o.broadcastFlag === true ? 0x8000 : 0, ciaddr: o.ciaddr ?? ZERO_IP, yiaddr: ZERO_IP, siaddr: ZERO_IP, chaddr: o.mac, type: o.type, options });
  return udpFrame({
    from: o.mac,
    to: o.unicastTo?.mac ?? BROADCAST_MAC,
    src: o.ciaddr ?? ZERO_IP,
    dst: o.unicastTo?.ip ?? BROADCAST_IP,
    srcPort: DHCP_CLIENT_PORT,
    dstPort: DHCP_SERVER_PORT,
    payload,
  });
}

/** Let queued microtasks and settled promises run (a fetch answered, a response written). */
export function settle(): Promise<void> {
  return new Promise((resolve) => host.setTimeout(resolve, 0));
}

/**
 * A guest's TCP client, by hand: connects to `dst:port` through the host at `gatewayMac`, sends
 * `request`, ACKs what comes back, and closes after the server's FIN. Returns the bytes received
 * and the segments seen.
 */
export async function tcpExchange(bus: NetworkBus, out: { take(): Uint8Array[] }, o: { mac: Mac; ip: Ipv4; gatewayMac: Mac; dst: Ipv4; port: number; request: Uint8Array; srcPort?: number }): Promise<{ received: Uint8Array; segments: TcpSegment[]; closed: boolean }> {
  const srcPort = o.srcPort ?? 40000;
  const send = (seq: number, ack: number, flags: number, payload?: Uint8Array): void =>
    bus.sendNetworkFrame(tcpFrame({ from: o.mac, to: o.gatewayMac, src: o.ip, dst: o.dst, srcPort, dstPort: o.port, seq, ack, flags, window: 65535, ...(flags & SYN ? { mss: 1460 } : {}), ...(payload === undefined ? {} : { payload }) }));
  const segments: TcpSegment[] = [];
  const collect = (): TcpSegment[] => {
    const got = out.take().flatMap((f) => {
      const s = parseTcp(f, o.ip);
      return s === undefined ? [] : [s];
    });
    segments.push(...got);
    return got;
  };
  send(1000, 0, SYN);
  await settle();
  const synAck = collect().find((s) => (s.flags & (SYN | ACK)) === (SYN | ACK));
  if (synAck === undefined) return { received: new Uint8Array(0), segments, closed: false };
  const base = (synAck.seq + 1) >>> 0;
  let mySeq = 1001;
  send(mySeq, base, ACK);
  send(mySeq, base, ACK | PSH, o.request);
  mySeq += o.request.length;
  const stream: number[] = [];
  let finAt: number | undefined;
  for (let round = 0; round < 500 && finAt === undefined; round++) {
    await settle();
    const got = collect();
    if (got.some((s) => (s.flags & RST) !== 0)) return { received: Uint8Array.from(stream), segments, closed: false };
    for (const s of got) {
      const offset = (s.seq - base) >>> 0;
      if (offset === stream.length) stream.push(...s.payload);
      if ((s.flags & FIN) !== 0 && offset + s.payload.length === stream.length) finAt = stream.length;
    }
    if (got.length > 0) send(mySeq, (base + stream.length) >>> 0, ACK);
  }
  if (finAt === undefined) return { received: Uint8Array.from(stream), segments, closed: false };
  send(mySeq, (base + finAt + 1) >>> 0, ACK | FIN);
  await settle();
  const last = collect();
  return { received: Uint8Array.from(stream), segments, closed: last.some((s) => (s.flags & ACK) !== 0 && s.ack === mySeq + 1) };
}

/** A query as busybox's resolver sends it: id, RD, one question. */
export function dnsQuery(id: number, name: string, type = 1): Uint8Array {
  const labels = name.split(".");
  const q = new Uint8Array(12 + labels.reduce((n, l) => n + 1 + l.length, 0) + 1 + 4);
  q.set([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
  let at = 12;
  for (const l of labels) {
    q[at] = l.length;
    q.set(Uint8Array.from(l, (c) => c.charCodeAt(0)), at + 1);
    at += 1 + l.length;
  }
  q.set([0, 0, type, 0, 1], at);
  return q;
}
