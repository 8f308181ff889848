/**
 * The large-disk case in Chromium (real IndexedDB), by hand: not part of `npm run bench` (it needs
 * Playwright's browser and a free port). Writes SIZE MiB through the overlay, reads it back cold after a page reload
 * (sequential 128 KiB reads, then 400 random 4 KiB reads; then 400 more as the app's guest reads:
 * the page's disk says where the bytes are, a Worker reads them), and samples the renderer's resident
 * memory (VmRSS of Chromium's renderer processes) every 100 ms, and the CPU time all of its
 * Chromium processes used in each phase (per MiB, per random read).
 *
 *   npx tsx bench/browserDisk.ts [sizeMiB=1024] [port=4414] [pattern|random]   # random: incompressible data
 *   VIRTLAB_CORE=/path/to/older/src/core npx tsx bench/browserDisk.ts   # the same against older code
 *   (its Worker imports `reopenInWorker` from kv.ts: an older core without it needs that function added)
 */
import { build } from "esbuild";
import { createServer } from "node:http";
import { resolve } from "node:path";
import { REPO_ROOT } from "../src/node/guest.ts";
import { withProfileOnDisk } from "./browser.ts";
import { chromiumCpuS, rendererRss } from "./browser/proc.ts";

const sizeMiB = Number(process.argv[2] ?? 1024);
const port = Number(process.argv[3] ?? 4414);
const core = process.env["VIRTLAB_CORE"];
const data = process.argv[4] === "random" ? "random" : "pattern";

const bundled = async (entry: string): Promise<string> => {
  const bundle = await build({
    entryPoints: [resolve(REPO_ROOT, entry)],
    bundle: true,
    format: "iife",
    write: false,
    nodePaths: [resolve(REPO_ROOT, "node_modules")],
    plugins:
      core === undefined
        ? []
        : [{ name: "core", setup: (b) => b.onResolve({ filter: /src\/core\// }, (args) => ({ path: resolve(core, args.path.replace(/^.*src\/core\//, "")) })) }],
  });
  return bundle.outputFiles[0]!.text;
};
const script = await bundled("bench/browser/diskEntry.ts");
const workerScript = await bundled("bench/browser/diskWorker.ts");
const server = createServer((req, res) => {
  if (req.url === "/bench.js") res.writeHead(200, { "content-type": "text/javascript" }).end(script);
  else if (req.url === "/worker.js") res.writeHead(200, { "content-type": "text/javascript" }).end(workerScript);
  else res.writeHead(200, { "content-type": "text/html" }).end('<!doctype html><script src="/bench.js"></script>');
}).listen(port, "127.0.0.1");

// A profile on disk, as a user's (see withProfileOnDisk).
try {
  await withProfileOnDisk(async (context) => {
    const page = await context.newPage();
    // The page says when each phase starts and ends; the CPU Chromium used in between is recorded.
    const cpu: Record<string, number> = {};
    let mark = 0;
    await page.exposeFunction("benchPhase", (name: string) => {
      const now = chromiumCpuS();
      if (name !== "start") cpu[`${name}CpuS`] = now - mark;
      mark = now;
    });
    await page.goto(`http://127.0.0.1:${port}/`);
    const before = rendererRss();
    let peak = before;
    const timer = setInterval(() => (peak = Math.max(peak, rendererRss())), 100);
    type Bench = { writeDisk(db: string, s: number, d: number, kind: string): Promise<Record<string, number>>; readDisk(db: string, s: number, d: number): Promise<Record<string, number>> };
    const db = `bench-disk-${Date.now()}`;
    const diskMiB = Math.max(2048, sizeMiB + 64);
    const written = await page.evaluate(([name, n, d, kind]) => (globalThis as unknown as Bench).writeDisk(name, n, d, kind), [db, sizeMiB, diskMiB, data] as const);
    // Read back cold, as after a reload: a fresh page, nothing of the disk in its memory.
    await page.reload();
    const read = await page.evaluate(([name, n, d]) => (globalThis as unknown as Bench).readDisk(name, n, d), [db, sizeMiB, diskMiB] as const);
    const result = { ...written, ...read };
    clearInterval(timer);
    const perMiB = { writeCpuMsPerMiB: ((cpu["writeCpuS"] ?? 0) * 1000) / sizeMiB, readCpuMsPerMiB: ((cpu["readCpuS"] ?? 0) * 1000) / sizeMiB, random4kCpuMs: ((cpu["randomCpuS"] ?? 0) * 1000) / 400, random4kWorkerCpuMs: ((cpu["randomWorkerCpuS"] ?? 0) * 1000) / 400 };
    console.log(JSON.stringify({ sizeMiB, data, core: core ?? "this worktree", ...result, ...perMiB, rendererRssBeforeMiB: before / 1048576, peakGrowthMiB: (peak - before) / 1048576 }));
  });
} finally {
  server.close();
}
