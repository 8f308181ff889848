import { describe, expect, it } from "vitest";
import { CLASSIFY_BYTES, classifyFile, v86StateRefusal } from "./fileKind.ts";
import { SNAPSHOT_MAGIC, V86_STATE_MAGIC } from "./snapshot/format.ts";

const MiB = 1024 * 1024;
const le32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
function head(size: number, marks: [number, number[]][]): Uint8Array {
  const bytes = new Uint8Array(Math.min(size, CLASSIFY_BYTES));
  for (const [offset, values] of marks) bytes.set(values, offset);
  return bytes;
}
const ZSTD = [0x28, 0xb5, 0x2f, 0xfd];
/** A v86 state header: magic, version 6, a header length. */
const V86_HEAD = [...le32(V86_STATE_MAGIC), 6, 0, 0, 0, 0x40, 0, 0, 0];

describe("classifyFile", () => {
  it("a virtlab snapshot by its magic, whatever the name", () => {
    expect(classifyFile(head(20 * MiB, [[0, [...SNAPSHOT_MAGIC, 0x6b, 0x06, 0, 0]]]), 20 * MiB, "disk.img")).toEqual({ kind: "snapshot" });
  });

  it("a plain v86 state file (0x86768676, little-endian, at offset 0)", () => {
    expect(classifyFile(head(MiB, [[0, V86_HEAD]]), MiB, "v86state.bin")).toEqual({ kind: "v86-state", compressed: false });
  });

  it("a zstd-compressed v86 state: from the frame's first block when it shows, else from its name", () => {
    // Frame header: single segment, 1-byte content size; then a raw block holding the state's start.
    const rawBlock = [...ZSTD, 0x20, 0x40, ...le32((64 << 3) | 1).slice(0, 3), ...V86_HEAD];
    expect(classifyFile(head(MiB, [[0, rawBlock]]), MiB, "anything")).toEqual({ kind: "v86-state", compressed: true });
    // A compressed block with raw literals (1-byte literals header).
    const rawLiterals = [...ZSTD, 0x20, 0x40, ...le32((64 << 3) | (2 << 1) | 1).slice(0, 3), 12 << 3, ...V86_HEAD];
    expect(classifyFile(head(MiB, [[0, rawLiterals]]), MiB, "x.zst")).toEqual({ kind: "v86-state", compressed: true });
    // Huffman-coded literals hide the start: the name decides.
    const hidden = [...ZSTD, 0x20, 0x40, ...le32((64 << 3) | (2 << 1) | 1).slice(0, 3), 0x02, 0x55, 0x66];
    expect(classifyFile(head(MiB, [[0, hidden]]), MiB, "windows98_state-v3.bin.zst")).toEqual({ kind: "v86-state", compressed: true });
    // Otherwise a zstd stream is what it always was: a compressed initrd.
    expect(classifyFile(head(MiB, [[0, hidden]]), MiB, "initrd.zst")).toMatchObject({ kind: "image", image: { kind: "initrd" } });
  });

  it("images of known kinds, and nothing else", () => {
    expect(classifyFile(head(8 * MiB, [[0x8001, [0x43, 0x44, 0x30, 0x30, 0x31]]]), 8 * MiB, "cd.iso")).toMatchObject({ kind: "image", image: { kind: "cdrom" } });
    expect(classifyFile(head(3 * MiB, [[0, [0x25, 0x50, 0x44, 0x46]]]), 3 * MiB, "notes.pdf")).toEqual({ kind: "unknown" });
  });
});

describe("v86StateRefusal", () => {
  it("says what the file is and why it cannot be imported as it is", () => {
    const error = v86StateRefusal("v86state.bin", true);
    expect(error.code).toBe("bad-snapshot");
    expect(error.message).toMatch(/^v86state\.bin is a machine state saved by v86 itself \(zstd-compressed\), not a virtlab snapshot/);
    expect(error.message).toMatch(/no description of the machine/);
    expect(error.details.subject).toBe("v86state.bin");
  });
});
