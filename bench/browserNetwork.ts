/**
 * The network lab in Chromium (`npm run bench -- --suite network-browser`, issue 14): lab
 * machines each run in a Worker of their own. Through the Network lab panel, as a user would:
 * add vm1 and vm2, start a CPU-bound loop in each terminal, read the MIPS column while both run,
 * then with vm2's loop stopped (SIGSTOP), both again, vm1's stopped, both again. Figures: one
 * machine's MIPS alone, the two machines' combined MIPS, and how much of its own speed alone each
 * machine keeps with the other busy, summed (the aim: ≥ 1.7 on 2 cores, two Workers on two cores).
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
 * Each machine's median MIPS over `SAMPLES` readings a second apart, once the loop is warm: the
 * last three sums within 10% of each other (after a restore the JIT has yet to compile the loop,
 * and a fixed few seconds of settling measured anything from 21 to 114 MIPS for one machine).
 */
async function sampleMips(page: Page, panel: Locator, names: readonly string[]): Promise<number[]> {
  const read = async (): Promise<number[] | undefined> => {
    const each = await Promise.all(names.map((n) => mips(panel, n)));
    return each.every((m) => Number.isFinite(m) && m > 0) ? each : undefined;
  };
  const sumOf = (each: readonly number[]): number => each.reduce((a, b) => a + b, 0);
  const recent: number[] = [];
  for (let s = 0; s < WARMUP_MAX_S; s++) {
    const now = await read();
    if (now !== undefined) recent.push(sumOf(now));
    const last = recent.slice(-3);
    if (last.length === 3 && Math.max(...last) <= Math.min(...last) * 1.1) break;
    await page.waitForTimeout(1000);
  }
  const readings: number[][] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const now = await read();
    if (now !== undefined) readings.push(now);
    await page.waitForTimeout(1000);
  }
  if (readings.length === 0) throw new Error(`no MIPS reading for ${names.join(", ")}`);
  return names.map((_, m) => summarize(readings.map((r) => r[m] ?? 0)).median);
}

/** Sends `signal` to the loop `startLoop` put in the background of `name`'s shell (its only job). */
async function signalLoop(page: Page, panel: Locator, name: string, signal: "STOP" | "CONT"): Promise<void> {
  await panel.getByTestId(`network-tab-${name}`).click();
  await panel.getByTestId(`network-terminal-${name}`).locator(".xterm-helper-textarea").focus();
  await page.keyboard.type(`kill -${signal} %1\n`);
}

export async function runBrowserNetworkBench(runs: number, log: (line: string) => void): Promise<BrowserCase[]> {
  return withBuiltApp(async (browser, base) => {
    const one: number[] = [];
    const two: number[] = [];
    const scaling: number[] = [];
    for (let i = 0; i < runs; i++) {
      const context = await browser.newContext();
      try {
        const page = await context.newPage();
        await page.goto(base);
        await page.getByTestId("stage").filter({ hasText: "ready" }).waitFor({ timeout: DEADLINE_MS });
        await page.locator('button[data-action="network"]').click();
        const panel = page.getByTestId("network");
        await addMachine(panel, "vm1");
        await addMachine(panel, "vm2");
        log("  network-browser: vm1 and vm2 running");
        await startLoop(page, panel, "vm1");
        await startLoop(page, panel, "vm2");
        // A guest's loop keeps getting faster for a while after the restore (v86's JIT), and two
        // guests from one state run it at different speeds (alone, in one hour: 241 and 317 MIPS).
        // So both loops warm up together first, and every reading after that compares a machine
        // with itself in the phases next to it: both busy, vm1 alone (vm2's loop stopped with
        // SIGSTOP), both, vm2 alone, both.
        await sampleMips(page, panel, ["vm1", "vm2"]);
        const [vm1Both1 = 0, vm2Both1 = 0] = await sampleMips(page, panel, ["vm1", "vm2"]);
        await signalLoop(page, panel, "vm2", "STOP");
        const [vm1Alone = 0] = await sampleMips(page, panel, ["vm1"]);
        await signalLoop(page, panel, "vm2", "CONT");
        const [vm1Both2 = 0, vm2Both2 = 0] = await sampleMips(page, panel, ["vm1", "vm2"]);
        await signalLoop(page, panel, "vm1", "STOP");
        const [vm2Alone = 0] = await sampleMips(page, panel, ["vm2"]);
        await signalLoop(page, panel, "vm1", "CONT");
        const [vm1Both3 = 0, vm2Both3 = 0] = await sampleMips(page, panel, ["vm1", "vm2"]);
        // Each machine's speed together, read on both sides of its phase alone, against that phase.
        const vm1Both = (vm1Both1 + vm1Both2) / 2;
        const vm2Both = (vm2Both2 + vm2Both3) / 2;
        const kept = vm1Both / vm1Alone + vm2Both / vm2Alone;
        log(
          `  network-browser: both ${vm1Both1.toFixed(0)}+${vm2Both1.toFixed(0)}, vm1 alone ${vm1Alone.toFixed(0)}, both ${vm1Both2.toFixed(0)}+${vm2Both2.toFixed(0)}, vm2 alone ${vm2Alone.toFixed(0)}, both ${vm1Both3.toFixed(0)}+${vm2Both3.toFixed(0)} MIPS; ${kept.toFixed(2)}× one machine`,
        );
        one.push((vm1Alone + vm2Alone) / 2);
        two.push((vm1Both1 + vm2Both1 + vm1Both2 + vm2Both2 + vm1Both3 + vm2Both3) / 3);
        scaling.push(kept);
      } finally {
        await context.close();
      }
    }
    return [
      browserCase("network-browser-one", "network lab in Chromium: one machine's MIPS alone, busy loop (mean of vm1's and vm2's)", "MIPS", one),
      browserCase("network-browser-two", "network lab in Chromium: two machines' combined MIPS, both busy", "MIPS", two),
      browserCase("network-browser-ratio", "two machines together, each against itself alone, summed (aim ≥ 1.7 on 2 cores)", "ratio", scaling),
    ];
  });
}
