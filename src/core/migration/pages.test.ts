import { describe, expect, it } from "vitest";
import { PAGE_BYTES, PageHashes, applyPages, batchBytes, collectPages, isZeroPage, pageKey } from "./pages.ts";
import { DEFAULT_ROUND_POLICY, nextStep, policyProblems, type RoundRecord } from "./planner.ts";

/** A memory of `pages` pages, page p filled with byte (p % 250) + 1; pages in `zero` left zero. */
function memoryOf(pages: number, zero: readonly number[] = []): Uint8Array {
  const m = new Uint8Array(pages * PAGE_BYTES);
  for (let p = 0; p < pages; p++) if (!zero.includes(p)) m.fill((p % 250) + 1, p * PAGE_BYTES, (p + 1) * PAGE_BYTES);
  return m;
}

describe("page hashes find the pages written since the last look", () => {
  it("reports every page first, then exactly the pages changed, even by one bit at either end", () => {
    const m = memoryOf(64);
    const hashes = new PageHashes(64);
    expect(hashes.scan(m)).toHaveLength(64);
    expect(hashes.scan(m)).toEqual([]);
    m[5 * PAGE_BYTES] = 1;
    m[40 * PAGE_BYTES + PAGE_BYTES - 1] = 0x80;
    expect(hashes.scan(m)).toEqual([5, 40]);
    expect(hashes.scan(m)).toEqual([]);
  });

  it("sees two words swapped inside a page, and a page turned to zeros", () => {
    const m = memoryOf(4);
    const words = new Uint32Array(m.buffer);
    words[1024 + 3] = 0x11111111;
    words[1024 + 7] = 0x22222222;
    const hashes = new PageHashes(4);
    hashes.scan(m);
    words[1024 + 3] = 0x22222222;
    words[1024 + 7] = 0x11111111;
    m.fill(0, 3 * PAGE_BYTES, 4 * PAGE_BYTES);
    expect(hashes.scan(m)).toEqual([1, 3]);
  });

  it("refuses memory of another size than it hashed", () => {
    expect(() => new PageHashes(4).scan(memoryOf(5))).toThrow(/5 pages, the hashes 4/);
    expect(() => new PageHashes(1).scan(new Uint8Array(100))).toThrow(/whole number of 4 KiB pages/);
  });

  it("scans a memory that starts at an odd offset of its buffer", () => {
    const buffer = new Uint8Array(2 * PAGE_BYTES + 1);
    const m = buffer.subarray(1);
    m[PAGE_BYTES] = 7;
    const hashes = new PageHashes(2);
    expect(hashes.scan(m)).toEqual([0, 1]);
    m[PAGE_BYTES + 10] = 9;
    expect(hashes.scan(m)).toEqual([1]);
  });
});

describe("batches of pages patch a memory image", () => {
  it("sends zero pages by number, the others with their bytes, and the image ends equal to the source", () => {
    const source = memoryOf(16, [2, 9]);
    const batch = collectPages(source, [0, 2, 3, 9, 15]);
    expect([...batch.pages]).toEqual([0, 3, 15]);
    expect([...batch.zeros]).toEqual([2, 9]);
    expect(batchBytes(batch)).toBe(3 * PAGE_BYTES + 5 * 4);
    const image = memoryOf(16).fill(0xee);
    applyPages(image, collectPages(source, [...Array(16).keys()]));
    expect(image).toEqual(source);
    expect(isZeroPage(image, 2)).toBe(true);
  });

  it("patches only the pages named: the rest of the image stays as it was", () => {
    const image = memoryOf(8);
    const before = image.slice();
    const changed = memoryOf(8);
    changed.fill(0xab, 6 * PAGE_BYTES, 7 * PAGE_BYTES);
    applyPages(image, collectPages(changed, [6]));
    expect(image.subarray(0, 6 * PAGE_BYTES)).toEqual(before.subarray(0, 6 * PAGE_BYTES));
    expect(image[6 * PAGE_BYTES + 100]).toBe(0xab);
    expect(image.subarray(7 * PAGE_BYTES)).toEqual(before.subarray(7 * PAGE_BYTES));
  });

  it("refuses a batch with a page outside the image or bytes that do not match its pages, writing nothing", () => {
    const image = new Uint8Array(2 * PAGE_BYTES);
    expect(() => applyPages(image, { pages: Uint32Array.of(0, 2), data: new Uint8Array(2 * PAGE_BYTES).fill(1), zeros: new Uint32Array() })).toThrow(/page 2 is outside/);
    expect(() => applyPages(image, { pages: Uint32Array.of(0), data: new Uint8Array(10), zeros: new Uint32Array() })).toThrow(/carries 10 bytes/);
    expect(image.every((b) => b === 0)).toBe(true);
  });

  it("gives equal pages equal keys and different pages different ones", () => {
    const m = memoryOf(300);
    expect(pageKey(m, 1)).toBe(pageKey(m, 251));
    expect(pageKey(m, 1)).not.toBe(pageKey(m, 2));
  });
});

describe("the pre-copy round planner", () => {
  const round = (n: number, pagesSent: number, pagesDirtied: number): RoundRecord => ({ round: n, pagesSent, bytesSent: pagesSent * 4100, pagesDirtied, ms: 100 });
  const policy = { maxRounds: 5, convergedPages: 10, shrinkFactor: 0.8 };

  it("goes on while the dirty set shrinks, and stops once it is small enough", () => {
    expect(nextStep([round(1, 1000, 300)], 300, policy)).toEqual({ kind: "round" });
    expect(nextStep([round(1, 1000, 300), round(2, 300, 100)], 100, policy)).toEqual({ kind: "round" });
    expect(nextStep([round(1, 1000, 300), round(2, 300, 8)], 8, policy)).toEqual({ kind: "stop", reason: "converged" });
  });

  it("stops when the dirty set does not shrink enough from one round to the next (a guest writing as fast as we send)", () => {
    expect(nextStep([round(1, 1000, 300), round(2, 300, 250)], 250, policy)).toEqual({ kind: "stop", reason: "not-shrinking" });
    expect(nextStep([round(1, 1000, 300), round(2, 300, 239)], 239, policy)).toEqual({ kind: "round" });
  });

  it("judges shrinking only from the second round on: the first sends all memory", () => {
    expect(nextStep([round(1, 100, 100)], 100, policy)).toEqual({ kind: "round" });
  });

  it("stops at the round limit and before a byte budget would be passed", () => {
    const five = [round(1, 1000, 500), round(2, 500, 250), round(3, 250, 120), round(4, 120, 60), round(5, 60, 30)];
    expect(nextStep(five, 30, policy)).toEqual({ kind: "stop", reason: "round-limit" });
    expect(nextStep([round(1, 1000, 500)], 500, { ...policy, byteBudget: 1000 * 4100 + 499 * 4100 })).toEqual({ kind: "stop", reason: "byte-budget" });
    expect(nextStep([round(1, 1000, 500)], 500, { ...policy, byteBudget: 1000 * 4100 + 500 * 4100 })).toEqual({ kind: "round" });
  });

  it("names what is wrong with a policy that cannot work", () => {
    expect(policyProblems(DEFAULT_ROUND_POLICY)).toEqual([]);
    expect(policyProblems({ maxRounds: 0, convergedPages: -1, shrinkFactor: 1.5, byteBudget: 0 })).toHaveLength(4);
  });
});
