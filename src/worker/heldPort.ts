/**
 * A Worker's port to the page that holds what the page sends before the Worker is ready to
 * listen: the machine's Worker imports its bulk as a module of its own (machine.worker.ts), and a
 * message dispatched meanwhile with no listener would be lost (the page sends a spare Worker its
 * "warm" at once, a start can follow as soon).
 */
import type { FromWorker, ToWorker, WorkerPort } from "../core/remote/protocol.ts";

/** The parts of a Worker's global scope the port uses. */
export interface PortScope {
  postMessage(message: FromWorker, transfer: ArrayBuffer[]): void;
  addEventListener(type: "message", listener: (event: { data: ToWorker }) => void): void;
  removeEventListener(type: "message", listener: (event: { data: ToWorker }) => void): void;
}

export interface HeldPort {
  /** The port: its listener gets what comes from now on; what came before waits for `release`. */
  readonly port: WorkerPort;
  /** Give the port's listener what came before it listened, in order (once it is set up). */
  release(): void;
}

/** Start holding `scope`'s messages now (call before anything is awaited). */
export function holdMessages(scope: PortScope): HeldPort {
  const held: ToWorker[] = [];
  const hold = (event: { data: ToWorker }): void => void held.push(event.data);
  scope.addEventListener("message", hold);
  const listening = new Set<(message: ToWorker) => void>();
  return {
    port: {
      post: (message, transfer) => scope.postMessage(message, transfer ?? []),
      onMessage: (listener) => {
        scope.removeEventListener("message", hold);
        listening.add(listener);
        const handler = (event: { data: ToWorker }): void => listener(event.data);
        scope.addEventListener("message", handler);
        return {
          dispose: () => {
            listening.delete(listener);
            scope.removeEventListener("message", handler);
          },
        };
      },
    },
    release() {
      const early = held.splice(0);
      for (const message of early) for (const listener of listening) listener(message);
    },
  };
}
