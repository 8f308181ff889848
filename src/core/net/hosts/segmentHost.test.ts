import { describe, expect, it } from "vitest";
import { ManualClock } from "../../clock.ts";
import { isAppError } from "../../errors.ts";
import { arpRequestFrame, echoRequestFrame, internetChecksum, type Ipv4, type Mac } from "../../lab/frames.ts";
import { RST, ACK, SYN, parseTcp, tcpFrame } from "../../lab/tcp.ts";
import { DHCP, type DhcpLease } from "./dhcp.ts";
import { parseIpv4Frame, udpFrame } from "./ip.ts";
import { SegmentHost } from "./segmentHost.ts";
import { dhcpClientFrame, dhcpOf, ipOption, now, probe } from "./testing.ts";

const hostMac: Mac = [0x52, 0x54, 0x00, 0x4e, 0x00, 0x02];
const hostIp: Ipv4 = [10, 0, 1, 2];
const vm1: Mac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x01];

function segmentHost(extra: Partial<ConstructorParameters<typeof SegmentHost>[0]> = {}) {
  const host = new SegmentHost({ mac: hostMac, ip: hostIp, prefix: 24, clock: new ManualClock(), schedule: now, hostnameFor: (mac) => (mac[5] === 1 ? "vm1" : undefined), ...extra });
  return { host, out: probe(host) };
}

/** udhcpc's exchange: DISCOVER, OFFER, REQUEST (server id + requested address), ACK. */
function lease(host: SegmentHost, out: ReturnType<typeof probe>, mac: Mac) {
  host.sendNetworkFrame(dhcpClientFrame({ mac, type: DHCP.discover }));
  const offer = dhcpOf(out.take()[0] ?? new Uint8Array());
  host.sendNetworkFrame(dhcpClientFrame({ mac, type: DHCP.request, requested: offer.yiaddr, serverId: hostIp }));
  return { offer, ack: dhcpOf(out.take()[0] ?? new Uint8Array()) };
}

describe("SegmentHost", () => {
  it("answers ARP for its address only", () => {
    const { host, out } = segmentHost();
    host.sendNetworkFrame(arpRequestFrame(vm1, [10, 0, 1, 100], hostIp));
    host.sendNetworkFrame(arpRequestFrame(vm1, [10, 0, 1, 100], [10, 0, 1, 1]));
    const frames = out.take();
    expect(frames).toHaveLength(1);
    expect([...(frames[0] ?? new Uint8Array()).subarray(0, 6)]).toEqual([...vm1]);
    expect([...(frames[0] ?? new Uint8Array()).subarray(22, 28)]).toEqual([...hostMac]);
    expect(host.counters.arpReplies).toBe(1);
  });

  it("answers a ping to itself with a valid echo reply", () => {
    const { host, out } = segmentHost();
    host.sendNetworkFrame(echoRequestFrame({ from: vm1, to: hostMac, src: [10, 0, 1, 100], dst: hostIp, id: 1, seq: 1, payload: new Uint8Array(56) }));
    const reply = out.take()[0] ?? new Uint8Array();
    expect(reply[34]).toBe(0);
    expect(internetChecksum(reply, 14, 34)).toBe(0);
    expect(internetChecksum(reply, 34, reply.length)).toBe(0);
    expect(host.counters).toMatchObject({ echoReplies: 1, framesIn: 1, framesOut: 1 });
  });

  it("leases an address as udhcpc asks: unicast to the client, mask, broadcast, hostname, no router or DNS on an isolated segment", () => {
    const { host, out } = segmentHost();
    const leases: (readonly DhcpLease[])[] = [];
    host.onLeasesChanged((l) => leases.push(l));
    const { offer, ack } = lease(host, out, vm1);
    expect(offer).toMatchObject({ type: DHCP.offer, yiaddr: [10, 0, 1, 100], chaddr: vm1 });
    expect(offer.packet).toMatchObject({ src: hostIp, dst: [10, 0, 1, 100], dstMac: vm1, srcMac: hostMac });
    expect(ack.type).toBe(DHCP.ack);
    expect(ipOption(ack, 54)).toBe("10.0.1.2");
    expect(ipOption(ack, 1)).toBe("255.255.255.0");
    expect(ipOption(ack, 28)).toBe("10.0.1.255");
    expect(ack.options.get(51)).toEqual(Uint8Array.of(0, 0, 0x0e, 0x10));
    expect(String.fromCharCode(...(ack.options.get(12) ?? []))).toBe("vm1");
    expect(ack.options.has(3)).toBe(false);
    expect(ack.options.has(6)).toBe(false);
    expect(host.leases).toEqual([{ mac: "52:54:00:12:34:01", ip: "10.0.1.100", hostname: "vm1", state: "bound", expiresAt: 3_600_000 }]);
    expect(leases.at(-1)?.[0]?.state).toBe("bound");
    expect(host.counters.dhcpLeases).toBe(1);
  });

  it("announces the gateway and DNS when the segment has them, and broadcasts when the client sets the flag", () => {
    const { host, out } = segmentHost({ gateway: [10, 0, 1, 1], dns: [10, 0, 1, 1] });
    host.sendNetworkFrame(dhcpClientFrame({ mac: vm1, type: DHCP.discover, broadcastFlag: true }));
    const offer = dhcpOf(out.take()[0] ?? new Uint8Array());
    expect(offer.packet).toMatchObject({ dst: [255, 255, 255, 255], dstMac: [255, 255, 255, 255, 255, 255] });
    expect(ipOption(offer, 3)).toBe("10.0.1.1");
    expect(ipOption(offer, 6)).toBe("10.0.1.1");
  });

  it("refuses other UDP with port unreachable and TCP with a reset; drops packets for other addresses", () => {
    const { host, out } = segmentHost();
    host.sendNetworkFrame(udpFrame({ from: vm1, to: hostMac, src: [10, 0, 1, 100], dst: hostIp, srcPort: 40000, dstPort: 33434, payload: new Uint8Array(8) }));
    const unreachable = out.take()[0] ?? new Uint8Array();
    expect([unreachable[34], unreachable[35]]).toEqual([3, 3]);
    expect(parseIpv4Frame(unreachable)).toMatchObject({ src: hostIp, dst: [10, 0, 1, 100], headerOk: true });
    host.sendNetworkFrame(tcpFrame({ from: vm1, to: hostMac, src: [10, 0, 1, 100], dst: hostIp, srcPort: 40001, dstPort: 22, seq: 500, ack: 0, flags: SYN, window: 1000 }));
    const reset = parseTcp(out.take()[0] ?? new Uint8Array(), [10, 0, 1, 100]);
    expect(reset).toMatchObject({ flags: RST | ACK, ack: 501, srcPort: 22, dstPort: 40001, checksumsOk: true });
    host.sendNetworkFrame(echoRequestFrame({ from: vm1, to: hostMac, src: [10, 0, 1, 100], dst: [8, 8, 8, 8], id: 1, seq: 1, payload: new Uint8Array(8) }));
    expect(out.take()).toHaveLength(0);
    expect(host.counters).toMatchObject({ unreachable: 1, resets: 1, dropped: 1 });
  });

  it("ignores frames for other MACs, and counts a bad IP header checksum", () => {
    const { host, out } = segmentHost();
    host.sendNetworkFrame(echoRequestFrame({ from: vm1, to: [0x52, 0x54, 0, 0, 0, 9], src: [10, 0, 1, 100], dst: hostIp, id: 1, seq: 1, payload: new Uint8Array(8) }));
    const bad = echoRequestFrame({ from: vm1, to: hostMac, src: [10, 0, 1, 100], dst: hostIp, id: 1, seq: 1, payload: new Uint8Array(8) });
    bad[24] = (bad[24] as number) ^ 1;
    host.sendNetworkFrame(bad);
    expect(out.take()).toHaveLength(0);
    expect(host.counters.badChecksums).toBe(1);
  });

  it("sends nothing after dispose, and refuses an address that cannot be a host", () => {
    const { host, out } = segmentHost();
    host.dispose();
    host.sendNetworkFrame(arpRequestFrame(vm1, [10, 0, 1, 100], hostIp));
    expect(out.frames).toHaveLength(0);
    let error: unknown;
    try {
      new SegmentHost({ mac: hostMac, ip: [10, 0, 1, 255], prefix: 24, clock: new ManualClock() });
    } catch (e) {
      error = e;
    }
    expect(isAppError(error, "bad-network")).toBe(true);
  });
});
