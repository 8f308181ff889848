/**
 * The hash of one 4 KiB page of guest memory (issue 15): what pre-copy compares to find the pages
 * written since its last look, and what the same-page meter groups pages by.
 *
 * The function: the page as 1024 little-endian 32-bit words, word i going to lane i mod 16; each
 * lane runs h = h·K ^ word (multiply-xor, as FNV), lanes 0–3 and 8–11 with one odd multiplier,
 * 4–7 and 12–15 with another. The sixteen lanes then fold into two 32-bit halves. Each step is a
 * bijection of the lane, so a page that differs in a single word always hashes differently; pages
 * that differ in more pass for equal with odds of about 2^-32 to 2^-64, depending on which lanes
 * the differences fall in. (A guest that forged such a page would only corrupt its own memory.)
 *
 * Two implementations of the same function, checked against each other in pageHash.test.ts:
 * - JavaScript, over any Uint8Array (unit tests, synthetic memories);
 * - a WebAssembly module with 128-bit SIMD that reads the emulator's own Wasm memory in place
 *   (the memory is imported, nothing is copied). Sixteen lanes are four i32x4 vectors, so one pass
 *   over memory is bound by memory bandwidth rather than by multiply latency: a 256 MiB guest in
 *   ~35 ms, against ~110 ms for the four-lane JavaScript hash it replaces (Node, project box). That
 *   scan runs while the guest is paused, so it is most of pre-copy's downtime.
 * The module (343 bytes) is assembled below from its instructions; it is small enough for the
 * synchronous compile a page's main thread allows, and needs only 'wasm-unsafe-eval', which the CSP
 * grants v86's JIT already.
 */
import { host } from "../host.ts";

export const PAGE_BYTES = 4096;
const WORDS_PER_PAGE = PAGE_BYTES / 4;

const INIT: readonly [number, number, number, number] = [0x811c9dc5 | 0, 0x01234567, 0x76543210, 0x0badf00d];
const K_EVEN = 0x01000193;
const K_ODD = 0x5bd1e995;
const K_FOLD_X = 0x27d4eb2d;
const K_FOLD_Y = 0x165667b1;
const K_LANES = 0x9e3779b1 | 0;

/** Hashes pages of a memory; `out[0]`, `out[1]` get the two halves. */
export interface PageHasher {
  hash(memory: Uint8Array, page: number, out: Int32Array): void;
}

/** 32-bit words of `memory`; copied only when it does not start on a 4-byte boundary. */
export function wordsOf(memory: Uint8Array): Int32Array {
  const aligned = memory.byteOffset % 4 === 0 ? memory : memory.slice();
  return new Int32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
}

const foldLanes = (a: number, b: number, c: number, d: number): number =>
  Math.imul(Math.imul(Math.imul(a, K_LANES) ^ b, K_LANES) ^ c, K_LANES) ^ d;

/** The JavaScript implementation, on 32-bit words (`page` counts 4 KiB pages into `words`). */
export function hashPageWords(words: Int32Array, page: number, out: Int32Array): void {
  // Sixteen lanes in locals: a0..a3 (multiplier K_EVEN), b0..b3 (K_ODD), c0..c3 (K_EVEN), d0..d3 (K_ODD).
  let a0 = INIT[0], a1 = INIT[0], a2 = INIT[0], a3 = INIT[0];
  let b0 = INIT[1], b1 = INIT[1], b2 = INIT[1], b3 = INIT[1];
  let c0 = INIT[2], c1 = INIT[2], c2 = INIT[2], c3 = INIT[2];
  let d0 = INIT[3], d1 = INIT[3], d2 = INIT[3], d3 = INIT[3];
  const end = (page + 1) * WORDS_PER_PAGE;
  for (let i = page * WORDS_PER_PAGE; i < end; i += 16) {
    a0 = Math.imul(a0, K_EVEN) ^ (words[i] as number);
    a1 = Math.imul(a1, K_EVEN) ^ (words[i + 1] as number);
    a2 = Math.imul(a2, K_EVEN) ^ (words[i + 2] as number);
    a3 = Math.imul(a3, K_EVEN) ^ (words[i + 3] as number);
    b0 = Math.imul(b0, K_ODD) ^ (words[i + 4] as number);
    b1 = Math.imul(b1, K_ODD) ^ (words[i + 5] as number);
    b2 = Math.imul(b2, K_ODD) ^ (words[i + 6] as number);
    b3 = Math.imul(b3, K_ODD) ^ (words[i + 7] as number);
    c0 = Math.imul(c0, K_EVEN) ^ (words[i + 8] as number);
    c1 = Math.imul(c1, K_EVEN) ^ (words[i + 9] as number);
    c2 = Math.imul(c2, K_EVEN) ^ (words[i + 10] as number);
    c3 = Math.imul(c3, K_EVEN) ^ (words[i + 11] as number);
    d0 = Math.imul(d0, K_ODD) ^ (words[i + 12] as number);
    d1 = Math.imul(d1, K_ODD) ^ (words[i + 13] as number);
    d2 = Math.imul(d2, K_ODD) ^ (words[i + 14] as number);
    d3 = Math.imul(d3, K_ODD) ^ (words[i + 15] as number);
  }
  out[0] = foldLanes(a0 ^ Math.imul(c0, K_FOLD_X), a1 ^ Math.imul(c1, K_FOLD_X), a2 ^ Math.imul(c2, K_FOLD_X), a3 ^ Math.imul(c3, K_FOLD_X));
  out[1] = foldLanes(b0 ^ Math.imul(d0, K_FOLD_Y), b1 ^ Math.imul(d1, K_FOLD_Y), b2 ^ Math.imul(d2, K_FOLD_Y), b3 ^ Math.imul(d3, K_FOLD_Y));
}

/** The JavaScript implementation over any memory. */
export const jsPageHasher: PageHasher = {
  hash(memory, page, out) {
    hashPageWords(wordsOf(memory), page, out);
  },
};

// --- the WebAssembly module, assembled ---
const uleb = (value: number): number[] => {
  const out: number[] = [];
  let n = value >>> 0;
  do {
    const low = n & 0x7f;
    n >>>= 7;
    out.push(n === 0 ? low : low | 0x80);
  } while (n !== 0);
  return out;
};
const sleb = (value: number): number[] => {
  const out: number[] = [];
  let n = value | 0;
  for (;;) {
    const low = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (low & 0x40) === 0) || (n === -1 && (low & 0x40) !== 0)) return [...out, low];
    out.push(low | 0x80);
  }
};
const name = (s: string): number[] => [s.length, ...Array.from(s, (c) => c.charCodeAt(0))];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

const T_I32 = 0x7f;
const T_V128 = 0x7b;
const op = {
  get: (i: number) => [0x20, i],
  set: (i: number) => [0x21, i],
  tee: (i: number) => [0x22, i],
  i32: (v: number) => [0x41, ...sleb(v)],
  add: [0x6a],
  mul: [0x6c],
  xor: [0x73],
  ltU: [0x49],
  splat: [0xfd, 0x11],
  lane: (l: number) => [0xfd, 0x1b, l],
  load: (offset: number) => [0xfd, 0x00, 4, ...uleb(offset)],
  vxor: [0xfd, 0x51],
  vmul: [0xfd, 0xb5, 0x01],
};

/**
 * (func (export "h") (param $ptr i32) (result i32)): the hash of the page at byte $ptr of the
 * imported memory "e"."m"; the first half is returned, the second left in the exported global "g".
 * Locals: 1–4 the lane vectors a, b, c, d; 5, 6 the two multipliers; 7 the cursor; 8 the end.
 */
function moduleBytes(): Uint8Array {
  const fold = (v: number): number[] => [
    ...op.get(v), ...op.lane(0), ...op.i32(K_LANES), ...op.mul,
    ...op.get(v), ...op.lane(1), ...op.xor, ...op.i32(K_LANES), ...op.mul,
    ...op.get(v), ...op.lane(2), ...op.xor, ...op.i32(K_LANES), ...op.mul,
    ...op.get(v), ...op.lane(3), ...op.xor,
  ];
  const body = [
    ...op.get(0), ...op.set(7),
    ...op.get(0), ...op.i32(PAGE_BYTES), ...op.add, ...op.set(8),
    ...INIT.flatMap((v, i) => [...op.i32(v), ...op.splat, ...op.set(1 + i)]),
    ...op.i32(K_EVEN), ...op.splat, ...op.set(5),
    ...op.i32(K_ODD), ...op.splat, ...op.set(6),
    0x03, 0x40, // loop
    ...[0, 1, 2, 3].flatMap((g) => [...op.get(1 + g), ...op.get(g % 2 === 0 ? 5 : 6), ...op.vmul, ...op.get(7), ...op.load(16 * g), ...op.vxor, ...op.set(1 + g)]),
    ...op.get(7), ...op.i32(64), ...op.add, ...op.tee(7), ...op.get(8), ...op.ltU, 0x0d, 0x00, // br_if 0
    0x0b, // end loop
    ...op.get(1), ...op.get(3), ...op.i32(K_FOLD_X), ...op.splat, ...op.vmul, ...op.vxor, ...op.set(1),
    ...op.get(2), ...op.get(4), ...op.i32(K_FOLD_Y), ...op.splat, ...op.vmul, ...op.vxor, ...op.set(2),
    ...fold(2), 0x24, 0x00, // global.set 0
    ...fold(1),
    0x0b,
  ];
  const func = [2, 6, T_V128, 2, T_I32, ...body];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 1, T_I32, 1, T_I32]), // type (i32) -> i32
    ...section(2, [1, ...name("e"), ...name("m"), 0x02, 0x00, 0x00]), // import memory, min 0
    ...section(3, [1, 0]),
    ...section(6, [1, T_I32, 1, ...op.i32(0), 0x0b]), // (global (mut i32) (i32.const 0))
    ...section(7, [2, ...name("h"), 0x00, 0x00, ...name("g"), 0x03, 0x00]),
    ...section(10, [1, ...uleb(func.length), ...func]),
  ]);
}

/** What the hasher needs of the emulator's memory (a WebAssembly.Memory). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
}

let compiled: object | null | undefined;

/**
 * The SIMD hasher over `wasmMemory` (v86's own memory): used for views into that memory, the
 * JavaScript one for any other. Undefined where WebAssembly SIMD is missing.
 */
export function wasmPageHasher(wasmMemory: WasmMemory): PageHasher | undefined {
  const wasm = host.WebAssembly;
  if (compiled === undefined) {
    try {
      compiled = new wasm.Module(moduleBytes());
    } catch {
      compiled = null;
    }
  }
  if (compiled === null) return undefined;
  let exports: { h(ptr: number): number; g: { value: number } };
  try {
    exports = new wasm.Instance(compiled, { e: { m: wasmMemory } }).exports as typeof exports;
  } catch {
    return undefined;
  }
  const { h, g } = exports;
  return {
    hash(memory, page, out) {
      if (memory.buffer !== wasmMemory.buffer) {
        jsPageHasher.hash(memory, page, out);
        return;
      }
      out[0] = h(memory.byteOffset + page * PAGE_BYTES);
      out[1] = g.value;
    },
  };
}
