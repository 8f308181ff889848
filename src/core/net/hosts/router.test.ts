import { describe, expect, it } from "vitest";
import { ManualClock } from "../../clock.ts";
import { isAppError } from "../../errors.ts";
import { arpReply, arpRequestFrame, echoRequestFrame, internetChecksum, type Ipv4, type Mac } from "../../lab/frames.ts";
import { DHCP } from "./dhcp.ts";
import { parseIpv4Frame, udpFrame } from "./ip.ts";
import { Router } from "./router.ts";
import { dhcpClientFrame, dhcpOf, ipOption, now, probe } from "./testing.ts";

const r1: Mac = [0x52, 0x54, 0x00, 0x4e, 0x01, 0x01];
const r2: Mac = [0x52, 0x54, 0x00, 0x4e, 0x02, 0x01];
const vm1: Mac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x01];
const vm2: Mac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x02];
const vm1Ip: Ipv4 = [10, 0, 1, 100];
const vm2Ip: Ipv4 = [10, 0, 2, 100];

function router() {
  const clock = new ManualClock();
  const r = new Router({
    clock,
    schedule: now,
    interfaces: [
      { name: "net1", mac: r1, ip: [10, 0, 1, 1], prefix: 24 },
      { name: "net2", mac: r2, ip: [10, 0, 2, 1], prefix: 24 },
    ],
  });
  const [a, b] = r.interfaces;
  if (a === undefined || b === undefined) throw new Error("two interfaces");
  return { r, clock, net1: a, net2: b, out1: probe(a), out2: probe(b) };
}

/** A traceroute probe: UDP to a high port with the TTL given. */
const probeFrame = (ttl: number, dst: Ipv4 = vm2Ip): Uint8Array => udpFrame({ from: vm1, to: r1, src: vm1Ip, dst, srcPort: 45000, dstPort: 33434 + ttl, payload: new Uint8Array(32).fill(ttl), ttl });

describe("Router", () => {
  it("answers ARP on each interface for that interface's address, and ping to any of its addresses", () => {
    const { net1, net2, out1, out2 } = router();
    net1.sendNetworkFrame(arpRequestFrame(vm1, vm1Ip, [10, 0, 1, 1]));
    net1.sendNetworkFrame(arpRequestFrame(vm1, vm1Ip, [10, 0, 2, 1])); // not on this segment: no proxy ARP
    net2.sendNetworkFrame(arpRequestFrame(vm2, vm2Ip, [10, 0, 2, 1]));
    expect(out1.take().map((f) => [...f.subarray(22, 28)])).toEqual([[...r1]]);
    expect(out2.take().map((f) => [...f.subarray(22, 28)])).toEqual([[...r2]]);
    net1.sendNetworkFrame(echoRequestFrame({ from: vm1, to: r1, src: vm1Ip, dst: [10, 0, 2, 1], id: 3, seq: 1, payload: new Uint8Array(56) }));
    const reply = out1.take()[0] ?? new Uint8Array();
    expect(parseIpv4Frame(reply)).toMatchObject({ src: [10, 0, 2, 1], dst: vm1Ip, srcMac: r1, dstMac: vm1, headerOk: true });
    expect(reply[34]).toBe(0);
  });

  it("gives addresses on each interface with that interface as the router", () => {
    const { r, net2, out2 } = router();
    const changes: (readonly { interface: string }[])[] = [];
    r.onLeasesChanged((l) => changes.push(l));
    net2.sendNetworkFrame(dhcpClientFrame({ mac: vm2, type: DHCP.discover }));
    const offer = dhcpOf(out2.take()[0] ?? new Uint8Array());
    expect(offer.yiaddr).toEqual([10, 0, 2, 100]);
    expect(ipOption(offer, 3)).toBe("10.0.2.1");
    expect(ipOption(offer, 54)).toBe("10.0.2.1");
    expect(offer.options.has(6)).toBe(false);
    net2.sendNetworkFrame(dhcpClientFrame({ mac: vm2, type: DHCP.request, requested: offer.yiaddr, serverId: [10, 0, 2, 1] }));
    expect(dhcpOf(out2.take()[0] ?? new Uint8Array()).type).toBe(DHCP.ack);
    expect(r.leases).toEqual([{ mac: "52:54:00:12:34:02", ip: "10.0.2.100", hostname: "", state: "bound", expiresAt: 3_600_000, interface: "net2" }]);
    expect(changes.at(-1)?.[0]?.interface).toBe("net2");
    expect(r.counters.dhcpLeases).toBe(1);
  });

  it("forwards between subnets: ARP for the next hop while the packet waits, then TTL one less, MACs rewritten, checksum right", () => {
    const { r, net1, net2, out1, out2 } = router();
    const sent = probeFrame(64);
    net1.sendNetworkFrame(sent);
    const ask = out2.take();
    expect(ask).toHaveLength(1);
    expect([...(ask[0] ?? new Uint8Array()).subarray(0, 6)]).toEqual([255, 255, 255, 255, 255, 255]);
    expect([...(ask[0] ?? new Uint8Array()).subarray(38, 42)]).toEqual([...vm2Ip]);
    net2.sendNetworkFrame(arpReply(ask[0] ?? new Uint8Array(), vm2, vm2Ip) ?? new Uint8Array());
    const forwarded = out2.take()[0] ?? new Uint8Array();
    expect([...forwarded.subarray(0, 12)]).toEqual([...vm2, ...r2]);
    expect(forwarded[22]).toBe(63);
    expect(internetChecksum(forwarded, 14, 34)).toBe(0);
    // Apart from the TTL and its checksum, the packet is the one sent.
    const expected = sent.slice();
    expected.set(forwarded.subarray(0, 12), 0);
    expected[22] = 63;
    expected.set(forwarded.subarray(24, 26), 24);
    expect(forwarded).toEqual(expected);
    // The next one goes at once; the answer comes back the other way the same.
    net1.sendNetworkFrame(probeFrame(64));
    expect(out2.take()).toHaveLength(1);
    net1.sendNetworkFrame(arpRequestFrame(vm1, vm1Ip, [10, 0, 1, 1])); // vm1 asks for its gateway: the router learns vm1 too
    out1.take();
    net2.sendNetworkFrame(udpFrame({ from: vm2, to: r2, src: vm2Ip, dst: vm1Ip, srcPort: 7, dstPort: 45000, payload: new Uint8Array(4) }));
    expect(parseIpv4Frame(out1.take()[0] ?? new Uint8Array())).toMatchObject({ src: vm2Ip, dst: vm1Ip, dstMac: vm1, srcMac: r1, ttl: 63, headerOk: true });
    expect(r.counters.forwarded).toBe(3);
    expect(r.arpTable).toEqual([
      { ip: "10.0.2.100", mac: "52:54:00:12:34:02", interface: "net2" },
      { ip: "10.0.1.100", mac: "52:54:00:12:34:01", interface: "net1" },
    ]);
  });

  it("answers TTL 1 with time exceeded from the interface it came in on (the hop traceroute shows)", () => {
    const { r, net1, out1, out2 } = router();
    const sent = probeFrame(1);
    net1.sendNetworkFrame(sent);
    expect(out2.take()).toHaveLength(0);
    const error = out1.take()[0] ?? new Uint8Array();
    expect(parseIpv4Frame(error)).toMatchObject({ src: [10, 0, 1, 1], dst: vm1Ip, dstMac: vm1, protocol: 1, headerOk: true });
    expect([error[34], error[35]]).toEqual([11, 0]);
    expect(internetChecksum(error, 34, error.length)).toBe(0);
    expect([...error.subarray(42)]).toEqual([...sent.subarray(14)]); // the probe quoted whole: traceroute matches its ports
    expect(r.counters.ttlExceeded).toBe(1);
  });

  it("answers UDP to its own far address with port unreachable, so traceroute to the router ends", () => {
    const { net1, out1 } = router();
    net1.sendNetworkFrame(probeFrame(2, [10, 0, 2, 1]));
    const error = out1.take()[0] ?? new Uint8Array();
    expect(parseIpv4Frame(error)).toMatchObject({ src: [10, 0, 2, 1], dst: vm1Ip });
    expect([error[34], error[35]]).toEqual([3, 3]);
  });

  it("gives up after three unanswered ARP requests a second apart: host unreachable to each waiting sender", () => {
    const { r, clock, net1, out1, out2 } = router();
    net1.sendNetworkFrame(probeFrame(64, [10, 0, 2, 77]));
    net1.sendNetworkFrame(probeFrame(64, [10, 0, 2, 77]));
    expect(out2.take()).toHaveLength(1);
    clock.advance(1000);
    clock.advance(1000);
    expect(out2.take()).toHaveLength(2);
    expect(out1.take()).toHaveLength(0);
    clock.advance(1000);
    const errors = out1.take();
    expect(errors.map((e) => [e[34], e[35]])).toEqual([
      [3, 1],
      [3, 1],
    ]);
    expect(r.counters.unreachable).toBe(2);
  });

  it("forwards no directed broadcast to the other subnet", () => {
    const { r, net1, out1, out2 } = router();
    net1.sendNetworkFrame(probeFrame(64, [10, 0, 2, 255]));
    expect(out1.take()).toHaveLength(0);
    expect(out2.take()).toHaveLength(0);
    expect(r.counters.dropped).toBe(1);
  });

  it("answers a destination on no subnet of its own with network unreachable", () => {
    const { net1, out1 } = router();
    net1.sendNetworkFrame(probeFrame(64, [8, 8, 8, 8]));
    const error = out1.take()[0] ?? new Uint8Array();
    expect([error[34], error[35]]).toEqual([3, 0]);
  });

  it("refuses interfaces on overlapping subnets", () => {
    let error: unknown;
    try {
      new Router({ clock: new ManualClock(), interfaces: [{ mac: r1, ip: [10, 0, 1, 1], prefix: 16 }, { mac: r2, ip: [10, 0, 2, 1], prefix: 24 }] });
    } catch (e) {
      error = e;
    }
    expect(isAppError(error, "bad-network")).toBe(true);
    expect(isAppError(error, "bad-network") ? error.details.problems[0] : "").toContain("overlap");
  });
});
