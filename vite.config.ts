import { createReadStream, existsSync, readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { defineConfig, type Plugin } from "vite";

const root = import.meta.dirname;
const guestDir = resolve(root, "images/out");
const wasmFile = resolve(root, "node_modules/v86/build/v86.wasm");

/** Files served next to the app: the emulator's wasm and the default guest built by images/. */
function runtimeFiles(): Map<string, string> {
  const files = new Map<string, string>([["v86/v86.wasm", wasmFile]]);
  for (const name of ["guest.json", "bios.bin", "vgabios.bin", "bzImage", "initramfs.cpio", ...OPTIONAL_FILES]) {
    files.set(`guest/${name}`, resolve(guestDir, name));
  }
  return files;
}

/** The pre-booted state (images/prebooted.ts): without it the page boots the guest instead. */
const OPTIONAL_FILES = ["prebooted.json", "prebooted.vlsnap"];
const isOptional = (path: string): boolean => OPTIONAL_FILES.some((name) => path === `guest/${name}`);

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
      res.setHeader("Content-Length", String(statSync(file).size));
      res.setHeader("Content-Type", path.endsWith(".json") ? "application/json" : path.endsWith(".wasm") ? "application/wasm" : "application/octet-stream");
      res.setHeader("Cache-Control", "no-cache");
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
        this.emitFile({ type: "asset", fileName, source: readFileSync(file) });
      }
    },
  };
}

export default defineConfig({
  base: "./",
  plugins: [guestAssets()],
  build: {
    target: "es2022",
    sourcemap: true,
    chunkSizeWarningLimit: 1024,
  },
  server: { port: 5173, strictPort: false },
  preview: { port: 4173, strictPort: false },
});
