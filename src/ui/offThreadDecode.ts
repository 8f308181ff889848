/**
 * Snapshot decoding in a Worker of its own (src/worker/decode.worker.ts), for the pre-booted
 * state the page fetches at load: the main thread stays free to open storage and draw. When the
 * worker cannot do it (it fails to load, or the file is bad), the file is decoded here instead,
 * so a damaged file fails with the core's own error.
 */
import { decodeSnapshot, eagerPrebooted, fetchPrebooted, type DecodedSnapshot, type PrebootedSource } from "../core/index.ts";

export function decodeOffThread(file: Uint8Array): Promise<DecodedSnapshot> {
  let worker: Worker;
  try {
    worker = new Worker(new URL("../worker/decode.worker.ts", import.meta.url), { type: "module", name: "virtlab decoder" });
  } catch {
    return decodeSnapshot(file);
  }
  return new Promise<DecodedSnapshot>((resolve) => {
    const done = (result: Promise<DecodedSnapshot> | DecodedSnapshot): void => {
      worker.terminate();
      resolve(result);
    };
    worker.addEventListener("message", (event: MessageEvent<{ ok: true; decoded: DecodedSnapshot } | { ok: false }>) => done(event.data.ok ? event.data.decoded : decodeSnapshot(file)), { once: true });
    worker.addEventListener("error", () => done(decodeSnapshot(file)), { once: true });
    worker.postMessage(file);
  });
}

/** The default machine's pre-booted state, fetched and decoded (here, in a Worker) from the page's first moment, while storage opens. */
export function pagePrebooted(guestBase: string): PrebootedSource {
  return eagerPrebooted(fetchPrebooted(guestBase), decodeOffThread);
}
