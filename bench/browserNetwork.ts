/**
 * The network lab in Chromium (`npm run bench -- --suite network-browser`, issue 14): lab
 * machines each run in a Worker of their own. Through the Network lab panel, as a user would:
 * add vm1, start a CPU-bound loop in its terminal, read its MIPS column for a while; add vm2,
 * start the same loop there, read both. Figures: one machine's MIPS alone, the two machines'
 * combined MIPS, and the ratio (the aim: ≥ 1.7 on 2 cores, two Workers on two cores).
 *
 * Needs `dist/` (npm run build) and Chromium (CHROMIUM_PATH or /usr/bin/chromium).
 */
import type { Locator, Page } from "@playwright/test";
import { summarize } from "../src/core/bench/stats.ts";
import { browserCase, withBuiltApp, type BrowserCase } from "./browser.ts";

const DEADLINE_MS = 300_000;
/** MIPS samples per phase; the panel redraws its machine list once a second. */
const SAMPLES = 10;
/** A busy loop in the guest's shell: pure CPU, no output. */
const LOOP = "while :; do :; done &\n";

async function addMachine(panel: Locator, name: string): Promise<void> {
  await panel.getByTestId("network-add").click();
  await panel.getByTestId(`network-state-${name}`).filter({ hasText: /^running$/ }).waitFor({ timeout: DEADLINE_MS });
}

async function startLoop(page: Page, panel: Locator, name: string): Promise<void> {
  await panel.getByTestId(`network-tab-${name}`).click();
  const terminal = panel.getByTestId(`network-terminal-${name}`);
  // "running" means the guest took its name at a prompt: type at once (the terminal may show
  // nothing until a key is pressed, as after a restore).
  await terminal.locator(".xterm-helper-textarea").focus();
  await page.keyboard.type(LOOP);
  // The guest's shell echoed it: the loop runs in the background.
  const rows = terminal.locator(".xterm-rows");
  await rows.filter({ hasText: "done &" }).waitFor({ timeout: 120_000 }).catch(async (error: unknown) => {
    throw new Error(`${name}'s terminal did not echo the loop; it shows: ${JSON.stringify(await rows.textContent())}`, { cause: error });
  });
}

/** The MIPS column of `name`'s row. */
async function mips(panel: Locator, name: string): Promise<number> {
  const text = (await panel.getByTestId(`network-mips-${name}`).textContent()) ?? "";
  return Number(text);
}

/** How long the loop may take to warm up (v86's JIT compiles it after the restore) before sampling anyway. */
const WARMUP_MAX_S = 40;

/**
 * `SAMPLES` readings a second apart, the median of their sums, once the loop is warm: the last
 * three sums within 10% of each other (after a restore the JIT has yet to compile the loop, and a
 * fixed few seconds of settling measured anything from 21 to 114 MIPS for one machine).
 */
async function sampleMips(page: Page, panel: Locator, names: readonly string[]): Promise<number[]> {
  const sum = async (): Promise<number | undefined> => {
    const each = await Promise.all(names.map((n) => mips(panel, n)));
    return each.every((m) => Number.isFinite(m) && m > 0) ? each.reduce((a, b) => a + b, 0) : undefined;
  };
  const recent: number[] = [];
  for (let s = 0; s < WARMUP_MAX_S; s++) {
    const now = await sum();
    if (now !== undefined) recent.push(now);
    const last = recent.slice(-3);
    if (last.length === 3 && Math.max(...last) <= Math.min(...last) * 1.1) break;
    await page.waitForTimeout(1000);
  }
  const sums: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const now = await sum();
    if (now !== undefined) sums.push(now);
    await page.waitForTimeout(1000);
  }
  if (sums.length === 0) throw new Error(`no MIPS reading for ${names.join(", ")}`);
  return sums;
}

export async function runBrowserNetworkBench(runs: number, log: (line: string) => void): Promise<BrowserCase[]> {
  return withBuiltApp(async (browser, base) => {
    const one: number[] = [];
    const two: number[] = [];
    for (let i = 0; i < runs; i++) {
      const context = await browser.newContext();
      try {
        const page = await context.newPage();
        await page.goto(base);
        await page.getByTestId("stage").filter({ hasText: "ready" }).waitFor({ timeout: DEADLINE_MS });
        await page.locator('button[data-action="network"]').click();
        const panel = page.getByTestId("network");
        await addMachine(panel, "vm1");
        log("  network-browser: vm1 running");
        await startLoop(page, panel, "vm1");
        const alone = summarize(await sampleMips(page, panel, ["vm1"])).median;
        log(`  network-browser: vm1 alone ${alone.toFixed(0)} MIPS`);
        await addMachine(panel, "vm2");
        await startLoop(page, panel, "vm2");
        const both = summarize(await sampleMips(page, panel, ["vm1", "vm2"])).median;
        log(`  network-browser: vm1 + vm2 ${both.toFixed(0)} MIPS (${(both / alone).toFixed(2)}×)`);
        one.push(alone);
        two.push(both);
      } finally {
        await context.close();
      }
    }
    return [
      browserCase("network-browser-one", "network lab in Chromium: one machine's MIPS, busy loop", "MIPS", one),
      browserCase("network-browser-two", "network lab in Chromium: two machines' combined MIPS, both busy", "MIPS", two),
      browserCase("network-browser-ratio", "two machines combined / one alone (aim ≥ 1.7 on 2 cores)", "ratio", two.map((t, i) => t / (one[i] ?? t))),
    ];
  });
}
