/**
 * Machines in Workers (issue 11): two machines in one page each answer a command, and the VGA
 * screen, drawn by v86 inside the Worker, shows in the page in text and graphics modes.
 */
import { expect, runInGuest, test, waitForShell } from "./fixtures.ts";
import type { VirtlabTestProxy } from "../src/ui/testProxy.ts";

type ProxyWindow = { virtlab?: VirtlabTestProxy };

test("two machines in one page, each in its own Worker, each answer a command", async ({ page, pageErrors }) => {
  test.setTimeout(300_000);
  await page.goto("/");
  await waitForShell(page);
  const second = page.evaluate(() => (globalThis as unknown as ProxyWindow).virtlab?.runOnSecondMachine("echo second-$((20+22))"));
  // While the second machine boots, the first keeps answering.
  expect(await runInGuest(page, "echo first-$((6*7))")).toEqual({ output: "first-42", exitCode: 0 });
  expect(await second).toEqual({ output: "second-42", exitCode: 0 });
  expect(await runInGuest(page, "echo still-here")).toEqual({ output: "still-here", exitCode: 0 });
  expect(pageErrors).toEqual([]);
});

test("Show screen draws the Worker's VGA output: text on the console, then a graphics mode", async ({ page, pageErrors }) => {
  await page.goto("/");
  await waitForShell(page);
  await page.locator('button[data-action="vga"]').click();
  const box = page.locator("#vga");
  await expect(box).toBeVisible();
  // Text mode: what the guest writes to its VGA console (tty0) appears in the page's text view.
  expect((await runInGuest(page, "echo virtlab-vga-text > /dev/tty0")).exitCode).toBe(0);
  await expect(box.locator(".vga-text")).toContainText("virtlab-vga-text");
  // Graphics mode: the attribute controller's mode register (index 0x10 at port 0x3C0, after a
  // read of 0x3DA resets its flip-flop) with bit 0 set switches the VGA to graphics.
  const attribute = (value: string): string =>
    `dd if=/dev/port bs=1 skip=${0x3da} count=1 of=/dev/null 2>/dev/null && printf '\\060' | dd of=/dev/port bs=1 seek=${0x3c0} 2>/dev/null && printf '${value}' | dd of=/dev/port bs=1 seek=${0x3c0} 2>/dev/null`;
  expect((await runInGuest(page, attribute("\\001"))).exitCode).toBe(0);
  // Something to see: random bytes into video memory (the text mode maps it at 0xB8000).
  expect((await runInGuest(page, "dd if=/dev/urandom of=/dev/mem bs=4096 seek=184 count=8 2>/dev/null")).exitCode).toBe(0);
  const canvas = box.locator("canvas.vga-canvas");
  await expect(canvas).toBeVisible();
  await expect(box.locator(".vga-text")).toBeHidden();
  // The frame arrived: the canvas has the mode's size and pixels that are not all black.
  await expect
    .poll(() =>
      canvas.evaluate((element) => {
        type Canvas = { width: number; height: number; getContext(kind: "2d"): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null };
        const c = element as unknown as Canvas;
        if (c.width === 0 || c.height === 0) return "empty";
        const data = c.getContext("2d")?.getImageData(0, 0, c.width, c.height).data ?? new Uint8ClampedArray();
        for (let i = 0; i < data.length; i += 4) if (data[i]! + data[i + 1]! + data[i + 2]! > 0) return "drawn";
        return "black";
      }),
    )
    .toBe("drawn");
  // Back to text: the text view returns.
  expect((await runInGuest(page, attribute("\\014"))).exitCode).toBe(0);
  await expect(box.locator(".vga-text")).toBeVisible();
  await expect(canvas).toBeHidden();
  expect(pageErrors).toEqual([]);
});
