/**
 * The address-walk view (issue 13) in Chromium: a walk of a kernel address on the live guest,
 * shown step by step, ending in guest physical memory and the emulator's Wasm memory, and
 * agreeing with the kernel's direct map; then, on the same booted page, the Microscope panel: trap
 * counts per device that move while a command runs, the JIT switched off and on with the guest
 * still answering, and a hypercall made from the guest shell showing up in the log.
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

  // The Microscope panel, opened by its shortcut (the same action as its button), with the page
  // scrolled back to the terminal as a user would have it.
  await page.evaluate("document.getElementById('app').scrollTo(0, 0)");
  await page.keyboard.press("Alt+Shift+KeyM");
  const panel = page.getByTestId("microscope");
  await expect(panel).toBeVisible();
  // It sits below the device lab: opening it scrolls it into view.
  await expect(panel).toBeInViewport();
  await expect(panel.getByTestId("microscope-status")).toContainText("taken with the meter installed");
  const sinceOn = async (): Promise<number> => Number(/(\d+) port accesses/.exec((await panel.getByTestId("microscope-since-on").textContent()) ?? "")?.[1] ?? "0");
  await expect.poll(sinceOn, { timeout: 30_000 }).toBeGreaterThan(0);
  const before = await sinceOn();
  // Output through the 8250 for a few seconds: its row is in the per-second table meanwhile.
  const running = runInGuest(page, "for i in 1 2 3; do seq 1 100; sleep 1; done");
  await expect(panel.locator('[data-testid="microscope-trap-table"] tr[data-device="uart0"]')).toHaveCount(1, { timeout: 30_000 });
  expect((await running).output).toContain("100");
  await expect.poll(sinceOn, { timeout: 30_000 }).toBeGreaterThan(before);

  // The JIT off and on again on the running machine: the guest keeps answering. The page's
  // machine started from a state with it held off (holdJitWhileSettingUp) and has it on once settled.
  const jit = panel.getByTestId("microscope-jit");
  await expect(jit).toBeChecked();
  await jit.uncheck();
  expect(await runInGuest(page, "echo interpreted")).toEqual({ output: "interpreted", exitCode: 0 });
  await jit.check();
  expect(await runInGuest(page, "echo compiled")).toEqual({ output: "compiled", exitCode: 0 });

  // A hypercall from the guest shell: arguments, call number (the write is the call), reply.
  const call = await runInGuest(page, "devmem 0xfea00000 32 40; devmem 0xfea00004 32 2; devmem 0xfea00008 32 1; devmem 0xfea0000c 32");
  expect(call.output.trim()).toBe("0x0000002A");
  await expect(panel.getByTestId("microscope-hypercalls").locator("tr").first()).toHaveText(/1 \(add\)\s*0x00000028, 0x00000002\s*0x0000002a/);
  expect(pageErrors).toEqual([]);
});
