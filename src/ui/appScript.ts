/**
 * The app's script as the production build ships it: a classic script (vite.config.ts,
 * classicApp), not a module, because Chromium keeps compiled code between visits for classic
 * scripts only (docs/architecture.md, "Workers"). The page's entry (main.ts) loads it and takes
 * the App from the one global it sets. The dev server imports app.ts as a module instead.
 */
import { App } from "./app.ts";
import { publishApp } from "./appGlobal.ts";

publishApp(App);
