/**
 * The network lab in Chromium (`npm run bench -- --suite network-browser`, issue 14): lab
 * machines each run in a Worker of their own. Through the Network lab panel, as a user would:
 * add vm1 and vm2, start a CPU-bound loop in each terminal, let both warm up, then read the MIPS
 * column in short phases: both busy, vm1 alone (vm2's loop stopped with SIGSTOP), both, vm2 alone,
 * and so on, each machine alone twice. Figures: one machine's MIPS alone, the two machines'
 * combined MIPS, and how much of its own speed alone each machine keeps with the other busy
 * (against the phases just before and after), summed (the aim: ≥ 1.7 on 2 cores, two Workers on
 * two cores). The log also gives the CPU each of Chromium's threads used while both were busy.
 *
 * Needs `dist/` (npm run build) and Chromium (CHROMIUM_PATH or /usr/bin/chromium).
 */
import type { Locator, Page } from "@playwright/test";
import { summarize } from "../src/core/bench/stats.ts";
import { browserCase, eachReadyPage, withBuiltApp, type BrowserCase } from "./browser.ts";
import { chromiumThreadTicks } from "./browser/proc.ts";

/** The threads that used most CPU over `ticks` of wall time (1/100 s), in cores. */
function topCores(threads: ReadonlyMap<string, number>, ticks: number, count = 6): string {
  return [...threads]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([key, used]) => `${key} ${(used / ticks).toFixed(2)}`)
    .join(", ");
}

const DEADLINE_MS = 300_000;
/** MIPS samples per phase; the panel redraws its machine list once a second. */
const SAMPLES = 5;
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

/** How long the loops may take to warm up (v86's JIT compiles them after the restore) before sampling anyway. */
const WARMUP_MAX_S = 60;
/** The warm-up's least length: a first phase read at 15 s ran at a third of the speed the next ones did. */
const WARMUP_MIN_S = 20;
/** After a loop is stopped or continued, the readings of this many seconds are left out (the MIPS column averages the last second). */
const SETTLE_S = 2;
/**
 * The phases after the warm-up: every phase alone sits between two with both busy, and each
 * machine is alone twice. A guest's speed drifts by tens of percent over minutes, so phases are
 * short and a machine alone is compared with the phases just before and after it.
 */
const PHASES = ["both", "vm1", "both", "vm2", "both", "vm1", "both", "vm2", "both"] as const;

/** MIPS readings of `names`, or undefined while one of them has none. */
async function readMips(panel: Locator, names: readonly string[]): Promise<number[] | undefined> {
  const each = await Promise.all(names.map((n) => mips(panel, n)));
  return each.every((m) => Number.isFinite(m) && m > 0) ? each : undefined;
}

/**
 * Waits until the loops are warm: at least `WARMUP_MIN_S`, and the last five summed readings within
 * 10% of each other (after a restore the JIT has yet to compile the loop, and a fixed few seconds
 * of settling measured anything from 21 to 114 MIPS for one machine).
 */
async function warmUp(page: Page, panel: Locator, names: readonly string[]): Promise<void> {
  const recent: number[] = [];
  for (let s = 0; s < WARMUP_MAX_S; s++) {
    const now = await readMips(panel, names);
    if (now !== undefined) recent.push(now.reduce((a, b) => a + b, 0));
    const last = recent.slice(-5);
    if (s >= WARMUP_MIN_S && last.length === 5 && Math.max(...last) <= Math.min(...last) * 1.1) return;
    await page.waitForTimeout(1000);
  }
}

/** Each machine's median MIPS over `SAMPLES` readings a second apart, after `SETTLE_S`. */
async function sampleMips(page: Page, panel: Locator, names: readonly string[]): Promise<number[]> {
  await page.waitForTimeout(SETTLE_S * 1000);
  const readings: number[][] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const now = await readMips(panel, names);
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
    const combined: number[] = [];
    const workers: number[] = [];
    await eachReadyPage(browser, base, runs, async (page) => {
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
      // with itself in the phases next to it (PHASES: both busy, vm1 alone with vm2's loop
      // stopped by SIGSTOP, both, vm2 alone, both, and once more).
      await warmUp(page, panel, ["vm1", "vm2"]);
      // Both busy: [vm1, vm2]; one alone: its own reading at its index, 0 for the stopped one.
      const readings: number[][] = [];
      let bothTicks = 0;
      const threads = new Map<string, number>();
      for (const phase of PHASES) {
        if (phase === "both") {
          const before = chromiumThreadTicks();
          const t0 = performance.now();
          readings.push(await sampleMips(page, panel, ["vm1", "vm2"]));
          bothTicks += (performance.now() - t0) / 10;
          for (const [key, ticks] of chromiumThreadTicks()) threads.set(key, (threads.get(key) ?? 0) + ticks - (before.get(key) ?? 0));
          continue;
        }
        const other = phase === "vm1" ? "vm2" : "vm1";
        await signalLoop(page, panel, other, "STOP");
        const [alone = 0] = await sampleMips(page, panel, [phase]);
        readings.push(phase === "vm1" ? [alone, 0] : [0, alone]);
        await signalLoop(page, panel, other, "CONT");
      }
      // Each phase alone against the phases with both busy just before and after it.
      const kept = [0, 1].map((m) => {
        const ratios = PHASES.flatMap((phase, i) => (phase === `vm${m + 1}` ? [((readings[i - 1]?.[m] ?? 0) + (readings[i + 1]?.[m] ?? 0)) / 2 / (readings[i]?.[m] ?? 1)] : []));
        return ratios.reduce((a, b) => a + b, 0) / ratios.length;
      });
      const alone = PHASES.flatMap((phase, i) => (phase === "both" ? [] : [Math.max(...(readings[i] ?? [0]))]));
      const both = PHASES.flatMap((phase, i) => (phase === "both" ? [(readings[i] ?? []).reduce((a, b) => a + b, 0)] : []));
      const ratio = (kept[0] ?? 0) + (kept[1] ?? 0);
      const share = [...threads].filter(([key]) => key.endsWith("/DedicatedWorker thread") || key.endsWith("/DedicatedWorker")).reduce((sum, [, ticks]) => sum + ticks, 0) / bothTicks;
      log(
        `  network-browser: ${PHASES.map((phase, i) => `${phase} ${(readings[i] ?? []).filter((m) => m > 0).map((m) => m.toFixed(0)).join("+")}`).join(", ")} MIPS; vm1 keeps ${(kept[0] ?? 0).toFixed(2)}, vm2 ${(kept[1] ?? 0).toFixed(2)}: ${ratio.toFixed(2)}× one machine`,
      );
      log(`  network-browser: CPU while both busy (cores): Workers ${share.toFixed(2)}; ${topCores(threads, bothTicks)}`);
      const aloneMips = summarize(alone).median;
      const bothMips = summarize(both).median;
      one.push(aloneMips);
      two.push(bothMips);
      scaling.push(ratio);
      combined.push(bothMips / aloneMips);
      workers.push(share);
    });
    return [
      browserCase("network-browser-one", "network lab in Chromium: one machine's MIPS alone, busy loop (median of the phases alone)", "MIPS", one),
      browserCase("network-browser-two", "network lab in Chromium: two machines' combined MIPS, both busy", "MIPS", two),
      browserCase("network-browser-ratio", "two machines together, each against itself alone, summed (aim ≥ 1.7 on 2 cores)", "ratio", scaling),
      browserCase("network-browser-combined", "two machines' combined MIPS over one machine's alone", "ratio", combined),
      browserCase("network-browser-workers", "cores the machines' Workers used while both were busy (of 2)", "ratio", workers),
    ];
  });
}
