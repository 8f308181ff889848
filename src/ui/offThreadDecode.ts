/**
 * The pre-booted state the page starts from, fetched and decoded in a Worker of its own
 * (src/worker/decode.worker.ts) from the page's first moment: the Worker unpacks each part of the
 * file as its bytes arrive, so the unpacking overlaps the download, and neither waits for the
 * page's main thread, which meanwhile opens storage and draws. When the Worker cannot do it (it
 * fails to load, the download or the file is bad), the page fetches and decodes the file itself,
 * so what goes wrong is said in the core's own words.
 */
import { decodeSnapshot, eagerPrebooted, fetchPrebooted, mayStartPrebooted, type DecodedSnapshot, type PrebootedManifest, type PrebootedSource } from "../core/index.ts";
import type { FromDecoder, ToDecoder } from "../worker/decode.worker.ts";

function spawnDecoder(): Worker | undefined {
  try {
    return new Worker(new URL("../worker/decode.worker.ts", import.meta.url), { type: "module", name: "virtlab decoder" });
  } catch {
    return undefined;
  }
}

/** The file and its decoding, from `worker` (ended after); undefined when the Worker could not. */
function fetchAndDecodeIn(worker: Worker | undefined, guestBase: string, manifest: PrebootedManifest, onProgress: (loaded: number, total: number) => void): Promise<{ file: Uint8Array; decoded: DecodedSnapshot } | undefined> {
  if (worker === undefined) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const done = (result: { file: Uint8Array; decoded: DecodedSnapshot } | undefined): void => {
      worker.terminate();
      resolve(result);
    };
    worker.addEventListener("message", (event: MessageEvent<FromDecoder>) => {
      const message = event.data;
      if (message.kind === "progress") onProgress(message.loaded, message.total);
      else done(message.ok ? { file: message.file, decoded: message.decoded } : undefined);
    });
    worker.addEventListener("error", () => done(undefined), { once: true });
    worker.postMessage({ guestBase, manifest } satisfies ToDecoder);
  });
}

/**
 * The default machine's pre-booted state, fetched and decoded in a Worker: from the page's first
 * moment, while storage opens, when the page's link (`search`) may start from it (core's
 * mayStartPrebooted: not a link to other hardware, a machine or a snapshot); else when a start asks.
 */
export function pagePrebooted(guestBase: string, search: string): PrebootedSource {
  const eager = mayStartPrebooted(search);
  const plain = fetchPrebooted(guestBase);
  // Made now: its script and the zstd decoder load while the page fetches the state's description.
  let spare = eager ? spawnDecoder() : undefined;
  let fromWorker: { file: Uint8Array; decoded: DecodedSnapshot } | undefined;
  // The Worker's decoding of the file it fetched, handed on once (and not kept here after).
  const decode = (file: Uint8Array): Promise<DecodedSnapshot> => {
    const got = fromWorker;
    fromWorker = undefined;
    return got?.file === file ? Promise.resolve(got.decoded) : decodeSnapshot(file);
  };
  const source: PrebootedSource = {
    manifest: () => plain.manifest(),
    async file(manifest, onProgress) {
      const worker = spare ?? spawnDecoder();
      spare = undefined;
      fromWorker = await fetchAndDecodeIn(worker, guestBase, manifest, onProgress);
      return fromWorker?.file ?? plain.file(manifest, onProgress);
    },
    decode,
  };
  return eager ? eagerPrebooted(source, decode) : source;
}
