/**
 * The snapshot file: a versioned container around v86's saved state.
 *
 *   bytes 0..8    SNAPSHOT_MAGIC: "VIRTLAB" + 0x1A
 *   bytes 8..12   header length (u32, little endian), at most MAX_HEADER_BYTES
 *   header        JSON (SnapshotHeader): versions, machine fingerprint, sizes, one sha256 per chunk
 *   chunks        the payload in pieces of CHUNK_RAW_BYTES, each compressed on its own (gzip, or
 *                 zstd as the header's `compression` says): v86's state, then the overlay pages of
 *                 each disk the header lists (what the guest wrote to it, PAGE_SIZE bytes a page),
 *                 so memory and disks come from one instant
 *
 * Every size is checked against the file and against fixed limits before anything is
 * allocated, every chunk against its sha256 before it is decompressed, and decompression stops
 * at the size the header declared.
 *
 * Format 2 (FORMAT_VERSION) writes the fingerprint's boot source and disks, and each carried
 * disk's base, as typed values; format 1 wrote them as words. Both are read: a format-1 header is
 * turned into the typed form as it is read (fingerprint.ts, readFingerprint), so every reader
 * sees one shape. Format 3 (FILTERED_FORMAT_VERSION) is format 2 with parts that went through a
 * filter before compression (a chunk's `filter`: "x86", x86Filter.ts); a file is written as
 * format 3 only when one of its parts has a filter, so that a virtlab that knows no filters
 * refuses it by its format rather than unpacking wrong bytes.
 */
import { concatBytes } from "../bytes.ts";
import { AppError } from "../errors.ts";
import { decodeText, encodeText, sha256Hex } from "../host.ts";
import { PAGE_SIZE, type BlankLayout } from "../storage/disk.ts";
import { baseFromWord, isDiskBase, readFingerprint, type DiskBase, type MachineFingerprint } from "./fingerprint.ts";
import { gunzip, gzip } from "./compress.ts";
import { filterX86, unfilterX86 } from "./x86Filter.ts";
import { unzstd, zstd } from "./zstd.ts";

/** The first bytes of every virtlab snapshot file: "VIRTLAB" and 0x1A. The only place they are written. */
export const SNAPSHOT_MAGIC: Uint8Array = encodeText("VIRTLAB\x1a");
/** The format this virtlab writes when no part has a filter. */
export const FORMAT_VERSION = 2;
/** The format of a file with a filtered part. */
export const FILTERED_FORMAT_VERSION = 3;
/** The formats it reads (1: fingerprint and disk bases as words, read into the typed form). */
export const READABLE_FORMATS: readonly number[] = [1, 2, 3];
export const MAX_HEADER_BYTES = 1024 * 1024;
export const CHUNK_RAW_BYTES = 8 * 1024 * 1024;
/** 2 GiB of guest memory, 128 MiB of VGA memory and the devices fit well under this. */
export const MAX_STATE_BYTES = 2560 * 1024 * 1024;
/** v86 states start with this magic and then their own format version. */
export const V86_STATE_MAGIC = 0x86768676;

export interface SnapshotChunk {
  /** Compressed size in the file. */
  readonly size: number;
  readonly rawSize: number;
  /** sha256 of the compressed bytes. */
  readonly sha256: string;
  /** What the raw bytes went through before compression, undone after (format 3). */
  readonly filter?: SnapshotFilter;
}

/** "x86": x86Filter.ts (calls and jumps as positions). */
export type SnapshotFilter = "x86";

/** How the parts are packed. */
export interface SnapshotPacking {
  /** gzip unless told. */
  readonly compression?: SnapshotCompression;
  /** zstd's level (ZSTD_LEVEL unless told). */
  readonly level?: number;
  /**
   * Put each part through the x86 filter when that packs it smaller (judged at a fast level).
   * Worth it for states made once and fetched often (set-up's): it costs a pass over each part
   * and one more compression to judge.
   */
  readonly x86Filter?: boolean;
}

export interface SnapshotHeader {
  readonly format: number;
  readonly app: string;
  readonly v86: string;
  /** v86's own state format version (from the state's header). */
  readonly stateVersion: number;
  readonly fingerprint: MachineFingerprint;
  readonly name: string;
  readonly createdAt: number;
  /** The console was at a shell prompt when the state was saved. */
  readonly shellReady: boolean;
  /** The last lines of the terminal, for a preview. */
  readonly preview: string;
  /**
   * How each chunk is compressed. The page writes gzip (CompressionStream, native); set-up
   * writes the pre-booted states with zstd (smaller; its decoder, wasm, loads only for them).
   */
  readonly compression: SnapshotCompression;
  /** Bytes of everything compressed: the state, then the disks' pages. */
  readonly rawSize: number;
  /** Bytes of v86's state at the start of the payload. */
  readonly stateSize: number;
  /**
   * The disks whose contents the snapshot carries. A disk in the fingerprint but not here (the
   * pre-booted state) keeps what the machine has: such a state was saved with nothing mounted
   * from it, and the guest mounts it after the restore.
   */
  readonly disks: readonly SnapshotDisk[];
  readonly chunks: readonly SnapshotChunk[];
}

export type SnapshotCompression = "gzip" | "zstd";
/** The compressions this virtlab reads. */
export const SNAPSHOT_COMPRESSIONS: readonly SnapshotCompression[] = ["gzip", "zstd"];
/** The filters it undoes (format 3 on). */
const SNAPSHOT_FILTERS: readonly SnapshotFilter[] = ["x86"];
/** The zstd level at which encodeSnapshot judges whether a part packs smaller filtered. */
const FILTER_TRIAL_LEVEL = 3;

export type SnapshotMeta = Omit<SnapshotHeader, "format" | "stateVersion" | "compression" | "rawSize" | "chunks" | "stateSize" | "disks">;

/** A disk's overlay as the snapshot carries it: which pages the guest wrote, in order. */
export interface SnapshotDisk {
  /** v86's drive: hda, hdb, cdrom, fda. */
  readonly slot: string;
  /** Bytes of the whole disk. */
  readonly size: number;
  /** What the disk is based on. */
  readonly base: DiskBase;
  /** Page numbers (ascending); their bytes follow the state in this order. */
  readonly pages: readonly number[];
  /** What a blank disk reads as under the pages; absent (older files): zeros. */
  readonly blank?: BlankLayout;
}

export interface SnapshotDiskData extends SnapshotDisk {
  /** pages.length × PAGE_SIZE bytes. */
  readonly data: Uint8Array;
}

/** The largest disk a snapshot may describe. */
const MAX_DISK_BYTES = 8 * 1024 * 1024 * 1024;

/** v86's state format version, read from its header. */
export function v86StateVersion(state: Uint8Array): number {
  if (state.length < 16) throw new AppError("bad-snapshot", "The machine state is too short to be one.");
  const view = new DataView(state.buffer, state.byteOffset, state.byteLength);
  if (view.getUint32(0, true) !== V86_STATE_MAGIC) throw new AppError("bad-snapshot", "The machine state does not come from v86.");
  return view.getUint32(4, true);
}

/**
 * A disk's written pages for a snapshot, read a run at a time as they are encoded (a big disk's
 * pages are never all in memory at once).
 */
export interface SnapshotDiskSource extends SnapshotDisk {
  /** The bytes of `count` pages from `pages[first]` on, in order (count × PAGE_SIZE). */
  readonly read: (first: number, count: number) => Promise<Uint8Array>;
}

/** Where encodeSnapshotTo puts each chunk's compressed bytes once it is made, in order. */
export type SnapshotChunkSink = (chunk: { readonly index: number; readonly packed: Uint8Array; readonly rawDone: number; readonly rawTotal: number }) => Promise<void>;

/** A sink that keeps every chunk in memory, and the file's parts once its head is known. */
export function keptChunks(): { readonly put: SnapshotChunkSink; parts(head: Uint8Array): Uint8Array[] } {
  const bodies: Uint8Array[] = [];
  return { put: async ({ index, packed }) => void (bodies[index] = packed), parts: (head) => [head, ...bodies] };
}

/**
 * Build a snapshot file (as parts, to write or store without one more copy). gzip unless told:
 * zstd's high-level encoders take about a second per MiB (set-up only).
 */
export async function encodeSnapshot(
  state: Uint8Array,
  meta: SnapshotMeta,
  disks: readonly SnapshotDiskData[] = [],
  packing: SnapshotPacking = {},
): Promise<{ header: SnapshotHeader; parts: Uint8Array[] }> {
  for (const disk of disks) {
    if (disk.data.length !== disk.pages.length * PAGE_SIZE) throw new AppError("bad-snapshot", `The pages of ${disk.slot} do not add up.`);
  }
  const sources = disks.map(({ data, ...disk }) => ({ ...disk, read: async (first: number, count: number) => data.subarray(first * PAGE_SIZE, (first + count) * PAGE_SIZE) }));
  const kept = keptChunks();
  const { header, head } = await encodeSnapshotTo(state, meta, sources, packing, kept.put);
  return { header, parts: kept.parts(head) };
}

/**
 * Encode a snapshot a chunk at a time, each chunk handed to `put` as soon as it is packed, so the
 * payload (the state, then the disks' pages, read through their sources) is never in memory as a
 * whole; returns the header and the file's head (magic, length and header: what goes before the
 * chunks, known once they all are).
 */
export async function encodeSnapshotTo(
  state: Uint8Array,
  meta: SnapshotMeta,
  disks: readonly SnapshotDiskSource[],
  packing: SnapshotPacking,
  put: SnapshotChunkSink,
): Promise<{ header: SnapshotHeader; head: Uint8Array }> {
  const compression = packing.compression ?? "gzip";
  const pack = (raw: Uint8Array, level?: number): Promise<Uint8Array> => (compression === "zstd" ? zstd(raw, level ?? packing.level) : gzip(raw));
  const rawTotal = disks.reduce((sum, disk) => sum + disk.pages.length * PAGE_SIZE, state.length);
  const count = Math.ceil(rawTotal / CHUNK_RAW_BYTES);
  const chunks: SnapshotChunk[] = [];
  let rawDone = 0;
  const encode = async (index: number): Promise<void> => {
    const offset = index * CHUNK_RAW_BYTES;
    let raw = await payloadRange(state, disks, offset, Math.min(rawTotal, offset + CHUNK_RAW_BYTES) - offset);
    let filter: SnapshotFilter | undefined;
    if (packing.x86Filter === true) {
      const filtered = raw.slice();
      filterX86(filtered);
      if ((await pack(filtered, FILTER_TRIAL_LEVEL)).length < (await pack(raw, FILTER_TRIAL_LEVEL)).length) {
        raw = filtered;
        filter = "x86";
      }
    }
    const packed = await pack(raw);
    chunks[index] = { size: packed.length, rawSize: raw.length, sha256: await sha256Hex(packed), ...(filter === undefined ? {} : { filter }) };
    rawDone += raw.length;
    await put({ index, packed, rawDone, rawTotal });
  };
  for (let index = 0; index < count; index++) await encode(index);
  const header: SnapshotHeader = {
    ...meta,
    format: chunks.some((c) => c.filter !== undefined) ? FILTERED_FORMAT_VERSION : FORMAT_VERSION,
    stateVersion: v86StateVersion(state),
    compression,
    rawSize: rawTotal,
    stateSize: state.length,
    disks: disks.map(({ slot, size, base, pages, blank }) => ({ slot, size, base, pages: [...pages], ...(blank === undefined || blank === "zeros" ? {} : { blank }) })),
    chunks,
  };
  const json = encodeText(JSON.stringify(header));
  const head = new Uint8Array(12 + json.length);
  head.set(SNAPSHOT_MAGIC, 0);
  new DataView(head.buffer).setUint32(8, json.length, true);
  head.set(json, 12);
  return { header, head };
}

/** `length` bytes of the payload from `offset`: the state's own bytes where they lie in it alone, else a copy. */
async function payloadRange(state: Uint8Array, disks: readonly SnapshotDiskSource[], offset: number, length: number): Promise<Uint8Array> {
  if (offset + length <= state.length) return state.subarray(offset, offset + length);
  const out = new Uint8Array(length);
  const end = offset + length;
  if (offset < state.length) out.set(state.subarray(offset), 0);
  let diskStart = state.length;
  for (const disk of disks) {
    const diskEnd = diskStart + disk.pages.length * PAGE_SIZE;
    const from = Math.max(offset, diskStart);
    const to = Math.min(end, diskEnd);
    if (from < to) {
      const first = Math.floor((from - diskStart) / PAGE_SIZE);
      const last = Math.floor((to - 1 - diskStart) / PAGE_SIZE);
      const bytes = await disk.read(first, last - first + 1);
      if (bytes.length !== (last - first + 1) * PAGE_SIZE) throw new AppError("bad-snapshot", `The pages of ${disk.slot} do not add up.`);
      const at = from - diskStart - first * PAGE_SIZE;
      out.set(bytes.subarray(at, at + (to - from)), from - offset);
    }
    diskStart = diskEnd;
  }
  return out;
}

/** Read and check the header alone (cheap: for lists, imports and refusals before the state). */
export function readSnapshotHeader(file: Uint8Array): { header: SnapshotHeader; bodyOffset: number } {
  return readSnapshotHeaderOf(file, file.length);
}

/** Whether `head` starts with the snapshot magic. */
export function hasSnapshotMagic(head: Uint8Array): boolean {
  return head.length >= SNAPSHOT_MAGIC.length && SNAPSHOT_MAGIC.every((b, i) => head[i] === b);
}

/**
 * Bytes of the header, from the first 12 bytes of a file: what must be read before the header
 * can be checked (a download reads that much first). Refuses a file that is not a snapshot.
 */
export function snapshotHeaderBytes(head: Uint8Array): number {
  if (head.length < 12 || !hasSnapshotMagic(head)) {
    throw new AppError("bad-snapshot", "This file is not a virtlab snapshot (its first bytes are wrong).");
  }
  const headerLength = new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(8, true);
  if (headerLength > MAX_HEADER_BYTES) throw new AppError("bad-snapshot", "The snapshot file is cut short or its header is damaged.", { details: { headerLength } });
  return 12 + headerLength;
}

/** The size of the whole file the header describes. */
export function snapshotFileSize(header: SnapshotHeader, bodyOffset: number): number {
  return bodyOffset + header.chunks.reduce((sum, chunk) => sum + chunk.size, 0);
}

/**
 * The same checks as readSnapshotHeader, on the first bytes of a file of `fileLength` bytes
 * (`head` holds at least the header): a download checks the header before the rest arrives.
 */
export function readSnapshotHeaderOf(head: Uint8Array, fileLength: number | undefined): { header: SnapshotHeader; bodyOffset: number } {
  const file = head;
  if (file.length < 12 || !hasSnapshotMagic(file)) {
    throw new AppError("bad-snapshot", "This file is not a virtlab snapshot (its first bytes are wrong).");
  }
  const headerLength = new DataView(file.buffer, file.byteOffset, file.byteLength).getUint32(8, true);
  if (headerLength > MAX_HEADER_BYTES || 12 + headerLength > file.length || 12 + headerLength > (fileLength ?? Infinity)) {
    throw new AppError("bad-snapshot", "The snapshot file is cut short or its header is damaged.", { details: { headerLength } });
  }
  let parsed: SnapshotHeader;
  try {
    parsed = JSON.parse(decodeText(file.subarray(12, 12 + headerLength))) as SnapshotHeader;
  } catch (error) {
    throw new AppError("bad-snapshot", "The snapshot's header is damaged.", { cause: error });
  }
  const header = upgradeHeader(parsed);
  checkHeader(header, fileLength === undefined ? undefined : fileLength - 12 - headerLength);
  return { header, bodyOffset: 12 + headerLength };
}

/**
 * The header in this virtlab's form: the fingerprint checked (and read from words in format 1),
 * format-1 disk bases read from words. Anything else about the header is checked after.
 */
function upgradeHeader(header: SnapshotHeader): SnapshotHeader {
  if (typeof header !== "object" || header === null) throw new AppError("bad-snapshot", "The snapshot's header is damaged.");
  if (!READABLE_FORMATS.includes(header.format)) {
    throw new AppError("bad-snapshot", `This snapshot uses file format ${String(header.format)}; this virtlab reads formats ${READABLE_FORMATS.slice(0, -1).join(", ")} and ${String(READABLE_FORMATS.at(-1))}.`);
  }
  const fingerprint = readFingerprint(header.fingerprint, header.format);
  const disks = header.format === 1 && Array.isArray(header.disks) ? header.disks.map(upgradeDisk) : header.disks;
  return { ...header, fingerprint, disks };
}

/** A format-1 disk entry: its base was a word ("blank" or a sha256). */
function upgradeDisk(disk: SnapshotDisk): SnapshotDisk {
  const word: unknown = typeof disk === "object" && disk !== null ? disk.base : undefined;
  const base = typeof word === "string" ? baseFromWord(word) : undefined;
  return base === undefined ? disk : { ...disk, base };
}

/** `bodyLength` undefined: the file's length is not known yet (a download checks it at the end). */
function checkHeader(header: SnapshotHeader, bodyLength: number | undefined): void {
  if (typeof header !== "object" || header === null || !Array.isArray(header.chunks)) {
    throw new AppError("bad-snapshot", "The snapshot's header is damaged.");
  }
  if (!SNAPSHOT_COMPRESSIONS.includes(header.compression)) throw new AppError("bad-snapshot", "The snapshot uses a compression this virtlab does not read.");
  const filters = header.format >= FILTERED_FORMAT_VERSION ? SNAPSHOT_FILTERS : [];
  if (!Number.isSafeInteger(header.rawSize) || header.rawSize <= 0 || header.rawSize > MAX_STATE_BYTES) {
    throw new AppError("bad-snapshot", `The snapshot declares a machine state of ${String(header.rawSize)} bytes, which no machine here can have.`, {
      details: { rawSize: header.rawSize },
    });
  }
  if (header.chunks.length !== Math.ceil(header.rawSize / CHUNK_RAW_BYTES)) throw new AppError("bad-snapshot", "The snapshot's chunk list does not fit its size.");
  checkDisks(header);
  let raw = 0;
  let packed = 0;
  for (const chunk of header.chunks) {
    if (!Number.isSafeInteger(chunk.size) || !Number.isSafeInteger(chunk.rawSize) || chunk.size <= 0 || chunk.rawSize <= 0 || chunk.rawSize > CHUNK_RAW_BYTES || typeof chunk.sha256 !== "string") {
      throw new AppError("bad-snapshot", "The snapshot's chunk list is damaged.");
    }
    if (chunk.filter !== undefined && !filters.includes(chunk.filter)) throw new AppError("bad-snapshot", "The snapshot's chunk list names a filter this virtlab does not know.");
    raw += chunk.rawSize;
    packed += chunk.size;
  }
  if (raw !== header.rawSize) throw new AppError("bad-snapshot", "The snapshot's chunk list does not add up to its size.");
  if (bodyLength !== undefined && packed !== bodyLength) {
    throw new AppError("bad-snapshot", packed > bodyLength ? "The snapshot file is cut short." : "The snapshot file has extra bytes at its end.", {
      details: { expected: packed, actual: bodyLength },
    });
  }
}

/** The disk list must describe exactly the bytes after the state, with sane sizes and pages. */
function checkDisks(header: SnapshotHeader): void {
  if (!Number.isSafeInteger(header.stateSize) || header.stateSize < 16 || header.stateSize > header.rawSize || !Array.isArray(header.disks)) {
    throw new AppError("bad-snapshot", "The snapshot's header is damaged (state size).");
  }
  let bytes = header.stateSize;
  const slots = new Set<string>();
  for (const disk of header.disks) {
    if (typeof disk !== "object" || disk === null || typeof disk.slot !== "string" || slots.has(disk.slot) || !isDiskBase(disk.base) || !Array.isArray(disk.pages) || (disk.blank !== undefined && disk.blank !== "zeros" && disk.blank !== "ext2")) {
      throw new AppError("bad-snapshot", "The snapshot's disk list is damaged.");
    }
    slots.add(disk.slot);
    if (!Number.isSafeInteger(disk.size) || disk.size <= 0 || disk.size > MAX_DISK_BYTES) {
      throw new AppError("bad-snapshot", `The snapshot declares a disk of ${String(disk.size)} bytes, which no machine here can have.`);
    }
    const pageCount = Math.ceil(disk.size / PAGE_SIZE);
    let previous = -1;
    for (const page of disk.pages) {
      if (!Number.isSafeInteger(page) || page <= previous || page >= pageCount) throw new AppError("bad-snapshot", `The snapshot's page list for ${disk.slot} is damaged.`);
      previous = page;
    }
    bytes += disk.pages.length * PAGE_SIZE;
  }
  if (bytes !== header.rawSize) throw new AppError("bad-snapshot", "The snapshot's disks do not add up to its size.");
}

/** A snapshot file read back: its header, the machine state and the disks' pages. */
export interface DecodedSnapshot {
  header: SnapshotHeader;
  state: Uint8Array;
  disks: SnapshotDiskData[];
}

/** Check every chunk and return the machine state and the disks' pages. */
export async function decodeSnapshot(file: Uint8Array): Promise<DecodedSnapshot> {
  // The whole file's checks first: a file cut short is refused before anything is unpacked.
  readSnapshotHeader(file);
  const decoder = new SnapshotStreamDecoder(file.length);
  decoder.push(file);
  return decoder.finish();
}

/** Refuse chunk `index` unless `packed` is its bytes (size and sha256). */
async function checkChunk(header: SnapshotHeader, index: number, packed: Uint8Array): Promise<void> {
  const chunk = header.chunks[index]!;
  if (packed.length !== chunk.size || (await sha256Hex(packed)) !== chunk.sha256) {
    throw new AppError("bad-snapshot", `The snapshot is damaged: part ${index + 1} of ${header.chunks.length} does not match its checksum.`, {
      details: { chunk: index },
    });
  }
}

/** Check chunk `index` (its bytes `packed`; `checked`: it was already) and unpack it. */
async function unpackChunk(header: SnapshotHeader, index: number, packed: Uint8Array, checked = false): Promise<Uint8Array> {
  const chunk = header.chunks[index]!;
  if (!checked) await checkChunk(header, index, packed);
  const raw = header.compression === "zstd" ? await unzstd(packed, chunk.rawSize) : await gunzip(packed, chunk.rawSize);
  if (raw.length !== chunk.rawSize) throw new AppError("bad-snapshot", `The snapshot is damaged: part ${index + 1} has the wrong size.`);
  if (chunk.filter === "x86") unfilterX86(raw);
  return raw;
}

/** A snapshot file opened for a restore: the state unpacked, the disks' pages unpacked as they are read. */
export interface OpenedSnapshot {
  readonly header: SnapshotHeader;
  readonly state: Uint8Array;
  /** Read a run at a time, in order (each chunk is unpacked once, when its first page is read). */
  readonly disks: readonly SnapshotDiskSource[];
}

/**
 * A snapshot file as its header and its chunks' packed bytes, each read when asked for: a file in
 * memory (chunksOfFile), or a stored snapshot read a piece at a time (SnapshotStore.open).
 */
export interface SnapshotChunks {
  readonly header: SnapshotHeader;
  chunk(index: number): Promise<Uint8Array>;
}

/** A whole file in memory as SnapshotChunks (its header checked as readSnapshotHeader checks it). */
export function chunksOfFile(file: Uint8Array): SnapshotChunks {
  const { header, bodyOffset } = readSnapshotHeader(file);
  const bounds = chunkBounds(header, bodyOffset);
  return { header, chunk: async (index) => file.subarray(bounds[index], bounds[index + 1]) };
}

/** Where each chunk starts in the file, from `bodyOffset` on, and where the last ends (one more). */
export function chunkBounds(header: SnapshotHeader, bodyOffset: number): number[] {
  const bounds = [bodyOffset];
  for (const chunk of header.chunks) bounds.push(bounds.at(-1)! + chunk.size);
  return bounds;
}

/**
 * Check every chunk of a file and unpack its state; its disks' pages are unpacked only as they
 * are read, so a snapshot of a big disk never has its pages in memory all at once (decodeSnapshot
 * unpacks everything). The same refusals as decodeSnapshot, before anything is unpacked.
 */
export async function openSnapshot(file: Uint8Array | SnapshotChunks): Promise<OpenedSnapshot> {
  const { header, chunk } = file instanceof Uint8Array ? chunksOfFile(file) : file;
  for (let index = 0; index < header.chunks.length; index++) await checkChunk(header, index, await chunk(index));
  let held: { readonly index: number; readonly raw: Uint8Array } | undefined;
  const chunkAt = async (index: number): Promise<Uint8Array> => {
    // A file in memory was checked above; a stored piece read again is checked again.
    if (held?.index !== index) held = { index, raw: await unpackChunk(header, index, await chunk(index), file instanceof Uint8Array) };
    return held.raw;
  };
  /** `length` bytes of the payload from `from`. */
  const payload = async (from: number, length: number): Promise<Uint8Array> => {
    const out = new Uint8Array(length);
    for (let done = 0; done < length; ) {
      const index = Math.floor((from + done) / CHUNK_RAW_BYTES);
      const within = from + done - index * CHUNK_RAW_BYTES;
      const raw = await chunkAt(index);
      const take = Math.min(length - done, raw.length - within);
      out.set(raw.subarray(within, within + take), done);
      done += take;
    }
    return out;
  };
  const state = await payload(0, header.stateSize);
  if (v86StateVersion(state) !== header.stateVersion) throw new AppError("bad-snapshot", "The snapshot's state does not match its header.");
  let diskStart = header.stateSize;
  const disks = header.disks.map((disk) => {
    const start = diskStart;
    diskStart += disk.pages.length * PAGE_SIZE;
    return { ...disk, read: (first: number, count: number) => payload(start + first * PAGE_SIZE, count * PAGE_SIZE) };
  });
  return { header, state, disks };
}

/**
 * A snapshot file decoded as its bytes arrive: each part is checked and unpacked as soon as its
 * last byte is in, so unpacking the first parts overlaps the download of the rest (the pre-booted
 * state's 42 MB took ~0.6 s to unpack after a ~0.9 s download in a page that was starting). `push`
 * the file's bytes in order, then `finish`: the same checks, errors and result as decodeSnapshot.
 */
export class SnapshotStreamDecoder {
  private file: Uint8Array = new Uint8Array(0);
  private length = 0;
  private head: { readonly header: SnapshotHeader; readonly bodyOffset: number; readonly payload: Uint8Array } | undefined;
  private nextChunk = 0;
  private chunkOffset = 0;
  private rawOffset = 0;
  private work: Promise<void> = Promise.resolve();

  /** `expectedBytes`: the file's size when known, so its buffer is made once. */
  constructor(private readonly expectedBytes?: number) {}

  push(bytes: Uint8Array): void {
    if (this.length === 0 && bytes.length === this.expectedBytes) {
      // The whole file at once (decodeSnapshot): read where it is, not copied. It is never written:
      // a later push finds it full and moves to a buffer of its own.
      this.file = bytes;
    } else {
      if (this.length + bytes.length > this.file.length) {
        const grown = new Uint8Array(Math.max(this.length + bytes.length, this.expectedBytes ?? 0, this.file.length * 2, 65536));
        grown.set(this.file.subarray(0, this.length));
        this.file = grown;
      }
      this.file.set(bytes, this.length);
    }
    this.length += bytes.length;
    // Parts are unpacked one after the other, each once its bytes are in; an error waits for finish.
    this.work = this.work.then(() => this.unpackArrived());
    this.work.catch(() => undefined);
  }

  /** The snapshot decoded from the bytes pushed. */
  async finish(): Promise<DecodedSnapshot> {
    await this.work;
    // The whole file's checks (its length against the header's parts) before what it decodes to.
    const { header } = readSnapshotHeader(this.file.subarray(0, this.length));
    const head = this.head;
    if (head === undefined || this.nextChunk !== header.chunks.length) throw new AppError("bad-snapshot", "The snapshot file is cut short or its header is damaged.");
    return splitPayload(header, head.payload);
  }

  private async unpackArrived(): Promise<void> {
    if (this.head === undefined) {
      if (this.length < 12 || this.length < snapshotHeaderBytes(this.file.subarray(0, 12))) return;
      const { header, bodyOffset } = readSnapshotHeaderOf(this.file.subarray(0, this.length), undefined);
      this.head = { header, bodyOffset, payload: new Uint8Array(header.rawSize) };
      this.chunkOffset = bodyOffset;
    }
    const { header, payload } = this.head;
    while (this.nextChunk < header.chunks.length) {
      const size = header.chunks[this.nextChunk]!.size;
      if (this.chunkOffset + size > this.length) return;
      const raw = await unpackChunk(header, this.nextChunk, this.file.subarray(this.chunkOffset, this.chunkOffset + size));
      payload.set(raw, this.rawOffset);
      this.rawOffset += raw.length;
      this.chunkOffset += size;
      this.nextChunk++;
    }
  }
}

/** The machine state and the disks' pages of an unpacked snapshot. */
function splitPayload(header: SnapshotHeader, payload: Uint8Array): DecodedSnapshot {
  const state = payload.subarray(0, header.stateSize);
  if (v86StateVersion(state) !== header.stateVersion) throw new AppError("bad-snapshot", "The snapshot's state does not match its header.");
  const disks: SnapshotDiskData[] = [];
  let at = header.stateSize;
  for (const disk of header.disks) {
    const length = disk.pages.length * PAGE_SIZE;
    disks.push({ ...disk, data: payload.subarray(at, at + length) });
    at += length;
  }
  return { header, state, disks };
}

/** Join parts into one file. */
export function concatParts(parts: readonly Uint8Array[]): Uint8Array {
  return concatBytes(parts);
}
