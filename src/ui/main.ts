import { registerSW } from "virtual:pwa-register";
import { loadAppScript, type AppClass } from "./appGlobal.ts";
import { pageGuestBase, startDecoderEarly } from "./earlyDecoder.ts";
import { startKeptBootAhead } from "./keptBootAhead.ts";
import { isBenignPageError } from "./pageErrors.ts";
// xterm's styles go in the stylesheet the page links, with the page's own: imported by the app's
// script (terminal.ts), its build injected them at run time, one ~100 ms task of the page's
// thread at every visit (a trace of a repeat visit).
import "@xterm/xterm/css/xterm.css";
import "./style.css";

// First, before the app's script has loaded: the pre-booted state's download and decoding, in a
// Worker (the state is most of a start's wait; the app's script takes a few tenths of a second).
const early = startDecoderEarly(pageGuestBase(), location.search);
// A device-switch link: the kept boot of its hardware, read unpacked in a Worker of its own.
const keptBoot = startKeptBootAhead(location.search);

// The built page runs the app as a classic script (appScript.ts); the dev server as a module.
const loadApp: Promise<AppClass> = import.meta.env.DEV ? import("./app.ts").then(({ App }) => App) : loadAppScript();

loadApp.then(
  (App) => {
    const app = new App({ early, keptBoot, registerOffline: registerSW });
    // Errors nobody caught still reach the user, never a silent blank page.
    window.addEventListener("error", (event) => {
      if (!isBenignPageError(event)) app.report(event.error ?? event.message);
    });
    window.addEventListener("unhandledrejection", (event) => app.report(event.reason));
    // The offline worker's downloads wait for the page's own first start.
    app.offline.startAfter(app.start());
  },
  (error: unknown) => {
    // The app's own words for errors are in the script that did not load.
    const box = document.getElementById("error");
    if (box === null) return;
    box.hidden = false;
    box.textContent = `virtlab's page could not load its script (${error instanceof Error ? error.message : String(error)}). Reload the page to try again.`;
  },
);
