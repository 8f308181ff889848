/**
 * Fetches and decodes the pre-booted state off the page's main thread (src/ui/earlyDecoder.ts).
 * The page sends where the state is, and its description when it has it (else this Worker fetches
 * that too and posts it first); this Worker downloads the file and checks and unpacks each part of
 * the file as soon as its bytes are in (SnapshotStreamDecoder), so the unpacking overlaps the
 * download and neither waits for the page's thread. It posts the download's progress, then the
 * file and the decoded snapshot, their bytes transferred. On any failure it answers `ok: false`
 * and the page fetches and decodes the file itself, so the error the user sees is the core's own.
 */
import { fetchPrebooted, type PrebootedDescription, type PrebootedManifest } from "../core/session/prebooted.ts";
import { SnapshotStreamDecoder, decodeSnapshot, type DecodedSnapshot } from "../core/snapshot/format.ts";
import { preloadZstd } from "../core/snapshot/zstd.ts";

export interface ToDecoder {
  readonly guestBase: string;
  /** Left out: the Worker fetches the description itself (the page's entry has not loaded it yet). */
  readonly manifest?: PrebootedManifest;
}
export type FromDecoder =
  | { readonly kind: "manifest"; readonly manifest: PrebootedDescription }
  | { readonly kind: "progress"; readonly loaded: number; readonly total: number }
  | { readonly kind: "done"; readonly ok: true; readonly file: Uint8Array; readonly decoded: DecodedSnapshot }
  | { readonly kind: "done"; readonly ok: false };

interface DecodeScope {
  postMessage(message: FromDecoder, transfer?: ArrayBuffer[]): void;
  addEventListener(type: "message", listener: (event: { data: ToDecoder }) => void, options: { once: true }): void;
}

const scope = globalThis as unknown as DecodeScope;

// The file it is made for is zstd (the pre-booted state): the decoder loads before the bytes come.
preloadZstd();

async function fetchAndDecode({ guestBase, manifest: given }: ToDecoder): Promise<{ file: Uint8Array; decoded: DecodedSnapshot }> {
  const source = fetchPrebooted(guestBase);
  let manifest = given;
  if (manifest === undefined) {
    const fetched = await source.manifest();
    scope.postMessage({ kind: "manifest", manifest: fetched });
    if ("none" in fetched) throw new Error(fetched.none);
    manifest = fetched;
  }
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
  return { file, decoded: await (restarted ? decodeSnapshot(file) : decoder.finish()) };
}

scope.addEventListener(
  "message",
  ({ data }) => {
    fetchAndDecode(data).then(
      ({ file, decoded }) => scope.postMessage({ kind: "done", ok: true, file, decoded }, [file.buffer as ArrayBuffer, decoded.state.buffer as ArrayBuffer]),
      () => scope.postMessage({ kind: "done", ok: false }),
    );
  },
  { once: true },
);
