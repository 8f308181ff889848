/**
 * The trunk between tabs (issue 14, item 4): two or three VirtualNetworks, each a tab's, on a
 * fake BroadcastChannel (messages cloned as structured clone does, never delivered to the
 * channel that posted). Frames cross, nothing echoes, each tab's router answers its own
 * machines, and a tab that leaves (goodbye) or goes silent (crash) leaves the switch clean.
 */
import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.ts";
import { type Disposable } from "../events.ts";
import { host } from "../host.ts";
import { arpRequestFrame, arpReply, echoRequestFrame, parseEchoRequest } from "../lab/frames.ts";
import { FakeEndpoint } from "../testing/fakeBus.ts";
import { formatMac, type Ipv4, type Mac } from "./frames.ts";
import { DHCP } from "./hosts/dhcp.ts";
import { udpFrame } from "./hosts/ip.ts";
import { dhcpClientFrame, dhcpOf, dnsQuery } from "./hosts/testing.ts";
import { VirtualNetwork, lanPool } from "./network.ts";
import { TAB_HELLO_MS, TAB_SETTLE_MS, TAB_TIMEOUT_MS, staysInTab, type TabChannel } from "./tabTrunk.ts";

const clone = (globalThis as unknown as { structuredClone<T>(value: T): T }).structuredClone;

/** Every channel made here hears what the others post (a clone, on a later turn), never its own. */
class FakeHub {
  private readonly channels = new Set<{ listeners: Set<(m: unknown) => void>; cut: boolean }>();
  readonly posted: unknown[] = [];

  channel(): TabChannel & { crash(): void } {
    const me = { listeners: new Set<(m: unknown) => void>(), cut: false };
    this.channels.add(me);
    return {
      post: (message) => {
        if (me.cut) return;
        this.posted.push(message);
        const copy = clone(message);
        for (const other of this.channels) if (other !== me && !other.cut) host.queueMicrotask(() => other.listeners.forEach((l) => l(copy)));
      },
      onMessage: (listener): Disposable => {
        me.listeners.add(listener);
        return { dispose: () => me.listeners.delete(listener) };
      },
      close: () => this.channels.delete(me),
      // A tab that crashed: it says nothing more, not even goodbye.
      crash: () => {
        me.cut = true;
      },
    };
  }

  /** A message from outside any trunk (another page of the origin, or a forgery). */
  inject(message: unknown): void {
    for (const c of this.channels) host.queueMicrotask(() => c.listeners.forEach((l) => l(clone(message))));
  }

  framesPosted(): number {
    return this.posted.filter((m) => (m as { kind: string }).kind === "frame").length;
  }
}

/** Let the switches, the hub and the hosts take their turns. */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => host.setTimeout(resolve, 0));
}

const mac = (n: number): Mac => [0x52, 0x54, 0x00, 0x12, 0x00, n];
const ip = (n: number): Ipv4 => [192, 168, 86, n];

function tab(hub: FakeHub, clock: ManualClock, id: string, machines: number[]) {
  const network = new VirtualNetwork({ clock, ownOrigin: "https://virtlab.example", fetch: () => Promise.reject(new Error("no outside")) });
  const channel = hub.channel();
  const vms = machines.map((n) => {
    const vm = new FakeEndpoint(mac(n));
    network.join(`vm${n}`, vm, mac(n));
    return vm;
  });
  return { network, channel, vms, join: () => network.joinTabs(channel, id) };
}

async function joined(clock: ManualClock, ...tabs: { join(): unknown }[]): Promise<void> {
  for (const t of tabs) {
    t.join();
    await flush();
    clock.advance(TAB_SETTLE_MS);
    await flush();
  }
}

describe("TabTrunk: the lab's LAN across tabs", () => {
  it("ARP and ping cross between two tabs' switches; each learns the other's machine behind the other tab's port", async () => {
    const hub = new FakeHub();
    const clock = new ManualClock();
    const a = tab(hub, clock, "aaaa", [1]);
    const b = tab(hub, clock, "bbbb", [2]);
    await joined(clock, a, b);
    const [vmA] = a.vms as [FakeEndpoint];
    const [vmB] = b.vms as [FakeEndpoint];
    expect(a.network.switch.port("tab-bbbb")?.kind).toBe("tab");
    expect(b.network.switch.port("tab-aaaa")?.kind).toBe("tab");

    vmA.emit(arpRequestFrame(mac(1), ip(100), ip(116)));
    await flush();
    const request = vmB.received.at(-1);
    expect(request).toBeDefined();
    const reply = arpReply(request ?? new Uint8Array(0), mac(2), ip(116));
    expect(reply).toBeDefined();
    vmB.emit(reply ?? new Uint8Array(0));
    await flush();
    expect(vmA.received).toHaveLength(1);
    expect(vmA.received[0]).toEqual(reply);

    vmA.emit(echoRequestFrame({ from: mac(1), to: mac(2), src: ip(100), dst: ip(116), id: 9, seq: 1, payload: new Uint8Array(56) }));
    await flush();
    const echo = parseEchoRequest(vmB.received.at(-1) ?? new Uint8Array(0), ip(116));
    expect(echo?.checksumsOk).toBe(true);
    vmB.emit(echo?.reply ?? new Uint8Array(0));
    await flush();
    expect(vmA.received).toHaveLength(2);
    expect(vmA.received[1]).toEqual(echo?.reply);
    expect(a.network.capture.packets().map((p) => `${p.port} ${a.network.capture.decode(p).summary}`)).toContain("tab-bbbb Echo (ping) reply id=0x0009, seq=1, ttl=64");

    expect(a.network.switch.lookup(formatMac(mac(2)), "lan")?.label).toBe("tab-bbbb");
    expect(b.network.switch.lookup(formatMac(mac(1)), "lan")?.label).toBe("tab-aaaa");
    // Both tabs announce their machines: the other's shows in `tabs`.
    clock.advance(TAB_HELLO_MS);
    await flush();
    expect(a.network.tabs?.tabs.map((t) => [t.id, t.port, t.machines.map((m) => [m.name, m.mac])])).toEqual([["bbbb", "tab-bbbb", [["vm2", formatMac(mac(2))]]]]);
  });

  it("a broadcast reaches each other tab once and never comes back: tabs' ports do not relay to each other", async () => {
    const hub = new FakeHub();
    const clock = new ManualClock();
    const a = tab(hub, clock, "aaaa", [1]);
    const b = tab(hub, clock, "bbbb", [2]);
    const c = tab(hub, clock, "cccc", [3]);
    await joined(clock, a, b, c);
    const framesBefore = hub.framesPosted();
    a.vms[0]?.emit(arpRequestFrame(mac(1), ip(100), ip(200)));
    await flush();
    // A posts one copy to each of B and C; neither relays it on to the other or back.
    expect(hub.framesPosted() - framesBefore).toBe(2);
    expect(b.vms[0]?.received).toHaveLength(1);
    expect(c.vms[0]?.received).toHaveLength(1);
    expect(a.vms[0]?.received).toHaveLength(0);
    // Both learned A's machine behind A's own port (not behind each other's).
    expect(b.network.switch.lookup(formatMac(mac(1)), "lan")?.label).toBe("tab-aaaa");
    expect(c.network.switch.lookup(formatMac(mac(1)), "lan")?.label).toBe("tab-aaaa");
  });

  it("each tab takes its own slot, its router hands out its own slice of the LAN, and DHCP never crosses", async () => {
    const hub = new FakeHub();
    const clock = new ManualClock();
    const a = tab(hub, clock, "aaaa", [1]);
    const b = tab(hub, clock, "bbbb", [2]);
    let renewalsA = 0;
    a.network.onTabSlotChanged(() => renewalsA++);
    await joined(clock, a, b);
    expect([a.network.tabs?.slot, b.network.tabs?.slot]).toEqual([0, 1]);
    expect(renewalsA).toBe(1);

    const framesBefore = hub.framesPosted();
    for (const [t, n] of [[a, 1], [b, 2]] as const) t.vms[0]?.emit(dhcpClientFrame({ mac: mac(n), type: DHCP.discover }));
    await flush();
    // Each machine heard one offer, from its own tab's router, from its tab's pool.
    for (const [t, slot] of [[a, 0], [b, 1]] as const) {
      const offers = (t.vms[0]?.received ?? []).map((f) => dhcpOf(f));
      expect(offers).toHaveLength(1);
      const last = Number(offers[0]?.yiaddr.join(".").split(".")[3]);
      expect(last).toBeGreaterThanOrEqual(lanPool(slot)[0]);
      expect(last).toBeLessThanOrEqual(lanPool(slot)[1]);
      // The name it is given carries its tab's id: each tab has a vm1 of its own.
      expect(String.fromCharCode(...(offers[0]?.options.get(12) ?? []))).toBe(t === a ? "vm1-aaaa" : "vm2-bbbb");
    }
    expect(hub.framesPosted() - framesBefore).toBe(0);
    // B never heard A's machine at all.
    expect(b.network.switch.lookup(formatMac(mac(1)), "lan")).toBeUndefined();
  });

  it("a tab that claims a slot taken by a lower id moves to the next one (two tabs joined at once)", async () => {
    const hub = new FakeHub();
    const clock = new ManualClock();
    const a = tab(hub, clock, "mmmm", [1]);
    await joined(clock, a);
    expect(a.network.tabs?.slot).toBe(0);
    hub.inject({ kind: "hello", from: "aaaa", slot: 0, machines: [], ask: false });
    await flush();
    expect(a.network.tabs?.slot).toBe(1);
    // A higher id claiming this slot does not move it.
    hub.inject({ kind: "hello", from: "zzzz", slot: 1, machines: [], ask: false });
    await flush();
    expect(a.network.tabs?.slot).toBe(1);
  });

  /** Tabs A (vm1) and B (vm2) joined; A's switch has learned vm2's MAC behind B's port. */
  async function twoTabsBLearned(): Promise<{ clock: ManualClock; a: ReturnType<typeof tab>; b: ReturnType<typeof tab> }> {
    const hub = new FakeHub();
    const clock = new ManualClock();
    const a = tab(hub, clock, "aaaa", [1]);
    const b = tab(hub, clock, "bbbb", [2]);
    await joined(clock, a, b);
    b.vms[0]?.emit(arpRequestFrame(mac(2), ip(116), ip(100)));
    await flush();
    return { clock, a, b };
  }

  it("a tab that closes says goodbye: the other drops its port and every MAC behind it at once", async () => {
    const { a, b } = await twoTabsBLearned();
    expect(a.network.switch.lookup(formatMac(mac(2)), "lan")?.label).toBe("tab-bbbb");

    b.network.leaveTabs();
    await flush();
    expect(a.network.switch.port("tab-bbbb")).toBeUndefined();
    expect(a.network.switch.macTable().map((e) => e.mac)).not.toContain(formatMac(mac(2)));
    expect(a.network.tabs?.tabs).toEqual([]);
    // B's LAN is its own again: its pool is the whole LAN's, and nothing of A is left on it.
    expect(b.network.switch.ports.map((p) => p.label)).toEqual(["vm2", "lan-router"]);
    // And a frame from A no longer crosses.
    a.vms[0]?.emit(arpRequestFrame(mac(1), ip(100), ip(116)));
    await flush();
    expect(b.vms[0]?.received).toHaveLength(0);
    // B's router offers from the whole LAN's pool again, and the machine's plain name.
    b.vms[0]?.emit(dhcpClientFrame({ mac: mac(2), type: DHCP.discover }));
    await flush();
    const offer = dhcpOf(b.vms[0]?.received[0] ?? new Uint8Array(0));
    expect(offer.yiaddr[3]).toBe(lanPool(undefined)[0]);
    expect(String.fromCharCode(...(offer.options.get(12) ?? []))).toBe("vm2");
  });

  it("a tab that crashed (no goodbye) is dropped once silent for the timeout", async () => {
    const { clock, a, b } = await twoTabsBLearned();
    b.channel.crash();
    clock.advance(TAB_TIMEOUT_MS - 1000);
    await flush();
    expect(a.network.switch.port("tab-bbbb")).toBeDefined();
    clock.advance(TAB_HELLO_MS * 2);
    await flush();
    expect(a.network.switch.port("tab-bbbb")).toBeUndefined();
    expect(a.network.switch.macTable().map((e) => e.mac)).toEqual([]);
  });

  it("a tab whose timers are throttled (hidden) is kept: it answers when asked", async () => {
    const hub = new FakeHub();
    const clock = new ManualClock();
    const hiddenClock = new ManualClock();
    const a = tab(hub, clock, "aaaa", [1]);
    const b = tab(hub, hiddenClock, "bbbb", [2]);
    await joined(clock, a);
    b.join();
    await flush();
    hiddenClock.advance(TAB_SETTLE_MS);
    await flush();
    // B's clock stands still from here on: it never says hello by itself again.
    for (let t = 0; t < TAB_TIMEOUT_MS * 3; t += TAB_HELLO_MS) {
      clock.advance(TAB_HELLO_MS);
      await flush();
    }
    expect(a.network.switch.port("tab-bbbb")).toBeDefined();
    expect(a.network.tabs?.tabs.map((t) => t.id)).toEqual(["bbbb"]);
  });

  it("a tab's router answers DNS for another tab's machine by the name its prompt shows (vm2-bbbb), with outside access off", async () => {
    const hub = new FakeHub();
    const clock = new ManualClock();
    const a = tab(hub, clock, "aaaa", [1]);
    const b = tab(hub, clock, "bbbb", [2]);
    await joined(clock, a, b);
    const routerMac: Mac = [0x52, 0x54, 0x00, 0x86, 0xff, 0x01];
    const lease = async (vm: FakeEndpoint | undefined, n: number): Promise<Ipv4> => {
      vm?.emit(dhcpClientFrame({ mac: mac(n), type: DHCP.discover }));
      await flush();
      const offered = dhcpOf(vm?.received.at(-1) ?? new Uint8Array()).yiaddr;
      vm?.emit(dhcpClientFrame({ mac: mac(n), type: DHCP.request, requested: offered, serverId: [192, 168, 86, 1] }));
      await flush();
      return offered;
    };
    const ipA = await lease(a.vms[0], 1);
    const ipB = await lease(b.vms[0], 2);
    // B announces its machine's lease (on the change, not only at the next hello).
    await flush();
    const ask = async (name: string): Promise<{ rcode: number; address: number[] }> => {
      a.vms[0]?.received.splice(0);
      a.vms[0]?.emit(udpFrame({ from: mac(1), to: routerMac, src: ipA, dst: [192, 168, 86, 1], srcPort: 40000, dstPort: 53, payload: dnsQuery(9, name) }));
      await flush();
      const answer = a.vms[0]?.received.at(-1) ?? new Uint8Array();
      return { rcode: (answer[45] ?? -1) & 0x0f, address: [...answer.subarray(answer.length - 4)] };
    };
    expect(await ask("vm2-bbbb")).toEqual({ rcode: 0, address: [...ipB] });
    expect(await ask("vm1-aaaa")).toEqual({ rcode: 0, address: [...ipA] });
    // Another name is refused (no outside access), as is a machine of B under the wrong tab id.
    expect((await ask("vm2-aaaa")).rcode).toBe(5);
  });

  it("refuses what a tab must not send: the page's hosts' frames, forgeries of them, and malformed messages", async () => {
    const hub = new FakeHub();
    const clock = new ManualClock();
    const a = tab(hub, clock, "aaaa", [1]);
    await joined(clock, a);
    const routerMac: Mac = [0x52, 0x54, 0x00, 0x86, 0xff, 0x01];
    a.vms[0]?.emit(dhcpClientFrame({ mac: mac(1), type: DHCP.discover }));
    await flush();
    a.vms[0]?.received.splice(0);
    const forged = arpRequestFrame(routerMac, ip(1), ip(100));
    expect(staysInTab(forged)).toBe(true);
    hub.inject({ kind: "frame", from: "evil", to: "aaaa", frame: forged });
    hub.inject({ kind: "frame", from: "evil", to: "aaaa", frame: "not bytes" });
    hub.inject({ kind: "hello", from: "../x" });
    hub.inject(42);
    await flush();
    expect(a.vms[0]?.received).toHaveLength(0);
    expect(a.network.tabs?.counters.refused).toBe(4);
    // The router's MAC stays where it is.
    expect(a.network.switch.lookup(formatMac(routerMac), "lan")?.label).toBe("lan-router");
    expect(a.network.switch.port("tab-evil")).toBeUndefined();
  });
});
