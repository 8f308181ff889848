/**
 * The page walker on the running guest, and a simulation of what a shadow-page-table VMM would
 * have to trap, on the guest's real page tables.
 *
 * Honest limits: v86 itself does software paging with its own TLB; there is no second level of
 * hardware tables here. The "shadow" figures come from watching the guest's own tables: CR3 is
 * sampled between emulator time slices (a CR3 write in the middle of a slice is missed), and
 * page-table pages are compared between samples (two writes to one entry count once). Both are
 * lower bounds of what a shadow VMM, which write-protects every guest page table and traps every
 * CR3 write, would see. Changes of only the accessed/dirty bits are not counted: the CPU sets
 * those during its walk (a shadow VMM emulates them without a guest write).
 */
import type { Clock } from "../clock.ts";
import type { Disposable } from "../events.ts";
import type { GuestMemory } from "../backend.ts";
import { walk, type ControlRegisters, type PhysicalRead32, type WalkResult } from "./pagewalk.ts";

export interface LiveWalk {
  readonly regs: ControlRegisters;
  readonly result: WalkResult;
  /** Where the guest physical address lies in the emulator's Wasm memory (ok walks within RAM). */
  readonly wasmOffset: number | undefined;
}

export function read32Of(memory: GuestMemory): PhysicalRead32 {
  return (address) => {
    const bytes = memory.readPhysical(address, 4);
    if (bytes === undefined) return undefined;
    return (bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24)) >>> 0;
  };
}

/** Walk `virtual` through the page tables CR3 points at now (or through `cr3`, if given). */
export function walkLive(memory: GuestMemory, virtual: number, cr3?: number): LiveWalk {
  const now = memory.controlRegisters();
  const regs = cr3 === undefined ? now : { ...now, cr3 };
  const result = walk(virtual, regs, read32Of(memory));
  const { wasmOffset, bytes } = memory.layout();
  return { regs, result, wasmOffset: result.ok && result.physical < bytes ? wasmOffset + result.physical : undefined };
}

/** What the observer saw over a workload. */
export interface ShadowReport {
  readonly samples: number;
  readonly durationMs: number;
  /** Sample-to-sample changes of CR3 (each is at least one CR3 write a shadow VMM traps). */
  readonly cr3Changes: number;
  readonly distinctCr3: number;
  /** Page-table entries (PD and PT) the guest changed between samples, in tables seen before. */
  readonly entriesChanged: number;
  /** Page-table pages first seen during the workload (new processes' tables, mostly). */
  readonly newTablePages: number;
  /** Present entries in those new pages: each was written by the guest kernel at some point. */
  readonly entriesInNewTables: number;
  /** Page-table pages watched in all. */
  readonly tablePages: number;
}

const PAGE = 4096;

/** The page-table pages (directory and tables) reachable from these registers. */
function tablePages(regs: ControlRegisters, memory: GuestMemory): number[] {
  const pae = (regs.cr4 & 0x20) !== 0;
  const pse = (regs.cr4 & 0x10) !== 0;
  const pages: number[] = [];
  const read = read32Of(memory);
  const fromDirectory = (pd: number, entrySize: 4 | 8): void => {
    pages.push(pd);
    const dir = memory.readPhysical(pd, PAGE);
    if (dir === undefined) return;
    const view = new DataView(dir.buffer);
    for (let off = 0; off < PAGE; off += entrySize) {
      const low = view.getUint32(off, true);
      if ((low & 1) === 0 || ((low & 0x80) !== 0 && (pae || pse))) continue;
      pages.push((low & 0xffff_f000) >>> 0);
    }
  };
  if (!pae) {
    fromDirectory((regs.cr3 & 0xffff_f000) >>> 0, 4);
    return pages;
  }
  for (let i = 0; i < 4; i++) {
    const low = read(((regs.cr3 & 0xffff_ffe0) >>> 0) + i * 8);
    if (low !== undefined && (low & 1) !== 0) fromDirectory((low & 0xffff_f000) >>> 0, 8);
  }
  return pages;
}

/** Accessed and dirty bits: the CPU's page walker sets them, not the guest's software. */
const HARDWARE_BITS = 0x60;

function changedEntries(before: Uint32Array, after: Uint32Array, entryWords: 1 | 2): number {
  let n = 0;
  for (let i = 0; i < before.length; i += entryWords) {
    if ((before[i]! | HARDWARE_BITS) !== (after[i]! | HARDWARE_BITS) || (entryWords === 2 && before[i + 1] !== after[i + 1])) n++;
  }
  return n;
}

function presentEntries(table: Uint32Array, entryWords: 1 | 2): number {
  let n = 0;
  for (let i = 0; i < table.length; i += entryWords) if ((table[i]! & 1) !== 0) n++;
  return n;
}

/**
 * Samples the guest's CR3 and page tables every `intervalMs` (from the Clock) until stopped.
 * The first sample is the baseline.
 */
export class PageTableObserver implements Disposable {
  private readonly tables = new Map<number, Uint32Array>();
  private readonly cr3s = new Set<number>();
  private lastCr3: number | undefined;
  private samples = 0;
  private cr3Changes = 0;
  private entriesChanged = 0;
  private newTablePages = 0;
  private entriesInNewTables = 0;
  private timer: Disposable | undefined;
  private readonly started: number;

  constructor(
    private readonly memory: GuestMemory,
    private readonly clock: Clock,
    private readonly intervalMs = 1,
  ) {
    this.started = clock.now();
    this.sample(true);
    this.schedule();
  }

  private schedule(): void {
    this.timer = this.clock.after(this.intervalMs, () => {
      this.sample(false);
      this.schedule();
    });
  }

  /** Take one sample now (also called by the timer). */
  sample(baseline = false): void {
    const regs = this.memory.controlRegisters();
    if ((regs.cr0 & 0x8000_0000) === 0) return;
    this.samples++;
    if (this.lastCr3 !== undefined && regs.cr3 !== this.lastCr3) this.cr3Changes++;
    this.lastCr3 = regs.cr3;
    this.cr3s.add(regs.cr3);
    const entryWords = (regs.cr4 & 0x20) !== 0 ? 2 : 1;
    for (const page of tablePages(regs, this.memory)) {
      const bytes = this.memory.readPhysical(page, PAGE);
      if (bytes === undefined) continue;
      const now = new Uint32Array(bytes.buffer);
      const before = this.tables.get(page);
      if (before !== undefined) this.entriesChanged += changedEntries(before, now, entryWords);
      else if (!baseline) {
        this.newTablePages++;
        this.entriesInNewTables += presentEntries(now, entryWords);
      }
      this.tables.set(page, now);
    }
  }

  report(): ShadowReport {
    return {
      samples: this.samples,
      durationMs: this.clock.now() - this.started,
      cr3Changes: this.cr3Changes,
      distinctCr3: this.cr3s.size,
      entriesChanged: this.entriesChanged,
      newTablePages: this.newTablePages,
      entriesInNewTables: this.entriesInNewTables,
      tablePages: this.tables.size,
    };
  }

  /** Stop sampling and say what was seen. */
  stop(): ShadowReport {
    this.dispose();
    this.sample(false);
    return this.report();
  }

  dispose(): void {
    this.timer?.dispose();
    this.timer = undefined;
  }
}

/** The report in words, beside what nested paging (EPT/NPT) needs for the same work. */
export function describeShadow(r: ShadowReport, guest?: { readonly contextSwitches?: number; readonly pageFaults?: number }): string[] {
  const lines = [
    `Simulation on the guest's real page tables, ${r.samples} samples over ${(r.durationMs / 1000).toFixed(1)} s (v86 itself does software paging; these are lower bounds):`,
    `shadow page tables: at least ${r.cr3Changes} CR3 writes (${r.distinctCr3} address spaces seen) and ${r.entriesChanged + r.entriesInNewTables} page-table writes to trap (${r.entriesChanged} entries changed in ${r.tablePages} watched table pages, ${r.entriesInNewTables} entries in ${r.newTablePages} new ones)`,
  ];
  if (guest?.pageFaults !== undefined) lines.push(`and every guest page fault exits to the VMM too: the guest counted ${guest.pageFaults}`);
  if (guest?.contextSwitches !== undefined) lines.push(`(the guest counted ${guest.contextSwitches} context switches; not all of them change CR3)`);
  lines.push("nested paging (EPT/NPT): 0 of these trap; the guest owns its tables, and a TLB miss costs a two-dimensional walk instead (14 memory references for this 2-level guest on a 4-level EPT, against 2).");
  return lines;
}
