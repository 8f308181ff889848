// Lint enforces the architecture: imports point ui -> core only, v86 lives in one core module,
// xterm only in the UI. Type imports are not exempt.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const v86Only = {
  group: ["v86", "v86/*"],
  message: "v86 is imported only by src/core/v86.ts; use the core's Machine API.",
};
const xtermOnly = {
  group: ["@xterm/*"],
  message: "xterm.js belongs to the UI (src/ui); the core must run without a DOM.",
};
const idbOnly = {
  group: ["idb-keyval"],
  message: "IndexedDB is reached only through src/core/storage/kv.ts.",
};
const noUi = {
  group: ["**/ui", "**/ui/*", "../ui/**", "**/src/ui/**"],
  message: "Imports point one way: ui -> core. The core must not import the UI.",
};

export default tseslint.config(
  { ignores: [".scratch/**", "dist/", "node_modules/", "images/out/", "images/.cache/", "test-results/", "playwright-report/", "bench/results/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: "module" },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-restricted-imports": ["error", { patterns: [v86Only, idbOnly] }],
    },
  },
  {
    files: ["src/core/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [v86Only, xtermOnly, idbOnly, noUi] }],
      "no-console": "error",
      "no-restricted-globals": [
        "error",
        { name: "window", message: "The core runs in Node too." },
        { name: "document", message: "The core runs in Node too." },
        { name: "setTimeout", message: "Time reaches the core through a Clock (clock.ts)." },
        { name: "setInterval", message: "Time reaches the core through a Clock (clock.ts)." },
      ],
    },
  },
  {
    files: ["src/core/v86.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [xtermOnly, idbOnly, noUi] }],
    },
  },
  {
    // kv.ts, and its test, which reads records as stored to check their form.
    files: ["src/core/storage/kv.ts", "src/core/storage/kv.test.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [v86Only, xtermOnly, noUi] }],
    },
  },
  {
    // The service worker: Workbox and its own message types only.
    files: ["src/sw/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [v86Only, xtermOnly, idbOnly, noUi, { group: ["**/core", "**/core/*", "../core/**"], message: "The service worker caches files; it does not run the machine." }] }],
      "no-console": "error",
    },
  },
  {
    files: ["src/ui/**/*.ts"],
    rules: {
      // The page runs every machine in a Worker: v86 (360 KB) stays out of the page's bundle.
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            v86Only,
            idbOnly,
            { group: ["**/core/v86.ts"], message: "The emulator runs in the machines' Workers (src/worker); the page does not load v86." },
            { group: ["**/core/index.ts"], importNames: ["systemClock"], message: "The page's timers go through pageClock() (src/ui/pageClock.ts): a hidden tab runs the page's own once a second." },
          ],
        },
      ],
    },
  },
  {
    files: ["src/ui/pageClock.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [v86Only, idbOnly] }],
    },
  },
  {
    files: ["scripts/**/*.mjs", "*.config.js"],
    languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly" } },
  },
);
