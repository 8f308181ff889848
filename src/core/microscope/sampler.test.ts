import { describe, expect, it } from "vitest";
import type { HypercallRecord, JitCounts, MicroscopeHooks } from "../backend.ts";
import { Emitter } from "../events.ts";
import { MicroscopeSampler, describeHypercall, deviceRates, jitRate, shortRate } from "./sampler.ts";
import { TrapMeter, type TrapSink } from "./traps.ts";

/** Hooks that record who is installed and let the test play the emulator. */
function fakeHooks(): MicroscopeHooks & { sink: TrapSink | undefined; jit: { blocks: number; wasmBytes: number; invalidations: number }; jitWatching: boolean } {
  const hypercalls = new Emitter<HypercallRecord>();
  const fake = {
    sink: undefined as TrapSink | undefined,
    jit: { blocks: 0, wasmBytes: 0, invalidations: 0 },
    jitWatching: false,
    watchTraps(sink: TrapSink) {
      fake.sink = sink;
      return { dispose: () => (fake.sink = undefined) };
    },
    watchJit() {
      fake.jitWatching = true;
      const start = { ...fake.jit };
      return {
        read: (): JitCounts => ({ blocks: fake.jit.blocks - start.blocks, wasmBytes: fake.jit.wasmBytes - start.wasmBytes, invalidations: fake.jit.invalidations - start.invalidations }),
        dispose: () => (fake.jitWatching = false),
      };
    },
    setJit: () => undefined,
    jitEnabled: () => true,
    onHypercall: hypercalls.event,
  };
  return fake;
}

describe("deviceRates", () => {
  it("divides each device's counts by the interval, busiest first, idle devices left out", () => {
    const m = new TrapMeter();
    for (let i = 0; i < 40; i++) m.port(0x3f8, 8, true, undefined, false);
    m.irq(4, undefined);
    m.irq(4, undefined);
    m.port(0xb900, 16, true, "virtio_console", true);
    const empty = new TrapMeter().snapshot();
    const rows = deviceRates({ devices: { ...m.snapshot().devices, idle: empty.devices["x"] ?? { portReads: { 8: 0, 16: 0, 32: 0 }, portWrites: { 8: 0, 16: 0, 32: 0 }, mmioReads: 0, mmioWrites: 0, irqs: 0, notifications: 0 } }, totals: m.snapshot().totals }, 2);
    expect(rows.map((r) => r.device)).toEqual(["uart0", "virtio_console"]);
    expect(rows[0]).toMatchObject({ portWrites: { 8: 20 }, irqs: 1, total: 21 });
    expect(rows[1]).toMatchObject({ portWrites: { 16: 0.5 }, notifications: 0.5 });
  });

  it("gives zero, not infinity, over an empty interval", () => {
    const m = new TrapMeter();
    m.port(0x3f8, 8, true, undefined, false);
    expect(deviceRates(m.snapshot(), 0)[0]?.total).toBe(0);
  });
});

describe("jitRate, describeHypercall, shortRate", () => {
  it("computes JIT activity per second", () => {
    expect(jitRate({ blocks: 10, wasmBytes: 1000, invalidations: 1 }, { blocks: 30, wasmBytes: 5000, invalidations: 5 }, 2)).toEqual({ blocksPerSecond: 10, wasmBytesPerSecond: 2000, invalidationsPerSecond: 2 });
  });

  it("names the call and shows arguments and reply in hex", () => {
    expect(describeHypercall({ nr: 1, args: [2, 3], reply: 5 })).toEqual({ call: "1 (add)", args: "0x00000002, 0x00000003", reply: "0x00000005" });
    expect(describeHypercall({ nr: 9, args: [0, 0xffffffff], reply: 0xffffffff }).call).toBe("9 (unknown)");
  });

  it("shortens figures", () => {
    expect([0, 2.34, 512.4, 3400, 1_250_000].map(shortRate)).toEqual(["0", "2.3", "512", "3.4k", "1.3M"]);
  });
});

describe("MicroscopeSampler", () => {
  it("installs the meter while it lives, samples rates between calls, and removes every hook on dispose", () => {
    const hooks = fakeHooks();
    const sampler = new MicroscopeSampler(hooks);
    expect(hooks.sink).toBeDefined();
    expect(hooks.jitWatching).toBe(true);
    expect(sampler.sample(1000)).toBeUndefined();
    for (let i = 0; i < 300; i++) hooks.sink?.port(0x3f8, 8, true, undefined, false);
    hooks.jit.blocks += 50;
    hooks.jit.wasmBytes += 10_000;
    const s = sampler.sample(4000);
    expect(s?.seconds).toBe(3);
    expect(s?.devices[0]).toMatchObject({ device: "uart0", portWrites: { 8: 100 } });
    expect(s?.jit).toMatchObject({ blocksPerSecond: 50 / 3 });
    expect(s?.sinceOn.totals.portIo).toBe(300);
    // The next interval counts only what happened in it.
    hooks.sink?.port(0x3f8, 8, true, undefined, false);
    expect(sampler.sample(5000)?.devices[0]?.portWrites[8]).toBe(1);
    sampler.dispose();
    sampler.dispose();
    expect(hooks.sink).toBeUndefined();
    expect(hooks.jitWatching).toBe(false);
  });
});

describe("trapLines", () => {
  it("lists devices busiest first, per MB when the bytes are known", async () => {
    const { trapLines } = await import("./trapSteps.ts");
    const m = new TrapMeter();
    for (let i = 0; i < 1000; i++) m.port(0x3f8, 8, true, undefined, false);
    m.irq(4, undefined);
    m.port(0xb900, 16, true, "virtio_console", true);
    m.mmio(0xfea00008, 32, true, "hypercall");
    expect(trapLines(m.snapshot(), 500_000)).toEqual(["uart0: 2,000/MB port accesses, 2/MB interrupts", "hypercall: 2/MB MMIO accesses", "virtio_console: 2/MB port accesses, 2/MB virtqueue notifications"]);
    expect(trapLines(m.snapshot())[0]).toBe("uart0: 1000 port accesses, 1 interrupts");
  });
});
