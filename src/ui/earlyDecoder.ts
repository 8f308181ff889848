/**
 * The pre-booted state's download and decoding in a Worker of its own (src/worker/decode.worker.ts).
 * For the page's plain address (a class's first and repeat visits) the page's entry (main.ts)
 * starts it before the rest of the page's script has loaded: the Worker fetches the state's
 * description itself, then the file, and unpacks each part as its bytes arrive. Nothing of the
 * core is imported here (types only), so the entry stays a few KB and the Worker starts within
 * the page's first tenth of a second, not after the whole app (0.7 MB) has been loaded and
 * evaluated. offThreadDecode.ts hands what it gets to the machine session.
 */
import type { DecodedSnapshot } from "../core/snapshot/format.ts";
import type { PrebootedDescription, PrebootedManifest } from "../core/session/prebooted.ts";
import type { DecoderStartDone, FromDecoder, ToDecoder } from "../worker/decode.worker.ts";

/** Where the page's guest files are served (images/out under `guest/`, see vite.config.ts). */
export function pageGuestBase(): string {
  return new URL("guest/", document.baseURI).href;
}

/** One download and decoding in the decoder's Worker, ended when the start is done with it. */
export interface DecoderRun {
  /** The state's description as the Worker fetched it (undefined when it was given one, or could not). */
  readonly manifest: Promise<PrebootedDescription | undefined>;
  /**
   * The file and its decoding, or only the decoding when this browser kept the state unpacked
   * (no file was fetched); undefined when the Worker could not (the page then does it itself).
   */
  readonly result: Promise<{ readonly file?: Uint8Array; readonly decoded: DecodedSnapshot } | undefined>;
  /** The download's progress: the latest so far at once, then as it comes. */
  onProgress(listener: (loaded: number, total: number) => void): void;
  /** How the start that took the result went (core's PrebootedSource.done); the Worker then ends. */
  done(outcome: DecoderStartDone["outcome"]): void;
}

/**
 * Start the decoder's Worker on the state under `guestBase`, its description given or fetched by
 * the Worker. Undefined when no Worker can be made.
 */
export function runDecoder(guestBase: string, manifest?: PrebootedManifest): DecoderRun | undefined {
  let worker: Worker;
  try {
    worker = new Worker(new URL("../worker/decode.worker.ts", import.meta.url), { type: "module", name: "virtlab decoder" });
  } catch {
    return undefined;
  }
  let progress: ((loaded: number, total: number) => void) | undefined;
  let seen: readonly [number, number] | undefined;
  let gotManifest!: (manifest: PrebootedDescription | undefined) => void;
  const manifestPromise = new Promise<PrebootedDescription | undefined>((resolve) => (gotManifest = resolve));
  const result = new Promise<{ file?: Uint8Array; decoded: DecodedSnapshot } | undefined>((resolve) => {
    const done = (value: { file?: Uint8Array; decoded: DecodedSnapshot } | undefined): void => {
      // A Worker that answered waits for the start's outcome (done below), then ends itself.
      if (value === undefined) worker.terminate();
      gotManifest(undefined);
      resolve(value);
    };
    worker.addEventListener("message", (event: MessageEvent<FromDecoder>) => {
      const message = event.data;
      if (message.kind === "manifest") gotManifest(message.manifest);
      else if (message.kind === "progress") {
        seen = [message.loaded, message.total];
        progress?.(message.loaded, message.total);
      } else done(message.ok ? { ...(message.file === undefined ? {} : { file: message.file }), decoded: message.decoded } : undefined);
    });
    worker.addEventListener("error", () => done(undefined), { once: true });
  });
  worker.postMessage((manifest === undefined ? { guestBase } : { guestBase, manifest }) satisfies ToDecoder);
  return {
    manifest: manifestPromise,
    result,
    onProgress(listener) {
      progress = listener;
      if (seen !== undefined) listener(...seen);
    },
    done(outcome) {
      worker.postMessage({ kind: "done", outcome } satisfies DecoderStartDone);
    },
  };
}

/**
 * The page's first step, for its plain address only (no query: the start every visit of the
 * class makes, which core's mayStartPrebooted lets use the state): the decoder starts now,
 * description and all. A link with a query is left to the app once loaded (offThreadDecode.ts
 * asks the core whether it may use the state): a link to other hardware, a machine or a snapshot
 * then costs no Worker and no download it would not use.
 */
export function startDecoderEarly(guestBase: string, search: string): DecoderRun | undefined {
  return search === "" ? runDecoder(guestBase) : undefined;
}
