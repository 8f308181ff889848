/**
 * Snapshots in IndexedDB: each one under new keys (file pieces first, the record last), so a
 * save that fails or is cut off never touches an earlier snapshot, and leaves only pieces that
 * `collectGarbage` removes.
 */
import { AppError, isAppError } from "../errors.ts";
import { randomId } from "../host.ts";
import { CollectionGate } from "../storage/collectionGate.ts";
import type { KeyValueStore } from "../storage/kv.ts";
import { chunkBounds, chunksOfFile, concatParts, readSnapshotHeader, readSnapshotHeaderOf, type SnapshotChunks, type SnapshotChunkSink, type SnapshotHeader } from "./format.ts";

/** Pieces read in one transaction when a file is read back. */
const READ_PIECES = 8;

export interface SnapshotRecord {
  readonly id: string;
  readonly machineId: string;
  readonly name: string;
  readonly createdAt: number;
  /** Size of the snapshot file. */
  readonly size: number;
  readonly rawSize: number;
  readonly pieces: number;
  readonly preview: string;
  /** Where it was downloaded from (a teacher's link), and the sha256 of its header. */
  readonly source?: SnapshotSource;
  /**
   * "chunks": piece 0 is the file's head, and piece n + 1 its chunk n (a restore reads them one at
   * a time). Absent (saved before): the file in slices of 8 MiB.
   */
  readonly layout?: "chunks";
}

/**
 * A snapshot that came from a link. Its header lists the sha256 of every chunk, so the header's
 * own sha256 names the whole file: the same link with the same sha needs no download.
 */
export interface SnapshotSource {
  readonly url: string;
  readonly headerSha256: string;
}

const recordKey = (id: string): string => `snapshot:${id}`;
const pieceKey = (id: string, n: number): string => `snappiece:${id}:${n}`;

export class SnapshotStore {
  /** Saves and collections of garbage wait for each other (see CollectionGate). */
  private readonly gate = new CollectionGate();

  constructor(private readonly kv: KeyValueStore) {}

  /** Store a snapshot file (its parts as encodeSnapshot made them, or one imported file). */
  save(machineId: string, parts: readonly Uint8Array[], onProgress?: (saved: number, total: number) => void, source?: SnapshotSource): Promise<SnapshotRecord> {
    return this.gate.write(() => this.saveNow(machineId, parts, onProgress, source));
  }

  private async saveNow(machineId: string, parts: readonly Uint8Array[], onProgress?: (saved: number, total: number) => void, source?: SnapshotSource): Promise<SnapshotRecord> {
    const file = parts.length === 1 ? (parts[0] as Uint8Array) : concatParts(parts);
    const { header, bodyOffset } = readSnapshotHeader(file);
    return this.storing(machineId, source, async (id, written) => {
      // The head, then each chunk a piece of its own (the "chunks" layout).
      const ends = chunkBounds(header, bodyOffset);
      for (const [n, end] of ends.entries()) {
        const key = pieceKey(id, n);
        await this.kv.set(key, file.slice(n === 0 ? 0 : ends[n - 1], end));
        written.push(key);
        onProgress?.(end, file.length);
      }
      return { header, size: file.length };
    });
  }

  /**
   * Store a snapshot as `encode` makes it (encodeSnapshotTo): each chunk a piece of its own as it
   * comes (pieces need not be of one size: readFile joins them in order), then the file's head as
   * the first piece, then the record. So a snapshot of a big disk is never in memory whole.
   * `onProgress`: bytes of the machine encoded so far, of all.
   */
  saveEncoded(machineId: string, encode: (put: SnapshotChunkSink) => Promise<Uint8Array>, onProgress?: (done: number, total: number) => void): Promise<SnapshotRecord> {
    return this.gate.write(() =>
      this.storing(machineId, undefined, async (id, written) => {
        const sizes: number[] = [];
        const head = await encode(async ({ index, packed, rawDone, rawTotal }) => {
          const key = pieceKey(id, index + 1);
          // A buffer of its own: IndexedDB's clone keeps all of the buffer under a view.
          await this.kv.set(key, packed.byteLength === packed.buffer.byteLength ? packed : packed.slice());
          written.push(key);
          sizes[index] = packed.length;
          onProgress?.(rawDone, rawTotal);
        });
        const size = sizes.reduce((sum, n) => sum + n, head.length);
        const { header } = readSnapshotHeaderOf(head, size);
        if (header.chunks.length !== written.length || header.chunks.some((chunk, i) => chunk.size !== sizes[i])) {
          throw new AppError("bad-snapshot", "The snapshot's parts do not match its header.");
        }
        await this.kv.set(pieceKey(id, 0), head);
        written.push(pieceKey(id, 0));
        return { header, size };
      }),
    );
  }

  /**
   * Store a snapshot's pieces under a new id (`work` lists each key it wrote), then its record
   * last; pieces written before a failure are deleted, and the error says the save failed.
   */
  private async storing(machineId: string, source: SnapshotSource | undefined, work: (id: string, written: string[]) => Promise<{ header: SnapshotHeader; size: number }>): Promise<SnapshotRecord> {
    const id = randomId();
    const written: string[] = [];
    try {
      const { header, size } = await work(id, written);
      const record: SnapshotRecord = {
        id,
        machineId,
        name: header.name,
        createdAt: header.createdAt,
        size,
        rawSize: header.rawSize,
        pieces: written.length,
        preview: header.preview,
        ...(source === undefined ? {} : { source }),
        layout: "chunks",
      };
      await this.kv.set(recordKey(id), record);
      return record;
    } catch (error) {
      await this.kv.deleteMany(written).catch(() => undefined);
      if (isAppError(error)) throw error;
      throw new AppError("storage-failed", "The snapshot could not be saved.", { cause: error });
    }
  }

  async list(machineId?: string): Promise<SnapshotRecord[]> {
    const keys = (await this.kv.keys()).filter((k) => k.startsWith("snapshot:"));
    const records = (await this.kv.getMany<SnapshotRecord>(keys)).filter((r): r is SnapshotRecord => r !== undefined);
    return records.filter((r) => machineId === undefined || r.machineId === machineId).sort((a, b) => b.createdAt - a.createdAt);
  }

  /** Snapshots downloaded from `url`, newest first (any machine). */
  async fromSource(url: string): Promise<SnapshotRecord[]> {
    return (await this.list()).filter((r) => r.source?.url === url);
  }

  /** The whole snapshot file, as saved or imported: made once at its size, its pieces read a few at a time. */
  async readFile(id: string): Promise<Uint8Array> {
    const record = await this.require(id);
    const file = new Uint8Array(record.size);
    let at = 0;
    for await (const piece of this.piecesOf(record)) {
      if (at + piece.length > file.length) throw this.missing(record);
      file.set(piece, at);
      at += piece.length;
    }
    if (at !== file.length) throw this.missing(record);
    return file;
  }

  /**
   * A stored snapshot to restore, its chunks read one at a time when asked for (a big disk's
   * snapshot is never in memory whole); one saved before chunk layouts is read whole first.
   */
  async open(id: string): Promise<SnapshotChunks> {
    const record = await this.require(id);
    if (record.layout !== "chunks") return chunksOfFile(await this.readFile(id));
    const head = await this.kv.get<Uint8Array>(pieceKey(id, 0));
    if (head === undefined) throw this.missing(record);
    const { header } = readSnapshotHeaderOf(head, record.size);
    return {
      header,
      chunk: async (index) => {
        const piece = index >= 0 && index < header.chunks.length ? await this.kv.get<Uint8Array>(pieceKey(id, index + 1)) : undefined;
        if (piece === undefined) throw this.missing(record);
        return piece;
      },
    };
  }

  /** The snapshot file's pieces in order, a few read at a time (an export hands them on without joining them). */
  async *pieces(id: string): AsyncGenerator<Uint8Array> {
    yield* this.piecesOf(await this.require(id));
  }

  private async *piecesOf(record: SnapshotRecord): AsyncGenerator<Uint8Array> {
    for (let first = 0; first < record.pieces; first += READ_PIECES) {
      const keys = Array.from({ length: Math.min(READ_PIECES, record.pieces - first) }, (_, i) => pieceKey(record.id, first + i));
      for (const piece of await this.kv.getMany<Uint8Array>(keys)) {
        if (piece === undefined) throw this.missing(record);
        yield piece;
      }
    }
  }

  private missing(record: SnapshotRecord): AppError {
    return new AppError("bad-snapshot", `Part of the snapshot "${record.name}" is missing from storage.`, { details: { subject: record.id } });
  }

  async header(id: string): Promise<SnapshotHeader> {
    return readSnapshotHeader(await this.readFile(id)).header;
  }

  /** Renaming touches only the record; the file keeps the name it was saved with. */
  async rename(id: string, name: string): Promise<SnapshotRecord> {
    const record = await this.require(id);
    if (name.trim() === "") throw new AppError("bad-snapshot", "A snapshot needs a name.");
    const renamed = { ...record, name: name.trim() };
    await this.kv.set(recordKey(id), renamed);
    return renamed;
  }

  async delete(id: string): Promise<void> {
    const record = await this.require(id);
    await this.kv.delete(recordKey(id));
    await this.kv.deleteMany(Array.from({ length: record.pieces }, (_, n) => pieceKey(id, n)));
  }

  /** Delete pieces of snapshots that have no record (a save cut off); saves meanwhile wait for it. */
  collectGarbage(): Promise<{ deletedPieces: number }> {
    return this.gate.collect(() => this.collectNow());
  }

  private async collectNow(): Promise<{ deletedPieces: number }> {
    const keys = await this.kv.keys();
    const live = new Set(keys.filter((k) => k.startsWith("snapshot:")).map((k) => k.slice("snapshot:".length)));
    const orphans = keys.filter((k) => k.startsWith("snappiece:") && !live.has(k.split(":")[1] ?? ""));
    if (orphans.length > 0) await this.kv.deleteMany(orphans);
    return { deletedPieces: orphans.length };
  }

  private async require(id: string): Promise<SnapshotRecord> {
    const record = await this.kv.get<SnapshotRecord>(recordKey(id));
    if (record === undefined) throw new AppError("bad-snapshot", "That snapshot no longer exists.", { details: { subject: id } });
    return record;
  }
}
