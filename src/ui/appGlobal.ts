/** The hand-over between the app's classic script (appScript.ts) and the page's entry (main.ts). */
import type { App } from "./app.ts";
import type { DecoderRun } from "./earlyDecoder.ts";
import type { OfflineHost } from "./offline.ts";
import type { UnpackedBootSource } from "../core/index.ts";

export type AppClass = typeof App;

/**
 * What the entry hands the App: the pre-booted state's decoder it started (earlyDecoder.ts), a
 * link's kept boot (keptBootAhead.ts), and vite-plugin-pwa's registration (the app's own build has
 * no virtual modules).
 */
export interface AppEntry {
  readonly early: DecoderRun | undefined;
  readonly keptBoot: UnpackedBootSource | undefined;
  readonly registerOffline: OfflineHost["register"];
}

interface AppGlobal {
  virtlabApp?: AppClass;
}

/** In the app's script: make the App known to the entry. */
export function publishApp(app: AppClass): void {
  (globalThis as AppGlobal).virtlabApp = app;
}

/**
 * In the entry: run the app's script, whose address the page names in `<link id="app-script">`
 * (a preload, so its download starts with the entry's), and take the App it publishes.
 */
export function loadAppScript(): Promise<AppClass> {
  return new Promise((resolve, reject) => {
    const link = document.getElementById("app-script");
    if (!(link instanceof HTMLLinkElement)) {
      reject(new Error("the page names no app script"));
      return;
    }
    const script = document.createElement("script");
    script.src = link.href;
    script.addEventListener("load", () => {
      const app = (globalThis as AppGlobal).virtlabApp;
      if (app === undefined) reject(new Error(`${link.href} did not define the app`));
      else resolve(app);
    });
    script.addEventListener("error", () => reject(new Error(`${link.href} did not load`)));
    document.head.append(script);
  });
}
