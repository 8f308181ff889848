import { describe, expect, it } from "vitest";
import type { AppError } from "../errors.ts";
import { decodeText, encodeText, sha256Hex } from "../host.ts";
import { DEFAULT_PROFILE } from "../profile.ts";
import { machineFingerprint, fingerprintDifferences } from "./fingerprint.ts";
import { PAGE_SIZE } from "../storage/disk.ts";
import { CHUNK_RAW_BYTES, SnapshotStreamDecoder, concatParts, decodeSnapshot, encodeSnapshot, encodeSnapshotTo, openSnapshot, readSnapshotHeader, V86_STATE_MAGIC, type SnapshotHeader, type SnapshotMeta } from "./format.ts";
import { testGuest } from "../testing/guest.ts";

const guest = testGuest();

/** Something shaped like a v86 state: its magic, version 6, then compressible data. */
function fakeState(size: number): Uint8Array {
  const state = new Uint8Array(size);
  const view = new DataView(state.buffer);
  view.setUint32(0, V86_STATE_MAGIC, true);
  view.setUint32(4, 6, true);
  for (let i = 16; i < size; i += 4096) state[i] = i & 0xff;
  return state;
}

const meta: SnapshotMeta = {
  app: "0.1.0",
  v86: "0.5.462",
  fingerprint: machineFingerprint(DEFAULT_PROFILE, guest, { hda: { size: 64 << 20, base: "blank" } }),
  name: "before the lab",
  createdAt: 1_700_000_000_000,
  shellReady: true,
  preview: "root@virtlab:/# ",
};

async function file(state = fakeState(CHUNK_RAW_BYTES + 5000)): Promise<Uint8Array> {
  return concatParts((await encodeSnapshot(state, meta)).parts);
}

/** The file with its header changed by `edit`, and its first chunk's bytes replaced by `firstChunk`. */
function rewrite(bytes: Uint8Array, edit: (header: SnapshotHeader) => Record<string, unknown>, firstChunk?: Uint8Array): Uint8Array {
  const { header, bodyOffset } = readSnapshotHeader(bytes);
  const json = encodeText(JSON.stringify(edit(header)));
  const body = bytes.slice(bodyOffset);
  if (firstChunk !== undefined) body.set(firstChunk);
  const out = new Uint8Array(12 + json.length + body.length);
  out.set(bytes.subarray(0, 8));
  new DataView(out.buffer).setUint32(8, json.length, true);
  out.set(json, 12);
  out.set(body, 12 + json.length);
  return out;
}

async function refusal(bytes: Uint8Array): Promise<AppError> {
  return (await decodeSnapshot(bytes).catch((e: unknown) => e)) as AppError;
}

describe("snapshot file", () => {
  it("round-trips the state, compressed, with a checksum per chunk", async () => {
    const state = fakeState(CHUNK_RAW_BYTES * 2 + 123);
    const { header, parts } = await encodeSnapshot(state, meta);
    const bytes = concatParts(parts);
    expect(header).toMatchObject({ format: 2, stateVersion: 6, rawSize: state.length, compression: "gzip", name: "before the lab" });
    expect(header.chunks.map((c) => c.rawSize)).toEqual([CHUNK_RAW_BYTES, CHUNK_RAW_BYTES, 123]);
    expect(bytes.length).toBeLessThan(state.length / 10);
    const decoded = await decodeSnapshot(bytes);
    expect(decoded.header).toEqual(header);
    expect(decoded.state.length).toBe(state.length);
    expect(decoded.state.every((b, i) => b === state[i])).toBe(true);
  });

  it("refuses a file that is not a snapshot", async () => {
    const error = await refusal(encodeText("PK\x03\x04 this is a zip file, not a snapshot"));
    expect(error.code).toBe("bad-snapshot");
    expect(error.message).toMatch(/not a virtlab snapshot/);
  });

  it("refuses a truncated file before decompressing anything", async () => {
    const bytes = await file();
    for (const cut of [bytes.length - 1, 200, 11]) {
      const error = await refusal(bytes.subarray(0, cut));
      expect(error.code, `cut at ${cut}`).toBe("bad-snapshot");
      expect(error.message).toMatch(/cut short|not a virtlab snapshot|damaged/);
    }
  });

  it("refuses a flipped byte in the data by its checksum, naming the part", async () => {
    const bytes = await file();
    bytes[bytes.length - 5] = (bytes[bytes.length - 5] as number) ^ 0x40;
    const error = await refusal(bytes);
    expect(error.code).toBe("bad-snapshot");
    expect(error.message).toMatch(/part 2 of 2 does not match its checksum/);
  });

  it("refuses a huge declared size without allocating it", async () => {
    const bytes = await file();
    const { bodyOffset } = readSnapshotHeader(bytes);
    const header = JSON.parse(decodeText(bytes.subarray(12, bodyOffset))) as Record<string, unknown>;
    header["rawSize"] = 64 * 1024 ** 3;
    const json = encodeText(JSON.stringify(header));
    const hostile = new Uint8Array(12 + json.length + 10);
    hostile.set(bytes.subarray(0, 8));
    new DataView(hostile.buffer).setUint32(8, json.length, true);
    hostile.set(json, 12);
    const error = await refusal(hostile);
    expect(error.code).toBe("bad-snapshot");
    expect(error.message).toMatch(/declares a machine state of 68719476736 bytes/);
  });

  it("round-trips zstd chunks, and reads gzip files beside them", async () => {
    const state = fakeState(CHUNK_RAW_BYTES + 777);
    const zstdFile = await encodeSnapshot(state, meta, [], { compression: "zstd" });
    expect(zstdFile.header.compression).toBe("zstd");
    const gzipFile = await encodeSnapshot(state, meta);
    expect(gzipFile.header.compression).toBe("gzip");
    for (const { header, parts } of [zstdFile, gzipFile]) {
      const decoded = await decodeSnapshot(concatParts(parts));
      expect(decoded.header).toEqual(header);
      expect(decoded.state.length).toBe(state.length);
      expect(decoded.state.every((b, i) => b === state[i]), header.compression).toBe(true);
    }
  });

  it("refuses a damaged zstd chunk by its checksum, and one that does not decompress", async () => {
    const bytes = concatParts((await encodeSnapshot(fakeState(CHUNK_RAW_BYTES + 5000), meta, [], { compression: "zstd" })).parts);
    const flipped = bytes.slice();
    flipped[flipped.length - 5] = (flipped[flipped.length - 5] as number) ^ 0x40;
    expect((await refusal(flipped)).message).toMatch(/part 2 of 2 does not match its checksum/);
    // The checksum made to match the damage: the decoder itself refuses it.
    const { header, bodyOffset } = readSnapshotHeader(bytes);
    const first = header.chunks[0];
    if (first === undefined) throw new Error("no chunk");
    const body = bytes.slice(bodyOffset, bodyOffset + first.size);
    for (let i = 20; i < body.length; i += 31) body[i] = (body[i] as number) ^ 0x33;
    const sha256 = await sha256Hex(body);
    const error = await refusal(rewrite(bytes, (h) => ({ ...h, chunks: [{ ...first, sha256 }, ...h.chunks.slice(1)] }), body));
    expect(error.code).toBe("bad-snapshot");
    expect(error.message).toMatch(/damaged \(it does not decompress\)/);
  });

  it("refuses a zstd chunk that unpacks past its declared size, with the limit", async () => {
    const state = fakeState(4096 * 3);
    const bytes = concatParts((await encodeSnapshot(state, meta, [], { compression: "zstd" })).parts);
    // Declare one byte less: the chunk's frame says 12288, the header 12287.
    const smaller = rewrite(bytes, (h) => ({ ...h, rawSize: h.rawSize - 1, stateSize: h.stateSize - 1, chunks: h.chunks.map((c) => ({ ...c, rawSize: c.rawSize - 1 })) }));
    const error = await refusal(smaller);
    expect(error.code).toBe("bad-snapshot");
    expect(error.message).toMatch(/more data than its header declares/);
    expect(error.details).toEqual({ limit: 4096 * 3 - 1 });
  });

  it("puts a part through the x86 filter when that packs it smaller, as format 3, and reads it back exactly", async () => {
    // Part 1: code calling a few functions from everywhere (the filter pays); part 2: no calls.
    const state = fakeState(CHUNK_RAW_BYTES + 4096);
    const view = new DataView(state.buffer);
    for (let at = 64, n = 0; at + 5 < CHUNK_RAW_BYTES; at += 37, n++) {
      state[at] = 0xe8;
      view.setInt32(at + 1, [4096, 81920, 1 << 20][n % 3]! - (at + 5), true);
    }
    const filtered = await encodeSnapshot(state, meta, [], { compression: "zstd", level: 3, x86Filter: true });
    expect(filtered.header.format).toBe(3);
    expect(filtered.header.chunks.map((c) => c.filter)).toEqual(["x86", undefined]);
    const plain = await encodeSnapshot(state, meta, [], { compression: "zstd", level: 3 });
    expect(plain.header.format).toBe(2);
    expect(plain.header.chunks.every((c) => !("filter" in c))).toBe(true);
    expect(filtered.header.chunks[0]!.size).toBeLessThan(plain.header.chunks[0]!.size);
    const decoded = await decodeSnapshot(concatParts(filtered.parts));
    expect(decoded.state.every((b, i) => b === state[i])).toBe(true);
  });

  it("refuses a filter in a file whose format has none, and a filter it does not know", async () => {
    const bytes = concatParts((await encodeSnapshot(fakeState(4096 * 3), meta, [], { compression: "zstd", level: 3 })).parts);
    const inFormat2 = rewrite(bytes, (h) => ({ ...h, chunks: h.chunks.map((c) => ({ ...c, filter: "x86" })) }));
    const unknown = rewrite(bytes, (h) => ({ ...h, format: 3, chunks: h.chunks.map((c) => ({ ...c, filter: "arm64" })) }));
    for (const damaged of [inFormat2, unknown]) {
      const error = await refusal(damaged);
      expect(error.code).toBe("bad-snapshot");
      expect(error.message).toMatch(/names a filter this virtlab does not know/);
    }
  });

  it("refuses a compression it does not know", async () => {
    const other = rewrite(await file(), (h) => ({ ...h, compression: "xz" }));
    expect((await refusal(other)).message).toMatch(/compression this virtlab does not read/);
  });

  it("refuses a header length larger than the file or the limit", async () => {
    const bytes = await file();
    new DataView(bytes.buffer).setUint32(8, 0xffffffff, true);
    expect((await refusal(bytes)).message).toMatch(/cut short or its header is damaged/);
  });
});

describe("machine fingerprints", () => {
  it("match for the same machine and name every field that differs", () => {
    const same = machineFingerprint(DEFAULT_PROFILE, guest, { hda: { size: 64 << 20, base: "blank" } });
    expect(fingerprintDifferences(meta.fingerprint, same)).toEqual([]);
    const other = machineFingerprint({ ...DEFAULT_PROFILE, memoryMiB: 128, nic: "virtio", balloon: true }, { ...guest, cmdline: "console=ttyS0 quiet" });
    expect(fingerprintDifferences(meta.fingerprint, other)).toEqual([
      "memory size: saved with 256, this machine has 128",
      "network card: saved with none, this machine has virtio",
      "balloon device: saved with null, this machine has true",
      "kernel command line: saved with console=ttyS0, this machine has console=ttyS0 quiet",
      "disks: hda saved with 64 MiB blank, this machine has no disk",
    ]);
    const bios = machineFingerprint(DEFAULT_PROFILE, { kind: "disk", bios: guest.bios, vgaBios: guest.vgaBios, bootFrom: "cdrom" }, { hda: { size: 64 << 20, base: "blank" } });
    expect(fingerprintDifferences(meta.fingerprint, bios)).toContain("boot source: saved with kernel + initrd, this machine has BIOS from cdrom");
  });

  it("pins a disk's size unless the state was saved as fitting any size (the pre-booted state)", () => {
    const at = (size: number) => machineFingerprint(DEFAULT_PROFILE, guest, { hda: { size, base: "blank" } });
    // A user's snapshot: the size is pinned, as in every older file.
    expect(fingerprintDifferences(at(64 << 20), at(2048 * 1048576))).toEqual(["disks: hda saved with 64 MiB blank, this machine has 2 GiB blank"]);
    const anySize = machineFingerprint(DEFAULT_PROFILE, guest, { hda: { size: "any", base: "blank" } });
    expect(anySize.disks).toEqual({ hda: { size: "any", base: "blank" } });
    expect(fingerprintDifferences(anySize, at(2048 * 1048576))).toEqual([]);
    expect(fingerprintDifferences(anySize, at(64 << 20))).toEqual([]);
    // Still the same slots and base, in words.
    const image = machineFingerprint(DEFAULT_PROFILE, guest, { hda: { size: 1440 << 10, base: { sha256: "e".repeat(64) } } });
    expect(fingerprintDifferences(anySize, image)).toEqual(["disks: hda saved with any size blank, this machine has 1440 KiB image eeeeeeeeeeee…"]);
    expect(fingerprintDifferences(anySize, machineFingerprint(DEFAULT_PROFILE, guest, {}))).toEqual(["disks: hda saved with any size blank, this machine has no disk"]);
    // Any size of the same image matches; another image does not.
    const anyImage = machineFingerprint(DEFAULT_PROFILE, guest, { hda: { size: "any", base: { sha256: "e".repeat(64) } } });
    expect(fingerprintDifferences(anyImage, image)).toEqual([]);
    const otherImage = machineFingerprint(DEFAULT_PROFILE, guest, { hda: { size: 1440 << 10, base: { sha256: "f".repeat(64) } } });
    expect(fingerprintDifferences(anyImage, otherImage)).toEqual(["disks: hda saved with any size image eeeeeeeeeeee…, this machine has 1440 KiB image ffffffffffff…"]);
    // An image deleted from the library matches nothing.
    const gone = machineFingerprint(DEFAULT_PROFILE, guest, { hda: { size: 0, base: "missing" } });
    expect(fingerprintDifferences(gone, gone)).toEqual(["disks: hda saved with an image no longer in the library, this machine has an image no longer in the library"]);
  });

  it("ignores the CPU mode: a state restores with the JIT on or off", () => {
    const interpreter = machineFingerprint({ ...DEFAULT_PROFILE, cpu: "interpreter" }, guest, { hda: { size: 64 << 20, base: "blank" } });
    expect(fingerprintDifferences(meta.fingerprint, interpreter)).toEqual([]);
  });

  it("carries disk overlays after the state, and gives back the same pages", async () => {
    const state = fakeState(100_000);
    const pages = [0, 3, 1023];
    const data = new Uint8Array(pages.length * PAGE_SIZE).map((_, i) => (i * 13) & 0xff);
    const { header, parts } = await encodeSnapshot(state, meta, [{ slot: "hda", size: 64 << 20, base: "blank", pages, data }]);
    expect(header).toMatchObject({ stateSize: 100_000, rawSize: 100_000 + data.length, disks: [{ slot: "hda", size: 64 << 20, base: "blank", pages }] });
    const decoded = await decodeSnapshot(concatParts(parts));
    expect(decoded.state.length).toBe(100_000);
    expect(decoded.disks).toHaveLength(1);
    expect(decoded.disks[0]?.pages).toEqual(pages);
    expect(decoded.disks[0]?.data.every((b, i) => b === data[i])).toBe(true);
  });

  it("encodes a chunk at a time, in order, the disks' pages read a chunk's worth at a time; the same file", async () => {
    const state = fakeState(2 * CHUNK_RAW_BYTES + 1000);
    const disks = [
      { slot: "hda", size: 64 << 20, base: "blank" as const, pages: Array.from({ length: 200 }, (_, i) => i * 2), data: new Uint8Array(200 * PAGE_SIZE).map((_, i) => (i * 7 + (i >> 16)) & 0xff) },
      { slot: "hdb", size: 1 << 20, base: "blank" as const, pages: [0, 5, 15], data: new Uint8Array(3 * PAGE_SIZE).map((_, i) => (i * 3 + 1) & 0xff) },
    ];
    const events: string[] = [];
    const sources = disks.map(({ data, ...disk }) => ({
      ...disk,
      read: async (first: number, count: number) => {
        events.push(`read ${disk.slot} ${first}+${count}`);
        return data.slice(first * PAGE_SIZE, (first + count) * PAGE_SIZE);
      },
    }));
    const bodies: Uint8Array[] = [];
    const { header, head } = await encodeSnapshotTo(state, meta, sources, {}, async ({ index, packed, rawDone, rawTotal }) => {
      events.push(`chunk ${index} ${rawDone}/${rawTotal}`);
      bodies[index] = packed;
    });
    const total = state.length + 203 * PAGE_SIZE;
    const last = total - 3 * CHUNK_RAW_BYTES;
    // Chunk 2: the state's last 1000 bytes and hda's first pages; chunk 3: the rest of hda (from
    // the page chunk 2 ended in) and hdb.
    expect(events).toEqual([
      `chunk 0 ${CHUNK_RAW_BYTES}/${total}`,
      `chunk 1 ${2 * CHUNK_RAW_BYTES}/${total}`,
      "read hda 0+128",
      `chunk 2 ${3 * CHUNK_RAW_BYTES}/${total}`,
      "read hda 127+73",
      "read hdb 0+3",
      `chunk 3 ${total}/${total}`,
    ]);
    expect(header.chunks.map((c) => c.rawSize)).toEqual([CHUNK_RAW_BYTES, CHUNK_RAW_BYTES, CHUNK_RAW_BYTES, last]);
    const sha = (parts: readonly Uint8Array[]): Promise<string> => sha256Hex(concatParts(parts));
    expect(await sha([head, ...bodies])).toBe(await sha((await encodeSnapshot(state, meta, disks)).parts));
    const decoded = await decodeSnapshot(concatParts([head, ...bodies]));
    expect(await sha([decoded.state, ...decoded.disks.map((d) => d.data)])).toBe(await sha([state, ...disks.map((d) => d.data)]));
  });

  it("opens a file for a restore: every checksum checked first, the state unpacked, the disks' pages as they are read", async () => {
    const state = fakeState(CHUNK_RAW_BYTES + 4000);
    const pages = Array.from({ length: 180 }, (_, i) => i);
    const data = new Uint8Array(pages.length * PAGE_SIZE).map((_, i) => (i * 11 + (i >> 16)) & 0xff);
    const bytes = concatParts((await encodeSnapshot(state, meta, [{ slot: "hda", size: 64 << 20, base: "blank", pages, data }])).parts);
    const opened = await openSnapshot(bytes);
    expect(await sha256Hex(opened.state)).toBe(await sha256Hex(state));
    expect(opened.disks.map((d) => [d.slot, d.pages.length])).toEqual([["hda", 180]]);
    const hda = opened.disks[0]!;
    // Read as a restore reads: in order, in batches that straddle chunks.
    const read = concatParts(await Promise.all([hda.read(0, 64), hda.read(64, 64), hda.read(128, 52)]));
    expect(await sha256Hex(read)).toBe(await sha256Hex(data));
    // A damaged chunk among the disk's is refused before the state is unpacked.
    const { header, bodyOffset } = readSnapshotHeader(bytes);
    const damaged = bytes.slice();
    damaged[bodyOffset + header.chunks[0]!.size + header.chunks[1]!.size + 40]! ^= 0xff;
    await expect(openSnapshot(damaged)).rejects.toMatchObject({ code: "bad-snapshot", message: "The snapshot is damaged: part 3 of 3 does not match its checksum." });
  });

  it("refuses a disk list that does not add up, names pages outside the disk, or repeats them", async () => {
    const state = fakeState(50_000);
    const data = new Uint8Array(2 * PAGE_SIZE);
    const good = concatParts((await encodeSnapshot(state, meta, [{ slot: "hda", size: 1 << 20, base: "blank", pages: [1, 2], data }])).parts);
    const tamper = (change: (h: Record<string, unknown>) => void): Uint8Array => {
      const { header, bodyOffset } = readSnapshotHeader(good);
      const edited = JSON.parse(JSON.stringify(header)) as Record<string, unknown>;
      change(edited);
      const json = encodeText(JSON.stringify(edited));
      const prefix = good.slice(0, 12);
      new DataView(prefix.buffer).setUint32(8, json.length, true);
      return concatParts([prefix, json, good.subarray(bodyOffset)]);
    };
    const disk = (h: Record<string, unknown>): Record<string, unknown> => (h["disks"] as Record<string, unknown>[])[0] as Record<string, unknown>;
    expect((await refusal(tamper((h) => void (disk(h)["pages"] = [1, 99])))).message).toMatch(/page list/);
    expect((await refusal(tamper((h) => void (disk(h)["pages"] = [2, 2])))).message).toMatch(/page list/);
    expect((await refusal(tamper((h) => void (disk(h)["pages"] = [1])))).message).toMatch(/do not add up/);
    expect((await refusal(tamper((h) => void (disk(h)["size"] = 2 ** 40)))).message).toMatch(/no machine here can have/);
    expect((await refusal(tamper((h) => void (h["stateSize"] = 1)))).message).toMatch(/state size/);
  });
});

describe("a snapshot file decoded as it arrives", () => {
  /** `bytes` pushed in pieces of `piece` bytes, then finished (the refusal, if any, as the value). */
  async function streamed(bytes: Uint8Array, piece: number, expectedBytes?: number): Promise<Awaited<ReturnType<typeof decodeSnapshot>> | AppError> {
    const decoder = new SnapshotStreamDecoder(expectedBytes);
    for (let at = 0; at < bytes.length; at += piece) decoder.push(bytes.slice(at, at + piece));
    return decoder.finish().catch((e: unknown) => e as AppError);
  }

  it("gives what decodeSnapshot gives, the bytes coming in any pieces", async () => {
    const state = fakeState(CHUNK_RAW_BYTES * 2 + 123);
    const pages = [0, 5];
    const data = new Uint8Array(pages.length * PAGE_SIZE).map((_, i) => (i * 7) & 0xff);
    const bytes = concatParts((await encodeSnapshot(state, meta, [{ slot: "hda", size: 64 << 20, base: "blank", pages, data }])).parts);
    const whole = await decodeSnapshot(bytes);
    for (const [piece, expected] of [[13, undefined], [7, bytes.length], [4096, undefined], [bytes.length, bytes.length]] as const) {
      const got = await streamed(bytes, piece, expected);
      if (got instanceof Error) throw got;
      expect(got.header, `pieces of ${piece}`).toEqual(whole.header);
      expect(await sha256Hex(got.state)).toBe(await sha256Hex(state));
      expect(got.disks.map((d) => ({ ...d, data: [...d.data.subarray(0, 8)], length: d.data.length }))).toEqual(whole.disks.map((d) => ({ ...d, data: [...d.data.subarray(0, 8)], length: d.data.length })));
      expect(await sha256Hex(got.disks[0]!.data)).toBe(await sha256Hex(data));
    }
  });

  it("unpacks each part as soon as its bytes are in, before the rest has come", async () => {
    const bytes = await file(fakeState(CHUNK_RAW_BYTES * 2 + 10));
    const { header, bodyOffset } = readSnapshotHeader(bytes);
    const firstPartEnds = bodyOffset + (header.chunks[0]?.size ?? 0);
    const decoder = new SnapshotStreamDecoder();
    decoder.push(bytes.slice(0, firstPartEnds));
    // What it holds unpacked, read through finish's refusal: the file is not whole yet.
    const early = (await decoder.finish().catch((e: unknown) => e)) as AppError;
    expect(early.message).toMatch(/cut short/);
    expect((decoder as unknown as { nextChunk: number }).nextChunk).toBe(1);
    decoder.push(bytes.slice(firstPartEnds));
    expect((await decoder.finish()).state.length).toBe(CHUNK_RAW_BYTES * 2 + 10);
  });

  it("refuses what decodeSnapshot refuses: not a snapshot, cut short, a damaged part, extra bytes", async () => {
    expect(((await streamed(encodeText("PK\x03\x04 not a snapshot at all"), 3)) as AppError).message).toMatch(/not a virtlab snapshot/);
    const bytes = await file();
    for (const cut of [bytes.length - 1, 200, 11]) {
      const error = (await streamed(bytes.subarray(0, cut), 64)) as AppError;
      expect(error.code, `cut at ${cut}`).toBe("bad-snapshot");
      expect(error.message).toMatch(/cut short|not a virtlab snapshot|damaged/);
    }
    const flipped = bytes.slice();
    flipped[flipped.length - 5] = (flipped[flipped.length - 5] as number) ^ 0x40;
    expect(((await streamed(flipped, 1000)) as AppError).message).toMatch(/part 2 of 2 does not match its checksum/);
    // The whole file first (as decodeSnapshot pushes it: read in place), then more: refused, and
    // the caller's bytes are as they were.
    const before = await sha256Hex(bytes);
    const decoder = new SnapshotStreamDecoder(bytes.length);
    decoder.push(bytes);
    decoder.push(Uint8Array.of(1, 2, 3));
    expect(((await decoder.finish().catch((e: unknown) => e)) as AppError).message).toMatch(/extra bytes/);
    expect(await sha256Hex(bytes)).toBe(before);
    const longer = concatParts([bytes, Uint8Array.of(1, 2, 3)]);
    expect(((await streamed(longer, 1000)) as AppError).message).toMatch(/extra bytes/);
  });
});
