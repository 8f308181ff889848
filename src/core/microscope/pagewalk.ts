/**
 * x86 (32-bit) address translation done the way the CPU's page walker does it, on the guest's
 * real page tables read from its physical memory: guest virtual → guest physical. Pure: the
 * caller passes the control registers and a reader of guest physical memory.
 *
 * Modes: paging off (CR0.PG = 0), 2-level non-PAE (4 KiB pages, 4 MiB pages with CR4.PSE and
 * PDE.PS, PSE-36 high bits), 3-level PAE (CR4.PAE: PDPT → PD → PT, 2 MiB pages with PDE.PS).
 */

export interface ControlRegisters {
  readonly cr0: number;
  readonly cr3: number;
  readonly cr4: number;
}

/** Reads a 32-bit little-endian word of guest physical memory; undefined outside RAM. */
export type PhysicalRead32 = (address: number) => number | undefined;

export type PagingMode = "off" | "2-level" | "3-level PAE";

export const CR0_PG = 1 << 31;
export const CR4_PSE = 1 << 4;
export const CR4_PAE = 1 << 5;

export function pagingMode(regs: ControlRegisters): PagingMode {
  if ((regs.cr0 & CR0_PG) === 0) return "off";
  return (regs.cr4 & CR4_PAE) !== 0 ? "3-level PAE" : "2-level";
}

export interface EntryFlags {
  readonly present: boolean;
  readonly writable: boolean;
  readonly user: boolean;
  readonly accessed: boolean;
  readonly dirty: boolean;
  readonly large: boolean;
  readonly global: boolean;
  /** PAE only: execute-disable (bit 63). */
  readonly noExecute: boolean;
}

/** One step of the walk: which table, which index, the entry found there. */
export interface WalkStep {
  readonly level: "PDPT" | "PD" | "PT";
  readonly table: number;
  readonly index: number;
  /** Guest physical address of the entry. */
  readonly entryAddress: number;
  /** The entry's low 32 bits, unsigned. */
  readonly entry: number;
  /** PAE entries are 64-bit: the high 32 bits (0 without PAE). */
  readonly entryHigh: number;
  readonly flags: EntryFlags;
}

export type WalkResult =
  | {
      readonly ok: true;
      readonly mode: PagingMode;
      readonly virtual: number;
      readonly steps: readonly WalkStep[];
      readonly physical: number;
      readonly pageSize: number;
      /** Guest physical memory reads the walk needed (what a TLB miss costs in memory references). */
      readonly references: number;
    }
  | {
      readonly ok: false;
      readonly mode: PagingMode;
      readonly virtual: number;
      readonly steps: readonly WalkStep[];
      readonly reason: "not-present" | "unreadable";
      /** The level whose entry is missing or could not be read. */
      readonly level: WalkStep["level"];
    };

const TWO_32 = 2 ** 32;

function flagsOf(low: number, high: number, pae: boolean): EntryFlags {
  return {
    present: (low & 1) !== 0,
    writable: (low & 2) !== 0,
    user: (low & 4) !== 0,
    accessed: (low & 0x20) !== 0,
    dirty: (low & 0x40) !== 0,
    large: (low & 0x80) !== 0,
    global: (low & 0x100) !== 0,
    noExecute: pae && (high & 0x8000_0000) !== 0,
  };
}

/** Address bits 12..51 of a PAE entry. */
function paeFrame(low: number, high: number): number {
  return (high & 0x000f_ffff) * TWO_32 + ((low & 0xffff_f000) >>> 0);
}

export function walk(virtualAddress: number, regs: ControlRegisters, read32: PhysicalRead32): WalkResult {
  const va = virtualAddress >>> 0;
  const mode = pagingMode(regs);
  if (mode === "off") return { ok: true, mode, virtual: va, steps: [], physical: va, pageSize: 0, references: 0 };
  const steps: WalkStep[] = [];
  const fail = (reason: "not-present" | "unreadable", level: WalkStep["level"]): WalkResult => ({ ok: false, mode, virtual: va, steps, reason, level });
  if (mode === "2-level") {
    const pd = (regs.cr3 & 0xffff_f000) >>> 0;
    const pdIndex = va >>> 22;
    const pdeAddress = pd + pdIndex * 4;
    const pde = read32(pdeAddress);
    if (pde === undefined) return fail("unreadable", "PD");
    const pdeFlags = flagsOf(pde, 0, false);
    steps.push({ level: "PD", table: pd, index: pdIndex, entryAddress: pdeAddress, entry: pde >>> 0, entryHigh: 0, flags: pdeFlags });
    if (!pdeFlags.present) return fail("not-present", "PD");
    if (pdeFlags.large && (regs.cr4 & CR4_PSE) !== 0) {
      // PSE-36: PDE bits 13..20 are physical address bits 32..39.
      const base = ((pde >>> 13) & 0xff) * TWO_32 + ((pde & 0xffc0_0000) >>> 0);
      return { ok: true, mode, virtual: va, steps, physical: base + (va & 0x003f_ffff), pageSize: 4 << 20, references: 1 };
    }
    const pt = (pde & 0xffff_f000) >>> 0;
    const ptIndex = (va >>> 12) & 0x3ff;
    const pteAddress = pt + ptIndex * 4;
    const pte = read32(pteAddress);
    if (pte === undefined) return fail("unreadable", "PT");
    const pteFlags = flagsOf(pte, 0, false);
    steps.push({ level: "PT", table: pt, index: ptIndex, entryAddress: pteAddress, entry: pte >>> 0, entryHigh: 0, flags: pteFlags });
    if (!pteFlags.present) return fail("not-present", "PT");
    return { ok: true, mode, virtual: va, steps, physical: ((pte & 0xffff_f000) >>> 0) + (va & 0xfff), pageSize: 4096, references: 2 };
  }
  // PAE: CR3 bits 5..31 locate the 32-byte PDPT.
  const read64 = (address: number): [number, number] | undefined => {
    const low = read32(address);
    const high = read32(address + 4);
    return low === undefined || high === undefined ? undefined : [low >>> 0, high >>> 0];
  };
  const pdpt = (regs.cr3 & 0xffff_ffe0) >>> 0;
  const pdptIndex = va >>> 30;
  const levels: { level: WalkStep["level"]; index: number }[] = [
    { level: "PDPT", index: pdptIndex },
    { level: "PD", index: (va >>> 21) & 0x1ff },
    { level: "PT", index: (va >>> 12) & 0x1ff },
  ];
  let table = pdpt;
  for (const [n, { level, index }] of levels.entries()) {
    const entryAddress = table + index * 8;
    const entry = read64(entryAddress);
    if (entry === undefined) return fail("unreadable", level);
    const [low, high] = entry;
    // The PDPTE has no user/writable/large bits: only P is architectural there.
    const flags = flagsOf(low, high, true);
    steps.push({ level, table, index, entryAddress, entry: low, entryHigh: high, flags });
    if (!flags.present) return fail("not-present", level);
    if (level === "PD" && flags.large) {
      const base = paeFrame(low & 0xffe0_0000, high);
      return { ok: true, mode, virtual: va, steps, physical: base + (va & 0x001f_ffff), pageSize: 2 << 20, references: n + 1 };
    }
    table = paeFrame(low, high);
  }
  return { ok: true, mode, virtual: va, steps, physical: table + (va & 0xfff), pageSize: 4096, references: 3 };
}

/**
 * Memory references one TLB miss costs under nested paging (EPT/NPT): every guest table access,
 * and the final guest physical address, is itself translated by the host's `hostLevels`-level
 * walk. (g + 1)(h + 1) − 1: 14 for this 2-level guest on a 4-level EPT, 24 for 4 on 4.
 */
export function nestedWalkReferences(guestLevels: number, hostLevels: number): number {
  return (guestLevels + 1) * (hostLevels + 1) - 1;
}

export function hex(n: number, digits = 8): string {
  return `0x${n.toString(16).padStart(digits, "0")}`;
}

/** A walk as lines of text, for lessons, tests and the page. */
export function describeWalk(result: WalkResult, regs: ControlRegisters): string[] {
  const lines = [`CR3 ${hex(regs.cr3 >>> 0)}, CR4 ${hex(regs.cr4 >>> 0)} (PSE ${(regs.cr4 & CR4_PSE) !== 0 ? "on" : "off"}, PAE ${(regs.cr4 & CR4_PAE) !== 0 ? "on" : "off"}): ${result.mode} paging`];
  for (const s of result.steps) {
    const f = s.flags;
    const bits = [f.present ? "P" : "-", f.writable ? "W" : "R", f.user ? "U" : "S", f.large ? "PS" : "", f.global ? "G" : "", f.accessed ? "A" : "", f.dirty ? "D" : "", f.noExecute ? "NX" : ""].filter((b) => b !== "");
    lines.push(`${s.level}[${s.index}] at ${hex(s.entryAddress)} = ${result.mode === "2-level" ? hex(s.entry) : `0x${s.entryHigh.toString(16).padStart(8, "0")}${s.entry.toString(16).padStart(8, "0")}`} ${bits.join(" ")}`);
  }
  if (result.ok) {
    const size = result.pageSize >= 1 << 20 ? `${result.pageSize >> 20} MiB` : `${result.pageSize >> 10} KiB`;
    lines.push(`${hex(result.virtual)} → guest physical ${hex(result.physical)} (${result.pageSize === 0 ? "paging off" : `${size} page`})`);
  } else {
    lines.push(`${hex(result.virtual)}: ${result.reason === "not-present" ? "not present" : "table outside RAM"} at the ${result.level} (a page fault for the guest)`);
  }
  return lines;
}
