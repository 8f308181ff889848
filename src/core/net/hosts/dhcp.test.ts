import { describe, expect, it } from "vitest";
import { ManualClock } from "../../clock.ts";
import { isAppError } from "../../errors.ts";
import type { Mac } from "../../lab/frames.ts";
import { DHCP, DhcpServer, cleanHostname, encodeDhcp, parseDhcp, type DhcpLease } from "./dhcp.ts";

const vm1: Mac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x01];
const vm2: Mac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x02];
const vm3: Mac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x03];

function client(mac: Mac, type: number, extra: { requested?: number[]; serverId?: number[]; ciaddr?: [number, number, number, number]; hostname?: string } = {}) {
  const options: [number, Uint8Array][] = [];
  if (extra.requested) options.push([50, Uint8Array.from(extra.requested)]);
  if (extra.serverId) options.push([54, Uint8Array.from(extra.serverId)]);
  if (extra.hostname) options.push([12, Uint8Array.from(extra.hostname, (c) => c.charCodeAt(0))]);
  const m = parseDhcp(encodeDhcp({ op: 1, xid: 7, flags: 0, ciaddr: extra.ciaddr ?? [0, 0, 0, 0], yiaddr: [0, 0, 0, 0], siaddr: [0, 0, 0, 0], chaddr: mac, type, options }));
  if (m === undefined) throw new Error("not parsed");
  return m;
}

function server(clock = new ManualClock(), extra: Partial<ConstructorParameters<typeof DhcpServer>[0]> = {}) {
  return new DhcpServer({ serverIp: [10, 0, 1, 2], prefix: 24, poolFirst: [10, 0, 1, 100], poolLast: [10, 0, 1, 102], clock, leaseSeconds: 600, ...extra });
}

describe("DHCP messages", () => {
  it("round-trips, padded to BOOTP's 300 bytes, with the magic cookie", () => {
    const bytes = encodeDhcp({ op: 2, xid: 0xdeadbeef, flags: 0x8000, ciaddr: [0, 0, 0, 0], yiaddr: [10, 0, 1, 100], siaddr: [10, 0, 1, 2], chaddr: vm1, type: DHCP.offer, options: [[1, Uint8Array.of(255, 255, 255, 0)]] });
    expect(bytes.length).toBe(300);
    expect([...bytes.subarray(236, 240)]).toEqual([99, 130, 83, 99]);
    expect([...bytes.subarray(240, 249)]).toEqual([53, 1, 2, 1, 4, 255, 255, 255, 0]);
    expect(bytes[249]).toBe(255);
    expect(parseDhcp(bytes)).toMatchObject({ op: 2, xid: 0xdeadbeef, flags: 0x8000, yiaddr: [10, 0, 1, 100], chaddr: vm1, type: DHCP.offer });
  });

  it("refuses what is not DHCP: no magic, cut short, an option past the end", () => {
    const good = encodeDhcp({ op: 1, xid: 1, flags: 0, ciaddr: [0, 0, 0, 0], yiaddr: [0, 0, 0, 0], siaddr: [0, 0, 0, 0], chaddr: vm1, type: 1, options: [] });
    expect(parseDhcp(good.subarray(0, 200))).toBeUndefined();
    const noMagic = good.slice();
    noMagic[236] = 0;
    expect(parseDhcp(noMagic)).toBeUndefined();
    const overrun = good.slice(0, 245);
    overrun.set([12, 200], 243);
    expect(parseDhcp(overrun)).toBeUndefined();
  });

  it("keeps hostnames to letters, digits, hyphens and dots", () => {
    expect(cleanHostname("vm 1;rm -rf")).toBe("vm-1-rm--rf");
    expect(cleanHostname(undefined)).toBe("");
  });
});

describe("DhcpServer", () => {
  it("offers, acknowledges, and gives the same MAC the same address again", () => {
    const s = server();
    const offer = s.handle(client(vm1, DHCP.discover));
    expect(offer).toMatchObject({ type: DHCP.offer, toIp: [10, 0, 1, 100], broadcast: false, toMac: vm1 });
    const ack = s.handle(client(vm1, DHCP.request, { requested: [10, 0, 1, 100], serverId: [10, 0, 1, 2] }));
    expect(ack?.type).toBe(DHCP.ack);
    expect(s.addressOf(vm1)).toEqual([10, 0, 1, 100]);
    s.handle(client(vm2, DHCP.discover));
    s.handle(client(vm2, DHCP.request, { requested: [10, 0, 1, 101], serverId: [10, 0, 1, 2] }));
    // vm1 releases, reboots and asks again: it gets its address back, not the next free one.
    s.handle(client(vm1, DHCP.release, { ciaddr: [10, 0, 1, 100] }));
    expect(s.leases.find((l) => l.mac === "52:54:00:12:34:01")?.state).toBe("released");
    expect(s.handle(client(vm1, DHCP.discover))?.toIp).toEqual([10, 0, 1, 100]);
    expect(s.counts).toMatchObject({ offers: 3, acks: 2, releases: 1 });
  });

  it("NAKs an address from another segment and one that belongs to another MAC", () => {
    const s = server();
    const nak = s.handle(client(vm1, DHCP.request, { requested: [192, 168, 86, 15] }));
    expect(nak).toMatchObject({ type: DHCP.nak, broadcast: true });
    const message = nak === undefined ? undefined : parseDhcp(nak.message);
    expect(message?.options.get(54)).toEqual(Uint8Array.of(10, 0, 1, 2));
    s.handle(client(vm1, DHCP.discover));
    s.handle(client(vm1, DHCP.request, { requested: [10, 0, 1, 100], serverId: [10, 0, 1, 2] }));
    expect(s.handle(client(vm2, DHCP.request, { requested: [10, 0, 1, 100] }))?.type).toBe(DHCP.nak);
    expect(s.counts.naks).toBe(2);
  });

  it("renews a lease asked at the client's address (ciaddr, no server id)", () => {
    const clock = new ManualClock();
    const s = server(clock);
    s.handle(client(vm1, DHCP.discover));
    s.handle(client(vm1, DHCP.request, { requested: [10, 0, 1, 100], serverId: [10, 0, 1, 2] }));
    clock.advance(300_000);
    const renew = s.handle(client(vm1, DHCP.request, { ciaddr: [10, 0, 1, 100] }));
    expect(renew).toMatchObject({ type: DHCP.ack, broadcast: false, toIp: [10, 0, 1, 100] });
    expect(s.leases[0]?.expiresAt).toBe(300_000 + 600_000);
  });

  it("takes over a lease another server gave (a machine moved from another tab): its renewals are acknowledged, outside the pool too", () => {
    const clock = new ManualClock();
    const s = server(clock);
    // 10.0.1.150 is another tab's slice of the subnet: not in this pool, so a renewal is refused...
    expect(s.handle(client(vm1, DHCP.request, { ciaddr: [10, 0, 1, 150] }))).toMatchObject({ type: DHCP.nak });
    // ...until the lease is taken over.
    expect(s.adopt(vm1, [10, 0, 1, 150], "vm2")).toBe(true);
    expect(s.leases).toEqual([{ mac: "52:54:00:12:34:01", ip: "10.0.1.150", hostname: "vm2", state: "bound", expiresAt: 600_000 }]);
    clock.advance(300_000);
    expect(s.handle(client(vm1, DHCP.request, { ciaddr: [10, 0, 1, 150] }))).toMatchObject({ type: DHCP.ack, toIp: [10, 0, 1, 150] });
    expect(s.leases[0]?.expiresAt).toBe(300_000 + 600_000);
    // Nobody else is offered it meanwhile, and nobody can take over an address in use or off the subnet.
    expect(s.handle(client(vm2, DHCP.discover))).toMatchObject({ type: DHCP.offer });
    expect(s.leases.find((l) => l.mac === "52:54:00:12:34:02")?.ip).not.toBe("10.0.1.150");
    expect(s.adopt(vm3, [10, 0, 1, 150])).toBe(false);
    expect(s.adopt(vm3, [10, 0, 9, 1])).toBe(false);
  });

  it("lets a lease run out on the clock, and reuses the oldest free address when the pool is full", () => {
    const clock = new ManualClock();
    const s = server(clock);
    const changes: (readonly DhcpLease[])[] = [];
    s.onLeasesChanged((l) => changes.push(l));
    for (const mac of [vm1, vm2, vm3]) {
      const offer = s.handle(client(mac, DHCP.discover));
      s.handle(client(mac, DHCP.request, { requested: [...(offer?.toIp ?? [])], serverId: [10, 0, 1, 2] }));
    }
    expect(s.handle(client([2, 0, 0, 0, 0, 9], DHCP.discover))).toBeUndefined(); // full: silent
    clock.advance(600_000);
    expect(s.leases.every((l) => l.state === "expired")).toBe(true);
    expect(changes.at(-1)?.every((l) => l.state === "expired")).toBe(true);
    // A newcomer now takes the oldest expired address; vm1 still gets its own if it asks first.
    expect(s.handle(client(vm1, DHCP.discover))?.toIp).toEqual([10, 0, 1, 100]);
    expect(s.handle(client([2, 0, 0, 0, 0, 9], DHCP.discover))?.toIp).toEqual([10, 0, 1, 101]);
  });

  it("drops its offer when the client chose another server, and never hands out a declined address", () => {
    const s = server();
    s.handle(client(vm1, DHCP.discover));
    expect(s.handle(client(vm1, DHCP.request, { requested: [10, 0, 1, 100], serverId: [10, 0, 1, 254] }))).toBeUndefined();
    expect(s.leases[0]?.state).toBe("released");
    s.handle(client(vm2, DHCP.discover));
    s.handle(client(vm2, DHCP.request, { requested: [10, 0, 1, 101], serverId: [10, 0, 1, 2] }));
    s.handle(client(vm2, DHCP.decline, { requested: [10, 0, 1, 101] }));
    expect(s.handle(client(vm2, DHCP.discover))?.toIp).not.toEqual([10, 0, 1, 101]);
  });

  it("names the lease after the machine (option 12), else after what the client sent", () => {
    const s = server(new ManualClock(), { hostnameFor: (mac) => (mac[5] === 1 ? "vm1" : undefined) });
    const offer = s.handle(client(vm1, DHCP.discover));
    expect(String.fromCharCode(...(parseDhcp(offer?.message ?? new Uint8Array())?.options.get(12) ?? []))).toBe("vm1");
    s.handle(client(vm2, DHCP.discover, { hostname: "box" }));
    expect(s.leases.map((l) => l.hostname)).toEqual(["vm1", "box"]);
  });

  it("refuses settings that cannot work with a typed error", () => {
    let error: unknown;
    try {
      server(new ManualClock(), { poolFirst: [10, 0, 2, 100] });
    } catch (e) {
      error = e;
    }
    expect(isAppError(error, "bad-network")).toBe(true);
    expect(isAppError(error, "bad-network") ? error.details.problems.join() : "").toContain("10.0.2.100 is outside 10.0.1.2/24");
  });
});
