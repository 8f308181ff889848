import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.ts";
import { FakeEndpoint, ethFrame } from "../testing/fakeBus.ts";
import { BROADCAST_MAC, type Mac } from "./frames.ts";
import { Link, NO_IMPAIRMENTS, seededRandom, type DropReason } from "./link.ts";
import { VirtualSwitch } from "./switch.ts";

const A: Mac = [0x52, 0x54, 0, 0, 0, 0x0a];
const B: Mac = [0x52, 0x54, 0, 0, 0, 0x0b];

function link(random: () => number = () => 0.5) {
  const clock = new ManualClock();
  const delivered: { at: number; tag: number }[] = [];
  const dropped: { tag: number; reason: DropReason }[] = [];
  const l = new Link(clock, random, (f) => delivered.push({ at: clock.now(), tag: f[0] as number }), (f, reason) => dropped.push({ tag: f[0] as number, reason }));
  const frame = (tag: number, length = 100): Uint8Array => {
    const f = new Uint8Array(length);
    f[0] = tag;
    return f;
  };
  return { clock, l, delivered, dropped, frame };
}

describe("Link impairments", () => {
  it("passes frames straight through without impairments", () => {
    const { l, delivered, frame } = link();
    l.send(frame(1));
    expect(delivered).toEqual([{ at: 0, tag: 1 }]);
  });

  it("delays by the latency through the clock, keeping order", () => {
    const { clock, l, delivered, frame } = link();
    l.impairments = { ...NO_IMPAIRMENTS, latencyMs: 30 };
    l.send(frame(1));
    clock.advance(10);
    l.send(frame(2));
    clock.advance(19);
    expect(delivered).toEqual([]);
    clock.advance(1);
    expect(delivered).toEqual([{ at: 30, tag: 1 }]);
    clock.advance(10);
    expect(delivered).toEqual([{ at: 30, tag: 1 }, { at: 40, tag: 2 }]);
    expect(l.inFlight).toBe(0);
  });

  it("never lets a frame overtake an earlier one when the latency is lowered", () => {
    const { clock, l, delivered, frame } = link();
    l.impairments = { ...NO_IMPAIRMENTS, latencyMs: 100 };
    l.send(frame(1));
    l.impairments = NO_IMPAIRMENTS;
    l.send(frame(2)); // would be due at once, but 1 is still on the wire
    expect(delivered).toEqual([]);
    clock.advance(100);
    expect(delivered.map((d) => d.tag)).toEqual([1, 2]);
  });

  it("loses the share of frames the random source says, and only those", () => {
    const draws = [0.05, 0.5, 0.09, 0.1, 0.99];
    const { l, delivered, dropped, frame } = link(() => draws.shift() ?? 1);
    l.impairments = { ...NO_IMPAIRMENTS, lossPercent: 10 };
    for (let i = 1; i <= 5; i++) l.send(frame(i));
    expect(dropped).toEqual([
      { tag: 1, reason: "loss" },
      { tag: 3, reason: "loss" },
    ]);
    expect(delivered.map((d) => d.tag)).toEqual([2, 4, 5]);
  });

  it("loses about the set percentage over many frames with the seeded generator", () => {
    const { l, dropped, frame } = link(seededRandom(7));
    l.impairments = { ...NO_IMPAIRMENTS, lossPercent: 25 };
    for (let i = 0; i < 4000; i++) l.send(frame(0));
    expect(dropped.length / 4000).toBeGreaterThan(0.22);
    expect(dropped.length / 4000).toBeLessThan(0.28);
  });

  it("serializes at the rate cap and drops what overflows the queue", () => {
    const { clock, l, delivered, dropped, frame } = link();
    // 1000 bytes/s: a 100-byte frame takes 100 ms; the queue holds 250 bytes.
    l.impairments = { ...NO_IMPAIRMENTS, rateBytesPerSecond: 1000, queueBytes: 250 };
    l.send(frame(1));
    l.send(frame(2));
    expect(l.backlogBytes).toBe(200);
    l.send(frame(3)); // 300 > 250
    expect(dropped).toEqual([{ tag: 3, reason: "queue-full" }]);
    clock.advance(100);
    expect(delivered).toEqual([{ at: 100, tag: 1 }]);
    l.send(frame(4)); // room again: leaves after 2, at 300
    clock.advance(300);
    expect(delivered).toEqual([
      { at: 100, tag: 1 },
      { at: 200, tag: 2 },
      { at: 300, tag: 4 },
    ]);
    // An idle link starts the next frame at once.
    l.send(frame(5));
    clock.advance(100);
    expect(delivered.at(-1)).toEqual({ at: 500, tag: 5 });
  });

  it("adds latency after serialization", () => {
    const { clock, l, delivered, frame } = link();
    l.impairments = { ...NO_IMPAIRMENTS, rateBytesPerSecond: 10_000, latencyMs: 5 };
    l.send(frame(1, 100)); // 10 ms on the wire + 5
    l.send(frame(2, 50)); // then 5 ms + 5
    clock.advance(100);
    expect(delivered).toEqual([
      { at: 15, tag: 1 },
      { at: 20, tag: 2 },
    ]);
  });

  it("refuses impairments out of range", () => {
    const { l } = link();
    expect(() => (l.impairments = { ...NO_IMPAIRMENTS, lossPercent: 101 })).toThrow(/lossPercent/);
    expect(() => (l.impairments = { ...NO_IMPAIRMENTS, latencyMs: -1 })).toThrow(/latencyMs/);
    expect(() => (l.impairments = { ...NO_IMPAIRMENTS, rateBytesPerSecond: Number.NaN })).toThrow(/rateBytesPerSecond/);
    expect(l.impairments).toEqual(NO_IMPAIRMENTS);
  });

  it("drops what is on the link when disposed, and everything sent after", () => {
    const { clock, l, delivered, dropped, frame } = link();
    l.impairments = { ...NO_IMPAIRMENTS, latencyMs: 10 };
    l.send(frame(1));
    l.dispose();
    l.send(frame(2));
    clock.advance(50);
    expect(delivered).toEqual([]);
    expect(dropped.map((d) => d.reason)).toEqual(["detached", "detached"]);
  });
});

describe("impairments on switch ports", () => {
  it("apply on both directions of a port's cable and add up along the path", () => {
    const clock = new ManualClock();
    const sw = new VirtualSwitch({ clock, schedule: (fn) => fn() });
    const a = new FakeEndpoint(A);
    const b = new FakeEndpoint(B);
    sw.attach("vm1", a, { impairments: { latencyMs: 10 } });
    const pb = sw.attach("vm2", b);
    pb.setImpairments({ latencyMs: 20 });
    const arrivals: number[] = [];
    b.sendNetworkFrame = () => void arrivals.push(clock.now());
    a.sendNetworkFrame = () => void arrivals.push(clock.now());
    a.emit(ethFrame(A, BROADCAST_MAC, 1));
    clock.advance(100);
    b.emit(ethFrame(B, A, 2));
    clock.advance(100);
    expect(arrivals).toEqual([30, 130]);
    expect(sw.summary().ports.map((p) => p.impairments.latencyMs)).toEqual([10, 20]);
  });

  it("count losses and queue overflows per port", () => {
    const clock = new ManualClock();
    const sw = new VirtualSwitch({ clock, schedule: (fn) => fn(), random: () => 0 });
    const a = new FakeEndpoint(A);
    const b = new FakeEndpoint(B);
    const pa = sw.attach("vm1", a);
    const pb = sw.attach("vm2", b, { impairments: { rateBytesPerSecond: 1000, queueBytes: 120 } });
    for (let i = 0; i < 3; i++) a.emit(ethFrame(A, B, i, 100));
    expect(pb.counters.drops["queue-full"]).toBe(2);
    clock.advance(1000);
    expect(b.received).toHaveLength(1);
    pa.setImpairments({ lossPercent: 100 });
    a.emit(ethFrame(A, B, 9));
    expect(pa.counters.drops.loss).toBe(1);
    expect(pa.counters.framesIn).toBe(4);
    expect(b.received).toHaveLength(1);
  });
});
