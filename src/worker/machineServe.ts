/**
 * The machine's Worker proper (issue 11), imported by its small entry, machine.worker.ts: the
 * emulator (v86.ts and v86 itself) lives here, off the page's main thread; the page talks to it
 * through a RemoteBackend (src/core/remote/client.ts). Disks stay in the page (see
 * docs/architecture.md, "Workers"); saved pages the page names are read here, from the same
 * IndexedDB stores, so a large read does not pass through the page's thread.
 */
import { fetchAssetLoader } from "../core/assets.ts";
import { systemClock } from "../core/clock.ts";
import { serveBackend } from "../core/remote/server.ts";
import { reopenInWorker } from "../core/storage/kv.ts";
import { warmUpFrom } from "../core/remote/warmUp.ts";
import { createV86Backend, warmUpEmulator } from "../core/v86.ts";
import type { HeldPort } from "./heldPort.ts";

/** Serve the page through `held`'s port: what came before this module loaded first, in order. */
export function serveMachine(held: HeldPort): void {
  serveBackend(held.port, createV86Backend, systemClock, {
    // A Worker without IndexedDB (none known) leaves every read to the page.
    ...("indexedDB" in globalThis ? { openStore: reopenInWorker } : {}),
    // A Worker made ahead warms the emulator up when the page asks it to (v86.ts warmUpEmulator).
    warmUp: (refs) => warmUpFrom(refs, fetchAssetLoader, (files) => warmUpEmulator(files, systemClock)),
  });
  // Before any message still to come (those are later tasks of this thread).
  held.release();
}
