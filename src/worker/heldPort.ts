/**
 * A Worker's port to the page that holds what the page sends before the Worker is ready to
 * listen: the machine's Worker imports its bulk as a module of its own (machine.worker.ts), and a
 * message dispatched meanwhile with no listener would be lost (the page sends a spare Worker its
 * "warm" at once, a start can follow as soon). `scopePort` is the plain one, for a Worker that
 * listens from its first line (the page clock's timers).
 */
import type { FromWorker, Port, ToWorker, WorkerPort } from "../core/remote/protocol.ts";

/** The parts of a Worker's global scope a port uses: it receives `In`, posts `Out`. */
export interface Scope<In, Out> {
  postMessage(message: Out, transfer: ArrayBuffer[]): void;
  addEventListener(type: "message", listener: (event: { data: In }) => void): void;
  removeEventListener(type: "message", listener: (event: { data: In }) => void): void;
}

/** The parts of a machine Worker's global scope the port uses. */
export type PortScope = Scope<ToWorker, FromWorker>;

/** A Worker's global scope as its end of a message channel with the page. */
export function scopePort<In, Out>(scope: Scope<In, Out>): Port<In, Out> {
  return {
    post: (message, transfer) => scope.postMessage(message, transfer ?? []),
    onMessage: (listener) => {
      const handler = (event: { data: In }): void => listener(event.data);
      scope.addEventListener("message", handler);
      return { dispose: () => scope.removeEventListener("message", handler) };
    },
  };
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
  const plain = scopePort(scope);
  return {
    port: {
      post: plain.post,
      onMessage: (listener) => {
        scope.removeEventListener("message", hold);
        listening.add(listener);
        const listened = plain.onMessage(listener);
        return {
          dispose: () => {
            listening.delete(listener);
            listened.dispose();
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
