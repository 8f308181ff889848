/**
 * What same-page merging (Linux's KSM) would save on the machines running here: 4 KiB pages with
 * identical contents within one machine and across machines, and zero pages. Measured over
 * copies of guest memory; nothing is merged (v86 gives each machine its own memory).
 */
import { PAGE_BYTES, isZeroPage, pageCount, pageKey } from "./pages.ts";

export interface SamePageStats {
  readonly machines: number;
  readonly pages: number;
  /** Pages holding only zeros (one shared zero page would do for all of them). */
  readonly zeroPages: number;
  /** Non-zero pages that repeat a page of the same machine (each copy after the first). */
  readonly duplicateWithin: number;
  /** Non-zero pages that repeat a page another machine has (one per machine beyond the first). */
  readonly duplicateAcross: number;
  /** Distinct non-zero page contents. */
  readonly distinct: number;
  /** Bytes merging would free: every zero page, and every duplicate beyond the first copy. */
  readonly savableBytes: number;
}

/** Count over `memories` (one per machine, each a whole number of pages). */
export function samePageStats(memories: readonly Uint8Array[]): SamePageStats {
  // content key -> per machine, how many pages have it
  const groups = new Map<number, Map<number, number>>();
  let pages = 0;
  let zeroPages = 0;
  memories.forEach((memory, machine) => {
    const n = pageCount(memory);
    pages += n;
    for (let p = 0; p < n; p++) {
      if (isZeroPage(memory, p)) {
        zeroPages++;
        continue;
      }
      const key = pageKey(memory, p);
      let perMachine = groups.get(key);
      if (perMachine === undefined) groups.set(key, (perMachine = new Map()));
      perMachine.set(machine, (perMachine.get(machine) ?? 0) + 1);
    }
  });
  let within = 0;
  let across = 0;
  for (const perMachine of groups.values()) {
    for (const count of perMachine.values()) within += count - 1;
    across += perMachine.size - 1;
  }
  return {
    machines: memories.length,
    pages,
    zeroPages,
    duplicateWithin: within,
    duplicateAcross: across,
    distinct: groups.size,
    savableBytes: (zeroPages + within + across) * PAGE_BYTES,
  };
}

/** "Merging would save 41.3 MiB (measured, not merged)": the meter's line. */
export function samePageWords(stats: SamePageStats): string {
  const mib = (pages: number): string => ((pages * PAGE_BYTES) / 1048576).toFixed(1);
  return `Merging would save ${(stats.savableBytes / 1048576).toFixed(1)} MiB of ${mib(stats.pages)} MiB (measured, not merged): ${mib(stats.zeroPages)} MiB zero pages, ${mib(stats.duplicateWithin)} MiB repeated within a machine, ${mib(stats.duplicateAcross)} MiB shared across machines.`;
}
