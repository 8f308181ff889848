/**
 * The browser's BackendFactory (issue 11): each machine's emulator runs in its own module Worker
 * (src/worker/machine.worker.ts); the page gets a RemoteBackend with the same interface, so
 * Machine and everything above it are unchanged. The VGA screen, drawn by v86 in the Worker, is
 * shown in the page's screen box by RemoteScreenView.
 */
import { defaultWarmUpRefs, type AssetRef, type BackendFactory, type EmulatorBackend } from "../core/index.ts";
import { connectRemoteBackend, type RemoteBackend } from "../core/remote/client.ts";
import type { FromWorker, Port, ToWorker } from "../core/remote/protocol.ts";
import { RemoteScreenView } from "./remoteScreen.ts";

/** A Worker as the page's end of a message channel (the machine's, the page clock's timers). */
export function workerPort<In, Out>(worker: Worker): Port<In, Out> {
  return {
    post: (message, transfer) => worker.postMessage(message, transfer ?? []),
    onMessage: (listener) => {
      const handler = (event: MessageEvent<In>): void => listener(event.data);
      worker.addEventListener("message", handler);
      return { dispose: () => worker.removeEventListener("message", handler) };
    },
  };
}

interface SpawnedWorker {
  readonly worker: Worker;
  /** Rejects when the worker's script fails to load (listened to from the start: the event may come before a machine takes it). */
  readonly failed: Promise<never>;
}

function spawnWorker(): SpawnedWorker {
  const worker = new Worker(new URL("../worker/machine.worker.ts", import.meta.url), { type: "module", name: "virtlab machine" });
  const failed = new Promise<never>((_, reject) => {
    worker.addEventListener("error", (event) => reject(new Error(`The machine's worker failed to load: ${event.message || "no details"}`)), { once: true });
  });
  failed.catch(() => undefined);
  return { worker, failed };
}

/** How long after a machine started the next spare Worker is made. */
const NEXT_SPARE_DELAY_MS = 3000;

/**
 * Machines started with this factory each get a Worker, ended when the backend is disposed. One
 * Worker is made ahead, so its script is loaded while the page readies the machine's state (a
 * start takes it, and the next one is made once that machine runs). With `warmWith`, each next one
 * warms the emulator up as soon as it is made (src/core/remote/warmUp.ts), so a device switch, a
 * second machine or a lab machine starts on compiled emulator code. The page's first one is not
 * warmed: its start comes while the page itself loads, and on two cores a warm-up then only
 * moved the restore later by what it saved in the set-up (docs/architecture.md).
 */
export function createWorkerBackendFactory(warmWith?: { readonly wasm: AssetRef; readonly guestBase: string }): BackendFactory {
  const warmUp = warmWith === undefined ? undefined : defaultWarmUpRefs(warmWith.wasm, warmWith.guestBase);
  let spare: SpawnedWorker | undefined = spawnWorker();
  return async (config, host): Promise<EmulatorBackend> => {
    const { worker, failed } = spare ?? spawnWorker();
    spare = undefined;
    let view: RemoteScreenView | undefined;
    let backend: RemoteBackend;
    try {
      backend = await Promise.race([
        connectRemoteBackend(workerPort<FromWorker, ToWorker>(worker), config, { wasm: host.wasm }, () => {
          view?.dispose();
          worker.terminate();
        }),
        failed,
      ]);
    } catch (error) {
      worker.terminate();
      throw error;
    }
    // The next one once this machine's start is over: loading a Worker's script took ~0.3 s of a
    // core while the restored guest ran its set-up, the user's first keys waiting for it.
    setTimeout(() => {
      if (spare !== undefined) return;
      spare = spawnWorker();
      if (warmUp !== undefined) spare.worker.postMessage({ type: "warm", files: warmUp } satisfies ToWorker);
    }, NEXT_SPARE_DELAY_MS);
    if (host.screenContainer instanceof HTMLElement && backend.remoteScreen !== undefined) view = new RemoteScreenView(host.screenContainer, backend.remoteScreen, backend.sendScancodes);
    return backend;
  };
}
