/**
 * Offline use: registers the service worker (src/sw/sw.ts), shows whether this browser can run
 * virtlab with no network (a badge with progress while the files are stored), and asks before an
 * update takes over: reloading would end the running machine, so it never happens by itself.
 */
import type { registerSW } from "virtual:pwa-register";
import { OFFLINE_MESSAGE, type OfflineMessage } from "../sw/messages.ts";
import { DisposableStore } from "../core/index.ts";
import { h, listen } from "./kit/dom.ts";
import { describeOffline, type OfflineState } from "./offlineState.ts";

/** The longest the worker waits for the page's first start (a cold boot under load takes longer). */
const START_AFTER_MAX_MS = 15_000;

export interface OfflineHost {
  /** Whether reloading now would lose a running machine (the prompt says so). */
  machineRunning(): boolean;
  /**
   * vite-plugin-pwa's registration, given by the page's entry (main.ts): the app's own script is
   * built apart from it (vite.config.ts, classicApp) and has no virtual modules.
   */
  readonly register: typeof registerSW;
}

export class OfflineSupport {
  private state: OfflineState;
  private update: ((reload?: boolean) => Promise<void>) | undefined;
  private readonly listeners = new DisposableStore();
  /** This tab's user chose to reload to the new version (the others keep what they run). */
  private reloadAsked = false;
  private reloading = false;

  constructor(
    private readonly badge: HTMLElement,
    private readonly prompt: HTMLElement,
    private readonly host: OfflineHost,
  ) {
    this.state = { kind: "caching", doneBytes: 0, totalBytes: 0 };
    this.listeners.add(listen(window, "online", () => this.render()));
    this.listeners.add(listen(window, "offline", () => this.render()));
  }

  /** Stop following the network and the service worker. */
  dispose(): void {
    this.listeners.dispose();
  }

  /**
   * `start` once the page's first start is done, or after START_AFTER_MAX_MS: the worker stores
   * the whole app (~55 MB: guest, states, scripts), and on a first visit its downloads took the two
   * cores and the network from that start.
   */
  startAfter(first: Promise<unknown>): void {
    const later = new Promise<void>((resolve) => setTimeout(resolve, START_AFTER_MAX_MS));
    void Promise.race([first.catch(() => undefined), later]).then(() => this.start());
  }

  private start(): void {
    if (!window.isSecureContext || !("serviceWorker" in navigator)) {
      this.set({ kind: "unsupported", reason: "offline use needs HTTPS or localhost (see docs/deploy.md)" });
      return;
    }
    // A page the worker already controls was served from a complete cache.
    if (navigator.serviceWorker.controller !== null) this.set({ kind: "ready" });
    else this.render();
    // An active worker has stored everything (its installation stores all or fails). Workbox tells
    // only the tab that installed it (onOfflineReady): a second tab opened meanwhile hears it here.
    void navigator.serviceWorker.ready.then(() => {
      if (this.state.kind === "caching") this.set({ kind: "ready" });
    });
    this.listeners.add(
      listen<MessageEvent<OfflineMessage>>(navigator.serviceWorker, "message", (event) => {
        const data = event.data;
        if (data?.type === OFFLINE_MESSAGE && this.state.kind !== "ready") this.set({ kind: "caching", doneBytes: data.doneBytes, totalBytes: data.totalBytes });
      }),
    );
    this.update = this.host.register({
      immediate: true,
      onOfflineReady: () => this.set({ kind: "ready" }),
      onNeedRefresh: () => this.askToUpdate("waiting"),
      // The new version took charge. vite-plugin-pwa would reload every tab that showed the
      // prompt, ending their machines: only the tab whose user chose to reload does.
      onNeedReload: () => (this.reloadAsked ? this.reloadOnce() : this.askToUpdate("in-charge")),
      // The browser's own refusals (a DOMException) say why; anything else is a blocked or missing
      // registration (policies, extensions, test harnesses), not worth a script error's words.
      onRegisterError: (error: unknown) => this.set({ kind: "failed", reason: error instanceof DOMException ? error.message : "this browser did not let virtlab install its offline worker" }),
    });
  }

  private set(state: OfflineState): void {
    this.state = state;
    this.render();
  }

  private render(): void {
    this.badge.textContent = describeOffline(this.state, navigator.onLine);
    this.badge.dataset["state"] = this.state.kind;
    this.badge.hidden = false;
  }

  /**
   * A newer virtlab is stored and waiting ("waiting"), or already took charge because another tab
   * reloaded to it ("in-charge": this page still runs the version it loaded): the user decides
   * when to reload.
   */
  private askToUpdate(when: "waiting" | "in-charge"): void {
    const ready = when === "waiting" ? "A new version of virtlab is ready." : "Another tab reloaded to a new version of virtlab; this page still runs the one it loaded.";
    const text = h("span", {}, this.host.machineRunning() ? `${ready} Reloading restarts the machine: save a snapshot first if you want to keep what it is doing.` : ready);
    const reload = h("button", {
      type: "button",
      testid: "update-reload",
      onClick: () => {
        this.reloadAsked = true;
        if (when === "in-charge") return this.reloadOnce();
        // The new worker takes over, then the page reloads under it. (Workbox reloads only pages that
        // were already controlled when they registered; a first visit that stayed open is not.)
        navigator.serviceWorker.addEventListener("controllerchange", () => this.reloadOnce(), { once: true });
        void this.update?.(true);
      },
    }, "Reload now");
    const later = h("button", {
      type: "button",
      onClick: () => {
        this.prompt.hidden = true;
      },
    }, "Later");
    this.prompt.replaceChildren(text, reload, later);
    this.prompt.hidden = false;
  }

  private reloadOnce(): void {
    if (this.reloading) return;
    this.reloading = true;
    location.reload();
  }
}
