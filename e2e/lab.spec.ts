import { expect, flip, runInGuest, shownErrors, test, waitForShell } from "./fixtures.ts";

test("the device panel flips NIC and console (a restart) and benchmarks a pair with a ratio", async ({ page, pageErrors }) => {
  test.setTimeout(420_000);
  await page.goto("/");
  await waitForShell(page);
  await expect(page.getByTestId("lab")).toContainText("Changing hardware restarts the machine");
  await expect(page.getByTestId("lab-nic-none")).toBeChecked();

  // NIC: the guest finds virtio-net on the PCI bus and binds its driver. The first time here that
  // hardware boots from scratch, and for as long as it does the panel's line says so (the user is
  // down at the panel, not at the status bar), not that the restart is over; then how long it took.
  await page.getByTestId("lab-nic-virtio").check();
  await expect(page.getByTestId("lab-progress")).toHaveText("Network card changed to virtio-net: Booting Linux…");
  await waitForShell(page);
  await expect(page.getByTestId("lab-progress")).toHaveText(/^Network card: virtio-net\. Shell ready: booted in \d+\.\d s\.$/);
  expect(await runInGuest(page, "basename $(readlink /sys/class/net/eth0/device/driver)")).toEqual({ output: "virtio_net", exitCode: 0 });

  // Console: the terminal is now on the virtio console (hvc0), the NIC choice is kept.
  await flip(page, "lab-console-virtio");
  expect(await runInGuest(page, "tty; basename $(readlink /sys/class/net/eth0/device/driver)")).toEqual({ output: "/dev/hvc0\nvirtio_net", exitCode: 0 });
  await expect(page.getByTestId("lab-console-virtio")).toBeChecked();
  await expect(page.getByTestId("lab-nic-virtio")).toBeChecked();

  // One benchmark, at quick sizes: both models measured, a ratio shown, every check passed.
  await page.getByTestId("lab-preset").selectOption("quick");
  await page.getByTestId("lab-run-console").click();
  await expect(page.getByTestId("lab-progress")).toContainText("Machine");
  const ratio = page.getByTestId("lab-ratio");
  await expect(ratio).toHaveText(/^\d+\.\d\d×$/, { timeout: 300_000 });
  const result = page.locator('[data-workload="console-write"]');
  await expect(result.locator("tr[data-side]")).toHaveCount(2);
  await expect(result).toContainText("8250 UART (ttyS0)");
  await expect(result).toContainText("virtio-console (hvc0)");
  await expect(result.locator("tr[data-side] td:last-child")).toHaveText([/^✓ \d+ checks$/, /^✓ \d+ checks$/]);
  await expect(result.locator("svg.lab-chart rect")).toHaveCount(2);
  // Kept in IndexedDB: listed in the history.
  await expect(page.getByTestId("lab-history").locator("li")).toHaveCount(1);
  // The user's machine was paused for the run and runs again.
  await expect(page.getByTestId("run-state")).toHaveText("running");
  console.log(`e2e lab: console-write ratio ${await ratio.textContent()}; ${(await result.locator("table").innerText()).replace(/\s+/g, " ")}`);

  expect(pageErrors).toEqual([]);
  expect(await shownErrors(page)).toEqual([]);
});

test("the CPU pair counts the instructions of each timed run in the machines' Workers: MIPS on both sides, the JIT ahead", async ({ page, pageErrors }) => {
  test.setTimeout(420_000);
  await page.goto("/");
  await waitForShell(page);
  // At quick size the JIT hashes its 256 KiB in well under the Worker's 200 ms status interval:
  // read from the status alone, the counter stood still over the run and the JIT measured 0 MIPS.
  await page.getByTestId("lab-preset").selectOption("quick");
  await page.getByTestId("lab-run-cpu").click();
  await expect(page.getByTestId("lab-progress")).toContainText("Machine");
  await expect(page.getByTestId("lab-ratio")).toHaveText(/^\d+\.\d\d×$/, { timeout: 300_000 });
  const rows = page.locator('[data-workload="cpu-hash"] tr[data-side]');
  await expect(rows).toHaveCount(2);
  await expect(rows.locator("td:last-child")).toHaveText([/^✓ \d+ checks$/, /^✓ \d+ checks$/]);
  const medians = (await rows.locator("td:nth-child(2)").allTextContents()).map((text) => Number(/^([\d.]+) MIPS$/.exec(text.trim())?.[1]));
  const spreads = await rows.locator("td:nth-child(3)").allTextContents();
  console.log(`e2e lab: cpu-hash interpreter ${medians[0]} MIPS, JIT ${medians[1]} MIPS; spreads ${spreads.join(" / ")}`);
  const [interpreter, jit] = medians;
  expect(interpreter).toBeGreaterThan(0);
  expect(jit).toBeGreaterThan(interpreter ?? Infinity);
  // The lowest run too: no run whose counter stood still.
  for (const spread of spreads) expect(spread).not.toMatch(/\(0\.00 MIPS/);

  expect(pageErrors).toEqual([]);
  expect(await shownErrors(page)).toEqual([]);
});

test("the balloon takes memory from the running guest and gives it back, without a restart", async ({ page, pageErrors }) => {
  test.setTimeout(240_000);
  await page.goto("/");
  await waitForShell(page);
  await expect(page.getByTestId("balloon")).toBeHidden();
  await flip(page, "lab-balloon-on");
  const memTotalKiB = async (): Promise<number> => Number((await runInGuest(page, "sed -n 's/^MemTotal: *\\([0-9]*\\) kB/\\1/p' /proc/meminfo")).output);
  const before = await memTotalKiB();
  await runInGuest(page, "echo before-balloon > /tmp/kept");

  await page.getByTestId("balloon-mib").fill("64");
  await page.getByTestId("balloon-set").click();
  await expect(page.getByTestId("balloon-reading")).toContainText("handed 64 MiB of its 256 MiB", { timeout: 60_000 });
  expect(before - (await memTotalKiB())).toBe(64 * 1024);

  await page.getByTestId("balloon-mib").fill("0");
  await page.getByTestId("balloon-set").click();
  await expect(page.getByTestId("balloon-reading")).toContainText("handed 0 MiB", { timeout: 60_000 });
  expect(await memTotalKiB()).toBe(before);
  // The same running guest all along: what it wrote before is still there.
  expect(await runInGuest(page, "cat /tmp/kept")).toEqual({ output: "before-balloon", exitCode: 0 });

  // Too much for the guest to live without: refused with a message, nothing changes.
  await page.getByTestId("balloon-mib").fill("250");
  await page.getByTestId("balloon-set").click();
  await expect(page.locator("#error")).toContainText("The balloon can take a whole number of MiB from 0 to 192", { timeout: 10_000 });
  await expect(page.getByTestId("balloon-reading")).toContainText("handed 0 MiB");
  expect(await shownErrors(page)).toEqual([expect.stringContaining("The balloon can take")]);
  expect(pageErrors).toEqual([]);
});
