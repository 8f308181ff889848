/**
 * The browser's BackendFactory (issue 11): each machine's emulator runs in its own module Worker
 * (src/worker/machine.worker.ts); the page gets a RemoteBackend with the same interface, so
 * Machine and everything above it are unchanged. The VGA screen, drawn by v86 in the Worker, is
 * shown in the page's screen box by RemoteScreenView.
 */
import type { BackendFactory, EmulatorBackend } from "../core/index.ts";
import { connectRemoteBackend, type RemoteBackend } from "../core/remote/client.ts";
import type { FromWorker, PagePort } from "../core/remote/protocol.ts";
import { RemoteScreenView } from "./remoteScreen.ts";

function workerPort(worker: Worker): PagePort {
  return {
    post: (message, transfer) => worker.postMessage(message, transfer ?? []),
    onMessage: (listener) => {
      const handler = (event: MessageEvent<FromWorker>): void => listener(event.data);
      worker.addEventListener("message", handler);
      return { dispose: () => worker.removeEventListener("message", handler) };
    },
  };
}

/** Machines started with this factory each get a Worker, ended when the backend is disposed. */
export function createWorkerBackendFactory(): BackendFactory {
  return async (config, host): Promise<EmulatorBackend> => {
    const worker = new Worker(new URL("../worker/machine.worker.ts", import.meta.url), { type: "module", name: "virtlab machine" });
    let view: RemoteScreenView | undefined;
    const failed = new Promise<never>((_, reject) => {
      worker.addEventListener("error", (event) => reject(new Error(`The machine's worker failed to load: ${event.message || "no details"}`)), { once: true });
    });
    let backend: RemoteBackend;
    try {
      backend = await Promise.race([
        connectRemoteBackend(workerPort(worker), config, { wasm: host.wasm }, () => {
          view?.dispose();
          worker.terminate();
        }),
        failed,
      ]);
    } catch (error) {
      worker.terminate();
      throw error;
    }
    if (host.screenContainer instanceof HTMLElement && backend.remoteScreen !== undefined) view = new RemoteScreenView(host.screenContainer, backend.remoteScreen, backend.sendScancodes);
    return backend;
  };
}
