/**
 * The machine Worker's side of a disk read, for bench/browserDisk.ts: the page's disk says where
 * the bytes are (`OverlayDisk.locate`), and this Worker reads them from IndexedDB itself, opened
 * as the app's machine Worker opens it (`reopenInWorker`). Bundled on its own.
 */
import { readPlanned, type DiskReadPlan } from "../../src/core/storage/disk.ts";
import { reopenInWorker, type KeyValueStore } from "../../src/core/storage/kv.ts";

interface Scope {
  postMessage(message: unknown, transfer: ArrayBuffer[]): void;
  addEventListener(type: "message", listener: (event: { data: { id: number; plan: DiskReadPlan } }) => void): void;
}
const scope = globalThis as unknown as Scope;
let kv: KeyValueStore | undefined;

scope.addEventListener("message", ({ data: { id, plan } }) => {
  kv ??= reopenInWorker(plan.location);
  readPlanned(kv, plan).then(
    (bytes) => scope.postMessage({ id, bytes }, [bytes.buffer as ArrayBuffer]),
    (error: unknown) => scope.postMessage({ id, error: String(error) }, []),
  );
});
