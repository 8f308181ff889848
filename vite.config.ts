import { createReadStream, existsSync, readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { defineConfig, type Plugin } from "vite";
import { VitePWA } from "vite-plugin-pwa";
import { classicApp } from "./src/node/classicApp.ts";
import { servePrecompressed, writePrecompressed } from "./src/node/precompressed.ts";

const root = import.meta.dirname;
const guestDir = resolve(root, "images/out");
const wasmFile = resolve(root, "node_modules/v86/build/v86.wasm");

/**
 * Files served next to the app: the emulator's wasm and the default guest built by images/. The
 * wasm is served gzip'd (2.1 → 0.4 MB), whatever the server compresses: the page unpacks it
 * (AssetRef.encoding in src/core/profile.ts).
 */
function runtimeFiles(): Map<string, string> {
  const files = new Map<string, string>([["v86/v86.wasm.gz", wasmFile]]);
  for (const name of ["guest.json", "bios.bin", "vgabios.bin", "bzImage", "initramfs.cpio", ...OPTIONAL_FILES]) {
    files.set(`guest/${name}`, resolve(guestDir, name));
  }
  return files;
}

/** The pre-booted state (images/prebooted.ts): without it the page boots the guest instead. */
const OPTIONAL_FILES = ["prebooted", "prebooted-lab", "prebooted-lab-ne2k"].flatMap((name) => [`${name}.json`, `${name}.vlsnap`]);
const isOptional = (path: string): boolean => OPTIONAL_FILES.some((name) => path === `guest/${name}`);

/** A runtime file's bytes as served: gzip'd when its name says so. */
const packed = new Map<string, Buffer>();
function servedBytes(path: string, file: string): Buffer {
  if (!path.endsWith(".gz")) return readFileSync(file);
  const key = `${file}:${statSync(file).mtimeMs}`;
  const bytes = packed.get(key) ?? gzipSync(readFileSync(file), { level: 9 });
  packed.set(key, bytes);
  return bytes;
}

/**
 * Serves the wasm and guest files in dev, and copies them into dist/ on build. The
 * guest is not in public/ because it is built (and git-ignored), not a static asset.
 */
function guestAssets(): Plugin {
  const serve: Plugin["configureServer"] = (server) => {
    server.middlewares.use((req, res, next) => {
      const path = decodeURIComponent((req.url ?? "").split("?")[0] ?? "").replace(/^\/+/, "");
      const file = runtimeFiles().get(path);
      if (file === undefined) return next();
      if (!existsSync(file)) {
        res.statusCode = 404;
        res.end(`${path} is missing: run "npm run guest" to build the default guest.`);
        return;
      }
      res.setHeader("Content-Type", path.endsWith(".json") ? "application/json" : path.endsWith(".gz") ? "application/gzip" : "application/octet-stream");
      res.setHeader("Cache-Control", "no-cache");
      if (path.endsWith(".gz")) {
        const bytes = servedBytes(path, file);
        res.setHeader("Content-Length", String(bytes.length));
        res.end(bytes);
        return;
      }
      res.setHeader("Content-Length", String(statSync(file).size));
      createReadStream(file).pipe(res);
    });
  };
  return {
    name: "virtlab-runtime-files",
    configureServer: serve,
    generateBundle() {
      for (const [fileName, file] of runtimeFiles()) {
        if (!existsSync(file) && isOptional(fileName)) continue;
        if (!existsSync(file)) this.error(`${file} is missing: run "npm run guest" first.`);
        this.emitFile({ type: "asset", fileName, source: servedBytes(fileName, file) });
      }
    },
  };
}

/**
 * Offline use (issue 6): a service worker precaches everything a visit needs, guest included
 * (about 60 MB; the three pre-booted states are most of it). Each file gets a revision hash, so a rebuilt
 * guest replaces the old one at the next update, which waits for the user (src/ui/offline.ts).
 */
function offline(): Plugin[] {
  return VitePWA({
    strategies: "injectManifest",
    srcDir: "src/sw",
    filename: "sw.ts",
    registerType: "prompt",
    injectRegister: false,
    // icon.svg is in the glob below already and the plugin adds manifest.webmanifest itself (an entry listed twice stops the worker).
    includeManifestIcons: false,
    manifest: {
      name: "virtlab: a PC in a browser tab",
      short_name: "virtlab",
      description: "Boots a real Linux in the browser, for teaching and learning virtualization.",
      start_url: "./",
      scope: "./",
      display: "standalone",
      background_color: "#0b0e11",
      theme_color: "#161b22",
      icons: [{ src: "icon.svg", sizes: "any", type: "image/svg+xml", purpose: "any" }],
    },
    injectManifest: {
      globPatterns: ["**/*.{html,js,css,wasm,json,svg,bin,cpio,vlsnap}", "guest/bzImage", "v86/v86.wasm.gz"],
      globIgnores: ["**/*.map"],
      // The kernel, initrd and pre-booted state are megabytes each.
      maximumFileSizeToCacheInBytes: 64 * 1024 * 1024,
      // Workbox keeps only url and revision in the worker's list; the size rides in the revision
      // ("<hash>.<bytes>": still a string that changes with the file) so the worker can report
      // progress in bytes (src/sw/sw.ts).
      manifestTransforms: [async (entries) => ({ manifest: entries.map((e) => ({ ...e, revision: e.revision === null ? null : `${e.revision}.${e.size}` })), warnings: [] })],
    },
    devOptions: { enabled: false },
  });
}

/**
 * Brotli and gzip copies of the built files, written after everything else (the service worker
 * included), and sent by `vite preview` (`npm start`) to browsers that accept them
 * (src/node/precompressed.ts; docs/deploy.md says how other servers use them).
 */
function precompressed(): Plugin {
  let outDir = resolve(root, "dist");
  return {
    name: "virtlab-precompressed",
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    closeBundle: {
      order: "post",
      sequential: true,
      async handler() {
        if (this.environment.name !== "client") return;
        await writePrecompressed(outDir);
      },
    },
    configurePreviewServer(server) {
      server.middlewares.use(servePrecompressed(outDir));
    },
  };
}

export default defineConfig({
  base: "./",
  plugins: [guestAssets(), classicApp({ root, target: "es2022" }), ...offline(), precompressed()],
  build: {
    target: "es2022",
    sourcemap: true,
    chunkSizeWarningLimit: 1024,
  },
  // Each machine's emulator runs in a module Worker (src/ui/workerBackend.ts) that imports v86's ESM build.
  worker: { format: "es" },
  // The zstd decoder (src/core/snapshot/zstd.ts) finds its wasm with new URL("./zstd.wasm",
  // import.meta.url), which pre-bundling for the dev server would break: Vite serves it as it is.
  optimizeDeps: { exclude: ["@bokuweb/zstd-wasm"] },
  server: { port: 5173, strictPort: false },
  preview: { port: 4173, strictPort: false },
});
