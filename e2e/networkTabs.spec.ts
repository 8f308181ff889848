/**
 * The network lab across tabs (issue 14, item 4): two pages of one browser, each with a machine
 * of its own in its own lab; both turn on "Join other tabs", their machines share one bridged
 * LAN over BroadcastChannel (each tab's router answering its own machines from its own slice of
 * addresses), the machine in tab A pings the one in tab B, and A's packet list shows the reply.
 * Then tab B closes: A's switch no longer has B's port, nor lists B's machine.
 */
import type { Page } from "@playwright/test";
import { expect, test, waitForShell } from "./fixtures.ts";

const START_DEADLINE_MS = 240_000;

/**
 * Open the lab in `page`, add one machine and wait until it runs with an address on the LAN.
 * The page's own machine runs in the first tab only (the second finds it taken by the first).
 */
async function labWithOneMachine(page: Page, first: boolean): Promise<void> {
  await page.goto("/");
  if (first) await waitForShell(page);
  await page.locator('button[data-action="network"]').click();
  const panel = page.getByTestId("network");
  await expect(panel).toBeVisible();
  await panel.getByTestId("network-add").click();
  await expect(panel.getByTestId("network-state-vm1")).toHaveText("running", { timeout: START_DEADLINE_MS });
  await expect(panel.getByTestId("network-address-vm1")).toHaveText(/^192\.168\.86\.\d+$/, { timeout: 60_000 });
}

/** `name`'s address once it lies in the slice of the LAN the panel says is this tab's. */
async function addressInSlice(page: Page, name = "vm1"): Promise<string> {
  const panel = page.getByTestId("network");
  const inSlice = async (): Promise<string | undefined> => {
    const slice = /addresses 192\.168\.86\.(\d+)–(\d+) here/.exec((await panel.getByTestId("network-tab-id").textContent()) ?? "");
    const address = (await panel.getByTestId(`network-address-${name}`).textContent()) ?? "";
    const last = Number(/^192\.168\.86\.(\d+)$/.exec(address)?.[1] ?? -1);
    return slice !== null && last >= Number(slice[1]) && last <= Number(slice[2]) ? address : undefined;
  };
  await expect.poll(inSlice, { timeout: 60_000 }).toBeDefined();
  return (await inSlice()) ?? "";
}

test("a machine in another tab of the browser joins the same switch: ping crosses, and a closed tab leaves the switch clean", async ({ page, pageErrors }) => {
  test.setTimeout(600_000);
  const pageA = page;
  const pageB = await pageA.context().newPage();
  const errorsB: string[] = [];
  pageB.on("pageerror", (error) => errorsB.push(`${error.name}: ${error.message}`));
  await labWithOneMachine(pageA, true);
  await labWithOneMachine(pageB, false);
  const panelA = pageA.getByTestId("network");
  const panelB = pageB.getByTestId("network");
  // Off by default: nothing crosses until the user turns it on in both tabs.
  await expect(panelA.getByTestId("network-join-tabs")).not.toBeChecked();
  await expect(panelA.locator('[data-testid^="network-port-tab-"]')).toHaveCount(0);

  await panelA.getByTestId("network-join-tabs").check();
  await panelB.getByTestId("network-join-tabs").check();
  // Each tab's switch has a port toward the other; each tab's machine asks its own router again
  // and gets an address from its tab's slice (which tab takes which slot depends on who settled first).
  await expect(panelA.locator('[data-testid^="network-port-tab-"]')).toHaveCount(1);
  await expect(panelB.locator('[data-testid^="network-port-tab-"]')).toHaveCount(1);
  const [addressA, addressB] = [await addressInSlice(pageA), await addressInSlice(pageB)];
  expect(addressA).not.toBe(addressB);
  // A lists B's machine (announced by B) with that address.
  const remoteInA = panelA.locator('[data-testid^="network-remote-address-"]');
  await expect(remoteInA).toHaveText(addressB);

  await panelA.getByTestId("network-tab-vm1").click();
  const terminal = panelA.getByTestId("network-terminal-vm1");
  // Once the tabs share the LAN, each tab's router names its machines with the tab's id (DHCP
  // option 12), and answers DNS for the other tab's machines by those names: ping B's vm1 by name.
  const idA = /This tab is ([a-z0-9]+)/.exec((await panelA.getByTestId("network-tab-id").textContent()) ?? "")?.[1] ?? "?";
  const idB = /This tab is ([a-z0-9]+)/.exec((await panelB.getByTestId("network-tab-id").textContent()) ?? "")?.[1] ?? "?";
  await terminal.locator(".xterm-helper-textarea").focus();
  await pageA.keyboard.type(`ping -c 2 vm1-${idB}\n`);
  await expect(terminal.locator(".xterm-rows")).toContainText(`PING vm1-${idB} (${addressB})`);
  await expect(terminal.locator(".xterm-rows")).toContainText("2 packets transmitted, 2 packets received", { timeout: 60_000 });
  // The prompt says which vm1 this is.
  await expect(terminal.locator(".xterm-rows")).toContainText(`root@vm1-${idA}`);
  // The reply came in through B's port on A's switch.
  await expect(panelA.getByTestId("network-packets").locator("tr", { hasText: "Echo (ping) reply" }).filter({ hasText: /tab-[a-z0-9]+/ }).first()).toBeVisible();
  await expect(pageA.getByTestId("network-topology").locator("svg")).toHaveAttribute("aria-label", /lan: .*vm1.*tab-/);

  // B closes (its goodbye on pagehide, else A's silence timeout): A's switch is clean of it.
  await pageB.close({ runBeforeUnload: true });
  await expect(panelA.locator('[data-testid^="network-port-tab-"]')).toHaveCount(0);
  await expect(remoteInA).toHaveCount(0);
  await expect(panelA.getByTestId("network-tab-id")).toContainText("0 other tab(s)");
  expect(pageErrors).toEqual([]);
  expect(errorsB).toEqual([]);
});

/** Type `command` into lab machine `name`'s terminal in `page`. */
async function typeIn(page: Page, name: string, command: string): Promise<void> {
  const panel = page.getByTestId("network");
  await panel.getByTestId(`network-tab-${name}`).click();
  await panel.getByTestId(`network-terminal-${name}`).locator(".xterm-helper-textarea").focus();
  await page.keyboard.type(command);
}

/** The visible rows of lab machine `name`'s terminal. */
function screenOf(page: Page, name: string): Promise<string> {
  return page.getByTestId("network").getByTestId(`network-terminal-${name}`).locator(".xterm-rows").innerText();
}

/** The guest's uptime in seconds, read from its terminal (a marker keeps the echoed command apart). */
async function uptimeOf(page: Page, name: string, mark: string): Promise<number> {
  await typeIn(page, name, `echo ${mark}=$(cut -d' ' -f1 /proc/uptime)\n`);
  const read = async (): Promise<number | undefined> => {
    const found = new RegExp(`${mark}=(\\d+\\.\\d+)`).exec(await screenOf(page, name));
    return found === null ? undefined : Number(found[1]);
  };
  await expect.poll(read, { timeout: 30_000 }).toBeDefined();
  return (await read()) ?? Number.NaN;
}

/** The highest icmp_seq among the echo replies on screen (busybox prints nothing for a lost one). */
async function lastReplySeq(page: Page, name: string): Promise<number> {
  return Math.max(-1, ...[...(await screenOf(page, name)).matchAll(/bytes from [\d.]+: seq=(\d+)/g)].map((m) => Number(m[1])));
}

test("a machine on the switch moves to another tab's lab and stays on the LAN (refused while that lab is off the LAN): a ping to it runs on, the gratuitous ARP is captured, uptime continues", async ({ page, pageErrors }) => {
  test.setTimeout(600_000);
  const t0 = Date.now();
  const mark = (what: string): void => void test.info().annotations.push({ type: "time", description: `${what} at ${((Date.now() - t0) / 1000).toFixed(1)} s` });
  const pageA = page;
  const pageB = await pageA.context().newPage();
  const errorsB: string[] = [];
  pageB.on("pageerror", (error) => errorsB.push(`${error.name}: ${error.message}`));
  // B: its lab open, no machine of its own, not joined yet. A: vm1, then a first check, refused:
  // B is not on the LAN. It starts B's landing machine meanwhile, while A starts vm2 (which moves).
  const panelA = pageA.getByTestId("network");
  const panelB = pageB.getByTestId("network");
  await pageB.goto("/");
  await pageB.locator('button[data-action="network"]').click();
  await expect(panelB).toBeVisible();
  await labWithOneMachine(pageA, false);
  await panelA.getByTestId("network-join-tabs").check();
  const move = panelA.getByTestId("lab-move");
  await expect(move.getByTestId("lab-move-tab").locator('option:not([value=""])')).toHaveCount(1);
  await move.getByTestId("lab-move-check").click();
  await panelA.getByTestId("network-add").click();
  const network = move.getByTestId("lab-move-check-network");
  await expect(network).toHaveAttribute("data-ok", "false", { timeout: 120_000 });
  await expect(network).toContainText("the target tab's lab has not joined the other tabs");
  await expect(move.getByTestId("lab-move-go")).toBeDisabled();
  await expect(panelA.getByTestId("network-state-vm2")).toHaveText("running", { timeout: START_DEADLINE_MS });
  await panelB.getByTestId("network-join-tabs").check();
  await expect(panelA.locator('[data-testid^="network-port-tab-"]')).toHaveCount(1);
  await expect(panelB.locator('[data-testid^="network-port-tab-"]')).toHaveCount(1);
  mark("joined");

  // The requirements again, for vm2: both labs bridged and on one trunk now (B's landing machine is up).
  await move.getByTestId("lab-move-machine").selectOption("vm2");
  await move.getByTestId("lab-move-check").click();
  const address = await addressInSlice(pageA, "vm2");
  mark("on the LAN");
  const uptimeBefore = await uptimeOf(pageA, "vm2", "UPA");

  // tee keeps every reply, so the lost ones can be named afterwards (-i: Ctrl-C stops ping, which prints its statistics through tee).
  await typeIn(pageA, "vm1", `ping -i 0.2 ${address} | tee -i /tmp/ping.txt\n`);
  await expect.poll(() => lastReplySeq(pageA, "vm1"), { timeout: 30_000 }).toBeGreaterThanOrEqual(3);
  await expect(network).toHaveAttribute("data-ok", "true", { timeout: 120_000 });
  await expect(network).toContainText("is on the same trunk");
  await expect(move.getByTestId("lab-move-check-disks")).toContainText("copied to the target at the pause");
  mark("checked");
  const seqAtMove = await lastReplySeq(pageA, "vm1");
  await move.getByTestId("lab-move-go").click();
  await expect(move.getByTestId("lab-move-outcome")).toContainText("Handed over to tab", { timeout: 120_000 });
  const outcome = (await move.getByTestId("lab-move-outcome").textContent()) ?? "";
  mark("moved");
  await expect(panelB.getByTestId("network-state-vm2")).toHaveText("running");
  await expect(panelB.getByTestId("lab-move-outcome")).toContainText("Arrived from tab");
  // B's terminal for it starts afresh under a line naming A's tab, then the prompt as A's console
  // ended at the pause (before: the landing machine's own prompt, "root@virtlab", stayed on screen).
  const tabOfA = /Arrived from tab (\w+)/.exec((await panelB.getByTestId("lab-move-outcome").textContent()) ?? "")?.[1] ?? "";
  await panelB.getByTestId("network-tab-vm2").click();
  await expect.poll(async () => (await screenOf(pageB, "vm2")).split("\n").slice(0, 2).map((l) => l.trimEnd())).toEqual([`── vm2 · moved here from tab ${tabOfA}, running ──`, expect.stringMatching(/^root@vm2[\w-]*:\/#$/)]);
  await expect(panelB.getByTestId("network-from-vm2")).toHaveText("moved from another tab");
  // Gone from A's switch; A lists it as B's machine, with the same address.
  await expect(panelA.getByTestId("network-machine-vm2")).toHaveCount(0);
  await expect(panelA.locator('[data-testid^="network-remote-address-"]')).toHaveText(address);

  // The ping runs on: replies keep coming, now from tab B.
  await expect.poll(() => lastReplySeq(pageA, "vm1"), { timeout: 30_000 }).toBeGreaterThan(seqAtMove + 10);
  await panelA.getByTestId("network-terminal-vm1").locator(".xterm-helper-textarea").focus();
  await pageA.keyboard.press("Control+C");
  await expect.poll(() => screenOf(pageA, "vm1"), { timeout: 10_000 }).toMatch(/\d+ packets transmitted, \d+ packets received/);
  const stats = /(\d+) packets transmitted, (\d+) packets received/.exec(await screenOf(pageA, "vm1"));
  const [sent, received] = [Number(stats?.[1]), Number(stats?.[2])];
  // The poll above is the proof that replies came after the move; how many echoes the pause cost
  // depends on the host's load (a timing, for the bench), so the statistics are only checked to be
  // ping's own: every echo up to the reply seen was sent, and no more came back than were sent.
  expect(sent).toBeGreaterThan(seqAtMove + 11);
  expect(received).toBeLessThanOrEqual(sent);
  // Which echoes went unanswered, as runs of sequence numbers ("a-b"), beside the one on screen when Move was pressed.
  await typeIn(pageA, "vm1", `awk -F'seq=' '/seq=/{split($2,a," "); s=a[1]; if (p!="" && s!=p+1) g=g" "(p+1)"-"(s-1); p=s} END{print "GA" "PS:" g ":E" "ND"}' /tmp/ping.txt\n`);
  await expect.poll(() => screenOf(pageA, "vm1"), { timeout: 10_000 }).toMatch(/GAPS:[^\n]*:END/);
  const gaps = /GAPS:([^\n]*):END/.exec(await screenOf(pageA, "vm1"))?.[1]?.trim() ?? "?";
  test.info().annotations.push({ type: "move", description: `${outcome} | ping every 0.2 s: ${sent} sent, ${received} received, ${sent - received} lost; unanswered seq ${gaps || "none"}; seq ${seqAtMove} on screen when Move was pressed` });

  // The gratuitous ARP, sent on the guest's behalf, came into A's switch through B's port.
  await panelA.getByTestId("network-filter-proto").selectOption("arp");
  await expect(panelA.getByTestId("network-packets").locator("tr", { hasText: `Gratuitous ARP for ${address}` }).filter({ hasText: /tab-[a-z0-9]+/ }).first()).toBeVisible();
  await panelB.getByTestId("network-filter-proto").selectOption("arp");
  await expect(panelB.getByTestId("network-packets").locator("tr", { hasText: `Gratuitous ARP for ${address}` }).first()).toBeVisible();

  // The same guest, no reboot: its uptime ran on.
  const uptimeAfter = await uptimeOf(pageB, "vm2", "UPB");
  expect(uptimeAfter).toBeGreaterThan(uptimeBefore);
  expect(pageErrors).toEqual([]);
  expect(errorsB).toEqual([]);
});
