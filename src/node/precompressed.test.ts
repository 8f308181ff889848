import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { request as httpRequest, createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { brotliDecompressSync, gunzipSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { preview } from "vite";
import { servePrecompressed, writePrecompressed } from "./precompressed.ts";

/** Text that compresses well, and bytes that do not (a state is zstd inside). */
const script = Buffer.from("export const answer = () => 42;\n".repeat(400));
const noise = randomBytes(8192);
const wasm = Buffer.from("\0asm".repeat(2000));

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "virtlab-precompressed-"));
  mkdirSync(join(dir, "assets"));
  mkdirSync(join(dir, "v86"));
  writeFileSync(join(dir, "assets/app.js"), script);
  writeFileSync(join(dir, "assets/app.js.map"), script);
  writeFileSync(join(dir, "assets/noise.bin"), noise);
  writeFileSync(join(dir, "tiny.json"), "{}");
  writeFileSync(join(dir, "state.vlsnap"), script);
  writeFileSync(join(dir, "v86/v86.wasm.gz"), gzipSync(wasm));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the build's compressed copies", () => {
  it("are written beside the files that shrink, and unpack to the same bytes", async () => {
    const written = await writePrecompressed(dir);
    expect(brotliDecompressSync(readFileSync(join(dir, "assets/app.js.br")))).toEqual(script);
    expect(gunzipSync(readFileSync(join(dir, "assets/app.js.gz")))).toEqual(script);
    expect(written.find((w) => w.path === "assets/app.js")?.copies).toEqual({ br: readFileSync(join(dir, "assets/app.js.br")).length, gzip: readFileSync(join(dir, "assets/app.js.gz")).length });
    // Not for: bytes that do not shrink, tiny files, source maps, states (compressed inside).
    for (const path of ["assets/noise.bin", "tiny.json", "assets/app.js.map", "state.vlsnap"]) {
      expect(existsSync(join(dir, `${path}.br`)), path).toBe(false);
      expect(existsSync(join(dir, `${path}.gz`)), path).toBe(false);
    }
    // A file shipped gzip'd gets brotli of its unpacked bytes, under the unpacked name.
    expect(brotliDecompressSync(readFileSync(join(dir, "v86/v86.wasm.br")))).toEqual(wasm);
    expect(existsSync(join(dir, "v86/v86.wasm.gz.br"))).toBe(false);
  });
});

describe("npm start's server", () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    await writePrecompressed(dir);
    const serve = servePrecompressed(dir);
    server = createServer((req, res) =>
      serve(req, res, () => {
        res.statusCode = 404;
        res.setHeader("X-Next", "1");
        res.end();
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  function get(path: string, headers: Record<string, string> = {}, method = "GET"): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const req = httpRequest({ host: "127.0.0.1", port, path, method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on("error", reject);
      req.end();
    });
  }

  it("sends brotli to a browser that accepts it, else gzip, else passes the request on", async () => {
    const br = await get("/assets/app.js", { "accept-encoding": "gzip, deflate, br, zstd" });
    expect(br.status).toBe(200);
    expect(br.headers).toMatchObject({ "content-encoding": "br", "content-type": "text/javascript", vary: "Accept-Encoding", "content-length": String(br.body.length) });
    expect(brotliDecompressSync(br.body)).toEqual(script);
    const gz = await get("/assets/app.js", { "accept-encoding": "gzip" });
    expect(gz.headers["content-encoding"]).toBe("gzip");
    expect(gunzipSync(gz.body)).toEqual(script);
    expect((await get("/assets/app.js", { "accept-encoding": "br;q=0, gzip" })).headers["content-encoding"]).toBe("gzip");
    expect((await get("/assets/app.js")).headers["x-next"]).toBe("1");
    expect((await get("/assets/app.js", { "accept-encoding": "br", range: "bytes=0-10" })).headers["x-next"]).toBe("1");
    expect((await get("/assets/noise.bin", { "accept-encoding": "br" })).headers["x-next"]).toBe("1");
  });

  it("sends the shipped .gz of the wasm as brotli of the wasm itself, typed as wasm", async () => {
    const br = await get("/v86/v86.wasm.gz", { "accept-encoding": "gzip, br" });
    expect(br.headers).toMatchObject({ "content-encoding": "br", "content-type": "application/wasm" });
    expect(brotliDecompressSync(br.body)).toEqual(wasm);
    // Without brotli the server's own handling of a .gz applies.
    expect((await get("/v86/v86.wasm.gz", { "accept-encoding": "gzip" })).headers["x-next"]).toBe("1");
  });

  it("answers HEAD and a matching ETag without a body", async () => {
    const head = await get("/assets/app.js", { "accept-encoding": "br" }, "HEAD");
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    const etag = head.headers.etag ?? "";
    expect(etag).toMatch(/^W\//);
    const again = await get("/assets/app.js", { "accept-encoding": "br", "if-none-match": etag });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
  });

  it("sends a state as it is, typed as bytes, whatever the browser accepts", async () => {
    const state = await get("/state.vlsnap", { "accept-encoding": "gzip, deflate, br, zstd" });
    expect(state.status).toBe(200);
    expect(state.headers).toMatchObject({ "content-type": "application/octet-stream", "content-length": String(script.length) });
    expect(state.headers["content-encoding"]).toBeUndefined();
    expect(state.body).toEqual(script);
    const again = await get("/state.vlsnap", { "if-none-match": state.headers.etag ?? "" });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
  });

  it("never reads outside its folder, and ignores a copy older than its file", async () => {
    expect((await get("/../../etc/passwd", { "accept-encoding": "br" })).headers["x-next"]).toBe("1");
    expect((await get("/assets/%2e%2e/%2e%2e/etc/passwd", { "accept-encoding": "br" })).headers["x-next"]).toBe("1");
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(dir, "assets/app.js"), later, later);
    expect((await get("/assets/app.js", { "accept-encoding": "br" })).headers["x-next"]).toBe("1");
  });
});

describe("npm start's server as vite preview runs it", () => {
  it("does not gzip a state on the fly (it went out untyped, taken for text: 8 MB of zstd gzip'd at every first visit)", async () => {
    const server = await preview({
      configFile: false,
      logLevel: "silent",
      root: dir,
      build: { outDir: dir },
      preview: { host: "127.0.0.1", port: 0 },
      plugins: [{ name: "precompressed", configurePreviewServer: (s) => void s.middlewares.use(servePrecompressed(dir)) }],
    });
    try {
      const base = server.resolvedUrls?.local[0] ?? "";
      const state = await fetch(new URL("state.vlsnap", base), { headers: { "accept-encoding": "gzip, br" } });
      expect(state.headers.get("content-encoding")).toBeNull();
      expect(state.headers.get("content-type")).toBe("application/octet-stream");
      expect(Buffer.from(await state.arrayBuffer())).toEqual(script);
      // Text with no copy of its own is still vite preview's to compress.
      const tiny = await fetch(new URL("tiny.json", base), { headers: { "accept-encoding": "gzip" } });
      expect(await tiny.text()).toBe("{}");
    } finally {
      await server.close();
    }
  });
});
