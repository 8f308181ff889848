/**
 * The page's timers while its tab is hidden (src/core/hiddenClock.ts): a Worker's timers run on
 * time where a hidden page's run at most once a second, and its messages reach the page at once.
 */
import { serveTimers, type FromTimers, type ToTimers } from "../core/hiddenClock.ts";
import { scopePort, type Scope } from "./heldPort.ts";

serveTimers(scopePort(globalThis as unknown as Scope<ToTimers, FromTimers>), {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
});
