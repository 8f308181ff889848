/**
 * Browser benchmarks (`npm run bench -- --suite browser`): the production build served as
 * `npm start` serves it, driven in Debian's Chromium the way a user meets it. Each figure is
 * "open the URL (or press the button), wait for the prompt, type `echo $((6*7))`, see 42".
 *
 * Rows (each visit opens a new page, waits until Chromium is quiet, as a window a user already has
 * open is, then enters the address; see `browserQuiet`):
 * - first visit: a fresh browser profile on disk, as a user's (nothing cached, no IndexedDB),
 *   URL → 42 (off the record Chromium keeps IndexedDB in memory and no compiled code between
 *   visits, which a user's browser does);
 * - repeat visit: the same profile opening the URL again;
 * - bytes the server sent before the first prompt showed, on a first visit: everything the page
 *   and its Workers fetched, counted on the server's sockets as sent (headers, compressed bodies);
 *   the service worker's precache downloads start after the first start, so they are not in it;
 * - cold boot: the Cold boot button → 42, with the main thread's long tasks (> 50 ms) meanwhile,
 *   once the offline worker has stored the app (it starts after the first visit's start and
 *   downloads ~55 MB: the emulator's speed is measured, not the two sharing the cores);
 * - extra machines (each in its own Worker) beside the page's: one cold-booted alone, then two at
 *   once, and the ratio (two machines share the cores: ≤ 1.2 on 2 cores is the aim);
 * - device switch: `?nic=virtio&console=virtio` → 42, the first time and again;
 * - device switch in the page (the device panel's NIC, on the repeat visit's page): to virtio-net
 *   (a boot, kept), back to the default hardware (the pre-booted state) and to virtio-net again
 *   (its kept boot), click → 42, each after the user has looked at the last answer for
 *   `LOOK_MS`;
 * - Node cold boot of the same guest in the same run, and the Chromium / Node ratio.
 *
 * Needs `dist/` (npm run build) and Chromium (CHROMIUM_PATH or /usr/bin/chromium).
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { resolve } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "@playwright/test";
import type { Socket } from "node:net";
import { preview, type Plugin } from "vite";
import { summarize, type Summary } from "../src/core/bench/stats.ts";
import { REPO_ROOT } from "../src/node/guest.ts";
import { nodeColdBoot } from "./boot.ts";
import { browserQuiet } from "./browser/proc.ts";

export interface BrowserCase {
  readonly id: string;
  readonly label: string;
  readonly unit: "s" | "MB" | "ms" | "count" | "ratio" | "MIPS" | "cores";
  readonly samples: number[];
  readonly summary: Summary;
}

const PROMPT = "root@virtlab:/#";
export const DEADLINE_MS = 240_000;

/**
 * Long tasks of the page's main thread, collected from the first script on; and long animation
 * frames (Chromium's LoAF), whose script entries say which callback took the time (a Worker's
 * message, an animation frame, a timer), so a long task can be put down to its cause.
 */
function installLongTaskObserver(): void {
  const log: { start: number; duration: number }[] = [];
  const frames: { start: number; duration: number; scripts: { invoker: string; type: string; duration: number; source: string }[] }[] = [];
  (globalThis as unknown as { __longTasks: typeof log }).__longTasks = log;
  (globalThis as unknown as { __longFrames: typeof frames }).__longFrames = frames;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) log.push({ start: entry.startTime, duration: entry.duration });
    // "longtask" is Chromium's; Node's PerformanceObserver types do not list it.
  }).observe({ type: "longtask" as never, buffered: true });
  type Script = { invoker: string; invokerType: string; duration: number; sourceURL: string; sourceFunctionName: string };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries() as unknown as { startTime: number; duration: number; scripts: Script[] }[]) {
      frames.push({
        start: entry.startTime,
        duration: entry.duration,
        scripts: entry.scripts.map((s) => ({ invoker: s.invoker, type: s.invokerType, duration: s.duration, source: `${s.sourceURL.split("/").pop() ?? ""}:${s.sourceFunctionName}` })),
      });
    }
  }).observe({ type: "long-animation-frame" as never, buffered: true });
}

interface LongTasks {
  readonly count: number;
  readonly totalMs: number;
  readonly maxMs: number;
  /** Script time inside long animation frames (> 50 ms), by what invoked the script. */
  readonly byInvoker: ReadonlyMap<string, { readonly totalMs: number; readonly maxMs: number }>;
}

async function longTasksSince(page: Page, since: number): Promise<LongTasks> {
  const { tasks, frames } = await page.evaluate(() => {
    const g = globalThis as unknown as { __longTasks: { start: number; duration: number }[]; __longFrames: { start: number; duration: number; scripts: { invoker: string; type: string; duration: number; source: string }[] }[] };
    return { tasks: g.__longTasks, frames: g.__longFrames };
  });
  const mine = tasks.filter((t) => t.start >= since);
  const byInvoker = new Map<string, { totalMs: number; maxMs: number }>();
  const add = (cause: string, ms: number): void => {
    const seen = byInvoker.get(cause) ?? { totalMs: 0, maxMs: 0 };
    byInvoker.set(cause, { totalMs: seen.totalMs + ms, maxMs: Math.max(seen.maxMs, ms) });
  };
  for (const frame of frames.filter((f) => f.start >= since)) {
    const scripted = frame.scripts.reduce((n, s) => n + s.duration, 0);
    for (const s of frame.scripts) add(`${s.type} ${s.invoker} (${s.source})`, s.duration);
    // What the frame spent outside scripts: style, layout, paint (the terminal's rows and the panels).
    if (frame.duration - scripted > 0) add("rendering (style, layout, paint)", frame.duration - scripted);
  }
  return { count: mine.length, totalMs: mine.reduce((s, t) => s + t.duration, 0), maxMs: Math.max(0, ...mine.map((t) => t.duration)), byInvoker };
}

/** In the page: a terminal row ends with the prompt. */
export function promptShows(prompt: string): boolean {
  type Doc = { querySelectorAll(selector: string): ArrayLike<{ textContent: string | null }> };
  const rows = Array.from((globalThis as unknown as { document: Doc }).document.querySelectorAll(".xterm-rows > div"));
  return rows.some((r) => (r.textContent ?? "").trimEnd().endsWith(prompt));
}

/** In the page: the row after the one that echoed the question tagged `tag` says 42. */
function answered(tag: string): boolean {
  type Doc = { querySelectorAll(selector: string): ArrayLike<{ textContent: string | null }> };
  const rows = Array.from((globalThis as unknown as { document: Doc }).document.querySelectorAll(".xterm-rows > div"), (r) => (r.textContent ?? "").trimEnd());
  const asked = rows.findIndex((line) => line.endsWith(`#${tag}`));
  return asked >= 0 && rows[asked + 1] === "42";
}

export async function waitForPrompt(page: Page): Promise<void> {
  await page.waitForFunction(promptShows, PROMPT, { polling: 10, timeout: DEADLINE_MS });
}

let questions = 0;

/** Type the question (tagged, so an earlier answer on screen never counts) and wait for 42. */
export async function ask(page: Page): Promise<void> {
  const tag = `q${++questions}`;
  await page.locator(".xterm-helper-textarea").focus();
  await page.keyboard.type(`echo $((6*7)) #${tag}\n`);
  await page.waitForFunction(answered, tag, { polling: 10, timeout: DEADLINE_MS });
}

/**
 * Bytes the preview server has written to its sockets: status lines, headers and bodies as sent
 * (compressed when they were). Counted on the server because Chromium reports a Worker's script
 * with a body of 0 bytes (`request.sizes()`), so the machine's script (~0.1 MB) went uncounted.
 */
const wire = { closed: 0, open: new Set<Socket>() };
export function bytesServed(): number {
  let total = wire.closed;
  for (const socket of wire.open) total += socket.bytesWritten;
  return total;
}
const countServedBytes: Plugin = {
  name: "bench-served-bytes",
  configurePreviewServer(server) {
    server.httpServer.on("connection", (socket: Socket) => {
      wire.open.add(socket);
      socket.on("close", () => {
        wire.open.delete(socket);
        wire.closed += socket.bytesWritten;
      });
    });
  },
};

/** How long a user looks at an answer before the next click (the page readies its next Worker meanwhile). */
const LOOK_MS = 4000;

/** Check the device panel's radio `testId` (a restart with other hardware) and time click → 42. */
async function switchInPage(page: Page, testId: string): Promise<number> {
  await page.waitForTimeout(LOOK_MS);
  const started = performance.now();
  await page.getByTestId(testId).check();
  // The user looks back at the terminal (xterm draws no rows while it is scrolled out of view).
  await page.locator(".xterm").scrollIntoViewIfNeeded();
  // The old machine's prompt stays on screen until the new start clears the terminal.
  await page.getByTestId("stage").filter({ hasNotText: "ready" }).waitFor({ timeout: DEADLINE_MS });
  await page.getByTestId("stage").filter({ hasText: "ready" }).waitFor({ timeout: DEADLINE_MS });
  await waitForPrompt(page);
  await ask(page);
  return (performance.now() - started) / 1000;
}

/** The three switches of the device panel (see the header); the boot of the first is kept before the others. */
async function switchesInPage(page: Page): Promise<{ boot: number; toDefault: number; again: number }> {
  const boot = await switchInPage(page, "lab-nic-virtio");
  await page.waitForFunction(() => (globalThis as unknown as { virtlab?: { bootKept(): { kind: string } | undefined } }).virtlab?.bootKept()?.kind, undefined, { timeout: DEADLINE_MS });
  const toDefault = await switchInPage(page, "lab-nic-none");
  const again = await switchInPage(page, "lab-nic-virtio");
  return { boot, toDefault, again };
}

/** Open `url` in a new page of `context` and measure URL → 42; the page is returned open. */
export async function visit(context: BrowserContext, url: string): Promise<{ page: Page; seconds: number; bytesBeforePrompt: number; settling: { seconds: number; cpuS: number } }> {
  const page = await context.newPage();
  // The user enters the address in a browser window already open: Chromium's own start-up of a
  // window (its WebUI omnibox popup, ~1 s of a core) is not the app's.
  const settling = await browserQuiet();
  const servedBefore = bytesServed();
  const t0 = performance.now();
  await page.goto(url);
  await waitForPrompt(page);
  const bytesBeforePrompt = bytesServed() - servedBefore;
  await ask(page);
  const seconds = (performance.now() - t0) / 1000;
  return { page, seconds, bytesBeforePrompt, settling };
}

async function waitForStage(page: Page, stage: string): Promise<void> {
  await page.getByTestId("stage").filter({ hasText: stage }).waitFor({ timeout: DEADLINE_MS });
}

async function coldBoot(page: Page): Promise<{ seconds: number; longTasks: LongTasks }> {
  await waitForStage(page, "ready");
  await page.getByTestId("offline").filter({ hasText: "Offline-ready" }).waitFor({ timeout: DEADLINE_MS });
  const since = await page.evaluate(() => performance.now());
  const t0 = performance.now();
  await page.locator('button[data-action="cold-boot"]').click();
  await page.getByTestId("stage").filter({ hasNotText: "ready" }).waitFor({ timeout: DEADLINE_MS });
  await waitForStage(page, "ready");
  await waitForPrompt(page);
  await ask(page);
  const seconds = (performance.now() - t0) / 1000;
  return { seconds, longTasks: await longTasksSince(page, since) };
}

/**
 * Extra machines beside the page's own (issue 11: each in its own Worker): the seconds until one
 * extra machine, cold-booted, answered; then until two started at once both had.
 */
async function extraMachines(page: Page): Promise<{ one: number; two: number }> {
  const boot = (count: number): Promise<number> =>
    page.evaluate(async (n) => {
      const proxy = (globalThis as unknown as { virtlab?: { runOnSecondMachine(command: string): Promise<{ output: string }> } }).virtlab;
      if (proxy === undefined) throw new Error("test proxy missing");
      const t0 = performance.now();
      const results = await Promise.all(Array.from({ length: n }, () => proxy.runOnSecondMachine("echo $((6*7))")));
      if (results.some((r) => r.output !== "42")) throw new Error(`an extra machine answered ${JSON.stringify(results)}`);
      return (performance.now() - t0) / 1000;
    }, count);
  const one = await boot(1);
  const two = await boot(2);
  return { one, two };
}

export function chromiumPath(): string {
  return process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";
}

/**
 * V8 flags for the benchmarked Chromium, from BENCH_JS_FLAGS (none by default: users run V8's
 * defaults). For diagnosis only, e.g. `BENCH_JS_FLAGS=--liftoff-only` shows what V8's optimizing
 * tier costs while v86 generates code.
 */
export function chromiumJsFlags(): string[] {
  const flags = process.env["BENCH_JS_FLAGS"]?.trim() ?? "";
  return flags === "" ? [] : [`--js-flags=${flags}`];
}

/** How every benchmarked Chromium starts: no background traffic of its own, V8's flags if asked. */
const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

/** The production build served as `npm start` serves it: `work` gets its address; the server is closed afterwards. */
export async function withServedApp<T>(work: (base: string) => Promise<T>): Promise<T> {
  if (!existsSync(resolve(REPO_ROOT, "dist/index.html"))) throw new Error("dist/ is missing: run `npm run build` first.");
  if (!existsSync(chromiumPath())) throw new Error(`No Chromium at ${chromiumPath()}: install Debian's chromium or set CHROMIUM_PATH.`);
  const server = await preview({ root: REPO_ROOT, logLevel: "silent", plugins: [countServedBytes], preview: { host: "127.0.0.1", port: 0, strictPort: false, open: false } });
  try {
    const base = server.resolvedUrls?.local[0];
    if (base === undefined) throw new Error("vite preview did not report its address");
    return await work(base);
  } finally {
    await server.close();
  }
}

/**
 * The production build served, and Debian's Chromium: `work` gets the browser and the app's
 * address; both are closed afterwards. Each new context of this browser is a fresh profile off
 * the record (IndexedDB, and the Blobs of its records, in memory).
 */
export async function withBuiltApp<T>(work: (browser: Browser, base: string) => Promise<T>): Promise<T> {
  return withServedApp(async (base) => {
    const browser = await chromium.launch({ executablePath: chromiumPath(), args: [...CHROMIUM_ARGS, ...chromiumJsFlags()] });
    try {
      return await work(browser, base);
    } finally {
      await browser.close();
    }
  });
}

/**
 * A fresh Chromium profile on disk, as a user's (in a temporary directory, removed afterwards):
 * IndexedDB keeps its records, and their Blobs, in files. Storage benchmarks need it: off the
 * record, Chromium keeps them in memory, which is neither a user's speed nor a user's memory.
 */
export async function withProfileOnDisk<T>(work: (context: BrowserContext) => Promise<T>): Promise<T> {
  const profile = mkdtempSync(resolve(tmpdir(), "virtlab-bench-profile-"));
  try {
    const context = await chromium.launchPersistentContext(profile, { executablePath: chromiumPath(), args: [...CHROMIUM_ARGS, ...chromiumJsFlags()] });
    try {
      return await work(context);
    } finally {
      await context.close();
    }
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/**
 * `runs` times: a fresh browser profile (a new context) with a page at `base` whose machine is
 * ready, handed to `work`; the context is closed after it, whatever happened.
 */
export async function eachReadyPage(browser: Browser, base: string, runs: number, work: (page: Page) => Promise<void>): Promise<void> {
  for (let i = 0; i < runs; i++) {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(base);
      await page.getByTestId("stage").filter({ hasText: "ready" }).waitFor({ timeout: DEADLINE_MS });
      await work(page);
    } finally {
      await context.close();
    }
  }
}

/** One row of a browser suite: its samples and their summary. */
export function browserCase(id: string, label: string, unit: BrowserCase["unit"], samples: number[]): BrowserCase {
  return { id, label, unit, samples, summary: summarize(samples) };
}

export async function runBrowserBench(runs: number, log: (line: string) => void): Promise<BrowserCase[]> {
  return withServedApp((base) => browserRuns(base, runs, log));
}

async function browserRuns(base: string, runs: number, log: (line: string) => void): Promise<BrowserCase[]> {
  const first: number[] = [];
  const repeat: number[] = [];
  const bytes: number[] = [];
  const cold: number[] = [];
  const coldLongTasks: number[] = [];
  const coldLongTaskMs: number[] = [];
  const coldLongTaskMax: number[] = [];
  const switchFirst: number[] = [];
  const switchAgain: number[] = [];
  const inPageBoot: number[] = [];
  const inPageToDefault: number[] = [];
  const inPageAgain: number[] = [];
  const node: number[] = [];
  const extraOne: number[] = [];
  const extraTwo: number[] = [];
  for (let i = 0; i < runs; i++) {
    // A fresh profile on disk, as a user's is: nothing cached, no IndexedDB, no service worker yet.
    // (Off the record Chromium keeps no compiled code between visits, and IndexedDB in memory.)
    await withProfileOnDisk(async (context) => {
      await context.addInitScript(installLongTaskObserver);
      const a = await visit(context, base);
      log(`  first visit ${a.seconds.toFixed(2)} s (the new window settled first: ${a.settling.seconds.toFixed(1)} s, Chromium ${a.settling.cpuS.toFixed(1)} s of CPU)`);
      first.push(a.seconds);
      bytes.push(a.bytesBeforePrompt / 1e6);
      const c = await coldBoot(a.page);
      log(`  cold boot ${c.seconds.toFixed(2)} s`);
      cold.push(c.seconds);
      coldLongTasks.push(c.longTasks.count);
      coldLongTaskMs.push(c.longTasks.totalMs);
      coldLongTaskMax.push(c.longTasks.maxMs);
      const causes = [...c.longTasks.byInvoker].sort((x, y) => y[1].totalMs - x[1].totalMs).slice(0, 8);
      log(`  cold boot: ${c.longTasks.count} long tasks, ${c.longTasks.totalMs.toFixed(0)} ms; long animation frames by cause:`);
      for (const [cause, ms] of causes) log(`    ${ms.totalMs.toFixed(0).padStart(6)} ms (longest ${ms.maxMs.toFixed(0)} ms)  ${cause}`);
      const extra = await extraMachines(a.page);
      log(`  extra machines: one ${extra.one.toFixed(2)} s, two at once ${extra.two.toFixed(2)} s`);
      extraOne.push(extra.one);
      extraTwo.push(extra.two);
      await a.page.close();
      const b = await visit(context, base);
      log(`  repeat visit ${b.seconds.toFixed(2)} s`);
      repeat.push(b.seconds);
      const inPage = await switchesInPage(b.page);
      log(`  device switch in the page: to virtio-net ${inPage.boot.toFixed(2)} s (a boot), back to the default ${inPage.toDefault.toFixed(2)} s, to virtio-net again ${inPage.again.toFixed(2)} s`);
      inPageBoot.push(inPage.boot);
      inPageToDefault.push(inPage.toDefault);
      inPageAgain.push(inPage.again);
      await b.page.close();
      const switchUrl = new URL("?nic=virtio&console=virtio", base).href;
      const s1 = await visit(context, switchUrl);
      log(`  device switch ${s1.seconds.toFixed(2)} s`);
      switchFirst.push(s1.seconds);
      // The boot of this hardware is kept in the background after the prompt (the boot cache):
      // the "again" figure is for a profile used before, so let it be stored first.
      const kept = await s1.page.waitForFunction(() => (globalThis as unknown as { virtlab?: { bootKept(): { kind: string } | undefined } }).virtlab?.bootKept()?.kind, undefined, { timeout: DEADLINE_MS });
      log(`  device switch: boot ${String(await kept.jsonValue())}`);
      await s1.page.close();
      const s2 = await visit(context, switchUrl);
      switchAgain.push(s2.seconds);
      await s2.page.close();
    });
    node.push(await nodeColdBoot());
    log(
      `browser run ${i + 1}/${runs}: first ${first.at(-1)?.toFixed(2)} s (${bytes.at(-1)?.toFixed(1)} MB), repeat ${repeat.at(-1)?.toFixed(2)} s, cold boot ${cold.at(-1)?.toFixed(2)} s (Node ${node.at(-1)?.toFixed(2)} s), switch ${switchFirst.at(-1)?.toFixed(2)} / ${switchAgain.at(-1)?.toFixed(2)} s`,
    );
  }
  const ratio = cold.map((c, i) => c / (node[i] ?? c));
  return [
    browserCase("browser-first-visit", "first visit: URL → 42 answered (fresh profile)", "s", first),
    browserCase("browser-first-visit-bytes", "first visit: bytes fetched by the page before the first prompt", "MB", bytes),
    browserCase("browser-repeat-visit", "repeat visit: URL → 42", "s", repeat),
    browserCase("browser-cold-boot", "cold boot: Cold boot button → 42 (Chromium)", "s", cold),
    browserCase("node-cold-boot", "cold boot: Node, same guest, same run (start → 42)", "s", node),
    browserCase("browser-node-ratio", "cold boot Chromium / Node", "ratio", ratio),
    browserCase("browser-cold-longtasks", "cold boot: main-thread long tasks (> 50 ms)", "count", coldLongTasks),
    browserCase("browser-cold-longtask-ms", "cold boot: main-thread time in long tasks", "ms", coldLongTaskMs),
    browserCase("browser-cold-longtask-max", "cold boot: longest main-thread task", "ms", coldLongTaskMax),
    browserCase("browser-extra-one", "one extra machine (own Worker) beside the page's: cold boot → 42", "s", extraOne),
    browserCase("browser-extra-two", "two extra machines at once: both cold boot → 42", "s", extraTwo),
    browserCase("browser-extra-ratio", "two machines at once / one", "ratio", extraTwo.map((t, i) => t / (extraOne[i] ?? t))),
    browserCase("browser-switch-first", "device switch ?nic=virtio&console=virtio → 42, first time", "s", switchFirst),
    browserCase("browser-switch-again", "device switch → 42, the same profile again", "s", switchAgain),
    browserCase("browser-inpage-switch-boot", "device switch in the page: NIC → virtio-net, click → 42 (a boot)", "s", inPageBoot),
    browserCase("browser-inpage-switch-default", "device switch in the page: back to the default hardware → 42", "s", inPageToDefault),
    browserCase("browser-inpage-switch-again", "device switch in the page: to virtio-net again (kept boot) → 42", "s", inPageAgain),
  ];
}
