/**
 * The page's timers while its tab is hidden (src/core/hiddenClock.ts): a Worker's timers run on
 * time where a hidden page's run at most once a second, and its messages reach the page at once.
 */
import { serveTimers, type FromTimers, type ToTimers } from "../core/hiddenClock.ts";

interface TimerScope {
  postMessage(message: FromTimers): void;
  addEventListener(type: "message", listener: (event: { data: ToTimers }) => void): void;
  removeEventListener(type: "message", listener: (event: { data: ToTimers }) => void): void;
}

const scope = globalThis as unknown as TimerScope;
serveTimers(
  {
    post: (message) => scope.postMessage(message),
    onMessage: (listener) => {
      const handler = (event: { data: ToTimers }): void => listener(event.data);
      scope.addEventListener("message", handler);
      return { dispose: () => scope.removeEventListener("message", handler) };
    },
  },
  { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>) },
);
