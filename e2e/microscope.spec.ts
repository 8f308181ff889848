/**
 * The address-walk view (issue 13) in Chromium: a walk of a kernel address on the live guest,
 * shown step by step, ending in guest physical memory and the emulator's Wasm memory, and
 * agreeing with the kernel's direct map.
 */
import { expect, runInGuest, test, waitForShell } from "./fixtures.ts";

test("the address-walk view walks a kernel address through the guest's page tables", async ({ page, pageErrors }) => {
  test.setTimeout(300_000);
  await page.goto("/");
  await waitForShell(page);
  // The page mounts the data disk and sets the clock after the restore: let that finish first.
  expect(await runInGuest(page, "true")).toEqual({ output: "", exitCode: 0 });
  const view = page.getByTestId("address-walk");
  await view.getByTestId("walk-target").selectOption("kernel");
  await view.getByTestId("walk-run").click();
  const result = view.getByTestId("walk-result");
  await expect(result).toContainText("2-level paging", { timeout: 120_000 });
  await expect(result.locator(".walk-table tr")).toHaveCount(2);
  await expect(result.locator(".walk-chain")).toHaveText(/^guest virtual 0xc[0-9a-f]{7} → guest physical 0x0[0-9a-f]{7} → Wasm memory byte 0x[0-9a-f]{8}$/);
  await expect(result.locator(".walk-agrees")).toContainText("the walk agrees");
  expect(pageErrors).toEqual([]);
});
