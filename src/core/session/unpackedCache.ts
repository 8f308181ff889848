/**
 * The pre-booted state as this browser last unpacked it, kept for the next visit. Unpacking the
 * shipped file (8 MB of zstd, 35 MB of state) took about 0.9 s of a core on a class's 2-core
 * machine, most of a repeat visit's wait before the restore; reading the unpacked state back from
 * IndexedDB takes about 0.2 s. The page's decoder Worker (src/worker/decode.worker.ts) asks here
 * first and keeps what it unpacked once the machine started from it has settled.
 *
 * One entry, for the shipped file it came from (its sha256, from prebooted.json): a new set-up
 * (another guest or v86) has another file, so the entry no longer matches and is replaced at that
 * visit. Written in one transaction (the state and its description), so a tab closed midway
 * leaves the old entry or the new one. Checked as it is read (the file it came from, its length,
 * v86's header) and, after the start it served, against its digest: a damaged entry is deleted
 * and the next visit unpacks the file again. It is a cache: a full quota only means nothing is
 * kept.
 */
import { sha256Hex } from "../host.ts";
import { v86StateVersion, type DecodedSnapshot, type SnapshotHeader } from "../snapshot/format.ts";
import type { KeyValueStore } from "../storage/kv.ts";
import type { PrebootedManifest } from "./prebooted.ts";

/** Where the page keeps it: a database of its own. */
export const UNPACKED_CACHE_DATABASE = "virtlab-unpacked";

const META = "meta";
const STATE = "state";

interface UnpackedMeta {
  /** sha256 of the shipped file the state was unpacked from. */
  readonly file: string;
  readonly header: SnapshotHeader;
  readonly stateBytes: number;
  readonly stateSha256: string;
}

export class UnpackedStateCache {
  constructor(private readonly kv: KeyValueStore) {}

  /**
   * The unpacked state of the file `manifest` describes, when it is kept here and reads back whole
   * (undefined otherwise: the caller unpacks the file). The digest is not checked here (up to half
   * of what the cache saves): `check` does it once the start no longer waits.
   */
  async find(manifest: PrebootedManifest): Promise<DecodedSnapshot | undefined> {
    const entry = await this.entryFor(manifest);
    if (entry === undefined) return undefined;
    const { meta, state } = entry;
    if (!Array.isArray(meta.header.disks) || meta.header.disks.length > 0 || !(state instanceof Uint8Array) || state.length !== meta.stateBytes || meta.header.stateSize !== meta.stateBytes || !fromV86(state, meta.header.stateVersion)) {
      await this.forget();
      return undefined;
    }
    return { header: meta.header, state, disks: [] };
  }

  /**
   * Keep `decoded`, unpacked from the file `manifest` describes, in place of any earlier entry. A
   * state that carries disks' pages is not kept (only its machine state would be): the pre-booted
   * one carries none.
   */
  async keep(manifest: PrebootedManifest, decoded: { readonly header: SnapshotHeader; readonly state: Uint8Array }): Promise<void> {
    if (decoded.header.disks.length > 0) return;
    const meta: UnpackedMeta = { file: manifest.sha256, header: decoded.header, stateBytes: decoded.state.length, stateSha256: await sha256Hex(decoded.state) };
    await this.kv.setMany([
      [STATE, decoded.state],
      [META, meta],
    ]);
  }

  /**
   * Read the entry for `manifest` again and check it against its digest; a damaged one is deleted.
   * True when the entry is there and whole.
   */
  async check(manifest: PrebootedManifest): Promise<boolean> {
    const entry = await this.entryFor(manifest);
    if (entry === undefined) return false;
    const { meta, state } = entry;
    if (state instanceof Uint8Array && state.length === meta.stateBytes && (await sha256Hex(state)) === meta.stateSha256) return true;
    await this.forget();
    return false;
  }

  /** The entry with its description, when it is for the file `manifest` describes (one transaction). */
  private async entryFor(manifest: PrebootedManifest): Promise<{ readonly meta: UnpackedMeta; readonly state: unknown } | undefined> {
    const [meta, state] = await this.kv.getMany<unknown>([META, STATE]);
    return isMeta(meta) && meta.file === manifest.sha256 ? { meta, state } : undefined;
  }

  async forget(): Promise<void> {
    await this.kv.deleteMany([META, STATE]);
  }
}

function isMeta(value: unknown): value is UnpackedMeta {
  if (typeof value !== "object" || value === null) return false;
  const meta = value as Partial<UnpackedMeta>;
  return typeof meta.file === "string" && typeof meta.stateBytes === "number" && typeof meta.stateSha256 === "string" && typeof meta.header === "object" && meta.header !== null;
}

/** The state starts as one of v86's of this version (a cheap look, not a check of its bytes). */
function fromV86(state: Uint8Array, version: number): boolean {
  try {
    return v86StateVersion(state) === version;
  } catch {
    return false;
  }
}
