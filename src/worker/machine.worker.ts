/**
 * Where a machine runs in the browser (issue 11): one dedicated module Worker per machine. The
 * emulator (v86.ts and v86 itself) lives here, off the page's main thread; the page talks to it
 * through a RemoteBackend (src/core/remote/client.ts). Disks stay in the page (see
 * docs/architecture.md, "Workers"); saved pages the page names are read here, from the same
 * IndexedDB stores, so a large read does not pass through the page's thread.
 */
import { fetchAssetLoader } from "../core/assets.ts";
import { systemClock } from "../core/clock.ts";
import type { FromWorker, ToWorker, WorkerPort } from "../core/remote/protocol.ts";
import { serveBackend } from "../core/remote/server.ts";
import { reopenInWorker } from "../core/storage/kv.ts";
import { warmUpFrom } from "../core/remote/warmUp.ts";
import { createV86Backend, warmUpEmulator } from "../core/v86.ts";

interface WorkerScope {
  postMessage(message: FromWorker, transfer: ArrayBuffer[]): void;
  addEventListener(type: "message", listener: (event: { data: ToWorker }) => void): void;
  removeEventListener(type: "message", listener: (event: { data: ToWorker }) => void): void;
  close(): void;
}

const scope = globalThis as unknown as WorkerScope;

const port: WorkerPort = {
  post: (message, transfer) => scope.postMessage(message, transfer ?? []),
  onMessage: (listener) => {
    const handler = (event: { data: ToWorker }): void => listener(event.data);
    scope.addEventListener("message", handler);
    return { dispose: () => scope.removeEventListener("message", handler) };
  },
};

serveBackend(port, createV86Backend, systemClock, {
  // A Worker without IndexedDB (none known) leaves every read to the page.
  ...("indexedDB" in globalThis ? { openStore: reopenInWorker } : {}),
  // A Worker made ahead warms the emulator up when the page asks it to (v86.ts warmUpEmulator).
  warmUp: (refs) => warmUpFrom(refs, fetchAssetLoader, (files) => warmUpEmulator(files, systemClock)),
});
