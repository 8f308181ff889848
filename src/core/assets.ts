/**
 * Loading the files a machine needs, with progress and errors that name the file. The browser
 * and Node both use fetch; Node callers whose files are on disk pass their own AssetLoader.
 */
import { concatBytes } from "./bytes.ts";
import { AppError, isAppError } from "./errors.ts";
import { gunzip, isGzip } from "./snapshot/compress.ts";
import { host, sha256Hex, type HostFetchInit, type HostResponse } from "./host.ts";
import type { AssetRef } from "./profile.ts";

export type ProgressCallback = (loaded: number, total: number | undefined) => void;

/** Each piece of a download as it arrives, at its offset in the file (a download tried again starts again at 0). */
export type ChunkCallback = (chunk: Uint8Array, offset: number) => void;

export interface AssetLoader {
  load(ref: AssetRef, onProgress: ProgressCallback, onChunk?: ChunkCallback): Promise<ArrayBuffer>;
}

/**
 * An AssetLoader over `fetch`. A download that breaks off midway is tried once more, past the
 * browser's HTTP cache: Chromium's in-memory cache (a private window, or Playwright's) fails a
 * load it cannot write, as it could not a 15 MB kernel ("net::ERR_CACHE_WRITE_FAILURE").
 */
export function fetchingLoader(fetch: (url: string, init?: HostFetchInit) => Promise<HostResponse>): AssetLoader {
  const once = async (ref: AssetRef, onProgress: ProgressCallback, onChunk: ChunkCallback | undefined, init: HostFetchInit | undefined): Promise<{ buffer: ArrayBuffer } | { brokeOff: unknown }> => {
    let response;
    try {
      response = await fetch(ref.url, init);
    } catch (error) {
      throw new AppError("asset-load-failed", `Could not download ${ref.name}.`, { cause: error, details: { subject: ref.name, url: ref.url } });
    }
    if (!response.ok) {
      throw new AppError("asset-load-failed", `Could not download ${ref.name}: the server answered ${response.status} ${response.statusText}.`, {
        details: { subject: ref.name, url: ref.url, status: response.status },
      });
    }
    const header = Number(response.headers.get("content-length"));
    const total = ref.size ?? (Number.isFinite(header) && header > 0 ? header : undefined);
    try {
      return { buffer: await readBody(response.body, total, onProgress, onChunk, () => response.arrayBuffer()) };
    } catch (error) {
      return { brokeOff: error };
    }
  };
  return {
    async load(ref, onProgress, onChunk) {
      const first = await once(ref, onProgress, onChunk, undefined);
      if ("buffer" in first) return first.buffer;
      const again = await once(ref, onProgress, onChunk, { cache: "no-store" });
      if ("buffer" in again) return again.buffer;
      throw new AppError("asset-load-failed", `The download of ${ref.name} broke off.`, { cause: again.brokeOff, details: { subject: ref.name, url: ref.url } });
    },
  };
}

export const fetchAssetLoader: AssetLoader = fetchingLoader((url, init) => host.fetch(url, init));

async function readBody(
  body: { getReader(): { read(): Promise<{ done: boolean; value?: Uint8Array }> } } | null,
  total: number | undefined,
  onProgress: ProgressCallback,
  onChunk: ChunkCallback | undefined,
  whole: () => Promise<ArrayBuffer>,
): Promise<ArrayBuffer> {
  if (body === null) {
    const buffer = await whole();
    onChunk?.(new Uint8Array(buffer), 0);
    onProgress(buffer.byteLength, buffer.byteLength);
    return buffer;
  }
  const reader = body.getReader();
  // With the size known, each piece is copied into place as it comes: joining them all at the end
  // was one task of ~70 ms for a boot's 22 MB, with the pieces and the file in memory at once. A
  // body longer than said (a file served compressed, unpacked by the transport) is joined at the end.
  let into = total !== undefined && total > 0 && total <= MAX_UNPACKED_ASSET_BYTES ? new Uint8Array(total) : undefined;
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (value === undefined) continue;
    if (into !== undefined && loaded + value.length <= into.length) into.set(value, loaded);
    else {
      if (into !== undefined) chunks.push(into.subarray(0, loaded));
      into = undefined;
      chunks.push(value);
    }
    onChunk?.(value, loaded);
    loaded += value.length;
    onProgress(loaded, total);
  }
  if (into !== undefined) return loaded === into.length ? into.buffer : into.slice(0, loaded).buffer;
  return concatBytes(chunks).buffer as ArrayBuffer;
}

/** The most a served-compressed file may unpack to when its size is not declared. */
export const MAX_UNPACKED_ASSET_BYTES = 64 * 1024 * 1024;

/**
 * A downloaded file as the machine uses it: unpacked when it is served compressed (`ref.encoding`),
 * unless the transport unpacked it already (a server that sends a `.gz` file with
 * `Content-Encoding: gzip`, as `vite preview` does): bytes without gzip's magic are taken as they
 * are, and checked as any file is.
 */
export async function decodeAsset(ref: AssetRef, buffer: ArrayBuffer): Promise<ArrayBuffer> {
  if (ref.encoding === undefined || !isGzip(new Uint8Array(buffer, 0, Math.min(2, buffer.byteLength)))) return buffer;
  const limit = ref.size ?? MAX_UNPACKED_ASSET_BYTES;
  let bytes: Uint8Array;
  try {
    bytes = await gunzip(new Uint8Array(buffer), limit);
  } catch (error) {
    const tooLarge = isAppError(error, "bad-snapshot") && error.details.limit !== undefined;
    const why = tooLarge ? `it unpacks to more than ${limit} bytes` : "it does not unpack";
    throw new AppError("asset-load-failed", `${ref.name} is damaged: ${why}.`, { cause: error, details: { subject: ref.name, url: ref.url } });
  }
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? (bytes.buffer as ArrayBuffer) : bytes.slice().buffer;
}

/** Check a loaded file against its declared size and hash; a mismatch names the file. */
export async function verifyAsset(ref: AssetRef, buffer: ArrayBuffer): Promise<void> {
  if (ref.size !== undefined && buffer.byteLength !== ref.size) {
    throw new AppError("asset-load-failed", `${ref.name} has ${buffer.byteLength} bytes, expected ${ref.size}: the file is damaged or out of date.`, {
      details: { subject: ref.name, expectedSize: ref.size, actualSize: buffer.byteLength },
    });
  }
  if (ref.sha256 !== undefined) {
    const actual = await sha256Hex(buffer);
    if (actual !== ref.sha256) {
      throw new AppError("asset-load-failed", `${ref.name} does not match its checksum: the file is damaged or out of date.`, {
        details: { subject: ref.name, expected: ref.sha256, actual },
      });
    }
  }
}
