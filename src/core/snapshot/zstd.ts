/**
 * zstd for snapshot chunks, through @bokuweb/zstd-wasm (zstd's C library built to WebAssembly,
 * no eval: it runs under the page's CSP with 'wasm-unsafe-eval'). The module and its wasm
 * (~250 KB, ~80 KB gzip'd) are loaded on the first zstd chunk only, with a dynamic import: a
 * reader of gzip files never fetches them. In the browser the package's own
 * `new URL("./zstd.wasm", import.meta.url)` is what Vite emits as an asset (and the service worker
 * precaches); in Node the package reads its wasm from its folder.
 *
 * Set-up (images/prebooted.ts) writes the pre-booted states with zstd: about 20% smaller than gzip
 * and decoded faster than the browser's gunzip.
 */
import { systemClock } from "../clock.ts";
import { AppError } from "../errors.ts";

/**
 * The level set-up compresses the default machine's state with: zstd's highest. The "ultra"
 * levels' memory is bounded here by the 8 MiB chunks. Against level 19: 32 KB less (9.29 →
 * 9.26 MB), about 3 s more of set-up; the decoder is as fast.
 */
export const ZSTD_LEVEL = 22;

/** How long the decoder may take to load before the read fails instead of waiting for ever. */
const LOAD_DEADLINE_MS = 60_000;

/** zstd frames start with 0xFD2FB528 (little-endian): bytes 28 b5 2f fd. The only place it is written. */
export const ZSTD_MAGIC = 0xfd2fb528;

/** Whether `head` starts as a zstd frame does (its magic number). */
export function isZstd(head: Uint8Array): boolean {
  return head.length >= 4 && new DataView(head.buffer, head.byteOffset, 4).getUint32(0, true) === ZSTD_MAGIC;
}

/**
 * The size a zstd frame's header declares for its content, or undefined when it declares none
 * (a streamed frame). Throws `bad-snapshot` when `frame` does not start with a frame header.
 * Read here, before the library sees the data: the decoder allocates what the header declares.
 */
export function zstdContentSize(frame: Uint8Array): number | undefined {
  const damaged = (): AppError => new AppError("bad-snapshot", "The snapshot's data is damaged (it does not decompress).");
  if (frame.length < 6 || !isZstd(frame)) throw damaged();
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const descriptor = frame[4] ?? 0;
  if ((descriptor & 0x08) !== 0) throw damaged(); // reserved bit
  const sizeFlag = descriptor >> 6;
  const singleSegment = (descriptor & 0x20) !== 0;
  const dictionaryIdBytes = [0, 1, 2, 4][descriptor & 0x03] ?? 0;
  const sizeBytes = [singleSegment ? 1 : 0, 2, 4, 8][sizeFlag] ?? 0;
  const at = 5 + (singleSegment ? 0 : 1) + dictionaryIdBytes;
  if (at + sizeBytes > frame.length) throw damaged();
  switch (sizeBytes) {
    case 0:
      return undefined;
    case 1:
      return view.getUint8(at);
    case 2:
      return view.getUint16(at, true) + 256;
    case 4:
      return view.getUint32(at, true);
    default:
      return view.getUint32(at + 4, true) * 2 ** 32 + view.getUint32(at, true);
  }
}

/** The part of @bokuweb/zstd-wasm used here. */
interface ZstdWasm {
  init(): Promise<void>;
  compress(data: Uint8Array, level?: number): Uint8Array;
  decompress(data: Uint8Array, options?: { defaultHeapSize?: number }): Uint8Array;
}

let loading: Promise<ZstdWasm> | undefined;

/** The library, loaded once (a failed load is tried again by the next read). */
function loadZstd(): Promise<ZstdWasm> {
  loading ??= withDeadline(
    import("@bokuweb/zstd-wasm").then(async (zstd: ZstdWasm) => {
      await zstd.init();
      return zstd;
    }),
  ).catch((error: unknown) => {
    loading = undefined;
    throw new AppError("asset-load-failed", "The zstd decoder could not be loaded.", { cause: error, details: { subject: "zstd decoder" } });
  });
  return loading;
}

/** The library's init never settles when its wasm fails to load (it only logs): give it a deadline. */
function withDeadline<T>(work: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = systemClock.after(LOAD_DEADLINE_MS, () => reject(new Error(`not loaded after ${LOAD_DEADLINE_MS / 1000} s`)));
    work.then(
      (value) => {
        timer.dispose();
        resolve(value);
      },
      (error: unknown) => {
        timer.dispose();
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/** Start loading the library now, for a read to come (a failure is the read's to report). */
export function preloadZstd(): void {
  loadZstd().catch(() => undefined);
}

/** Compress `data` as one zstd frame (its header declares its size). */
export async function zstd(data: Uint8Array, level = ZSTD_LEVEL): Promise<Uint8Array> {
  const library = await loadZstd();
  return library.compress(data, level);
}

/**
 * Decompress one zstd frame, refusing to produce more than `limit` bytes: the frame must declare
 * its size, and a size past `limit` is refused before anything is allocated (as gunzip refuses).
 */
export async function unzstd(data: Uint8Array, limit: number): Promise<Uint8Array> {
  const size = zstdContentSize(data);
  if (size === undefined) throw new AppError("bad-snapshot", "The snapshot's data is damaged (a part does not declare its size).");
  if (size > limit) throw new AppError("bad-snapshot", "The snapshot holds more data than its header declares.", { details: { limit } });
  const library = await loadZstd();
  try {
    return library.decompress(data, { defaultHeapSize: limit });
  } catch (error) {
    throw new AppError("bad-snapshot", "The snapshot's data is damaged (it does not decompress).", { cause: error });
  }
}
