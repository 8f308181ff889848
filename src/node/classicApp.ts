/**
 * The app's script as a classic script (vite.config.ts). Chromium 156 keeps V8's compiled code
 * between visits for classic scripts but never for module scripts, and the app's 0.75 MB were
 * parsed and compiled anew at every visit, on the path of the start (docs/architecture.md,
 * "Workers"). So the app (src/ui/appScript.ts and all it imports) is bundled apart, as one IIFE,
 * while the page's entry (src/ui/main.ts) stays a small module that starts the state's decoder at
 * once and then runs the app's script (src/ui/appGlobal.ts).
 *
 * The bundle is made by a second Vite build, without writing, when the page's build starts; its
 * files (the script, its map, the machine's Worker and whatever else it emits) join the page's
 * output, so the service worker precaches them like the rest, and the page names the script in a
 * `<link rel="preload" id="app-script">`.
 */
import { build, type Plugin, type Rolldown } from "vite";

/** The app's classic entry, relative to the project's root. */
const ENTRY = "src/ui/appScript.ts";

interface Emitted {
  readonly fileName: string;
  readonly source: string | Uint8Array;
}

export function classicApp(options: { readonly root: string; readonly target: string }): Plugin {
  let files: Emitted[] = [];
  let script: string | undefined;
  return {
    name: "virtlab-classic-app",
    apply: "build",
    async buildStart() {
      if (this.environment.name !== "client") return;
      const result = await build({
        configFile: false,
        root: options.root,
        base: "./",
        logLevel: "warn",
        build: {
          write: false,
          target: options.target,
          sourcemap: true,
          modulePreload: false,
          chunkSizeWarningLimit: 1024,
          rolldownOptions: {
            input: ENTRY,
            // The script's own address, taken while it runs (a classic script has no import.meta):
            // what `new URL(..., import.meta.url)` resolves against.
            transform: { define: { "import.meta.url": "__virtlabAppScriptUrl", "import.meta.resolve": "undefined" } },
            output: {
              format: "iife",
              entryFileNames: "assets/app-[hash].js",
              codeSplitting: false,
              intro: "const __virtlabAppScriptUrl = (document.currentScript && document.currentScript.src) || document.baseURI;",
            },
          },
        },
        // Files the script names (its Workers, the zstd decoder's wasm, lessons) are found from the
        // page's address: the page is the build's index.html, at the root of the output.
        experimental: {
          renderBuiltUrl: (fileName, { hostId }) => (hostId.startsWith("assets/app-") ? { runtime: `new URL(${JSON.stringify(fileName)}, document.baseURI).href` } : undefined),
        },
        worker: { format: "es" },
      });
      // Not written and not watched: the build's output, one bundle.
      const outputs = (Array.isArray(result) ? result : [result]) as Rolldown.RolldownOutput[];
      files = [];
      script = undefined;
      for (const item of outputs.flatMap((o) => o.output)) {
        if (item.type === "chunk" && item.isEntry) script = item.fileName;
        files.push({ fileName: item.fileName, source: item.type === "chunk" ? item.code : item.source });
      }
      if (script === undefined) this.error(`the app's build (${ENTRY}) made no script`);
    },
    transformIndexHtml: {
      order: "post",
      handler: () => (script === undefined ? [] : [{ tag: "link", attrs: { rel: "preload", as: "script", href: `./${script}`, id: "app-script" }, injectTo: "head" }]),
    },
    generateBundle(_options, bundle) {
      // The Workers both builds make (the state's decoder) come out the same: emitted once.
      for (const file of files) if (!(file.fileName in bundle)) this.emitFile({ type: "asset", fileName: file.fileName, source: file.source });
    },
  };
}
