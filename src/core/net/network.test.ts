import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.ts";
import { isAppError } from "../errors.ts";
import { decodeText, encodeText } from "../host.ts";
import { FakeEndpoint } from "../testing/fakeBus.ts";
import type { Mac } from "./frames.ts";
import { DHCP } from "./hosts/dhcp.ts";
import { dhcpClientFrame, dhcpOf, ipOption, settle, tcpExchange } from "./hosts/testing.ts";
import { VirtualNetwork, type NetworkMode } from "./network.ts";

const MAC1: Mac = [0x52, 0x54, 0x00, 0x12, 0x00, 0x01];
const MAC2: Mac = [0x52, 0x54, 0x00, 0x12, 0x00, 0x02];

function network(mode: NetworkMode, outside = false, more: { clock?: ManualClock; upgradeToHttps?: boolean } = {}) {
  const fetched: string[] = [];
  const net = new VirtualNetwork({
    clock: more.clock ?? new ManualClock(),
    mode,
    outside,
    upgradeToHttps: more.upgradeToHttps ?? false,
    ownOrigin: "https://virtlab.example",
    fetch: async (url) => {
      fetched.push(url);
      return { status: 200, statusText: "OK", headers: [], body: new Uint8Array() };
    },
  });
  const vm1 = new FakeEndpoint(MAC1);
  const vm2 = new FakeEndpoint(MAC2);
  net.join("vm1", vm1, MAC1);
  net.join("vm2", vm2, MAC2);
  return { net, vm1, vm2, fetched };
}

/** udhcpc's DISCOVER from `vm`: the OFFER it got (the last DHCP frame it received), if any. */
async function offerTo(vm: FakeEndpoint, mac: Mac) {
  vm.received.length = 0;
  vm.emit(dhcpClientFrame({ mac, type: DHCP.discover }));
  await settle();
  await settle();
  const frames = vm.received.filter((f) => f.length > 282 && f[23] === 17);
  const last = frames.at(-1);
  return last === undefined ? undefined : dhcpOf(last);
}

/** vm1 broadcasts (an ARP-like broadcast): does vm2 get it? */
async function broadcastReaches(vm1: FakeEndpoint, vm2: FakeEndpoint): Promise<boolean> {
  vm2.received.length = 0;
  const frame = new Uint8Array(60).fill(0);
  frame.fill(0xff, 0, 6);
  frame.set(MAC1, 6);
  frame[12] = 0x88;
  frame[13] = 0xb5; // a local experimental EtherType: no host answers it
  vm1.emit(frame);
  await settle();
  return vm2.received.some((f) => f[12] === 0x88 && f[13] === 0xb5);
}

describe("VirtualNetwork: the modes", () => {
  it("bridged: one segment; the LAN router gives addresses with itself as router and DNS, and the hostname", async () => {
    const { net, vm1, vm2 } = network("bridged");
    expect(await broadcastReaches(vm1, vm2)).toBe(true);
    const offer = await offerTo(vm1, MAC1);
    expect(offer?.yiaddr.join(".")).toMatch(/^192\.168\.86\./);
    if (offer === undefined) return expect.fail("no offer");
    expect(ipOption(offer, 3)).toBe("192.168.86.1");
    expect(ipOption(offer, 6)).toBe("192.168.86.1");
    expect(decodeText(offer.options.get(12) ?? new Uint8Array())).toBe("vm1");
    net.dispose();
  });

  it("host-only: the machines see each other, the DHCP answer has no router (nothing beyond)", async () => {
    const { net, vm1, vm2 } = network("host-only");
    expect(await broadcastReaches(vm1, vm2)).toBe(true);
    const offer = await offerTo(vm2, MAC2);
    if (offer === undefined) return expect.fail("no offer");
    expect(offer.yiaddr.join(".")).toMatch(/^10\.0\.56\./);
    expect(ipOption(offer, 3)).toBeUndefined();
    net.dispose();
  });

  it("NAT: each machine alone behind its own router at 10.0.2.2; they cannot see each other", async () => {
    const { net, vm1, vm2 } = network("nat");
    expect(await broadcastReaches(vm1, vm2)).toBe(false);
    const [o1, o2] = [await offerTo(vm1, MAC1), await offerTo(vm2, MAC2)];
    expect(o1 && ipOption(o1, 3)).toBe("10.0.2.2");
    expect(o2 && ipOption(o2, 3)).toBe("10.0.2.2");
    expect(net.hostCounters().map((h) => h.label).sort()).toEqual(["nat-vm1", "nat-vm2"]);
    net.dispose();
  });

  it("routed: the machines alternate between two subnets, each told its side of the router", async () => {
    const { net, vm1, vm2 } = network("routed");
    expect(await broadcastReaches(vm1, vm2)).toBe(false);
    const [o1, o2] = [await offerTo(vm1, MAC1), await offerTo(vm2, MAC2)];
    expect(o1 && ipOption(o1, 3)).toBe("10.0.1.1");
    expect(o2 && ipOption(o2, 3)).toBe("10.0.2.1");
    expect(net.machines.map((m) => m.segment)).toEqual(["net1", "net2"]);
    net.dispose();
  });

  it("lists the guests' web requests of every router, oldest first: what was asked, what the page fetched, the answer", async () => {
    const clock = new ManualClock();
    const { net, vm1, vm2, fetched } = network("nat", true, { clock, upgradeToHttps: true });
    const ask = async (vm: FakeEndpoint, mac: Mac, url: string) => {
      const offer = await offerTo(vm, mac);
      if (offer === undefined) return expect.fail("no offer");
      const router = [...offer.packet.frame.subarray(6, 12)] as unknown as Mac;
      vm.received.length = 0;
      const guest = { sendNetworkFrame: (f: Uint8Array) => vm.emit(f), onNetworkFrame: vm.onNetworkFrame };
      return tcpExchange(guest, { take: () => vm.received.splice(0) }, { mac, ip: offer.yiaddr, gatewayMac: router, dst: [198, 18, 0, 1], port: 80, request: encodeText(`GET ${url} HTTP/1.0\r\n\r\n`) });
    };
    expect(net.webRequests()).toEqual([]);
    await ask(vm2, MAC2, "http://example.org/a");
    clock.advance(10);
    const own = await ask(vm1, MAC1, "http://virtlab.example/");
    expect(decodeText(own.received)).toMatch(/^HTTP\/1.1 403 Forbidden \(virtlab: This is virtlab's own origin/);
    // The page fetched https (a page may not fetch http); virtlab's origin was never fetched.
    expect(fetched).toEqual(["https://example.org/a"]);
    expect(net.webRequests()).toMatchObject([
      { router: "nat-vm2", asked: "http://example.org/a", url: "https://example.org/a", status: 200, why: undefined, closed: true },
      { router: "nat-vm1", asked: "http://virtlab.example/", url: undefined, status: 403, why: "This is virtlab's own origin: a guest may not reach it." },
    ]);
    await net.setMode("host-only");
    expect(net.webRequests()).toEqual([]);
    net.dispose();
  });

  it("a mode change moves the machines and replaces the hosts; leaving takes a machine (and its NAT router) off", async () => {
    const { net, vm1, vm2 } = network("nat");
    expect(await broadcastReaches(vm1, vm2)).toBe(false);
    net.setMode("bridged");
    expect(await broadcastReaches(vm1, vm2)).toBe(true);
    expect(net.switch.ports.map((p) => p.label).sort()).toEqual(["lan-router", "vm1", "vm2"]);
    net.setMode("nat");
    const vm3 = new FakeEndpoint([0x52, 0x54, 0, 0x12, 0, 3]);
    const left = net.join("vm3", vm3);
    expect(net.switch.ports.map((p) => p.label)).toContain("nat-vm3");
    left.dispose();
    expect(net.switch.ports.map((p) => p.label)).not.toContain("nat-vm3");
    expect(net.switch.ports.map((p) => p.label)).not.toContain("vm3");
    net.dispose();
  });

  it("refuses a second machine with a name already on the network", () => {
    const { net } = network("bridged");
    let error: unknown;
    try {
      net.join("vm1", new FakeEndpoint());
    } catch (e) {
      error = e;
    }
    expect(isAppError(error, "bad-network")).toBe(true);
    net.dispose();
  });
});
