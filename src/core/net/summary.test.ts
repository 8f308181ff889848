import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.ts";
import { FakeEndpoint, ethFrame } from "../testing/fakeBus.ts";
import { BROADCAST_MAC, type Mac } from "./frames.ts";
import { NO_IMPAIRMENTS } from "./link.ts";
import { NetworkMonitor, type NetworkSummary } from "./summary.ts";
import { VirtualSwitch } from "./switch.ts";

const A: Mac = [0x52, 0x54, 0, 0, 0, 0x0a];
const B: Mac = [0x52, 0x54, 0, 0, 0, 0x0b];

describe("network summary", () => {
  it("lists ports with kind, segment, learned MACs, counters and impairments", () => {
    const clock = new ManualClock();
    const sw = new VirtualSwitch({ clock, schedule: (fn) => fn() });
    const a = new FakeEndpoint(A);
    const b = new FakeEndpoint(B);
    sw.attach("vm1", a);
    sw.attach("gw", b, { kind: "host", segment: "nat", impairments: { latencyMs: 5 } });
    a.emit(ethFrame(A, BROADCAST_MAC, 1, 100));
    clock.advance(3);
    const summary = sw.summary();
    expect(summary.time).toBe(3);
    expect(summary.segments).toEqual([
      { id: "default", ports: ["vm1"] },
      { id: "nat", ports: ["gw"] },
    ]);
    expect(summary.ports[0]).toEqual({
      label: "vm1",
      kind: "machine",
      segment: "default",
      macs: ["52:54:00:00:00:0a"],
      counters: { framesIn: 1, bytesIn: 100, framesOut: 0, bytesOut: 0, drops: { runt: 0, oversize: 0, loss: 0, "queue-full": 0, filtered: 0, refused: 0, detached: 0 } },
      impairments: NO_IMPAIRMENTS,
    });
    expect(summary.ports[1]).toMatchObject({ label: "gw", kind: "host", segment: "nat", macs: [], impairments: { latencyMs: 5 } });
  });

  it("NetworkMonitor tells topology changes at once and traffic at most once per interval", () => {
    const clock = new ManualClock();
    const sw = new VirtualSwitch({ clock, schedule: (fn) => fn() });
    const monitor = new NetworkMonitor(sw, clock, { intervalMs: 100 });
    const told: NetworkSummary[] = [];
    monitor.onChanged((s) => told.push(s));
    const a = new FakeEndpoint(A);
    const b = new FakeEndpoint(B);
    sw.attach("vm1", a);
    expect(told.map((s) => s.ports.map((p) => p.label))).toEqual([["vm1"]]);
    const pb = sw.attach("vm2", b);
    expect(told).toHaveLength(2);
    for (let i = 0; i < 50; i++) a.emit(ethFrame(A, B, i));
    expect(told).toHaveLength(2); // traffic waits for the interval
    clock.advance(100);
    expect(told).toHaveLength(3);
    expect(told[2]?.ports.find((p) => p.label === "vm2")?.counters.framesOut).toBe(50);
    clock.advance(1000);
    expect(told).toHaveLength(3); // nothing happened: nothing told
    pb.setImpairments({ lossPercent: 5 });
    clock.advance(100);
    expect(told.at(-1)?.ports[1]?.impairments.lossPercent).toBe(5);
    pb.dispose();
    expect(told.at(-1)?.ports.map((p) => p.label)).toEqual(["vm1"]);
    const count = told.length;
    monitor.dispose();
    sw.attach("vm3", new FakeEndpoint());
    clock.advance(1000);
    expect(told).toHaveLength(count);
    expect(monitor.summary.ports.map((p) => p.label)).toEqual(["vm1", "vm3"]);
  });
});
