/**
 * Offline use (classroom issue): one visit stores the app, the emulator, the guest and its
 * pre-booted state; with the server stopped the page reloads and reaches a shell. An update is
 * announced and waits for the user: it never reloads a running machine.
 */
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { expect, launchProfile, runInGuest, startedFrom, test, waitForShell } from "./fixtures.ts";
import { serveCopyOfDist, type StaticSite } from "./staticServer.ts";

// The other specs block service workers (playwright.config.ts); these are about them.
test.use({ serviceWorkers: "allow" });

let site: StaticSite;
test.beforeEach(async () => {
  site = await serveCopyOfDist();
});
test.afterEach(async () => {
  await site.dispose();
});

test("after one visit the default machine starts and runs with the server gone", async ({ page, pageErrors }) => {
  const visited = Date.now();
  await page.goto(site.url);
  await waitForShell(page);
  // A second tab opened while the first one's worker still stores the app hears that it is done
  // too (Workbox tells only the tab that registered the worker); it waits for the machine.
  const second = await page.context().newPage();
  await second.goto(site.url);
  await expect(second.getByTestId("offline")).toContainText("Storing for offline use");
  await expect(page.getByTestId("offline")).toHaveText("Offline-ready", { timeout: 120_000 });
  console.log(`offline: offline-ready ${((Date.now() - visited) / 1000).toFixed(1)} s after the first visit`);
  await expect(second.getByTestId("offline")).toHaveText("Offline-ready");
  await second.close();

  await site.stop();
  const before = site.requests();
  const reloaded = Date.now();
  await page.reload();
  await waitForShell(page);
  console.log(`offline: URL → shell with the server stopped ${((Date.now() - reloaded) / 1000).toFixed(1)} s`);
  expect(await startedFrom(page)).toBe("pre-booted");
  // The decoder's Worker fetched the state (through the service worker, with the server gone):
  // the page itself never asked for it, as it would have had the Worker failed.
  expect(await page.evaluate(() => performance.getEntriesByType("resource").filter((e) => e.name.endsWith("/prebooted.vlsnap")).length)).toBe(0);
  expect(await runInGuest(page, "echo $((6*7)); uname -r")).toMatchObject({ exitCode: 0, output: expect.stringMatching(/^42\n6\.1\./) });
  await expect(page.getByTestId("offline")).toHaveText("Offline-ready");
  // A lesson (data files) opens offline too.
  await page.locator('button[data-action="lessons"]').click();
  await expect(page.getByTestId("lessons").getByRole("button").first()).toBeVisible();
  expect(site.requests()).toBe(before);
  expect(pageErrors).toEqual([]);
});

test("an update is offered, never forced: the running machine keeps running until the user reloads, and a tab that did not choose to reload is not reloaded", async ({ page, pageErrors }) => {
  await page.goto(site.url);
  await waitForShell(page);
  await expect(page.getByTestId("offline")).toHaveText("Offline-ready", { timeout: 120_000 });
  await runInGuest(page, "echo still-here > /tmp/state");
  await page.evaluate(() => Object.assign(globalThis, { sameDocument: true }));
  // A second tab of the same browser (its own page; it waits for the machine the first one runs).
  const other = await page.context().newPage();
  await other.goto(site.url);
  await expect(other.getByTestId("lock-banner")).toBeVisible({ timeout: 60_000 });
  await other.evaluate(() => Object.assign(globalThis, { sameDocument: true }));

  // A new build: any change to the worker makes the browser install it as an update.
  appendFileSync(join(site.root, "sw.js"), "\n// next version\n");
  await page.evaluate(async () => {
    const nav = (globalThis as unknown as { navigator: { serviceWorker: { getRegistration(): Promise<{ update(): Promise<void> } | undefined> } } }).navigator;
    await (await nav.serviceWorker.getRegistration())?.update();
  });
  await expect(page.getByTestId("update")).toContainText("A new version of virtlab is ready. Reloading restarts the machine", { timeout: 60_000 });
  // Nothing reloads by itself: same document, same machine.
  await page.waitForTimeout(3000);
  expect(await page.evaluate(() => (globalThis as { sameDocument?: boolean }).sameDocument)).toBe(true);
  expect(await runInGuest(page, "cat /tmp/state")).toEqual({ output: "still-here", exitCode: 0 });

  await expect(other.getByTestId("update")).toContainText("A new version of virtlab is ready.");

  // The user says when: the page reloads under the new worker.
  await Promise.all([page.waitForEvent("framenavigated"), page.getByTestId("update-reload").click()]);
  await waitForShell(page);
  expect(await page.evaluate(() => (globalThis as { sameDocument?: boolean }).sameDocument)).toBeUndefined();
  await expect(page.getByTestId("update")).toBeHidden();
  // The other tab was not reloaded under its user (vite-plugin-pwa's default would have): it says
  // the new version took charge and reloads when its user says so.
  await expect(other.getByTestId("update")).toContainText("Another tab reloaded to a new version of virtlab; this page still runs the one it loaded.");
  expect(await other.evaluate(() => (globalThis as { sameDocument?: boolean }).sameDocument)).toBe(true);
  await Promise.all([other.waitForEvent("framenavigated"), other.getByTestId("update-reload").click()]);
  await expect(other.getByTestId("update")).toBeHidden();
  expect(await other.evaluate(() => (globalThis as { sameDocument?: boolean }).sameDocument)).toBeUndefined();
  await other.close();
  expect(pageErrors).toEqual([]);
});

test("the app is installable: Chromium finds no installability error", async ({ playwright }) => {
  // A browser profile on disk: Playwright's default contexts are incognito, where nothing installs.
  const dir = mkdtempSync(join(tmpdir(), "virtlab-install-"));
  const { context, page } = await launchProfile(playwright.chromium, dir);
  try {
    await page.goto(site.url);
    await expect(page.getByTestId("offline")).toHaveText("Offline-ready", { timeout: 120_000 });
    const cdp = await context.newCDPSession(page);
    const { installabilityErrors } = (await cdp.send("Page.getInstallabilityErrors")) as { installabilityErrors: { errorId: string }[] };
    expect(installabilityErrors.map((e) => e.errorId)).toEqual([]);
    const manifest = (await (await page.request.get(new URL("manifest.webmanifest", site.url).href)).json()) as { name: string; start_url: string; icons: unknown[] };
    expect(manifest).toMatchObject({ name: "virtlab: a PC in a browser tab", start_url: "./" });
    expect(manifest.icons.length).toBeGreaterThan(0);
  } finally {
    await context.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
