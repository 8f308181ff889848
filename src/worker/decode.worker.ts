/**
 * Fetches and decodes the pre-booted state off the page's main thread (src/ui/earlyDecoder.ts).
 * The page sends where the state is, and its description when it has it (else this Worker fetches
 * that too and posts it first). When this browser kept the state unpacked at an earlier visit
 * (core's UnpackedStateCache), that is read and posted, and nothing is downloaded. Otherwise this
 * Worker downloads the file and checks and unpacks each part of the file as soon as its bytes are
 * in (SnapshotStreamDecoder), so the unpacking overlaps the download and neither waits for the
 * page's thread. It posts the download's progress, then the file and the decoded snapshot, their
 * bytes transferred. On any failure it answers `ok: false` and the page fetches and decodes the
 * file itself, so the error the user sees is the core's own.
 *
 * Then it waits for the page to say how the start went ("done"): once a machine started from the
 * state has settled, a state unpacked here is kept for the next visit, and one read back is
 * checked against its digest (a damaged one is deleted); then the Worker ends. Both wait until
 * then so as not to slow the start.
 */
import { fetchPrebooted, type PrebootedDescription, type PrebootedManifest } from "../core/session/prebooted.ts";
import { openUnpackedStateCache, prebootedEntry } from "../core/session/unpackedCache.ts";
import { SnapshotStreamDecoder, decodeSnapshot, type DecodedSnapshot } from "../core/snapshot/format.ts";
import { preloadZstd } from "../core/snapshot/zstd.ts";

export interface ToDecoder {
  readonly guestBase: string;
  /** Left out: the Worker fetches the description itself (the page's entry has not loaded it yet). */
  readonly manifest?: PrebootedManifest;
}
/** After the result: how the start that took it went (core's PrebootedSource.done). */
export interface DecoderStartDone {
  readonly kind: "done";
  readonly outcome: "settled" | "unused";
}
export type FromDecoder =
  | { readonly kind: "manifest"; readonly manifest: PrebootedDescription }
  | { readonly kind: "progress"; readonly loaded: number; readonly total: number }
  /** `file` is left out when the state was kept unpacked at an earlier visit (nothing was downloaded). */
  | { readonly kind: "done"; readonly ok: true; readonly file?: Uint8Array; readonly decoded: DecodedSnapshot }
  | { readonly kind: "done"; readonly ok: false };

interface DecodeScope {
  postMessage(message: FromDecoder, transfer?: ArrayBuffer[]): void;
  addEventListener(type: "message", listener: (event: { data: ToDecoder | DecoderStartDone }) => void): void;
  close(): void;
}

const scope = globalThis as unknown as DecodeScope;

const cache = openUnpackedStateCache();

/** What to do once the start is done with the state (keep it, or check the kept one). */
let afterStart: ((outcome: DecoderStartDone["outcome"]) => Promise<unknown>) | undefined;

async function fetchAndDecode({ guestBase, manifest: given }: ToDecoder): Promise<{ file?: Uint8Array; decoded: DecodedSnapshot }> {
  const source = fetchPrebooted(guestBase);
  let manifest = given;
  if (manifest === undefined) {
    const fetched = await source.manifest();
    scope.postMessage({ kind: "manifest", manifest: fetched });
    if ("none" in fetched) throw new Error(fetched.none);
    manifest = fetched;
  }
  const entry = prebootedEntry(manifest);
  const kept = await cache.find(entry).catch(() => undefined);
  if (kept !== undefined) {
    afterStart = (outcome) => (outcome === "settled" ? cache.check(entry) : Promise.resolve());
    return { decoded: kept };
  }
  // The file is zstd (the pre-booted state): its decoder loads while the first bytes come. Not
  // before the kept state was looked for: a repeat visit needs no decoder, and loading it took
  // ~40 ms of this thread in traces, while the kept state's read waited behind it.
  preloadZstd();
  const decoder = new SnapshotStreamDecoder(manifest.size);
  let next = 0;
  let restarted = false;
  const file = await source.file(
    manifest,
    (loaded, total) => scope.postMessage({ kind: "progress", loaded, total }),
    (chunk, offset) => {
      // A download tried again starts again at 0: it is decoded whole once it has arrived.
      if (offset !== next) restarted = true;
      if (restarted) return;
      decoder.push(chunk);
      next += chunk.length;
    },
  );
  const decoded = await (restarted ? decodeSnapshot(file) : decoder.finish());
  // The start takes these bytes (transferred): the copy is what the next visit may get.
  const copy = { header: decoded.header, state: decoded.state.slice() };
  afterStart = (outcome) => (outcome === "settled" ? cache.keep(entry, copy) : Promise.resolve());
  return { file, decoded };
}

let started = false;
scope.addEventListener("message", ({ data }) => {
  if ("kind" in data) {
    const after = afterStart;
    afterStart = undefined;
    // Nothing kept or checked is worth an error: the next visit unpacks the file again.
    void (after?.(data.outcome) ?? Promise.resolve()).catch(() => undefined).finally(() => scope.close());
    return;
  }
  if (started) return;
  started = true;
  fetchAndDecode(data).then(
    ({ file, decoded }) => {
      const transfer = [decoded.state.buffer as ArrayBuffer, ...(file === undefined ? [] : [file.buffer as ArrayBuffer])];
      scope.postMessage(file === undefined ? { kind: "done", ok: true, decoded } : { kind: "done", ok: true, file, decoded }, transfer);
    },
    () => scope.postMessage({ kind: "done", ok: false }),
  );
});
