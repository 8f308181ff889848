import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.ts";
import { arpRequestFrame, echoRequestFrame } from "../lab/frames.ts";
import { FakeEndpoint, ethFrame } from "../testing/fakeBus.ts";
import { PacketCapture, packetMatches, type CapturedPacket } from "./capture.ts";
import { BROADCAST_MAC, udpFrame, type Mac } from "./frames.ts";
import { readPcap } from "./pcap.ts";
import { VirtualSwitch } from "./switch.ts";

const A: Mac = [0x52, 0x54, 0, 0, 0, 0x0a];
const B: Mac = [0x52, 0x54, 0, 0, 0, 0x0b];
const C: Mac = [0x52, 0x54, 0, 0, 0, 0x0c];

function lab(options: ConstructorParameters<typeof PacketCapture>[1] = {}) {
  const clock = new ManualClock();
  const sw = new VirtualSwitch({ clock, schedule: (fn) => fn() });
  const a = new FakeEndpoint(A);
  const b = new FakeEndpoint(B);
  const c = new FakeEndpoint(C);
  const pa = sw.attach("vm1", a);
  const pb = sw.attach("vm2", b);
  sw.attach("vm3", c);
  const capture = new PacketCapture(sw.onTap, options);
  return { clock, sw, a, b, c, pa, pb, capture };
}

const ping = (from: Mac, to: Mac, seq: number): Uint8Array => echoRequestFrame({ from, to, src: [10, 0, 0, from[5]], dst: [10, 0, 0, to[5]], id: 1, seq, payload: new Uint8Array(56) });

describe("PacketCapture", () => {
  it("keeps each frame once as it reaches the switch, with time, port and where it went", () => {
    const { clock, a, b, capture } = lab();
    const seen: CapturedPacket[] = [];
    capture.onPacket((p) => seen.push(p));
    clock.advance(5);
    a.emit(arpRequestFrame(A, [10, 0, 0, 10], [10, 0, 0, 11]));
    clock.advance(2);
    b.emit(ping(B, A, 1));
    expect(capture.packets().map((p) => [p.number, p.time, p.port, p.direction, p.to])).toEqual([
      [1, 5, "vm1", "in", ["vm2", "vm3"]],
      [2, 7, "vm2", "in", ["vm1"]],
    ]);
    expect(seen).toEqual(capture.packets());
    expect(capture.decode(seen[0] as CapturedPacket).summary).toBe("Who has 10.0.0.11? Tell 10.0.0.10");
  });

  it("with points \"all\" also keeps each delivery out", () => {
    const { a, capture } = lab({ points: "all" });
    a.emit(ethFrame(A, BROADCAST_MAC));
    expect(capture.packets().map((p) => [p.port, p.direction])).toEqual([
      ["vm1", "in"],
      ["vm2", "out"],
      ["vm3", "out"],
    ]);
  });

  it("keeps drops, marked with the reason, on either side", () => {
    const { a, pb, capture } = lab();
    pb.setImpairments({ lossPercent: 100 });
    a.emit(new Uint8Array(10));
    a.emit(ethFrame(A, B, 1));
    expect(capture.packets().map((p) => [p.port, p.direction, p.dropped])).toEqual([
      ["vm1", "in", "runt"],
      ["vm1", "in", undefined],
      ["vm2", "out", "loss"],
    ]);
    expect(capture.packets({ dropped: "only" })).toHaveLength(2);
    expect(capture.packets({ dropped: "exclude" })).toHaveLength(1);
    expect(capture.decode(capture.packets()[0] as CapturedPacket).malformed).toMatch(/shorter than an Ethernet header/);
  });

  it("cuts frames to the snap length and remembers their length", () => {
    const { a, capture } = lab({ snapLength: 64 });
    a.emit(ethFrame(A, B, 1, 1514));
    const [packet] = capture.packets();
    expect(packet?.frame.length).toBe(64);
    expect(packet?.originalLength).toBe(1514);
  });

  it("copies the bytes it keeps", () => {
    const { a, capture } = lab();
    const frame = ethFrame(A, B, 1);
    a.emit(frame);
    frame[14] = 77;
    expect(capture.packets()[0]?.frame[14]).toBe(1);
  });

  it("is a ring: the oldest go, numbers keep counting", () => {
    const { a, capture } = lab({ limit: 3 });
    for (let i = 0; i < 5; i++) a.emit(ethFrame(A, BROADCAST_MAC, i));
    expect(capture.packets().map((p) => [p.number, p.frame[14]])).toEqual([
      [3, 2],
      [4, 3],
      [5, 4],
    ]);
    expect(capture.size).toBe(3);
    expect(capture.overwritten).toBe(2);
    let cleared = 0;
    capture.onCleared(() => cleared++);
    capture.clear();
    expect([capture.size, capture.packets(), cleared, capture.overwritten]).toEqual([0, [], 1, 0]);
    a.emit(ethFrame(A, BROADCAST_MAC, 9));
    expect(capture.packets().map((p) => p.number)).toEqual([6]);
  });

  it("pauses and resumes; dispose stops listening", () => {
    const { a, capture } = lab();
    capture.pause();
    a.emit(ethFrame(A, BROADCAST_MAC, 1));
    expect(capture.capturing).toBe(false);
    capture.resume();
    a.emit(ethFrame(A, BROADCAST_MAC, 2));
    capture.dispose();
    a.emit(ethFrame(A, BROADCAST_MAC, 3));
    expect(capture.packets().map((p) => p.frame[14])).toEqual([2]);
  });

  it("filters by port (from or to) and by protocol", () => {
    const { a, b, c, capture } = lab();
    a.emit(arpRequestFrame(A, [10, 0, 0, 10], [10, 0, 0, 11])); // flooded: to vm2 and vm3
    b.emit(ping(B, A, 1)); // vm2 → vm1
    c.emit(udpFrame({ from: C, to: A, src: [10, 0, 0, 12], dst: [10, 0, 0, 10], srcPort: 40000, dstPort: 53, payload: new Uint8Array(12) }));
    const summaries = (filter: Parameters<PacketCapture["packets"]>[0]): string[] => capture.packets(filter).map((p) => capture.decode(p).protocol);
    expect(summaries({ ports: ["vm3"] })).toEqual(["ARP", "DNS"]);
    expect(summaries({ ports: ["vm2"] })).toEqual(["ARP", "ICMP"]);
    expect(summaries({ protocols: ["icmp"] })).toEqual(["ICMP"]);
    expect(summaries({ protocols: ["udp"] })).toEqual(["DNS"]);
    expect(summaries({ protocols: ["ipv4"] })).toEqual(["ICMP", "DNS"]);
    expect(summaries({ ports: ["vm1"], protocols: ["arp", "dns"] })).toEqual(["ARP", "DNS"]);
    expect(summaries({ ports: [], protocols: [] })).toHaveLength(3);
    expect(packetMatches(capture.packets()[0] as CapturedPacket, { protocols: ["tcp"] })).toBe(false);
  });

  it("keeps to its byte budget, dropping the oldest, and keeps numbering across compaction", () => {
    const { a, capture } = lab({ limit: 100_000, maxBytes: 600 });
    for (let i = 0; i < 5000; i++) a.emit(ethFrame(A, BROADCAST_MAC, i & 0xff, 100));
    expect(capture.size).toBe(6);
    expect(capture.keptBytes).toBe(600);
    expect(capture.overwritten).toBe(4994);
    expect(capture.packets().map((p) => p.number)).toEqual([4995, 4996, 4997, 4998, 4999, 5000]);
    // A frame larger than the whole budget is still kept, alone.
    a.emit(ethFrame(A, BROADCAST_MAC, 1, 1000));
    expect(capture.packets().map((p) => p.originalLength)).toEqual([1000]);
  });

  it("writes its packets as a pcap file, drops left out unless asked for", () => {
    const { clock, a, pb, capture } = lab({ snapLength: 80 });
    const epochMs = Date.UTC(2026, 11, 1, 8, 0, 0);
    clock.advance(10);
    a.emit(ethFrame(A, BROADCAST_MAC, 1, 60));
    clock.advance(2.5);
    pb.setImpairments({ lossPercent: 100 });
    a.emit(ethFrame(A, B, 2, 200)); // in at the fabric, then lost on vm2's cable
    const file = readPcap(capture.toPcap({ epochMs }));
    expect(file.snapLength).toBe(80);
    expect(file.records.map((r) => [r.timeMs - epochMs, r.includedLength, r.originalLength, r.frame[14]])).toEqual([
      [10, 60, 60, 1],
      [12.5, 80, 200, 2],
    ]);
    const withDrops = readPcap(capture.toPcap({ epochMs, nanoseconds: true, filter: { dropped: "include" } }));
    expect(withDrops.nanoseconds).toBe(true);
    expect(withDrops.records).toHaveLength(3);
    // B was not learned yet, so vm3 got both frames (flooded); a port filter keeps what it saw.
    expect(readPcap(capture.toPcap({ epochMs, filter: { ports: ["vm3"] } })).records).toHaveLength(2);
    expect(readPcap(capture.toPcap({ epochMs, filter: { protocols: ["arp"] } })).records).toHaveLength(0);
  });
});
