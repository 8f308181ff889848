import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.ts";
import type { GuestMemory } from "../backend.ts";
import { PageTableObserver, describeShadow, walkLive } from "./live.ts";

/** A 1 MiB guest with a 2-level page directory at 0x1000 and one page table at 0x2000. */
function fakeGuest(): { memory: GuestMemory; ram: DataView; setCr3(v: number): void } {
  const buffer = new ArrayBuffer(1 << 20);
  const ram = new DataView(buffer);
  let cr3 = 0x1000;
  ram.setUint32(0x1000 + 0x20 * 4, 0x2000 | 7, true); // PD[0x20] → PT at 0x2000
  ram.setUint32(0x2000 + 0x48 * 4, 0x5000 | 7, true); // 0x08048000 → 0x5000
  const memory: GuestMemory = {
    controlRegisters: async () => ({ cr0: 0x8000_0001, cr3, cr4: 0x10 }),
    readPhysical: async (a, n) => (a + n > buffer.byteLength ? undefined : new Uint8Array(buffer, a, n).slice()),
    layout: async () => ({ wasmOffset: 0x10_0000, bytes: buffer.byteLength }),
  };
  return { memory, ram, setCr3: (v) => (cr3 = v) };
}

describe("walkLive", () => {
  it("walks through the current CR3 and says where the page lies in the emulator's memory", async () => {
    const { memory } = fakeGuest();
    const w = await walkLive(memory, 0x0804_8abc);
    expect(w.result).toMatchObject({ ok: true, physical: 0x5abc });
    expect(w.wasmOffset).toBe(0x10_0000 + 0x5abc);
  });
});

describe("PageTableObserver", () => {
  it("counts CR3 changes, changed entries and new table pages between samples", async () => {
    const g = fakeGuest();
    const clock = new ManualClock();
    const observer = new PageTableObserver(g.memory, clock, 1);
    await observer.settled();
    g.ram.setUint32(0x2000 + 0x49 * 4, 0x6000 | 7, true); // one new PTE
    g.ram.setUint32(0x2000 + 0x4a * 4, 0x7000 | 7, true); // and another
    clock.advance(1);
    await observer.settled();
    // A second address space: its own PD (0x3000) with a new PT (0x4000) holding 3 entries.
    g.ram.setUint32(0x3000 + 0x20 * 4, 0x4000 | 7, true);
    for (const i of [0, 1, 2]) g.ram.setUint32(0x4000 + i * 4, 0x8000 | 7, true);
    g.setCr3(0x3000);
    clock.advance(1);
    await observer.settled();
    g.setCr3(0x1000);
    const report = await observer.stop();
    expect(report).toMatchObject({ cr3Changes: 2, distinctCr3: 2, entriesChanged: 2, newTablePages: 2, entriesInNewTables: 4, tablePages: 4 });
    clock.advance(10);
    expect(observer.report().samples).toBe(report.samples);
    expect(describeShadow(report, { pageFaults: 5 }).join("\n")).toContain("at least 2 CR3 writes");
  });
});

describe("PageTableObserver and the CPU's own bits", () => {
  it("does not count accessed/dirty bits the page walker sets", async () => {
    const g = fakeGuest();
    const clock = new ManualClock();
    const observer = new PageTableObserver(g.memory, clock, 1);
    await observer.settled();
    g.ram.setUint32(0x2000 + 0x48 * 4, 0x5000 | 7 | 0x60, true);
    expect((await observer.stop()).entriesChanged).toBe(0);
  });
});
