import { describe, expect, it } from "vitest";
import { PIC_RECORD_BYTES, PicCascadeRepair } from "./picCascade.ts";

/** A PIC record as v86 lays it out: mask (enabled bits) at 0, ISR at 2, IRR at 3, auto-EOI at 9, line levels at 11. */
function record(fields: { mask?: number; isr?: number; irr?: number; autoEoi?: boolean; value?: number }): Uint8Array {
  const bytes = new Uint8Array(PIC_RECORD_BYTES);
  bytes[0] = fields.mask ?? 0xff;
  bytes[2] = fields.isr ?? 0;
  bytes[3] = fields.irr ?? 0;
  bytes[9] = fields.autoEoi === true ? 1 : 0;
  bytes[11] = fields.value ?? 0;
  return bytes;
}

function repairOn(master: Uint8Array, slave: Uint8Array): PicCascadeRepair {
  return new PicCascadeRepair(() => ({ master, slave }));
}

describe("PicCascadeRepair", () => {
  it("ends IRQ 2 at the master when it stays in service with nothing in service at the slave", () => {
    const master = record({ isr: 0b0000_0100 });
    const repair = repairOn(master, record({}));
    repair.check();
    expect(master[2]).toBe(0b0000_0100); // seen once: could be between a handler's two end-of-interrupts
    repair.check();
    expect(master[2]).toBe(0);
    expect(repair.repairs).toBe(1);
  });

  it("keeps other interrupts in service and latches IRQ 2 again for a slave request held back meanwhile", () => {
    const master = record({ isr: 0b0001_0100 }); // IRQ 4 (serial) in service too
    const slave = record({ irr: 0b0000_0100, mask: 0b1111_1111 }); // IRQ 10 asks
    const repair = repairOn(master, slave);
    repair.check();
    repair.check();
    expect({ isr: master[2], irr: master[3], value: master[11] }).toEqual({ isr: 0b0001_0000, irr: 0b0000_0100, value: 0b0000_0100 });
  });

  it("does not latch IRQ 2 for a slave request the guest masked", () => {
    const master = record({ isr: 0b0000_0100 });
    const slave = record({ irr: 0b0000_0100, mask: 0b1111_1011 }); // IRQ 10 masked
    const repair = repairOn(master, slave);
    repair.check();
    repair.check();
    expect({ isr: master[2], irr: master[3] }).toEqual({ isr: 0, irr: 0 });
  });

  it.each([
    ["a slave interrupt is in service (a handler runs)", record({ isr: 0b0000_0100 }), record({ isr: 0b0000_0100 })],
    ["IRQ 2 is not in service", record({ isr: 0b0001_0000 }), record({})],
    ["the master ends interrupts itself (auto-EOI)", record({ isr: 0b0000_0100, autoEoi: true }), record({})],
  ])("leaves the controllers alone when %s", (_name, master, slave) => {
    const before = [...master, ...slave];
    const repair = repairOn(master, slave);
    for (let i = 0; i < 3; i++) repair.check();
    expect([...master, ...slave]).toEqual(before);
    expect(repair.repairs).toBe(0);
  });

  it("needs the state at two checks in a row: a check that finds it gone starts over", () => {
    const master = record({ isr: 0b0000_0100 });
    const slave = record({});
    const repair = repairOn(master, slave);
    repair.check();
    master[2] = 0; // the guest's own end-of-interrupt came
    repair.check();
    master[2] = 0b0000_0100; // a new, legitimate acknowledgment
    repair.check();
    expect(master[2]).toBe(0b0000_0100);
    expect(repair.repairs).toBe(0);
  });

  it("does nothing when v86 shows no PIC records", () => {
    const repair = new PicCascadeRepair(() => undefined);
    repair.check();
    repair.check();
    expect(repair.repairs).toBe(0);
  });
});
