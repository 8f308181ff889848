import { describe, expect, it } from "vitest";
import { HYPERCALL_MAGIC, HYPERCALL_REGISTERS, HYPERCALL_UNKNOWN, HypercallDevice } from "./hypercall.ts";
import { TrapMeter, interruptsDelta, perUnit, trapDelta } from "./traps.ts";

describe("TrapMeter", () => {
  it("attributes accesses to the owning device, by name or by the legacy port map", () => {
    const m = new TrapMeter();
    for (let i = 0; i < 10; i++) m.port(0x3f8, 8, true, undefined, false);
    m.port(0x3fd, 8, false, undefined, false);
    m.port(0xb900, 16, true, "virtio_console", true);
    m.port(0xb800, 32, false, "virtio_console", false);
    m.port(0x40, 8, true, undefined, false);
    m.port(0x1234, 8, true, undefined, false);
    m.irq(4, undefined);
    m.irq(11, "virtio_console");
    m.irq(9, undefined);
    m.mmio(0xfea00008, 32, true, "hypercall");
    m.mmio(0xe0000010, 32, false, undefined);
    const s = m.snapshot();
    expect(s.devices["uart0"]?.portWrites[8]).toBe(10);
    expect(s.devices["uart0"]?.portReads[8]).toBe(1);
    expect(s.devices["uart0"]?.irqs).toBe(1);
    expect(s.devices["virtio_console"]).toMatchObject({ notifications: 1, irqs: 1, portWrites: { 16: 1 }, portReads: { 32: 1 } });
    expect(s.devices["pit"]?.portWrites[8]).toBe(1);
    expect(s.devices["unclaimed ports"]?.portWrites[8]).toBe(1);
    expect(s.devices["irq 9"]?.irqs).toBe(1);
    expect(s.devices["hypercall"]?.mmioWrites).toBe(1);
    expect(s.devices["mmio 0xe0000000"]?.mmioReads).toBe(1);
    expect(s.totals).toEqual({ portIo: 15, mmio: 2, irq: 3, notifications: 1 });
  });

  it("subtracts snapshots and divides per unit", () => {
    const m = new TrapMeter();
    m.port(0x3f8, 8, true, undefined, false);
    const a = m.snapshot();
    m.port(0x3f8, 8, true, undefined, false);
    m.port(0x3f8, 8, true, undefined, false);
    m.irq(4, undefined);
    const d = trapDelta(a, m.snapshot());
    expect(d.totals).toEqual({ portIo: 2, mmio: 0, irq: 1, notifications: 0 });
    expect(perUnit(d.totals, 0.5)).toEqual({ portIo: 4, mmio: 0, irq: 2, notifications: 0 });
    m.reset();
    expect(m.snapshot().totals.portIo).toBe(0);
  });

  it("reads the guest's /proc/interrupts and reports the lines that moved", () => {
    const before = "           CPU0       \n  0:         10   IO-APIC   2-edge      timer\n  4:        100   IO-APIC   4-edge      ttyS0\nNMI:          0   Non-maskable interrupts\n";
    const after = "           CPU0       \n  0:         15   IO-APIC   2-edge      timer\n  4:        160   IO-APIC   4-edge      ttyS0\nNMI:          0   Non-maskable interrupts\n";
    expect(interruptsDelta(before, after)).toEqual([
      { line: "0", name: "IO-APIC 2-edge timer", delta: 5 },
      { line: "4", name: "IO-APIC 4-edge ttyS0", delta: 60 },
    ]);
  });
});

describe("HypercallDevice", () => {
  it("answers calls from its registers and reports each call", () => {
    const calls: unknown[] = [];
    const d = new HypercallDevice({ instructionCounter: () => 42 }, (r) => calls.push(r));
    d.write32(HYPERCALL_REGISTERS.arg0, 0xffffffff);
    d.write32(HYPERCALL_REGISTERS.arg1, 2);
    d.write32(HYPERCALL_REGISTERS.nr, 1);
    expect(d.read32(HYPERCALL_REGISTERS.reply)).toBe(1);
    d.write32(HYPERCALL_REGISTERS.nr, 0);
    expect(d.read32(HYPERCALL_REGISTERS.reply)).toBe(HYPERCALL_MAGIC);
    d.write32(HYPERCALL_REGISTERS.nr, 2);
    expect(d.read32(HYPERCALL_REGISTERS.reply)).toBe(42);
    d.write32(HYPERCALL_REGISTERS.nr, 99);
    expect(d.read32(HYPERCALL_REGISTERS.reply)).toBe(HYPERCALL_UNKNOWN);
    expect(calls).toEqual([
      { nr: 1, args: [0xffffffff, 2], reply: 1 },
      { nr: 0, args: [0xffffffff, 2], reply: HYPERCALL_MAGIC },
      { nr: 2, args: [0xffffffff, 2], reply: 42 },
      { nr: 99, args: [0xffffffff, 2], reply: HYPERCALL_UNKNOWN },
    ]);
  });
});
