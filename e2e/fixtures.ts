/**
 * Shared e2e helpers: page errors are collected for every test, and the app is reached through
 * its typed test proxy (src/ui/testProxy.ts) as well as through what a user sees.
 */
import { test as base, expect, type BrowserContext, type BrowserType, type CDPSession, type Page } from "@playwright/test";
import type { VirtlabTestProxy } from "../src/ui/testProxy.ts";

export const BOOT_DEADLINE_MS = 120_000;

export const test = base.extend<{ pageErrors: string[] }>({
  pageErrors: async ({ page }, use) => {
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(`${error.name}: ${error.message}`));
    // The Content-Security-Policy must never have to refuse anything the app does.
    page.on("console", (message) => {
      if (message.type() === "error" && message.text().includes("Content Security Policy")) errors.push(`CSP: ${message.text()}`);
    });
    await page.addInitScript(() => {
      const target = globalThis as unknown as { addEventListener(type: string, listener: (event: unknown) => void): void };
      target.addEventListener("securitypolicyviolation", (event) => {
        const e = event as { violatedDirective: string; blockedURI: string };
        console.error(`Content Security Policy violation: ${e.violatedDirective} ${e.blockedURI}`);
      });
    });
    await use(errors);
  },
});

export { expect };

/** Wait until the guest's shell prompt is on the terminal. */
export async function waitForShell(page: Page): Promise<void> {
  await expect(page.getByTestId("stage")).toHaveText("ready", { timeout: BOOT_DEADLINE_MS });
  // Look at the terminal, as a user would: xterm does not draw while it is scrolled out of view,
  // and each run starts on a cleared terminal.
  await page.getByTestId("terminal").scrollIntoViewIfNeeded();
  await expect(page.locator(".xterm-rows")).toContainText("root@virtlab:/#");
}

/**
 * Flip one device in the lab panel and wait for the machine to come back with it: the restart
 * begins after the click returns, so the old machine's "ready" must not count.
 */
export async function flip(page: Page, testId: string): Promise<void> {
  await page.getByTestId(testId).check();
  await expect(page.getByTestId("stage")).not.toHaveText("ready");
  await waitForShell(page);
}

type ProxyWindow = { virtlab?: VirtlabTestProxy };

/** Run a command in the guest through the app's test proxy; returns its output. */
export async function runInGuest(page: Page, command: string): Promise<{ output: string; exitCode: number }> {
  return page.evaluate(async (cmd) => {
    const proxy = (globalThis as unknown as ProxyWindow).virtlab;
    if (proxy === undefined) throw new Error("test proxy missing");
    return proxy.run(cmd);
  }, command);
}

/** Errors the app itself showed to the user. */
export async function shownErrors(page: Page): Promise<readonly string[]> {
  return page.evaluate(() => (globalThis as unknown as ProxyWindow).virtlab?.pageErrors() ?? ["test proxy missing"]);
}

/**
 * Tell the page its tab is hidden (or in front again), as a tab in the background hears it:
 * Playwright keeps its pages visible, so the document's visibility is overridden and announced.
 */
export async function setPageHidden(page: Page, hidden: boolean): Promise<void> {
  await page.evaluate(
    `(() => { if (${hidden}) { Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" }); Object.defineProperty(document, "hidden", { configurable: true, get: () => true }); } else { delete document.visibilityState; delete document.hidden; } document.dispatchEvent(new Event("visibilitychange")); })()`,
  );
}

/** The terminal's visible rows as lines of text, as the user reads them. */
export async function terminalLines(page: Page): Promise<string[]> {
  return page.locator(".xterm-rows > div").evaluateAll((rows) => rows.map((row) => (row.textContent ?? "").trimEnd()));
}

/** Wait until some visible terminal row equals `line` exactly. */
export async function expectTerminalLine(page: Page, line: string, timeout = 30_000): Promise<void> {
  await expect.poll(() => terminalLines(page), { timeout }).toContain(line);
}

/** Every line of the terminal, scrollback included; `flushFirst` false: only what reached xterm so far. */
export async function terminalBuffer(page: Page, flushFirst = true): Promise<string[]> {
  return page.evaluate((flush) => (globalThis as unknown as ProxyWindow).virtlab?.terminalBuffer(flush) ?? [], flushFirst);
}

/** The terminal's columns, rows and the font size it draws with. */
export async function terminalSize(page: Page): Promise<{ cols: number; rows: number; fontSize: number }> {
  return page.evaluate(() => {
    const proxy = (globalThis as unknown as ProxyWindow).virtlab;
    if (proxy === undefined) throw new Error("test proxy missing");
    return proxy.terminalSize();
  });
}

/** The machine's VGA text screen (guests without a serial console, e.g. GRUB). */
export async function textScreen(page: Page): Promise<string> {
  return page.evaluate(() => ((globalThis as unknown as ProxyWindow).virtlab?.textScreen() ?? []).join("\n"));
}

const cdpSessions = new WeakMap<Page, CDPSession>();

/**
 * Set (or with `quotaBytes` undefined, clear) Chromium's storage quota for the page's origin.
 * IndexedDB writes past it fail with QuotaExceededError; navigator.storage.estimate() does not
 * show the override. The CDP session stays open: detaching it drops the override.
 */
export async function overrideQuota(page: Page, quotaBytes: number | undefined): Promise<void> {
  let cdp = cdpSessions.get(page);
  if (cdp === undefined) {
    cdp = await page.context().newCDPSession(page);
    cdpSessions.set(page, cdp);
  }
  const origin = new URL(page.url()).origin;
  await cdp.send("Storage.overrideQuotaForOrigin", quotaBytes === undefined ? { origin } : { origin, quotaSize: quotaBytes });
}

/** The page's storage estimate, as the app's meter reads it. */
export async function storageEstimate(page: Page): Promise<{ usage: number; quota: number }> {
  return page.evaluate(async () => {
    const storage = (globalThis as unknown as { navigator: { storage: { estimate(): Promise<{ usage?: number; quota?: number }> } } }).navigator.storage;
    const e = await storage.estimate();
    return { usage: e.usage ?? 0, quota: e.quota ?? 0 };
  });
}

/** A browser profile on disk, so a restart (close + launch) keeps IndexedDB; a new dir is a fresh browser. */
export async function launchProfile(browserType: BrowserType, dir: string): Promise<{ context: BrowserContext; page: Page }> {
  const use = test.info().project.use;
  const context = await browserType.launchPersistentContext(dir, {
    ...use.launchOptions,
    ...(use.baseURL === undefined ? {} : { baseURL: use.baseURL }),
    acceptDownloads: true,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return { context, page };
}

/** How the page's machine started: "boot", "pre-booted" or "snapshot". */
export async function startedFrom(page: Page): Promise<string> {
  return page.evaluate(() => (globalThis as unknown as ProxyWindow).virtlab?.startedFrom() ?? "no proxy");
}

/** What became of the boot the page kept for its hardware (the boot cache), once it is known. */
export async function bootKept(page: Page): Promise<{ kind: string }> {
  await expect.poll(() => page.evaluate(() => (globalThis as unknown as ProxyWindow).virtlab?.bootKept()?.kind ?? "not yet"), { timeout: 60_000 }).not.toBe("not yet");
  return page.evaluate(() => (globalThis as unknown as ProxyWindow).virtlab?.bootKept() ?? { kind: "none" });
}

/**
 * Work on the "kv" store (as idb-keyval makes it) of one of the page's IndexedDB databases, in the
 * page, its connections open: the keys, delete some (all when none are named), or cut a Blob
 * record short by a byte.
 */
export async function indexedDbKv(
  page: Page,
  database: string,
  action: { readonly kind: "keys" } | { readonly kind: "delete"; readonly keys?: readonly string[] } | { readonly kind: "cut-short"; readonly key: string },
): Promise<string[]> {
  return page.evaluate(
    async ({ name, act }) => {
      type Request<T> = { result: T; error: unknown; onsuccess: () => void; onerror: () => void };
      type Store = { getAllKeys(): Request<unknown[]>; get(key: string): Request<unknown>; put(value: unknown, key: string): Request<unknown>; delete(key: string): Request<unknown>; clear(): Request<unknown> };
      type Database = { close(): void; transaction(name: string, mode: "readonly" | "readwrite"): { objectStore(name: string): Store } };
      const done = <T>(request: Request<T>): Promise<T> =>
        new Promise((resolve, reject) => {
          request.onsuccess = () => resolve(request.result);
          request.onerror = () => reject(request.error);
        });
      const db = await done((globalThis as unknown as { indexedDB: { open(name: string): Request<Database> } }).indexedDB.open(name));
      try {
        const store = db.transaction("kv", act.kind === "keys" ? "readonly" : "readwrite").objectStore("kv");
        if (act.kind === "keys") return (await done(store.getAllKeys())).map(String);
        if (act.kind === "cut-short") {
          // A Blob record one byte shorter (a damaged entry).
          const kept = (await done(store.get(act.key))) as { size: number; slice(from: number, to: number): unknown };
          await done(store.put(kept.slice(0, kept.size - 1), act.key));
        } else if (act.keys === undefined) await done(store.clear());
        else await Promise.all(act.keys.map((key) => done(store.delete(key))));
        return [];
      } finally {
        db.close();
      }
    },
    { name: database, act: action },
  );
}

/** A new machine of 64 MiB that boots the library's CD image `imageLabel`, saved and started. */
export async function bootFromCdrom(page: Page, name: string, imageLabel: string): Promise<void> {
  await page.getByTestId("machine-new").click();
  await page.getByTestId("machine-name-input").fill(name);
  await page.getByTestId("machine-memory").fill("64");
  await page.getByTestId("machine-boot-source").selectOption("cdrom");
  await page.getByTestId("machine-slot-cdrom").selectOption({ label: imageLabel });
  await page.getByTestId("machine-save-boot").click();
}
