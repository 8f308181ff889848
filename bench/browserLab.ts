/**
 * The device lab's "Run all" in Chromium (`npm run bench -- --suite lab-browser`, issue 12), as a
 * teacher meets it: open the page, wait for the machine, choose standard sizes, press Run all and
 * wait for "Done", then press it again. The figures are the times from the press to "Done" (every
 * pair, every workload with its warm-up, repetitions and integrity checks, and the machines the lab
 * starts for them): the first in a fresh browser profile boots each machine and keeps its boot,
 * the second restores the kept boots. The progress line's steps are logged with the second they
 * appeared.
 *
 * Needs `dist/` (npm run build) and Chromium (CHROMIUM_PATH or /usr/bin/chromium).
 */
import { DEADLINE_MS, browserCase, eachReadyPage, withBuiltApp, type BrowserCase } from "./browser.ts";
import { chromiumCpuS } from "./browser/proc.ts";

/** Run all at standard sizes took 367 s when issue 12 was filed: room for a slow hour. */
const RUN_ALL_DEADLINE_MS = 1_800_000;

export async function runBrowserLabBench(runs: number, log: (line: string) => void): Promise<BrowserCase[]> {
  return withBuiltApp(async (browser, base) => {
    const first: number[] = [];
    const again: number[] = [];
    // Chromium's CPU seconds per second of Run all: how many cores the lab kept busy.
    const cores: number[] = [];
    await eachReadyPage(browser, base, runs, async (page) => {
      await page.getByTestId("lab-preset").selectOption("standard");
      const progress = page.getByTestId("lab-progress");
      let started = Date.now();
      // Each step the progress line shows, with when it showed (the lab's own words).
      await page.exposeFunction("labStep", (text: string) => log(`  lab-browser: ${((Date.now() - started) / 1000).toFixed(0)} s ${text}`));
      await progress.evaluate((node) => {
        type Observer = new (callback: () => void) => { observe(target: unknown, options: object): void };
        const Watch = (globalThis as unknown as { MutationObserver: Observer }).MutationObserver;
        let last = "";
        new Watch(() => {
          const text = node.textContent ?? "";
          if (text !== last) void (globalThis as unknown as { labStep(t: string): Promise<void> }).labStep((last = text));
        }).observe(node, { childList: true, characterData: true, subtree: true });
      });
      for (const times of [first, again]) {
        started = Date.now();
        const cpu = chromiumCpuS();
        await page.getByTestId("lab-run-all").click();
        // "Done" (or "failed") of this press: the line shows "Machine …" first.
        await progress.filter({ hasText: /^Machine/ }).waitFor({ timeout: DEADLINE_MS });
        await progress.filter({ hasText: /^Done:|failed/ }).waitFor({ timeout: RUN_ALL_DEADLINE_MS });
        const text = (await progress.textContent()) ?? "";
        if (!text.startsWith("Done:")) throw new Error(`Run all did not finish: ${text} ${(await page.locator("#error").textContent()) ?? ""}`);
        const s = (Date.now() - started) / 1000;
        const busy = (chromiumCpuS() - cpu) / s;
        log(`  lab-browser: Run all (standard sizes) ${s.toFixed(0)} s, Chromium busy ${busy.toFixed(2)} cores on average`);
        times.push(s);
        cores.push(busy);
      }
    });
    return [
      browserCase("lab-browser-run-all", "device lab Run all in Chromium, standard sizes, first in a browser (boots kept)", "s", first),
      browserCase("lab-browser-run-all-again", "device lab Run all again, from the kept boots (aim ≤ 90 s)", "s", again),
      browserCase("lab-browser-cores", "cores Chromium kept busy during Run all (CPU s per s, both presses)", "cores", cores),
    ];
  });
}
