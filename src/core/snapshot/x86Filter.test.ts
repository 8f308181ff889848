import { describe, expect, it } from "vitest";
import { filterX86, unfilterX86 } from "./x86Filter.ts";

/** Deterministic bytes (xorshift), many of them call/jump opcodes and 00/FF: the filter's hard cases. */
function codeLike(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed;
  const pick = [0xe8, 0xe9, 0x00, 0xff, 0x0f, 0x90];
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = (x & 3) === 0 ? (x >>> 8) & 0xff : pick[(x >>> 8) % pick.length]!;
  }
  return out;
}

/** `call rel32` at `at` to `target` (offsets in the buffer). */
function call(bytes: Uint8Array, at: number, target: number): void {
  bytes[at] = 0xe8;
  new DataView(bytes.buffer, bytes.byteOffset).setInt32(at + 1, target - (at + 5), true);
}

describe("x86 filter", () => {
  it("comes back exactly, for bytes full of opcodes and 00/FF at every alignment", () => {
    for (const [size, seed] of [[1, 1], [4, 2], [5, 3], [6, 4], [4099, 5], [65536, 6], [1 << 20, 7]] as const) {
      const original = codeLike(size, seed);
      const bytes = original.slice();
      filterX86(bytes);
      unfilterX86(bytes);
      expect(bytes.every((b, i) => b === original[i]), `size ${size}`).toBe(true);
    }
  });

  it("comes back exactly when a place left is followed closely by one that qualifies", () => {
    // E8 at 0 has a top byte (at 4) of 0xFE: left. E8 at 2 qualifies, and rewriting it would turn
    // byte 4 into 0xFF (0xFEF9 + 7 = 0xFF00): the way back would then rewrite place 0.
    const original = Uint8Array.of(0xe8, 0x00, 0xe8, 0xf9, 0xfe, 0x00, 0x00, 0x00, 0x90, 0x90);
    const bytes = original.slice();
    filterX86(bytes);
    expect([...bytes]).toEqual([...original]);
    unfilterX86(bytes);
    expect([...bytes]).toEqual([...original]);
  });

  it("turns calls of one function from different places into the same bytes", () => {
    const bytes = new Uint8Array(4096).fill(0x90);
    for (const at of [100, 700, 2000, 3500]) call(bytes, at, 1234);
    call(bytes, 3000, 0); // backwards, a negative distance
    const original = bytes.slice();
    filterX86(bytes);
    const operands = [100, 700, 2000, 3500].map((at) => [...bytes.subarray(at + 1, at + 5)].join(","));
    expect(new Set(operands).size).toBe(1);
    expect(operands[0]).toBe("210,4,0,0"); // 1234: a position in the buffer
    expect([...bytes.subarray(3001, 3005)]).toEqual([0, 0, 0, 0]);
    unfilterX86(bytes);
    expect(bytes.every((b, i) => b === original[i])).toBe(true);
  });

  it("leaves operands that are not small distances as they are", () => {
    const original = Uint8Array.of(0xe8, 0x11, 0x22, 0x33, 0x44, 0xe9, 0x01, 0x02, 0x03, 0x7f, 0x90);
    const bytes = original.slice();
    filterX86(bytes);
    expect([...bytes]).toEqual([...original]);
  });
});
