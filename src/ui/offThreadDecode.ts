/**
 * The pre-booted state the page starts from, fetched and decoded in a Worker of its own
 * (earlyDecoder.ts): started by the page's entry for its plain address, by the app as it starts
 * for another link that may use the state, else when a start asks. The Worker unpacks each part
 * of the file as its bytes arrive, so the unpacking overlaps the download, and neither waits for
 * the page's main thread, which meanwhile loads the app, opens storage and draws. When the Worker
 * cannot do it (it fails to load, the download or the file is bad), the page fetches and decodes
 * the file itself, so what goes wrong is said in the core's own words. After a first visit the
 * Worker reads the state this browser kept unpacked instead (`unpacked`: no file, no unpacking),
 * and it keeps or checks that once the session says the start is done (`done`).
 */
import { decodeSnapshot, eagerPrebooted, fetchPrebooted, mayStartPrebooted, type DecodedSnapshot, type PrebootedManifest, type PrebootedSource } from "../core/index.ts";
import { runDecoder, type DecoderRun } from "./earlyDecoder.ts";

/**
 * The default machine's pre-booted state for the page's session. When the page's link may start
 * from the state (`search`, core's mayStartPrebooted), the session's first choice gets its
 * description, file and decoding, begun before the choice asks (core's eagerPrebooted): by
 * `early`, the decoder the page's entry started for its plain address (startDecoderEarly), else
 * by a decoder started now. Otherwise a start that asks runs the decoder then.
 */
export function pagePrebooted(guestBase: string, search: string, early: DecoderRun | undefined): PrebootedSource {
  const eager = mayStartPrebooted(search);
  const plain = fetchPrebooted(guestBase);
  let fromWorker: { file: Uint8Array; decoded: DecodedSnapshot } | undefined;
  // The Worker's decoding of the file it fetched, handed on once (and not kept here after).
  const decode = (file: Uint8Array): Promise<DecodedSnapshot> => {
    const got = fromWorker;
    fromWorker = undefined;
    return got?.file === file ? Promise.resolve(got.decoded) : decodeSnapshot(file);
  };
  // The plain address's decoder is the entry's; another link that may use the state starts one now.
  let running = eager ? (early ?? runDecoder(guestBase)) : undefined;
  // The run a choice took: told how its start went, then it ends.
  let taken: DecoderRun | undefined;
  let result: Promise<{ readonly file?: Uint8Array; readonly decoded: DecodedSnapshot } | undefined> | undefined;
  const fromRun = (manifest: PrebootedManifest, onProgress: (loaded: number, total: number) => void): NonNullable<typeof result> => {
    if (result === undefined) {
      const run = running ?? runDecoder(guestBase, manifest);
      running = undefined;
      taken = run;
      result = run?.result ?? Promise.resolve(undefined);
    }
    taken?.onProgress(onProgress);
    return result;
  };
  const source: PrebootedSource = {
    // The early Worker's description (the state it is fetching), else the page's own fetch.
    manifest: async () => (await running?.manifest) ?? plain.manifest(),
    // The state this browser kept unpacked (the Worker read it instead of the file), if it did.
    async unpacked(manifest, onProgress) {
      const got = await fromRun(manifest, onProgress);
      return got !== undefined && got.file === undefined ? got.decoded : undefined;
    },
    async file(manifest, onProgress) {
      const got = await fromRun(manifest, onProgress);
      result = undefined;
      fromWorker = got?.file === undefined ? undefined : { file: got.file, decoded: got.decoded };
      return fromWorker?.file ?? plain.file(manifest, onProgress);
    },
    decode,
    done(outcome) {
      taken?.done(outcome);
      taken = undefined;
      result = undefined;
    },
  };
  return eager ? eagerPrebooted(source, decode) : source;
}
