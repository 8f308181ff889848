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

const PAGE = 4096;

export interface LiveWalk {
  readonly regs: ControlRegisters;
  readonly result: WalkResult;
  /** Where the guest physical address lies in the emulator's Wasm memory (ok walks within RAM). */
  readonly wasmOffset: number | undefined;
}

/** A guest physical memory reader over pages fetched beforehand (the walk itself is synchronous). */
class PageReads {
  private readonly pages = new Map<number, Uint8Array | undefined>();
  /** The page a read needed and did not have, if any. */
  missing: number | undefined;

  constructor(private readonly memory: GuestMemory) {}

  readonly read32: PhysicalRead32 = (address) => {
    const page = Math.floor(address / PAGE) * PAGE;
    if (!this.pages.has(page)) {
      this.missing ??= page;
      return undefined;
    }
    const bytes = this.pages.get(page);
    const within = address - page;
    if (bytes === undefined || within + 4 > PAGE) return undefined;
    return (bytes[within]! | (bytes[within + 1]! << 8) | (bytes[within + 2]! << 16) | (bytes[within + 3]! << 24)) >>> 0;
  };

  async fetchMissing(): Promise<boolean> {
    const page = this.missing;
    if (page === undefined) return false;
    this.missing = undefined;
    this.pages.set(page, await this.memory.readPhysical(page, PAGE));
    return true;
  }
}

/**
 * Walk `virtual` through the page tables CR3 points at now (or through `cr3`, if given). The
 * walk runs on pages read from the guest one round at a time (at most one per level).
 */
export async function walkLive(memory: GuestMemory, virtual: number, cr3?: number): Promise<LiveWalk> {
  const now = await memory.controlRegisters();
  const regs = cr3 === undefined ? now : { ...now, cr3 };
  const reads = new PageReads(memory);
  let result = walk(virtual, regs, reads.read32);
  while (await reads.fetchMissing()) result = walk(virtual, regs, reads.read32);
  const { wasmOffset, bytes } = await memory.layout();
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

/** The page-table pages (directory and tables) reachable from these registers. */
async function tablePages(regs: ControlRegisters, memory: GuestMemory): Promise<number[]> {
  const pae = (regs.cr4 & 0x20) !== 0;
  const pse = (regs.cr4 & 0x10) !== 0;
  const pages: number[] = [];
  const fromDirectory = async (pd: number, entrySize: 4 | 8): Promise<void> => {
    pages.push(pd);
    const dir = await memory.readPhysical(pd, PAGE);
    if (dir === undefined) return;
    const view = new DataView(dir.buffer);
    for (let off = 0; off < PAGE; off += entrySize) {
      const low = view.getUint32(off, true);
      if ((low & 1) === 0 || ((low & 0x80) !== 0 && (pae || pse))) continue;
      pages.push((low & 0xffff_f000) >>> 0);
    }
  };
  if (!pae) {
    await fromDirectory((regs.cr3 & 0xffff_f000) >>> 0, 4);
    return pages;
  }
  const pdpt = await memory.readPhysical((regs.cr3 & 0xffff_ffe0) >>> 0, 32);
  if (pdpt === undefined) return pages;
  const view = new DataView(pdpt.buffer);
  for (let i = 0; i < 4; i++) {
    const low = view.getUint32(i * 8, true);
    if ((low & 1) !== 0) await fromDirectory((low & 0xffff_f000) >>> 0, 8);
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
  private stopped = false;
  /** The sample being taken (reads from the guest are asynchronous). */
  private sampling: Promise<void> = Promise.resolve();
  private readonly started: number;

  constructor(
    private readonly memory: GuestMemory,
    private readonly clock: Clock,
    private readonly intervalMs = 1,
  ) {
    this.started = clock.now();
    this.sampling = this.sample(true).then(() => this.schedule());
  }

  /** The next sample starts `intervalMs` after the last one finished. */
  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.clock.after(this.intervalMs, () => {
      this.timer = undefined;
      this.sampling = this.sample(false).then(() => this.schedule());
    });
  }

  /** Resolves when the sample in progress (if any) is taken. */
  settled(): Promise<void> {
    return this.sampling;
  }

  /** Take one sample now (also called by the timer). */
  async sample(baseline = false): Promise<void> {
    const regs = await this.memory.controlRegisters();
    if ((regs.cr0 & 0x8000_0000) === 0) return;
    this.samples++;
    if (this.lastCr3 !== undefined && regs.cr3 !== this.lastCr3) this.cr3Changes++;
    this.lastCr3 = regs.cr3;
    this.cr3s.add(regs.cr3);
    const entryWords = (regs.cr4 & 0x20) !== 0 ? 2 : 1;
    for (const page of await tablePages(regs, this.memory)) {
      const bytes = await this.memory.readPhysical(page, PAGE);
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

  /** Stop sampling, take a last sample and say what was seen. */
  async stop(): Promise<ShadowReport> {
    this.dispose();
    await this.sampling.catch(() => undefined);
    await this.sample(false);
    return this.report();
  }

  dispose(): void {
    this.stopped = true;
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
