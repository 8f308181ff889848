import { describe, expect, it } from "vitest";
import { decodeText, encodeText } from "../host.ts";
import { V86_STATE_MAGIC } from "./format.ts";
import { findRamPack } from "./ramPack.ts";

/** A state laid out as v86 0.5.462 writes one: the CPU's array with RAM's pack at 77 and its bitmap at 78. */
function v86State({ version = 6, pack = new Uint8Array(8192).fill(7), refs = true } = {}): Uint8Array {
  const buffers = [new Uint8Array([1, 2, 3]), pack, new Uint8Array([0b11])];
  const infos: { offset: number; length: number }[] = [];
  let at = 0;
  for (const b of buffers) {
    infos.push({ offset: at, length: b.length });
    at = (at + b.length + 3) & ~3;
  }
  const root: unknown[] = Array.from({ length: 92 }, (_, i) => i);
  root[1] = { __state_type__: "Uint8Array", buffer_id: 0 };
  if (refs) {
    root[77] = { __state_type__: "Uint8Array", buffer_id: 1 };
    root[78] = { __state_type__: "Uint8Array", buffer_id: 2 };
  }
  const info = encodeText(JSON.stringify({ buffer_infos: infos, state: root }));
  const dataStart = (16 + info.length + 3) & ~3;
  const state = new Uint8Array(dataStart + at);
  const view = new DataView(state.buffer);
  view.setUint32(0, V86_STATE_MAGIC, true);
  view.setUint32(4, version, true);
  view.setUint32(8, state.length, true);
  view.setUint32(12, info.length, true);
  state.set(info, 16);
  buffers.forEach((b, i) => state.set(b, dataStart + (infos[i]?.offset ?? 0)));
  return state;
}

describe("findRamPack: guest RAM's pages in a v86 state", () => {
  it("finds the pack's bytes, and an info block of the same length that says the pack is empty", () => {
    const pack = new Uint8Array(8192).map((_, i) => (i * 7) & 255);
    const state = v86State({ pack });
    const found = findRamPack(state);
    if (found === undefined) return expect.fail("not found");
    expect(state.subarray(found.offset, found.offset + found.length)).toEqual(pack);
    expect(found.info).toEqual(state.subarray(16, 16 + found.info.length));
    expect(found.infoWithoutPack.length).toBe(found.info.length);
    const without = JSON.parse(decodeText(found.infoWithoutPack)) as { buffer_infos: { length: number }[]; state: unknown[] };
    const original = JSON.parse(decodeText(found.info)) as typeof without;
    expect(without.buffer_infos.map((b) => b.length)).toEqual([3, 0, 1]);
    expect(without.state).toEqual(original.state);
    // It reads the state without changing it.
    expect(state).toEqual(v86State({ pack }));
  });

  it.each([
    ["another state version", v86State({ version: 7 })],
    ["no RAM in the CPU's array", v86State({ refs: false })],
    ["cut short", v86State().slice(0, -4)],
    ["not a v86 state", new Uint8Array(64)],
  ])("leaves a state it does not know alone: %s", (_, state) => {
    expect(findRamPack(state)).toBeUndefined();
  });
});
