/**
 * Where a machine runs in the browser: one dedicated module Worker per machine (machineServe.ts
 * is the Worker proper). This entry holds the page's messages (heldPort.ts) while it imports that
 * module: Chromium keeps the compiled code of the modules a Worker imports, but compiles a
 * Worker's own script anew each time. A trace of repeat visits: the 415 KB bundle as the Worker's
 * script took 37-64 ms to compile at every machine's Worker, then ~16 ms writing a cache no later
 * Worker read; imported, it compiles once and later Workers take it from the cache in ~17 ms.
 */
import { holdMessages, type PortScope } from "./heldPort.ts";

const held = holdMessages(globalThis as unknown as PortScope);

import("./machineServe.ts").then(
  ({ serveMachine }) => serveMachine(held),
  (error: unknown) => {
    // Thrown outside the promise, so that the page's Worker gets an "error" event (workerBackend.ts).
    setTimeout(() => {
      throw error instanceof Error ? error : new Error(String(error));
    });
  },
);
