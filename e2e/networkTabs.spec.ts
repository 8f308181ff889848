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

/** vm1's address once it lies in the slice of the LAN the panel says is this tab's. */
async function addressInSlice(page: Page): Promise<string> {
  const panel = page.getByTestId("network");
  const inSlice = async (): Promise<string | undefined> => {
    const slice = /addresses 192\.168\.86\.(\d+)–(\d+) here/.exec((await panel.getByTestId("network-tab-id").textContent()) ?? "");
    const address = (await panel.getByTestId("network-address-vm1").textContent()) ?? "";
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
  await terminal.locator(".xterm-helper-textarea").focus();
  await pageA.keyboard.type(`ping -c 2 ${addressB}\n`);
  await expect(terminal.locator(".xterm-rows")).toContainText("2 packets transmitted, 2 packets received", { timeout: 60_000 });
  // Once the tabs share the LAN, each tab's router names its machines with the tab's id (DHCP option 12): the prompt says which vm1 this is.
  const idA = /This tab is ([a-z0-9]+)/.exec((await panelA.getByTestId("network-tab-id").textContent()) ?? "")?.[1] ?? "?";
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
