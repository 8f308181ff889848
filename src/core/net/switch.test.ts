import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.ts";
import { isAppError } from "../errors.ts";
import { FakeEndpoint, ethFrame } from "../testing/fakeBus.ts";
import { BROADCAST_MAC, type Mac } from "./frames.ts";
import { VirtualSwitch, type TapRecord, type TopologyChange } from "./switch.ts";

const A: Mac = [0x52, 0x54, 0, 0, 0, 0x0a];
const B: Mac = [0x52, 0x54, 0, 0, 0, 0x0b];
const C: Mac = [0x52, 0x54, 0, 0, 0, 0x0c];
const MULTICAST: Mac = [0x01, 0x00, 0x5e, 0, 0, 0xfb];

/** A switch that handles frames synchronously, and three endpoints a, b, c on it. */
function lab(options: { ageingMs?: number; random?: () => number } = {}) {
  const clock = new ManualClock();
  const sw = new VirtualSwitch({ clock, schedule: (fn) => fn(), ...options });
  const a = new FakeEndpoint(A);
  const b = new FakeEndpoint(B);
  const c = new FakeEndpoint(C);
  const pa = sw.attach("vm1", a);
  const pb = sw.attach("vm2", b);
  const pc = sw.attach("dhcp", c, { kind: "host" });
  return { clock, sw, a, b, c, pa, pb, pc };
}

const tags = (endpoint: FakeEndpoint): number[] => endpoint.received.map((f) => f[14] as number);

describe("VirtualSwitch forwarding", () => {
  it("floods unknown unicast to every other port, then sends to the learned port only", () => {
    const { sw, a, b, c } = lab();
    a.emit(ethFrame(A, B, 1)); // B unknown: flooded
    expect(tags(b)).toEqual([1]);
    expect(tags(c)).toEqual([1]);
    expect(a.received).toEqual([]);
    b.emit(ethFrame(B, A, 2)); // A learned on vm1: vm1 only
    expect(tags(a)).toEqual([2]);
    expect(tags(c)).toEqual([1]);
    a.emit(ethFrame(A, B, 3)); // B learned now
    expect(tags(b)).toEqual([1, 3]);
    expect(tags(c)).toEqual([1]);
    expect(sw.lookup("52:54:00:00:00:0b")?.label).toBe("vm2");
    expect(sw.macTable().map((e) => [e.mac, e.port])).toEqual([
      ["52:54:00:00:00:0a", "vm1"],
      ["52:54:00:00:00:0b", "vm2"],
    ]);
  });

  it("floods broadcast and multicast to all others even once every MAC is known, never back to the sender", () => {
    const { a, b, c } = lab();
    b.emit(ethFrame(B, A, 1));
    c.emit(ethFrame(C, A, 2));
    a.emit(ethFrame(A, BROADCAST_MAC, 3));
    a.emit(ethFrame(A, MULTICAST, 4));
    expect(tags(b)).toEqual([2, 3, 4]); // c's frame to unknown A was flooded to b too
    expect(tags(c)).toEqual([1, 3, 4]);
    expect(tags(a)).toEqual([1, 2]);
  });

  it("gives each flooded port its own copy of the bytes", () => {
    const { a, b, c } = lab();
    a.emit(ethFrame(A, BROADCAST_MAC, 7));
    expect(b.received[0]).not.toBe(c.received[0]);
    (b.received[0] as Uint8Array)[14] = 99;
    expect(c.received[0]?.[14]).toBe(7);
  });

  it("filters a frame addressed to a MAC that lives on the port it came from", () => {
    const { a, b, c, pa } = lab();
    const a2: Mac = [0x52, 0x54, 0, 0, 0, 0xa2];
    a.emit(ethFrame(a2, BROADCAST_MAC, 1)); // a second MAC behind vm1 (a bridge in the guest)
    a.emit(ethFrame(A, a2, 2));
    expect(tags(b)).toEqual([1]);
    expect(tags(c)).toEqual([1]);
    expect(pa.counters.drops.filtered).toBe(1);
  });

  it("never forwards between two protected ports (the ports toward other tabs), broadcast or unicast", () => {
    const clock = new ManualClock();
    const sw = new VirtualSwitch({ clock, schedule: (fn) => fn() });
    const local = new FakeEndpoint(A);
    const tab1 = new FakeEndpoint(B);
    const tab2 = new FakeEndpoint(C);
    sw.attach("vm1", local);
    const p1 = sw.attach("tab-1", tab1, { kind: "tab", protected: true });
    sw.attach("tab-2", tab2, { kind: "tab", protected: true });
    tab1.emit(ethFrame(B, BROADCAST_MAC, 1));
    expect(tags(local)).toEqual([1]);
    expect(tags(tab2)).toEqual([]);
    tab2.emit(ethFrame(C, B, 2)); // B is known behind tab-1: filtered, not relayed
    expect(tags(tab1)).toEqual([]);
    expect(tags(local)).toEqual([1]);
    tab1.emit(ethFrame(B, C, 3)); // and the other way
    expect(tags(tab2)).toEqual([]);
    expect(p1.counters.drops.filtered).toBe(1);
    local.emit(ethFrame(A, BROADCAST_MAC, 4)); // a local machine reaches both
    expect(tags(tab1)).toEqual([4]);
    expect(tags(tab2)).toEqual([4]);
  });

  it("moves a MAC that shows up on another port", () => {
    const { sw, a, b, c } = lab();
    a.emit(ethFrame(A, BROADCAST_MAC, 1));
    expect(sw.lookup("52540000000A")?.label).toBe("vm1"); // 12 hex digits, any case
    c.emit(ethFrame(A, BROADCAST_MAC, 2)); // the same MAC, now behind dhcp
    b.emit(ethFrame(B, A, 3));
    expect(tags(c)).toEqual([1, 3]);
    expect(tags(a)).toEqual([2]);
  });

  it("ages out entries after ageingMs of silence and floods again", () => {
    const { clock, sw, a, b, c } = lab({ ageingMs: 1000 });
    a.emit(ethFrame(A, BROADCAST_MAC, 1));
    clock.advance(999);
    b.emit(ethFrame(B, A, 2));
    expect(tags(c)).toEqual([1]); // still known at 999 ms
    clock.advance(1001);
    b.emit(ethFrame(B, A, 3));
    expect(tags(c)).toEqual([1, 3]); // forgotten: flooded
    expect(sw.lookup("52:54:00:00:00:0a")).toBeUndefined();
    a.emit(ethFrame(A, B, 4)); // seen again
    expect(sw.macTable().find((e) => e.mac === "52:54:00:00:00:0a")).toMatchObject({ port: "vm1", ageMs: 0 });
  });

  it("stops learning when the table is full, flooding frames for MACs it could not learn", () => {
    const clock = new ManualClock();
    const sw = new VirtualSwitch({ clock, schedule: (fn) => fn(), maxTableEntries: 3, ageingMs: 1000 });
    const [a, b, c] = [new FakeEndpoint(), new FakeEndpoint(), new FakeEndpoint()];
    sw.attach("vm1", a);
    sw.attach("vm2", b);
    sw.attach("vm3", c);
    // A guest inventing source MACs.
    for (let i = 0; i < 100; i++) a.emit(ethFrame([0x02, 0, 0, 0, 0, i], BROADCAST_MAC, i));
    expect(sw.macTable()).toHaveLength(3);
    b.emit(ethFrame(B, [0x02, 0, 0, 0, 0, 50], 200)); // not learned: flooded
    expect(tags(c).at(-1)).toBe(200);
    expect(sw.macTable()).toHaveLength(3); // B did not get in either
    // Once the invented entries age out, there is room again.
    clock.advance(1001);
    b.emit(ethFrame(B, BROADCAST_MAC, 201));
    expect(sw.macTable().map((e) => e.port)).toEqual(["vm2"]);
  });

  it("keeps segments apart: no flooding, learning or delivery across them", () => {
    const clock = new ManualClock();
    const sw = new VirtualSwitch({ clock, schedule: (fn) => fn() });
    const [a, b, c, d] = [new FakeEndpoint(), new FakeEndpoint(), new FakeEndpoint(), new FakeEndpoint()];
    sw.attach("vm1", a, { segment: "lan" });
    sw.attach("vm2", b, { segment: "lan" });
    sw.attach("vm3", c, { segment: "dmz" });
    const pd = sw.attach("vm4", d, { segment: "dmz" });
    a.emit(ethFrame(A, BROADCAST_MAC, 1));
    c.emit(ethFrame(C, A, 2)); // A is known in "lan" only: flooded within "dmz"
    expect(tags(b)).toEqual([1]);
    expect(tags(d)).toEqual([2]);
    expect(a.received).toEqual([]);
    expect(sw.lookup("52:54:00:00:00:0a", "dmz")).toBeUndefined();
    expect(sw.lookup("52:54:00:00:00:0a", "lan")?.label).toBe("vm1");
    // Moving vm4 to "lan" makes it a neighbour of vm1 and vm2 and forgets what it learned in "dmz".
    d.emit(ethFrame(B, BROADCAST_MAC, 3));
    pd.setSegment("lan");
    expect(sw.lookup("52:54:00:00:00:0b", "dmz")).toBeUndefined();
    a.emit(ethFrame(A, BROADCAST_MAC, 4));
    expect(tags(d)).toEqual([2, 4]);
    expect(tags(c)).toEqual([3]);
    expect(sw.summary().segments).toEqual([
      { id: "lan", ports: ["vm1", "vm2", "vm4"] },
      { id: "dmz", ports: ["vm3"] },
    ]);
  });

  it("drops runts and oversized frames, counting them on the port they came in", () => {
    const clock = new ManualClock();
    const sw = new VirtualSwitch({ clock, schedule: (fn) => fn(), maxFrameBytes: 1518 });
    const a = new FakeEndpoint();
    const b = new FakeEndpoint();
    const pa = sw.attach("vm1", a);
    sw.attach("vm2", b);
    const taps: TapRecord[] = [];
    sw.onTap((t) => taps.push(t));
    a.emit(new Uint8Array(13));
    a.emit(new Uint8Array(0));
    a.emit(ethFrame(A, B, 0, 1519));
    a.emit(ethFrame(A, B, 5, 1518));
    expect(tags(b)).toEqual([5]);
    expect(pa.counters).toMatchObject({ framesIn: 4, bytesIn: 13 + 1519 + 1518 });
    expect(pa.counters.drops).toMatchObject({ runt: 2, oversize: 1 });
    expect(taps.filter((t) => t.dropped !== undefined).map((t) => [t.port, t.direction, t.dropped])).toEqual([
      ["vm1", "in", "runt"],
      ["vm1", "in", "runt"],
      ["vm1", "in", "oversize"],
    ]);
    // The bad frames taught the switch nothing.
    expect(sw.macTable().map((e) => e.mac)).toEqual(["52:54:00:00:00:0a"]);
  });

  it("counts frames and bytes each way per port", () => {
    const { a, b, pa, pb, pc } = lab();
    a.emit(ethFrame(A, BROADCAST_MAC, 1, 100));
    b.emit(ethFrame(B, A, 2, 200));
    expect(pa.counters).toMatchObject({ framesIn: 1, bytesIn: 100, framesOut: 1, bytesOut: 200 });
    expect(pb.counters).toMatchObject({ framesIn: 1, bytesIn: 200, framesOut: 1, bytesOut: 100 });
    expect(pc.counters).toMatchObject({ framesIn: 0, bytesIn: 0, framesOut: 1, bytesOut: 100 });
  });

  it("counts a frame the endpoint refuses as a drop and goes on with the others", () => {
    const { a, b, c, pb } = lab();
    b.refuse = true;
    a.emit(ethFrame(A, BROADCAST_MAC, 1));
    expect(tags(c)).toEqual([1]);
    expect(pb.counters.drops.refused).toBe(1);
    expect(pb.counters.framesOut).toBe(0);
  });

  it("taps each frame in (with where it went) and each frame out", () => {
    const { clock, sw, a, b } = lab();
    const taps: TapRecord[] = [];
    sw.onTap((t) => taps.push(t));
    clock.advance(42);
    a.emit(ethFrame(A, BROADCAST_MAC, 1));
    b.emit(ethFrame(B, A, 2));
    expect(taps.map((t) => [t.time, t.port, t.direction, t.to])).toEqual([
      [42, "vm1", "in", ["vm2", "dhcp"]],
      [42, "vm2", "out", undefined],
      [42, "dhcp", "out", undefined],
      [42, "vm2", "in", ["vm1"]],
      [42, "vm1", "out", undefined],
    ]);
    expect(taps[2]?.kind).toBe("host");
  });
});

describe("VirtualSwitch ports", () => {
  it("refuses a second port with the same label with a typed error", () => {
    const { sw } = lab();
    let error: unknown;
    try {
      sw.attach("vm1", new FakeEndpoint());
    } catch (e) {
      error = e;
    }
    expect(isAppError(error, "bad-profile") && error.details.subject).toBe("vm1");
  });

  it("detaching leaves the switch clean: no listener, no learned MAC, no port, an event", () => {
    const { sw, a, b, c, pa } = lab();
    const changes: TopologyChange[] = [];
    sw.onTopologyChanged((change) => changes.push(change));
    a.emit(ethFrame(A, BROADCAST_MAC, 1));
    pa.dispose();
    expect(changes).toEqual([{ type: "detached", port: "vm1" }]);
    expect(a.listening).toBe(false);
    expect(sw.ports.map((p) => p.label)).toEqual(["vm2", "dhcp"]);
    expect(sw.macTable()).toEqual([]);
    expect(sw.summary().ports.map((p) => p.label)).toEqual(["vm2", "dhcp"]);
    a.emit(ethFrame(A, BROADCAST_MAC, 2)); // a detached endpoint reaches nobody
    b.emit(ethFrame(B, A, 3)); // A is unknown again: flooded to the remaining ports only
    expect(tags(b)).toEqual([1]);
    expect(tags(c)).toEqual([1, 3]);
    expect(tags(a)).toEqual([]);
    // The detached port keeps its final counters for whoever holds it; the label is free again.
    expect(pa.counters.framesIn).toBe(1);
    pa.dispose();
    expect(changes).toHaveLength(1);
    const again = sw.attach("vm1", a);
    expect(again.counters.framesIn).toBe(0);
    expect(changes.at(-1)).toEqual({ type: "attached", port: "vm1" });
  });

  it("drops frames still on a detached port's link, marked, and delivers nothing late", () => {
    const { clock, sw, a, b, pb } = lab();
    pb.setImpairments({ latencyMs: 50 });
    const drops: TapRecord[] = [];
    sw.onTap((t) => t.dropped !== undefined && drops.push(t));
    a.emit(ethFrame(A, BROADCAST_MAC, 1));
    pb.dispose();
    clock.advance(100);
    expect(b.received).toEqual([]);
    expect(drops.map((t) => [t.port, t.direction, t.dropped])).toEqual([["vm2", "out", "detached"]]);
  });

  it("handles frames on a later turn, not inside the sender's transmit", () => {
    const clock = new ManualClock();
    const later: (() => void)[] = [];
    const sw = new VirtualSwitch({ clock, schedule: (fn) => later.push(fn) });
    const a = new FakeEndpoint(A);
    const b = new FakeEndpoint(B);
    sw.attach("vm1", a);
    sw.attach("vm2", b);
    // b answers every frame at once, from inside its receive.
    const reply = b.sendNetworkFrame.bind(b);
    b.sendNetworkFrame = (frame) => {
      reply(frame);
      b.emit(ethFrame(B, A, (frame[14] as number) + 100));
    };
    a.emit(ethFrame(A, B, 1));
    a.emit(ethFrame(A, B, 2));
    expect(b.received).toEqual([]);
    expect(later).toHaveLength(1); // one turn for both
    later.shift()?.();
    // The answers were handled in the same drain, in order.
    expect(tags(b)).toEqual([1, 2]);
    expect(tags(a)).toEqual([101, 102]);
    expect(later).toHaveLength(0);
  });

  it("dispose detaches every port and stops the events", () => {
    const { sw, a, b } = lab();
    const changes: TopologyChange[] = [];
    sw.onTopologyChanged((change) => changes.push(change));
    sw.dispose();
    expect(changes.map((c) => c.type)).toEqual(["detached", "detached", "detached"]);
    expect(a.listening || b.listening).toBe(false);
    expect(() => sw.attach("vm9", new FakeEndpoint())).toThrow(expect.objectContaining({ code: "disposed" }));
  });
});
