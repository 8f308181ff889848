/**
 * Accessibility (issue 16): axe-core finds no violation, whatever its impact, on the page, the lab,
 * the lessons, the microscope panel, the network lab, the machine form, the inline confirms and the help overlay, in both themes
 * (the light one with the terminals' screen reader mode on); the
 * VGA view fits its box, shows 1:1 and goes fullscreen from buttons a keyboard reaches.
 * One booted page (the pre-booted start) for all of it.
 */
import AxeBuilder from "@axe-core/playwright";
import type { Page } from "@playwright/test";
import { expect, test, waitForShell } from "./fixtures.ts";

/** axe's violations (every impact, minor too) in what is on screen now, as "rule: target" lines. */
async function violations(page: Page, what: string): Promise<string[]> {
  const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]).analyze();
  return results.violations.flatMap((v) => v.nodes.map((n) => `${what}: ${v.id}: ${n.target.join(" ")}${v.id === "color-contrast" ? ` (${(n.failureSummary ?? "").split("\n")[1] ?? ""})` : ""}`));
}

/** The VGA view: fit to width never scrolls, 1:1 shows real pixels, fullscreen and back, all by keyboard. */
async function checkVgaView(page: Page): Promise<void> {
  const box = page.getByTestId("vga");
  const scrolls = (): Promise<boolean> => box.evaluate((el) => el.scrollWidth > el.clientWidth + 1);
  await expect(page.getByTestId("vga-fit")).toHaveAttribute("aria-pressed", "true");
  // The text screen (80 columns) fills the width it has and needs no scroll bar.
  await expect.poll(scrolls).toBe(false);
  const fill = (): Promise<number> => box.evaluate((el) => (el.querySelector(".vga-text")?.getBoundingClientRect().width ?? 0) / el.clientWidth);
  await expect.poll(fill).toBeGreaterThan(0.9);
  await page.getByTestId("vga-native").focus();
  await page.keyboard.press("Enter");
  await expect(page.getByTestId("vga-native")).toHaveAttribute("aria-pressed", "true");
  await expect.poll(() => box.evaluate((el) => (el.querySelector(".vga-text") as unknown as { style: { zoom: string } } | null)?.style.zoom ?? "missing")).toBe("");
  await page.getByTestId("vga-fullscreen").focus();
  await page.keyboard.press("Enter");
  await expect.poll(() => page.evaluate<string | null>("document.fullscreenElement?.id ?? null")).toBe("vga");
  await expect(page.getByTestId("vga-fullscreen")).toHaveText("Exit fullscreen");
  await page.keyboard.press("Enter");
  await expect.poll(() => page.evaluate<string | null>("document.fullscreenElement?.id ?? null")).toBeNull();
  await page.getByTestId("vga-fit").focus();
  await page.keyboard.press("Space");
  await expect(page.getByTestId("vga-fit")).toHaveAttribute("aria-pressed", "true");
  await expect.poll(scrolls).toBe(false);
}

test("no axe violation in either theme; the VGA view fits, shows 1:1 and goes fullscreen", async ({ page, pageErrors }) => {
  // axe walks the whole page four times: generous on a loaded 2-core machine.
  test.setTimeout(360_000);
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.emulateMedia({ colorScheme: "dark" });
  await page.goto("/");
  await waitForShell(page);
  const found: string[] = [];
  for (const theme of ["dark", "light"] as const) {
    // The light pass also has the screen reader mode on: the terminals' accessible rows are audited too.
    if (theme === "light") for (const keys of ["Alt+Shift+KeyT", "Alt+Shift+KeyR"]) await page.keyboard.press(keys);
    await expect.poll(() => page.evaluate<string>("document.documentElement.dataset.theme")).toBe(theme);
    // Everything open at once (one axe run): lessons, the VGA view, the machine form, an inline confirm; the lab is always there.
    await page.getByRole("button", { name: "Lessons" }).click();
    await expect(page.getByTestId("lessons").locator("li").first()).toBeVisible();
    await page.getByRole("button", { name: "Show screen" }).click();
    await expect(page.locator("#vga")).toBeVisible();
    await page.getByRole("button", { name: "Microscope", exact: true }).click();
    await expect(page.getByTestId("microscope-trap-table")).toBeVisible({ timeout: 30_000 });
    await page.getByRole("button", { name: "Network lab", exact: true }).click();
    await expect(page.getByTestId("network-no-machines")).toBeVisible();
    await page.getByTestId("machine-new").click();
    await page.getByTestId("machine-boot-source").selectOption("linux");
    await page.getByTestId("disk-reset").click();
    await expect(page.getByTestId("disk-reset-question")).toBeVisible();
    found.push(...(await violations(page, `${theme} page with lessons, screen, microscope, network lab, lab, machine form, confirm`)));
    if (theme === "dark") await checkVgaView(page);
    await page.getByTestId("disk-reset-cancel").click();
    await page.getByTestId("machine-cancel").click();
    await page.getByRole("button", { name: "Hide lessons" }).click();
    await page.getByRole("button", { name: "Hide screen" }).click();
    await page.getByRole("button", { name: "Hide microscope" }).click();
    await page.getByRole("button", { name: "Hide network lab" }).click();

    await page.keyboard.press("Alt+Shift+KeyH");
    await expect(page.getByTestId("help")).toBeVisible();
    found.push(...(await violations(page, `${theme} help`)));
    await page.keyboard.press("Escape");
    await expect(page.getByTestId("help")).toBeHidden();
  }
  expect(found).toEqual([]);

  // A phone's width: the toolbar wraps into rows, every button whole on screen and its label on
  // one line (it used to run off the right edge, labels broken over three lines).
  await page.setViewportSize({ width: 390, height: 844 });
  const misplaced = `Array.from(document.querySelectorAll(".actions button"))
    .filter((b) => b.offsetParent !== null)
    .filter((b) => { const r = b.getBoundingClientRect(); const text = document.createRange(); text.selectNodeContents(b); return r.left < 0 || r.right > innerWidth || text.getClientRects().length > 1; })
    .map((b) => b.textContent)`;
  await expect.poll(() => page.evaluate<string[]>(misplaced)).toEqual([]);
  expect(await page.evaluate<number>("document.documentElement.scrollWidth - innerWidth")).toBeLessThanOrEqual(0);
  // The lessons go under the terminal there, the width of the screen (beside it they had a sliver).
  await page.getByRole("button", { name: "Lessons" }).click();
  const lessons = page.getByTestId("lessons");
  await expect(lessons.locator("li").first()).toBeVisible();
  const boxes = await Promise.all([lessons.boundingBox(), page.getByTestId("terminal").boundingBox()]);
  expect({ lessonsWide: (boxes[0]?.width ?? 0) > 300, underTerminal: (boxes[0]?.y ?? 0) >= (boxes[1]?.y ?? 0) + (boxes[1]?.height ?? 0) - 1 }).toEqual({ lessonsWide: true, underTerminal: true });
  expect(pageErrors).toEqual([]);
});
