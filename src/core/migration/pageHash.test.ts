import { describe, expect, it } from "vitest";
import { PAGE_BYTES, jsPageHasher, wasmPageHasher, type WasmMemory } from "./pageHash.ts";
import { PageHashes, pageKey } from "./pages.ts";

const PAGES = 64;
/** The runtime's WebAssembly.Memory (the core's types know no WebAssembly beyond host.ts). */
const WasmMemoryOf = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number }) => WasmMemory } }).WebAssembly.Memory;

/** A Wasm memory as v86 has one, with guest RAM at an offset inside it, random but for a few pages. */
function emulatorMemory(): { memory: WasmMemory; ram: Uint8Array } {
  const memory = new WasmMemoryOf({ initial: 8 });
  const ram = new Uint8Array(memory.buffer, 3 * PAGE_BYTES, PAGES * PAGE_BYTES);
  let seed = 0x2545f491;
  const words = new Int32Array(memory.buffer, ram.byteOffset, ram.length / 4);
  for (let i = 0; i < words.length; i++) {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    words[i] = seed;
  }
  ram.fill(0, 10 * PAGE_BYTES, 12 * PAGE_BYTES);
  ram.fill(0xab, 20 * PAGE_BYTES, 21 * PAGE_BYTES);
  return { memory, ram };
}

const hashOf = (hasher: typeof jsPageHasher, memory: Uint8Array, page: number): [number, number] => {
  const out = new Int32Array(2);
  hasher.hash(memory, page, out);
  return [out[0] as number, out[1] as number];
};

describe("the page hash, in JavaScript and in WebAssembly SIMD", () => {
  const { memory, ram } = emulatorMemory();
  const simd = wasmPageHasher(memory);

  it("compiles here (Node has WebAssembly SIMD, as Chromium does)", () => {
    expect(simd).toBeDefined();
  });

  it("gives the same two halves for every page, random, zero and filled", () => {
    if (simd === undefined) throw new Error("no SIMD hasher");
    const pairs = Array.from({ length: PAGES }, (_, p) => [hashOf(jsPageHasher, ram, p), hashOf(simd, ram, p)]);
    for (const [js, wasm] of pairs) expect(wasm).toEqual(js);
    // Not a constant: distinct contents give distinct hashes, equal ones (the two zero pages) equal.
    expect(new Set(pairs.map(([js]) => String(js))).size).toBe(PAGES - 1);
    expect(hashOf(jsPageHasher, ram, 10)).toEqual(hashOf(jsPageHasher, ram, 11));
  });

  it("changes with one bit flipped in any of the sixteen lanes, in either implementation", () => {
    if (simd === undefined) throw new Error("no SIMD hasher");
    const page = 20;
    const before = hashOf(jsPageHasher, ram, page);
    for (let word = 0; word < 1024; word += 67) {
      const at = page * PAGE_BYTES + word * 4 + (word % 4);
      const bit = 1 << word % 8;
      ram[at] = (ram[at] as number) ^ bit;
      const js = hashOf(jsPageHasher, ram, page);
      expect(js).not.toEqual(before);
      expect(hashOf(simd, ram, page)).toEqual(js);
      ram[at] = (ram[at] as number) ^ bit;
    }
    expect(hashOf(simd, ram, page)).toEqual(before);
  });

  it("falls back to JavaScript for a memory outside the emulator's", () => {
    if (simd === undefined) throw new Error("no SIMD hasher");
    const copy = ram.slice();
    for (const p of [0, 10, 20, PAGES - 1]) expect(hashOf(simd, copy, p)).toEqual(hashOf(jsPageHasher, ram, p));
  });

  it("drives the page scan and the same-page keys alike", () => {
    if (simd === undefined) throw new Error("no SIMD hasher");
    const viaWasm = new PageHashes(PAGES, simd);
    const viaJs = new PageHashes(PAGES);
    expect(viaWasm.scan(ram)).toHaveLength(PAGES);
    viaJs.scan(ram);
    ram[5 * PAGE_BYTES + 4095] = (ram[5 * PAGE_BYTES + 4095] as number) ^ 1;
    ram[33 * PAGE_BYTES + 2048] = (ram[33 * PAGE_BYTES + 2048] as number) ^ 0x80;
    expect(viaWasm.scan(ram)).toEqual([5, 33]);
    expect(viaJs.scan(ram)).toEqual([5, 33]);
    expect(pageKey(ram, 7, simd)).toBe(pageKey(ram, 7));
  });
});
