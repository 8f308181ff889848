/**
 * What same-page merging (Linux's KSM) would save on the machines running here: 4 KiB pages with
 * identical contents within one machine and across machines, and zero pages. Measured over
 * copies of guest memory; nothing is merged (v86 gives each machine its own memory).
 */
import type { PageHasher } from "./pageHash.ts";
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

/** A zero page in a key list. */
export const ZERO_PAGE_KEY = -1;

/**
 * One machine's page contents as keys (pages.ts `pageKey`), ZERO_PAGE_KEY for a zero page: what a
 * Worker sends the page for the meter (8 bytes a page instead of 4096).
 */
export function samePageKeys(memory: Uint8Array, hasher?: PageHasher): Float64Array {
  const n = pageCount(memory);
  const keys = new Float64Array(n);
  for (let p = 0; p < n; p++) keys[p] = isZeroPage(memory, p) ? ZERO_PAGE_KEY : pageKey(memory, p, hasher);
  return keys;
}

/** Count over `memories` (one per machine, each a whole number of pages). */
export function samePageStats(memories: readonly Uint8Array[]): SamePageStats {
  return samePageStatsOfKeys(memories.map((m) => samePageKeys(m)));
}

/** Count over key lists (samePageKeys), one per machine. */
export function samePageStatsOfKeys(machines: readonly Float64Array[]): SamePageStats {
  // content key -> per machine, how many pages have it
  const groups = new Map<number, Map<number, number>>();
  let pages = 0;
  let zeroPages = 0;
  machines.forEach((keys, machine) => {
    pages += keys.length;
    for (const key of keys) {
      if (key === ZERO_PAGE_KEY) {
        zeroPages++;
        continue;
      }
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
    machines: machines.length,
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
