import { describe, expect, it } from "vitest";
import { CR0_PG, CR4_PAE, CR4_PSE, describeWalk, nestedWalkReferences, pagingMode, walk, type ControlRegisters } from "./pagewalk.ts";

/** Synthetic guest physical memory: a sparse map of 32-bit words. */
class Memory {
  readonly words = new Map<number, number>();
  constructor(readonly size = 64 << 20) {}
  set32(address: number, value: number): void {
    this.words.set(address, value >>> 0);
  }
  set64(address: number, value: number): void {
    this.set32(address, value % 2 ** 32);
    this.set32(address + 4, Math.floor(value / 2 ** 32));
  }
  readonly read32 = (address: number): number | undefined => (address + 4 > this.size ? undefined : (this.words.get(address) ?? 0));
}

const P = 1, W = 2, U = 4, PS = 0x80;
const nonPae = (cr3: number, pse = true): ControlRegisters => ({ cr0: CR0_PG | 1, cr3, cr4: pse ? CR4_PSE : 0 });
const pae = (cr3: number): ControlRegisters => ({ cr0: CR0_PG | 1, cr3, cr4: CR4_PAE | CR4_PSE });

describe("2-level (non-PAE) walks", () => {
  const mem = new Memory();
  const pd = 0x0010_0000, pt = 0x0010_1000;
  // 0x0804_8123: PD index 0x20, PT index 0x48.
  mem.set32(pd + 0x20 * 4, pt | P | W | U);
  mem.set32(pt + 0x48 * 4, 0x0123_4000 | P | U);
  // 0xC100_0000 (kernel text): PD index 0x304, a 4 MiB page at physical 0x0100_0000.
  mem.set32(pd + 0x304 * 4, 0x0100_0000 | P | W | PS | 0x100);

  it("follows PD → PT to a 4 KiB page", () => {
    const r = walk(0x0804_8123, nonPae(pd | 0x18), mem.read32);
    expect(r).toMatchObject({ ok: true, mode: "2-level", physical: 0x0123_4123, pageSize: 4096, references: 2 });
    expect(r.steps.map((s) => [s.level, s.index, s.entryAddress])).toEqual([
      ["PD", 0x20, pd + 0x80],
      ["PT", 0x48, pt + 0x120],
    ]);
    expect(r.steps[1]!.flags).toMatchObject({ present: true, writable: false, user: true });
  });

  it("stops at a 4 MiB page when CR4.PSE is on", () => {
    const r = walk(0xc112_3456, nonPae(pd), mem.read32);
    expect(r).toMatchObject({ ok: true, physical: 0x0112_3456, pageSize: 4 << 20, references: 1 });
    expect(r.steps[0]!.flags).toMatchObject({ large: true, global: true, user: false });
  });

  it("takes PSE-36 high bits into the physical address", () => {
    const m = new Memory();
    m.set32(pd + 0x304 * 4, 0x0100_0000 | (0x3 << 13) | P | PS);
    const r = walk(0xc100_0010, nonPae(pd), m.read32);
    expect(r).toMatchObject({ ok: true, physical: 3 * 2 ** 32 + 0x0100_0010 });
  });

  it("ignores PS without CR4.PSE (the entry points to a page table)", () => {
    const r = walk(0xc100_0000, nonPae(pd, false), mem.read32);
    expect(r.steps.map((s) => s.level)).toEqual(["PD", "PT"]);
    expect(r.steps[1]!.table).toBe(0x0100_0000);
  });

  it("reports a not-present PDE and PTE as a page fault at that level", () => {
    expect(walk(0x4000_0000, nonPae(pd), mem.read32)).toMatchObject({ ok: false, reason: "not-present", level: "PD" });
    expect(walk(0x0804_9000, nonPae(pd), mem.read32)).toMatchObject({ ok: false, reason: "not-present", level: "PT" });
  });

  it("says when a table lies outside RAM", () => {
    expect(walk(0x1000, nonPae(0x7fff_f000), mem.read32)).toMatchObject({ ok: false, reason: "unreadable", level: "PD" });
  });
});

describe("3-level PAE walks", () => {
  const mem = new Memory();
  const pdpt = 0x0020_0020, pd = 0x0020_1000, pt = 0x0020_2000;
  // 0x0804_8123: PDPT 0, PD index 0x40, PT index 0x48.
  mem.set64(pdpt + 0, pd | P);
  mem.set64(pd + 0x40 * 8, pt | P | W | U);
  mem.set32(pt + 0x48 * 8, 0x0123_4000 | P | U);
  mem.set32(pt + 0x48 * 8 + 4, 0x8000_0000); // NX
  // 0xC020_0000: PDPT 3, PD index 1, a 2 MiB page at 0x0060_0000.
  const pdKernel = 0x0020_3000;
  mem.set64(pdpt + 3 * 8, pdKernel | P);
  mem.set64(pdKernel + 1 * 8, 0x0060_0000 | P | W | PS);

  it("follows PDPT → PD → PT to a 4 KiB page, with NX", () => {
    const r = walk(0x0804_8123, pae(pdpt), mem.read32);
    expect(r).toMatchObject({ ok: true, mode: "3-level PAE", physical: 0x0123_4123, pageSize: 4096, references: 3 });
    expect(r.steps.map((s) => [s.level, s.index])).toEqual([
      ["PDPT", 0],
      ["PD", 0x40],
      ["PT", 0x48],
    ]);
    expect(r.steps[2]!.flags.noExecute).toBe(true);
  });

  it("stops at a 2 MiB page", () => {
    const r = walk(0xc021_2345, pae(pdpt), mem.read32);
    expect(r).toMatchObject({ ok: true, physical: 0x0061_2345, pageSize: 2 << 20, references: 2 });
  });

  it("reports a not-present PDPT entry", () => {
    expect(walk(0x4000_0000, pae(pdpt), mem.read32)).toMatchObject({ ok: false, reason: "not-present", level: "PDPT" });
  });
});

describe("modes and words", () => {
  it("reads the mode from CR0.PG and CR4.PAE", () => {
    expect(pagingMode({ cr0: 1, cr3: 0, cr4: CR4_PAE })).toBe("off");
    expect(pagingMode(nonPae(0))).toBe("2-level");
    expect(pagingMode(pae(0))).toBe("3-level PAE");
    expect(walk(0x1234, { cr0: 1, cr3: 0, cr4: 0 }, () => 0)).toMatchObject({ ok: true, physical: 0x1234 });
  });

  it("counts nested-paging references as (g+1)(h+1)-1", () => {
    expect(nestedWalkReferences(2, 4)).toBe(14);
    expect(nestedWalkReferences(4, 4)).toBe(24);
  });

  it("describes each step and the result", () => {
    const mem = new Memory();
    mem.set32(0x1000 + 0x304 * 4, 0x0100_0000 | P | W | PS);
    const regs = nonPae(0x1000);
    const lines = describeWalk(walk(0xc100_0000, regs, mem.read32), regs);
    expect(lines[0]).toContain("2-level paging");
    expect(lines[1]).toBe("PD[772] at 0x00001c10 = 0x01000083 P W S PS");
    expect(lines[2]).toBe("0xc1000000 → guest physical 0x01000000 (4 MiB page)");
  });
});
