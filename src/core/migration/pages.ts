/**
 * Guest memory as 4 KiB pages: a hash per page to find what changed between two looks, batches of
 * pages to send, and patching them into a memory image. Pure: works on any Uint8Array, so unit
 * tests use synthetic memories and the engine never sees the emulator.
 */

import { PAGE_BYTES, jsPageHasher, wordsOf, type PageHasher } from "./pageHash.ts";

export { PAGE_BYTES };
const WORDS_PER_PAGE = PAGE_BYTES / 4;

/** Page numbers of `memory` (whose length must be a multiple of PAGE_BYTES). */
export function pageCount(memory: Uint8Array): number {
  if (memory.byteLength % PAGE_BYTES !== 0) throw new RangeError(`memory of ${memory.byteLength} bytes is not a whole number of 4 KiB pages`);
  return memory.byteLength / PAGE_BYTES;
}

/**
 * The hashes of every page as last seen. `scan` compares the memory now with that and returns
 * the pages that differ (all of them on the first scan), remembering the new hashes.
 */
export class PageHashes {
  private readonly hashes: Int32Array;
  private readonly scratch = new Int32Array(2);
  private seen = false;
  readonly pages: number;

  /** `hasher`: the emulator's in-place SIMD hasher when it has one (pageHash.ts), else JavaScript. */
  constructor(
    pages: number,
    private readonly hasher: PageHasher = jsPageHasher,
  ) {
    this.pages = pages;
    this.hashes = new Int32Array(pages * 2);
  }

  /** Pages that changed since the last scan (every page on the first). */
  scan(memory: Uint8Array, range: { readonly from: number; readonly to: number } = { from: 0, to: this.pages }): number[] {
    if (pageCount(memory) !== this.pages) throw new RangeError(`memory has ${pageCount(memory)} pages, the hashes ${this.pages}`);
    const dirty: number[] = [];
    const h = this.hashes;
    const s = this.scratch;
    const hasher = this.hasher;
    for (let p = range.from; p < range.to; p++) {
      hasher.hash(memory, p, s);
      if (!this.seen || h[p * 2] !== s[0] || h[p * 2 + 1] !== s[1]) {
        h[p * 2] = s[0] as number;
        h[p * 2 + 1] = s[1] as number;
        dirty.push(p);
      }
    }
    if (range.to >= this.pages) this.seen = true;
    return dirty;
  }

  /** Forget one page's hash, so the next scan reports it (a page that was not sent after all). */
  forget(page: number): void {
    this.hashes[page * 2] = ~(this.hashes[page * 2] as number);
  }
}

/**
 * One page's content as a number (53 of the 64 hash bits): equal pages give equal keys; unequal
 * ones the same key with odds of about 2^-53 per pair. For statistics, never for moving memory.
 */
export function pageKey(memory: Uint8Array, page: number, hasher: PageHasher = jsPageHasher): number {
  const out = new Int32Array(2);
  hasher.hash(memory, page, out);
  return ((out[0] as number) >>> 0) * 0x200000 + (((out[1] as number) >>> 0) >>> 11);
}

/** True when the page holds only zero bytes. */
export function isZeroPage(memory: Uint8Array, page: number): boolean {
  const words = wordsOf(memory);
  const end = (page + 1) * WORDS_PER_PAGE;
  for (let i = page * WORDS_PER_PAGE; i < end; i++) if (words[i] !== 0) return false;
  return true;
}

/**
 * Pages on their way: zero pages by number only, the others with their bytes (`data` holds them
 * in the order of `pages`). A target's memory image starts all zero.
 */
export interface PageBatch {
  readonly pages: Uint32Array;
  readonly data: Uint8Array;
  readonly zeros: Uint32Array;
}

/** Copy the given pages out of `memory` into a batch. */
export function collectPages(memory: Uint8Array, pages: readonly number[]): PageBatch {
  const full: number[] = [];
  const zeros: number[] = [];
  for (const p of pages) (isZeroPage(memory, p) ? zeros : full).push(p);
  const data = new Uint8Array(full.length * PAGE_BYTES);
  full.forEach((p, i) => data.set(memory.subarray(p * PAGE_BYTES, (p + 1) * PAGE_BYTES), i * PAGE_BYTES));
  return { pages: Uint32Array.from(full), data, zeros: Uint32Array.from(zeros) };
}

/** Bytes a batch takes on the wire: page contents plus four bytes per page number. */
export function batchBytes(batch: PageBatch): number {
  return batch.data.byteLength + 4 * (batch.pages.length + batch.zeros.length);
}

/** Write a batch into a memory image. Throws on a batch that does not fit the image (nothing is half-written then). */
export function applyPages(memory: Uint8Array, batch: PageBatch): void {
  const pages = pageCount(memory);
  if (batch.data.byteLength !== batch.pages.length * PAGE_BYTES) throw new RangeError(`a batch of ${batch.pages.length} pages carries ${batch.data.byteLength} bytes`);
  for (const p of [...batch.pages, ...batch.zeros]) if (p >= pages) throw new RangeError(`page ${p} is outside a memory of ${pages} pages`);
  batch.pages.forEach((p, i) => memory.set(batch.data.subarray(i * PAGE_BYTES, (i + 1) * PAGE_BYTES), p * PAGE_BYTES));
  for (const p of batch.zeros) memory.fill(0, p * PAGE_BYTES, (p + 1) * PAGE_BYTES);
}
