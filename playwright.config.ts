import { defineConfig } from "@playwright/test";

const port = Number(process.env["E2E_PORT"] ?? 4310);

export default defineConfig({
  testDir: "e2e",
  // Real guests boot in real Chromium: one at a time on a 2-core machine.
  workers: 1,
  fullyParallel: false,
  timeout: 180_000,
  expect: { timeout: 30_000 },
  retries: 0,
  reporter: process.env["CI"] ? [["list"]] : [["list"], ["html", { open: "never" }]],
  use: {
    baseURL: `http://127.0.0.1:${port}/`,
    trace: "retain-on-failure",
    // The service worker would precache ~32 MB in every test and count against the storage
    // quotas the storage specs set; e2e/offline.spec.ts allows it and tests it.
    serviceWorkers: "block",
    launchOptions: {
      // Debian's Chromium: Playwright's own browser download cannot work here.
      executablePath: process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        // V8's baseline wasm compiler only. v86 compiles hot guest code into many small wasm
        // modules, and V8 recompiles the hot ones with its optimizing compiler on background
        // threads: that took about half the CPU of a cold boot and competed with the emulator
        // on a 2-core machine (lab.spec's device flips 2.5 min → 1.6 min). Tests are about
        // behaviour; `npm run bench -- --suite browser` measures Chromium as users run it.
        ...(process.env["E2E_DEFAULT_V8"] ? [] : ["--js-flags=--liftoff-only"]),
      ],
    },
  },
  webServer: {
    // The production build, served as it would be deployed.
    command: `npx vite preview --host 127.0.0.1 --port ${port} --strictPort`,
    url: `http://127.0.0.1:${port}/`,
    reuseExistingServer: false,
    timeout: 60_000,
  },
});
