/** Helpers for the hosts' unit tests: a guest's frames built by hand, and a probe on a bus. */
import type { Ipv4, Mac } from "../../lab/frames.ts";
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
