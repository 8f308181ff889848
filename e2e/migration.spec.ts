/**
 * Moving a running machine between two tabs (issue 15): tab A runs the default machine with a
 * counter in the guest, tab B opens the same machine read-only (A holds its disks); A checks the
 * requirements against B and moves the machine with pre-copy. B then runs it on (uptime larger,
 * the counter still counting: no reboot), holds the disks' lock and writes them; A says it handed
 * the machine over and is stopped. B then moves it on to a third tab with stop-and-copy. Then the
 * same-page meter over machines started from one state.
 */
import type { Locator, Page } from "@playwright/test";
import { expect, runInGuest, terminalBuffer, test, waitForShell } from "./fixtures.ts";

/** The counter the guest keeps in /tmp/c, one more each second. */
const COUNTER = "(i=0; while true; do i=$((i+1)); echo $i > /tmp/c; sleep 1; done) > /dev/null 2>&1 &";

/** Another tab of the browser on the same machine, read-only (the first tab holds its disks): a landing place. */
async function landingTab(from: Page, errors: string[] = []): Promise<{ readonly page: Page; readonly panel: Locator; readonly tab: string }> {
  const page = await from.context().newPage();
  page.on("pageerror", (error) => errors.push(`${error.name}: ${error.message}`));
  await page.goto("/");
  await expect(page.getByTestId("lock-banner")).toBeVisible();
  await page.getByTestId("lock-readonly").click();
  await waitForShell(page);
  const panel = page.getByTestId("migration");
  const tab = ((await panel.getByTestId("migration-status").textContent()) ?? "").match(/This is tab (\w+)/)?.[1] ?? "";
  expect(tab).not.toBe("");
  return { page, panel, tab };
}

/** In `panel`, pick `tab` (once listed), check the requirements (each must pass), and move the machine there. */
async function checkAndMove(panel: Locator, tab: string, method: "pre-copy" | "stop-and-copy", workload: "idle" | "memory-writer"): Promise<void> {
  await expect(panel.locator(`[data-testid="migration-tab"] option[value="${tab}"]`)).toHaveCount(1, { timeout: 30_000 });
  await panel.getByTestId("migration-tab").selectOption(tab);
  await panel.getByTestId("migration-check").click();
  for (const requirement of ["v86-version", "hardware", "disks", "disk-lock", "network", "clock"]) {
    await expect(panel.getByTestId(`migration-check-${requirement}`)).toHaveAttribute("data-ok", "true");
  }
  await panel.getByTestId("migration-method").selectOption(method);
  await panel.getByTestId("migration-workload").selectOption(workload);
  await panel.getByTestId("migration-move").click();
}

async function uptime(page: Page): Promise<number> {
  const { output } = await runInGuest(page, "cut -d' ' -f1 /proc/uptime");
  return Number(output);
}

async function counter(page: Page): Promise<number> {
  const { output } = await runInGuest(page, "cat /tmp/c");
  return Number(output);
}

test("a running machine moves to another tab with pre-copy: uptime and a counter run on, the disks' lock goes with it, the source shows the hand-over", async ({ page, pageErrors }) => {
  test.setTimeout(480_000);
  const pageA = page;
  await pageA.goto("/");
  await waitForShell(pageA);
  // A holds the machine's disks: B runs the same machine read-only, as the landing machine.
  const errorsB: string[] = [];
  const { page: pageB, panel: panelB, tab: tabB } = await landingTab(pageA, errorsB);

  // Written in A just before the move: A's pending disk pages are flushed before the lock goes.
  expect(await runInGuest(pageA, "echo fromA > /data/a && sync && cat /data/a")).toEqual({ output: "fromA", exitCode: 0 });
  expect((await runInGuest(pageA, COUNTER)).exitCode).toBe(0);
  await expect.poll(() => counter(pageA), { timeout: 30_000 }).toBeGreaterThanOrEqual(2);
  const before = await uptime(pageA);
  const countBefore = await counter(pageA);
  expect(before).toBeGreaterThan(0);

  // B is listed in A (found over BroadcastChannel), by its tab id. The guest as it is: the counter is its workload.
  const panelA = pageA.getByTestId("migration");
  await checkAndMove(panelA, tabB, "pre-copy", "idle");

  // A: handed over, stopped, never writes again.
  await expect(panelA.getByTestId("migration-status")).toHaveAttribute("data-outcome", "done", { timeout: 120_000 });
  await expect(panelA.getByTestId("migration-status")).toContainText(`Handed over to tab ${tabB}`);
  await expect(pageA.getByTestId("stage")).toHaveText("stopped");
  // A wrote every page before the lock went: its disk bar says so, not "not saved".
  await expect(pageA.getByTestId("disk-state")).toHaveAttribute("data-state", "handed-over");
  await expect(pageA.getByTestId("disk-state")).toHaveText("saved, and handed over: the machine moved to another tab, which writes its disks now");
  await expect(panelA.getByTestId("migration-round").first()).toBeVisible();
  await expect(panelA.getByTestId("migration-summary")).toContainText(/Downtime \d+ ms/);
  // A's terminal says where the machine went.
  await expect.poll(() => terminalBuffer(pageA)).toContainEqual(expect.stringContaining(`This machine moved to tab ${tabB} and runs there now`));

  // B: the machine arrived and runs on, with the rounds and the downtime shown there too.
  await expect(panelB.getByTestId("migration-status")).toContainText("Arrived from tab", { timeout: 60_000 });
  // B's terminal starts afresh under a line that says the machine came from A.
  const tabA = ((await panelB.getByTestId("migration-status").textContent()) ?? "").match(/Arrived from tab (\w+)/)?.[1] ?? "";
  await expect.poll(async () => (await terminalBuffer(pageB))[0]).toBe(`── Debian 6.1 + busybox (built in) · moved here from tab ${tabA}, running ──`);
  // ...and the shell's prompt, as A's console ended at the pause (before: nothing under the line).
  await expect.poll(async () => (await terminalBuffer(pageB))[1]?.trimEnd()).toBe("root@virtlab:/#");
  await expect(panelB.getByTestId("migration-summary")).toContainText(/Downtime \d+ ms/);
  await expect(panelB.getByTestId("migration-round").first()).toBeVisible();
  await expect(pageB.getByTestId("stage")).toHaveText("ready");
  const after = await uptime(pageB);
  expect(after).toBeGreaterThan(before);
  const countAfter = await counter(pageB);
  expect(countAfter).toBeGreaterThanOrEqual(countBefore);
  await expect.poll(() => counter(pageB), { timeout: 30_000 }).toBeGreaterThan(countAfter);

  // The disks' lock moved: B writes the machine's disk, and it is saved.
  expect(await runInGuest(pageB, "echo moved > /data/moved && sync && cat /data/moved")).toEqual({ output: "moved", exitCode: 0 });
  await expect(pageB.getByTestId("disk-state")).toHaveText("saved", { timeout: 30_000 });
  // Both files are in the machine's stored disk: B owns it now and boots it afresh with them.
  await pageB.reload();
  await waitForShell(pageB);
  await expect(pageB.getByTestId("lock-banner")).toBeHidden();
  expect(await runInGuest(pageB, "cat /data/a /data/moved")).toEqual({ output: "fromA\nmoved", exitCode: 0 });
  if (process.env["SHOTS"]) {
    await panelA.screenshot({ path: "/tmp/p15-panelA.png" });
    await pageA.screenshot({ path: "/tmp/p15-pageA.png", fullPage: true });
  }

  // And on, with stop-and-copy, to a third tab: the whole state crosses in the pause.
  const { page: pageC, panel: panelC, tab: tabC } = await landingTab(pageA);
  const beforeStop = await uptime(pageB);
  // This time with a process rewriting memory without pause, started by the move itself.
  await checkAndMove(panelB, tabC, "stop-and-copy", "memory-writer");
  await expect(panelB.getByTestId("migration-status")).toContainText(`Handed over to tab ${tabC}`, { timeout: 120_000 });
  await expect(panelC.getByTestId("migration-status")).toContainText("Arrived from tab", { timeout: 60_000 });
  await expect(panelC.getByTestId("migration-round")).toHaveCount(0);
  await expect(panelC.getByTestId("migration-summary")).toContainText(/Downtime \d+ ms/);
  expect(await uptime(pageC)).toBeGreaterThan(beforeStop);
  expect(await runInGuest(pageC, "cat /data/a /data/moved")).toEqual({ output: "fromA\nmoved", exitCode: 0 });
  // The memory writer came along and goes on writing in C.
  expect(await runInGuest(pageC, "kill -0 $(cat /tmp/memory-writer.pid) && echo writing")).toEqual({ output: "writing", exitCode: 0 });
  if (process.env["SHOTS"]) await panelC.screenshot({ path: "/tmp/p15-panelC.png" });
  expect(pageErrors).toEqual([]);
  expect(errorsB).toEqual([]);
});

test("the target tab closes in the middle of a move: the source runs on with its disks and their lock, nothing lost", async ({ page, pageErrors }) => {
  test.setTimeout(300_000);
  const pageA = page;
  await pageA.goto("/");
  await waitForShell(pageA);
  const { page: pageB, tab: tabB } = await landingTab(pageA);
  expect((await runInGuest(pageA, COUNTER)).exitCode).toBe(0);
  const before = await uptime(pageA);

  const panelA = pageA.getByTestId("migration");
  await checkAndMove(panelA, tabB, "pre-copy", "idle");
  await expect(panelA.getByTestId("migration-status")).toHaveAttribute("data-outcome", "moving");
  // The tab that was to receive the machine goes away while memory is on its way.
  await pageB.close();

  await expect(panelA.getByTestId("migration-status")).toHaveAttribute("data-outcome", "failed", { timeout: 60_000 });
  await expect(panelA.getByTestId("migration-status")).toContainText("the machine runs on here");
  await expect(pageA.getByTestId("stage")).toHaveText("ready");
  // The same guest runs on (no reboot), and this tab still writes the machine's disk.
  expect(await uptime(pageA)).toBeGreaterThan(before);
  const count = await counter(pageA);
  await expect.poll(() => counter(pageA), { timeout: 30_000 }).toBeGreaterThan(count);
  expect(await runInGuest(pageA, "echo stayed > /data/stayed && sync && cat /data/stayed")).toEqual({ output: "stayed", exitCode: 0 });
  await expect(pageA.getByTestId("disk-state")).toHaveText("saved", { timeout: 30_000 });
  await expect(pageA.getByTestId("lock-banner")).toBeHidden();
  // The failed move was reported to the user, and nothing else went wrong.
  expect(pageErrors).toEqual([]);
});

test("the same-page meter counts pages shared across machines started from the same state", async ({ page, pageErrors }) => {
  test.setTimeout(480_000);
  await page.goto("/");
  await waitForShell(page);
  await page.locator('button[data-action="network"]').click();
  const lab = page.getByTestId("network");
  await lab.getByTestId("network-add").click();
  await expect(lab.getByTestId("network-state-vm1")).toHaveText("running", { timeout: 240_000 });
  await lab.getByTestId("network-add").click();
  await expect(lab.getByTestId("network-state-vm2")).toHaveText("running", { timeout: 240_000 });
  const meter = page.getByTestId("migration").getByTestId("ksm-meter");
  // The meter measures while it is switched on and on screen.
  await page.getByTestId("ksm-live").check();
  await meter.scrollIntoViewIfNeeded();
  await expect(meter).toHaveAttribute("data-machines", "3", { timeout: 30_000 });
  // Two lab machines from one pre-booted state share most of their non-zero pages.
  await expect.poll(async () => Number(await meter.getAttribute("data-across")), { timeout: 30_000 }).toBeGreaterThan(1000);
  await expect(meter).toContainText("measured, not merged");
  expect(pageErrors).toEqual([]);
});
