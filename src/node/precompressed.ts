/**
 * Precompressed copies of the built app's files, and their serving by `npm start` (issue 12:
 * bytes before the first prompt). The build writes `<file>.br` (brotli) and `<file>.gz` beside
 * each file that shrinks; the preview server sends the best one the browser accepts, with
 * `Content-Encoding`, the way nginx's `brotli_static`/`gzip_static` do (docs/deploy.md). Brotli
 * at its highest quality beats the gzip `vite preview` makes on the fly by 15-25% on scripts and
 * wasm, and that server compresses neither `.wasm` nor `.bin` at all (the zstd decoder's wasm:
 * 252 KB sent, 60 KB as brotli).
 *
 * Not compressed again: files that are compressed inside (the `.vlsnap` states), source maps
 * (only a developer's tools fetch them), and files that would shrink by less than 5%.
 *
 * A file shipped gzip'd, `X.gz` with no `X` beside it (v86's wasm: the page unpacks it, so any
 * server that compresses nothing still sends 0.4 MB, not 2.1), gets `X.br`: brotli of the
 * unpacked bytes. A browser that accepts brotli is sent that for `X.gz`, with
 * `Content-Encoding: br`, and the page gets the unpacked bytes, as it does when a server sends a
 * `.gz` with `Content-Encoding: gzip` (vite preview's own way): 403 → 284 KB for the wasm.
 */
import { createReadStream, existsSync, statSync, type Stats } from "node:fs";
import { readdir, readFile, writeFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, relative, resolve, sep } from "node:path";
import { promisify } from "node:util";
import { brotliCompress, constants, gunzip, gzip } from "node:zlib";

const brotli = promisify(brotliCompress);
const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** The encodings written, best first: the order the server prefers them in. */
const ENCODINGS = [
  { name: "br", suffix: ".br" },
  { name: "gzip", suffix: ".gz" },
] as const;

/** Files left as they are: compressed inside, a compressed copy, or for developers' tools only. */
const SKIP = /\.(vlsnap|gz|br|map)$/;
/** Files compressed inside (snapshots and the pre-booted states): sent as they are, never compressed again. */
const COMPRESSED_INSIDE = /\.vlsnap$/;

/** `X.gz` shipped without `X`: the name of the unpacked file, else undefined. */
function shippedGzip(dir: string, path: string): string | undefined {
  if (!path.endsWith(".gz")) return undefined;
  const unpacked = path.slice(0, -".gz".length);
  return existsSync(join(dir, unpacked)) ? undefined : unpacked;
}

/** A copy is kept only when it is at most this share of the file (a 5% gain at least). */
const WORTH = 0.95;

/** Files below this are sent as they are: the headers cost more than the gain. */
const MIN_BYTES = 1024;

/** Brotli's highest quality is slow on the guest's megabytes (about 2 s per MB): those get 6. */
const SLOW_QUALITY_ABOVE = 4 * 1024 * 1024;

export interface Precompressed {
  /** The file's path under the folder, with `/`. */
  readonly path: string;
  readonly bytes: number;
  /** The size of each copy written, by encoding name. */
  readonly copies: Readonly<Partial<Record<(typeof ENCODINGS)[number]["name"], number>>>;
}

async function filesUnder(dir: string, prefix = ""): Promise<string[]> {
  const entries = await readdir(join(dir, prefix), { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((entry) => {
      const path = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
      if (entry.isDirectory()) return filesUnder(dir, path);
      return Promise.resolve(entry.isFile() ? [path] : []);
    }),
  );
  return nested.flat();
}

function encode(name: (typeof ENCODINGS)[number]["name"], bytes: Buffer): Promise<Buffer> {
  if (name === "gzip") return gzipAsync(bytes, { level: 9 });
  const quality = bytes.length > SLOW_QUALITY_ABOVE ? 6 : constants.BROTLI_MAX_QUALITY;
  return brotli(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: quality, [constants.BROTLI_PARAM_LGWIN]: 24, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length } });
}

/**
 * Write the compressed copies of every file under `dir` that is worth it (zlib runs on libuv's
 * threads, so the files are compressed in parallel). A copy that would not pay is not written,
 * and an older one is left unused by the server (it checks that a copy is newer than its file).
 */
export async function writePrecompressed(dir: string): Promise<Precompressed[]> {
  const all = await filesUnder(dir);
  const shipped = all.flatMap((path) => {
    const unpacked = shippedGzip(dir, path);
    return unpacked === undefined ? [] : [{ path, unpacked }];
  });
  const paths = all.filter((path) => !SKIP.test(path)).sort();
  const gzipped = shipped.map(async ({ path, unpacked }): Promise<Precompressed> => {
    const served = await readFile(join(dir, path));
    const packed = await encode("br", await gunzipAsync(served));
    if (packed.length > served.length * WORTH) return { path, bytes: served.length, copies: {} };
    await writeFile(join(dir, `${unpacked}.br`), packed);
    return { path, bytes: served.length, copies: { br: packed.length } };
  });
  const plain = paths.map(async (path): Promise<Precompressed> => {
    const file = join(dir, path);
    const bytes = await readFile(file);
    const copies: Record<string, number> = {};
    if (bytes.length >= MIN_BYTES) {
      for (const encoding of ENCODINGS) {
        const packed = await encode(encoding.name, bytes);
        if (packed.length > bytes.length * WORTH) continue;
        await writeFile(file + encoding.suffix, packed);
        copies[encoding.name] = packed.length;
      }
    }
    return { path, bytes: bytes.length, copies };
  });
  return Promise.all([...plain, ...gzipped]);
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".js": "text/javascript",
  ".mjs": "text/javascript",
  ".css": "text/css",
  ".html": "text/html;charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
  ".webmanifest": "application/manifest+json",
};

/** The encodings a request's `Accept-Encoding` allows (a `;q=0` refuses one). */
function accepted(header: string | string[] | undefined): Set<string> {
  const names = new Set<string>();
  for (const part of (Array.isArray(header) ? header.join(",") : (header ?? "")).split(",")) {
    const [name = "", ...params] = part.trim().toLowerCase().split(";");
    const refused = params.some((p) => /^\s*q\s*=\s*0(\.0*)?\s*$/.test(p));
    if (name !== "" && !refused) names.add(name);
  }
  return names;
}

/**
 * `path`'s bytes (or a 304 for its ETag, or only the headers for HEAD): the file `original`
 * describes, or its copy in `encoding`. The ETag names the file's size and time, and the encoding.
 */
function send(req: IncomingMessage, res: ServerResponse, path: string, size: number, original: Stats, type: string, encoding?: string): void {
  const etag = `W/"${original.size.toString(16)}-${Math.floor(original.mtimeMs).toString(16)}${encoding === undefined ? "" : `-${encoding}`}"`;
  res.setHeader("Content-Type", type);
  if (encoding !== undefined) {
    res.setHeader("Content-Encoding", encoding);
    res.setHeader("Vary", "Accept-Encoding");
  }
  res.setHeader("Cache-Control", "no-cache");
  res.setHeader("ETag", etag);
  if (req.headers["if-none-match"] === etag) {
    res.statusCode = 304;
    res.end();
    return;
  }
  res.setHeader("Content-Length", String(size));
  if (req.method === "HEAD") {
    res.end();
    return;
  }
  createReadStream(path).pipe(res);
}

/**
 * A middleware (Connect's shape, as Vite's servers use) that answers a GET or HEAD for a file
 * under `root` with its compressed copy, when the browser accepts that encoding and the copy is
 * newer than the file, and a state (compressed inside) as it is; anything else goes on to `next`
 * (Vite's own static files, ranges).
 */
export function servePrecompressed(root: string): (req: IncomingMessage, res: ServerResponse, next: () => void) => void {
  const base = resolve(root);
  return (req, res, next) => {
    if ((req.method !== "GET" && req.method !== "HEAD") || req.headers.range !== undefined) return next();
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    } catch {
      return next();
    }
    const file = resolve(base, `.${path}`);
    if (!file.startsWith(base + sep) || !existsSync(file)) return next();
    const original = statSync(file);
    if (!original.isFile()) return next();
    const allowed = accepted(req.headers["accept-encoding"]);
    // A shipped `X.gz` stands for X, gzip'd: its other copy is `X.br`, and it is typed as X.
    const unpacked = shippedGzip(base, relative(base, file));
    const resource = unpacked === undefined ? file : join(base, unpacked);
    for (const encoding of ENCODINGS) {
      if (unpacked !== undefined && encoding.name !== "br") continue;
      const copy = resource + encoding.suffix;
      if (!allowed.has(encoding.name) || !existsSync(copy)) continue;
      const packed = statSync(copy);
      if (packed.mtimeMs < original.mtimeMs) continue;
      send(req, res, copy, packed.size, original, CONTENT_TYPES[extname(resource)] ?? "application/octet-stream", encoding.name);
      return;
    }
    // A file compressed inside (a state) is sent as it is. Passed on, it would go out with no
    // type, which vite preview takes for text and gzips on the fly: 8 MB of zstd, ~0.3 s of the
    // server's time and the browser's unpacking for no byte saved, at every first visit.
    if (COMPRESSED_INSIDE.test(file)) {
      send(req, res, file, original.size, original, "application/octet-stream");
      return;
    }
    next();
  };
}
