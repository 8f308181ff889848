/**
 * Where guest RAM sits in a v86 state (checked in the 0.5.462 release, src/state.js and
 * src/cpu.js), so a restore can copy it into the emulator's memory straight from the state.
 *
 * v86's state: a 16-byte header (magic, state version, total length, info length), a JSON info
 * block {buffer_infos: [{offset, length}], state}, then the typed arrays it names from the first
 * 4-byte boundary after the info block. The CPU's state array (the root) holds RAM at index 77 as
 * its non-zero 4 KiB pages one after the other (the "pack"), and at 78 a bitmap of which pages
 * are in it; each is `{__state_type__, buffer_id}`.
 */
import { decodeText, encodeText } from "../host.ts";
import { V86_STATE_MAGIC } from "./format.ts";

/** The state format version this reading is checked against. */
const STATE_VERSION = 6;
const RAM_INDEX = 77;
const BITMAP_INDEX = 78;

export interface RamPack {
  /** Offset and length in the state of the pack's bytes. */
  readonly offset: number;
  readonly length: number;
  /** The info block as it is, and as it would be with the pack's length 0 (same length, space-padded). */
  readonly info: Uint8Array;
  readonly infoWithoutPack: Uint8Array;
}

interface BufferRef {
  readonly __state_type__: string;
  readonly buffer_id: number;
}

function isRef(value: unknown): value is BufferRef {
  return typeof value === "object" && value !== null && typeof (value as BufferRef).buffer_id === "number" && typeof (value as BufferRef).__state_type__ === "string";
}

/** Guest RAM's pack in `state`, or undefined when the state is not laid out as this reading expects. */
export function findRamPack(state: Uint8Array): RamPack | undefined {
  if (state.length < 16) return undefined;
  const view = new DataView(state.buffer, state.byteOffset, state.byteLength);
  if (view.getUint32(0, true) !== V86_STATE_MAGIC || view.getUint32(4, true) !== STATE_VERSION || view.getUint32(8, true) !== state.length) return undefined;
  const infoLength = view.getUint32(12, true);
  if (16 + infoLength > state.length) return undefined;
  const info = state.slice(16, 16 + infoLength);
  let parsed: { buffer_infos?: unknown; state?: unknown };
  try {
    parsed = JSON.parse(decodeText(info)) as typeof parsed;
  } catch {
    return undefined;
  }
  const infos = parsed.buffer_infos;
  const root = parsed.state;
  if (!Array.isArray(infos) || !Array.isArray(root)) return undefined;
  const ram: unknown = root[RAM_INDEX];
  const bitmap: unknown = root[BITMAP_INDEX];
  if (!isRef(ram) || !isRef(bitmap) || ram.__state_type__ !== "Uint8Array" || bitmap.__state_type__ !== "Uint8Array") return undefined;
  const pack: unknown = infos[ram.buffer_id];
  if (typeof pack !== "object" || pack === null) return undefined;
  const { offset, length } = pack as { offset?: unknown; length?: unknown };
  if (typeof offset !== "number" || typeof length !== "number") return undefined;
  const dataStart = (16 + infoLength + 3) & ~3;
  if (dataStart + offset + length > state.length) return undefined;
  (pack as { length: number }).length = 0;
  const text = encodeText(JSON.stringify(parsed));
  if (text.length > infoLength) return undefined;
  const infoWithoutPack = new Uint8Array(infoLength).fill(0x20);
  infoWithoutPack.set(text);
  return { offset: dataStart + offset, length, info, infoWithoutPack };
}
