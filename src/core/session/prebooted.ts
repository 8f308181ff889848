/**
 * The pre-booted state of the default machine (images/prebooted.ts, served as guest/prebooted.*):
 * read and checked before the machine starts. Anything wrong (missing, another emulator, other
 * hardware, damaged) means an ordinary boot with the reason, never a failure.
 */
import { fetchAssetLoader, verifyAsset, type ChunkCallback } from "../assets.ts";
import { isAppError } from "../errors.ts";
import { decodeText, host } from "../host.ts";
import type { MachineFingerprint } from "../snapshot/fingerprint.ts";
import { fingerprintDifferences } from "../snapshot/fingerprint.ts";
import { decodeSnapshot, readSnapshotHeader, type DecodedSnapshot } from "../snapshot/format.ts";
import type { SavedStart } from "./request.ts";

/** prebooted.json, written by images/prebooted.ts. */
export interface PrebootedManifest {
  readonly file: string;
  readonly size: number;
  readonly sha256: string;
  readonly v86: string;
  /**
   * The hardware the state was saved with, as its file's header says (images/prebooted.ts writes
   * both). A start on other hardware is refused from this, before the file is fetched and
   * unpacked; the header is still checked when the file is used. Left out by older set-ups.
   */
  readonly fingerprint?: MachineFingerprint;
}

/** A pre-booted state's description, or why there is none. */
export type PrebootedDescription = PrebootedManifest | { readonly none: string };

/** Where the pre-booted state comes from: the server next to the guest, or files in Node. */
export interface PrebootedSource {
  manifest(): Promise<PrebootedDescription>;
  /** The state file itself; `onChunk` gets its bytes as they arrive. */
  file(manifest: PrebootedManifest, onProgress: (loaded: number, total: number) => void, onChunk?: ChunkCallback): Promise<Uint8Array>;
  /** The file decoded, when the source may have done it already (see eagerPrebooted). */
  decode?(file: Uint8Array): Promise<DecodedSnapshot>;
  /**
   * The state already unpacked, when the source keeps it from an earlier visit (the page's:
   * unpackedCache.ts), so neither the file nor its unpacking is needed; undefined: they are.
   */
  unpacked?(manifest: PrebootedManifest, onProgress: (loaded: number, total: number) => void): Promise<DecodedSnapshot | undefined>;
  /** Called when a choice is made, used or not: what the source kept for it can go. */
  release?(): void;
  /**
   * Called once no start needs the state any more: "settled" when a machine started from it and
   * settled, "unused" when the choice did not take it or the start ended otherwise. Work the source
   * put off so as not to slow that start (keeping the unpacked state for the next visit) runs now.
   */
  done?(outcome: "settled" | "unused"): void;
}

export type Prebooted = { readonly kind: "state"; readonly start: SavedStart } | { readonly kind: "none"; readonly reason: string };

/** The pre-booted state when it fits this machine and emulator, else the reason for booting. */
export async function choosePrebooted(source: PrebootedSource, fingerprint: MachineFingerprint, v86: string, onProgress: (loaded: number, total: number) => void): Promise<Prebooted> {
  let used = false;
  try {
    const manifest = await source.manifest();
    if ("none" in manifest) return { kind: "none", reason: manifest.none };
    if (manifest.v86 !== v86) return { kind: "none", reason: `the pre-booted state was made with v86 ${manifest.v86}, this page runs ${v86}` };
    const otherHardware = (saved: MachineFingerprint): Prebooted | undefined => {
      const differences = fingerprintDifferences(saved, fingerprint);
      return differences.length > 0 ? { kind: "none", reason: `the pre-booted state is for other hardware (${differences.join("; ")})` } : undefined;
    };
    const refused = manifest.fingerprint === undefined ? undefined : otherHardware(manifest.fingerprint);
    if (refused !== undefined) return refused;
    let decoded = await source.unpacked?.(manifest, onProgress);
    if (decoded === undefined) {
      const file = await source.file(manifest, onProgress);
      const fromHeader = otherHardware(readSnapshotHeader(file).header.fingerprint);
      if (fromHeader !== undefined) return fromHeader;
      decoded = await (source.decode?.(file) ?? decodeSnapshot(file));
    } else {
      const fromHeader = otherHardware(decoded.header.fingerprint);
      if (fromHeader !== undefined) return fromHeader;
    }
    // Saved with the data disk unmounted: the user's own disk is mounted after the start.
    used = true;
    return { kind: "state", start: { state: decoded.state, shellReady: decoded.header.shellReady, mountData: true, label: "the pre-booted state", from: "pre-booted", screen: decoded.header.preview } };
  } catch (error) {
    return { kind: "none", reason: `the pre-booted state could not be used (${isAppError(error) ? error.message : String(error)})` };
  } finally {
    source.release?.();
    // A state that was taken is the start's: the session says when it is done with it.
    if (!used) source.done?.("unused");
  }
}

/**
 * `source`, started now: its description, its file (or its unpacked state, when the source keeps
 * one) and the file's decoding begin at once, so a page that makes this at load has them while it
 * opens its storage (the decoding alone takes about half a second). The first choice gets them,
 * with the download's progress so far; after it (used or not) they are let go, and later choices
 * read the source as usual. The cost: a page that starts another machine first has decoded a
 * state it does not use. `decode` is how (the page's does it in a Worker, off its main thread).
 */
export function eagerPrebooted(source: PrebootedSource, decode: (file: Uint8Array) => Promise<DecodedSnapshot> = decodeSnapshot): PrebootedSource {
  let progress: ((loaded: number, total: number) => void) | undefined;
  let seen: readonly [number, number] | undefined;
  const onProgress = (loaded: number, total: number): void => {
    seen = [loaded, total];
    progress?.(loaded, total);
  };
  const manifest = source.manifest();
  const file = manifest.then(async (m) => {
    if ("none" in m) return undefined;
    const unpacked = await source.unpacked?.(m, onProgress);
    if (unpacked !== undefined) return { manifest: m, unpacked };
    const bytes = await source.file(m, onProgress);
    const decoded = decode(bytes);
    decoded.catch(() => undefined);
    return { manifest: m, bytes, decoded };
  });
  // Failures are the choice's to report, when it asks.
  file.catch(() => undefined);
  let early: { readonly manifest: typeof manifest; readonly file: typeof file } | undefined = { manifest, file };
  /** The early work, when `m` is what it started on; `onChoice` then gets its progress. */
  const startedFor = async (m: PrebootedManifest, onChoice: (loaded: number, total: number) => void): Promise<{ readonly file: typeof file } | undefined> => {
    const started = early;
    if (started === undefined || m !== (await started.manifest)) return undefined;
    // The progress so far, once per listener (a choice asks for the unpacked state, then the file).
    if (progress !== onChoice && seen !== undefined) onChoice(...seen);
    progress = onChoice;
    return { file: started.file };
  };
  return {
    manifest: () => early?.manifest ?? source.manifest(),
    async unpacked(m, onChoice) {
      const started = await startedFor(m, onChoice);
      if (started === undefined) return source.unpacked?.(m, onChoice);
      // A failure is the file's to report (file() below meets it again).
      const got = await started.file.catch(() => undefined);
      return got !== undefined && "unpacked" in got ? got.unpacked : undefined;
    },
    async file(m, onChoice) {
      const started = await startedFor(m, onChoice);
      if (started === undefined) return source.file(m, onChoice);
      const got = await started.file;
      return got !== undefined && "bytes" in got ? got.bytes : source.file(m, onChoice);
    },
    async decode(bytes) {
      const got = await early?.file.catch(() => undefined);
      return got !== undefined && "bytes" in got && got.bytes === bytes ? got.decoded : decode(bytes);
    },
    release() {
      early = undefined;
      progress = undefined;
    },
    done(outcome) {
      source.done?.(outcome);
    },
  };
}

/**
 * The pre-booted state served next to the guest (`<guestBase><name>.json`): "prebooted" for the
 * default machine, "prebooted-lab" for the network lab's machines (the same guest with a NIC).
 */
export function fetchPrebooted(guestBase: string, name = "prebooted"): PrebootedSource {
  const url = (name: string): string => (guestBase.endsWith("/") ? guestBase + name : `${guestBase}/${name}`);
  return {
    async manifest() {
      const response = await host.fetch(url(`${name}.json`), { cache: "no-cache" });
      if (!response.ok) return { none: "this server has no pre-booted state (run npm start, which makes one)" };
      return JSON.parse(decodeText(new Uint8Array(await response.arrayBuffer()))) as PrebootedManifest;
    },
    async file(manifest, onProgress, onChunk) {
      // Through the asset loader: a download that breaks off is tried again past the HTTP cache.
      const ref = { name: manifest.file, url: url(manifest.file), size: manifest.size };
      const buffer = await fetchAssetLoader.load(ref, (loaded) => onProgress(loaded, manifest.size), onChunk);
      await verifyAsset(ref, buffer);
      return new Uint8Array(buffer);
    },
  };
}
