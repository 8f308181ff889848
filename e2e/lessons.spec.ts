/**
 * Lessons (classroom issue): a link opens a lesson at a step; a lesson is walked end to end on
 * the live machine, every step's action showing what it did; a broken lesson file is listed with
 * its problems while the others work.
 */
import { expect, runInGuest, shownErrors, terminalBuffer, test, waitForShell } from "./fixtures.ts";

test("the snapshots lesson, walked end to end on the live machine", async ({ page, pageErrors }) => {
  await page.goto("/?lesson=snapshots&step=1");
  await waitForShell(page);
  const panel = page.getByTestId("lessons");
  await expect(panel).toBeVisible();
  await expect(panel.getByTestId("lesson-title")).toHaveText("Saving and moving a machine");
  // Opened at its first step, the lesson shows its title (not under the step bar).
  await expect(panel.getByTestId("lesson-title")).toBeInViewport({ ratio: 1 });
  const steps = panel.locator(".lesson-steps > li");
  const count = await steps.count();
  expect(count).toBeGreaterThanOrEqual(4);
  let acted = 0;
  for (let n = 1; n <= count; n++) {
    await expect(panel.getByTestId("lesson-position")).toHaveText(`Step ${n} of ${count}`);
    await expect(page).toHaveURL(new RegExp(`[?&]lesson=snapshots&step=${n}$`));
    const step = steps.nth(n - 1);
    await expect(step).toHaveAttribute("aria-current", "step");
    // Next step brings the step it goes to into the panel's view.
    await expect(step.locator("h4")).toBeInViewport({ ratio: 1 });
    const button = step.getByTestId("lesson-do");
    if ((await button.count()) > 0) {
      await button.click();
      // Each action shows its outcome under the step, and the outcome is what the lesson expects.
      await expect(step.getByTestId("lesson-outcome")).toHaveAttribute("data-ok", "true", { timeout: 120_000 });
      acted += 1;
    }
    if (n < count) await panel.getByTestId("lesson-next").click();
  }
  expect(acted).toBeGreaterThanOrEqual(4);
  // The terminal shows a step's command as if typed at the prompt, not the markers' wrapper around it.
  const screen = await terminalBuffer(page);
  expect(screen).toContain("root@virtlab:/# cat /root/lesson-note");
  expect(screen.filter((line) => line.includes("printf") || line.includes("\\036"))).toEqual([]);
  // The restore step really took the machine back: the lesson's note is the one from before.
  expect(await runInGuest(page, "cat /root/lesson-note")).toEqual({ output: "before the snapshot", exitCode: 0 });
  await expect(page.getByTestId("snapshots")).toContainText("lesson: before");
  expect(pageErrors).toEqual([]);
  expect(await shownErrors(page)).toEqual([]);
});

test("a link opens a lesson at its step, and Copy link gives lesson and step back", async ({ page, pageErrors }) => {
  await page.goto("/?nic=virtio&lesson=io&step=2");
  const panel = page.getByTestId("lessons");
  await expect(panel.getByTestId("lesson-position")).toHaveText(/^Step 2 of \d+$/);
  await expect(panel.locator('.lesson-steps > li[data-step="2"]')).toHaveAttribute("aria-current", "step");
  await waitForShell(page);
  await expect(page.getByTestId("lab-nic-virtio")).toBeChecked();
  await panel.getByTestId("lesson-next").click();
  await page.locator('button[data-action="copy-link"]').click();
  // The link is written once the clipboard has answered.
  await expect(page.getByTestId("notice")).toHaveAttribute("data-link", /step=3$/);
  const link = await page.getByTestId("notice").getAttribute("data-link");
  expect(new URL(link ?? "").search).toBe("?nic=virtio&lesson=io&step=3");

  // Its last step goes back to the emulated devices: the default hardware, restored from the
  // pre-booted state. The step ends with the machine the student's, and says how it came to be.
  await panel.getByTestId("lesson-next").click();
  await panel.getByTestId("lesson-next").click();
  await panel.getByTestId("lesson-next").click();
  const back = panel.locator('.lesson-steps > li[data-step="6"]');
  await expect(back).toHaveAttribute("aria-current", "step");
  await back.getByTestId("lesson-do").click();
  const outcome = back.getByTestId("lesson-outcome");
  await expect(outcome).toHaveAttribute("data-ok", "true", { timeout: 120_000 });
  await expect(outcome).toContainText(/The machine restarted with .*256 MiB of memory \(started from the pre-booted state in \d+\.\d s\)\./);
  await expect(page.getByTestId("stage")).toHaveText("ready");
  await expect(page.getByTestId("lab-nic-none")).toBeChecked();
  expect(pageErrors).toEqual([]);
});

test("a broken lesson file is listed with its problems; an unknown lesson in a link gets a notice", async ({ page, pageErrors }) => {
  // A teacher's file with mistakes, added to the index next to the shipped lessons.
  await page.route("**/lessons/index.json", async (route) => {
    const response = await route.fetch();
    const index = (await response.json()) as { format: string; lessons: string[] };
    await route.fulfill({ response, json: { ...index, lessons: [...index.lessons, "broken"] } });
  });
  await page.route("**/lessons/broken.json", (route) =>
    route.fulfill({ json: { format: "virtlab-lesson/1", id: "broken", title: "Broken", summary: "x", steps: [{ title: "t", action: { type: "comand", command: "ls" } }] } }),
  );
  await page.goto("/?lesson=nosuch");
  const panel = page.getByTestId("lessons");
  await expect(page.getByTestId("notice")).toContainText('The link names the lesson "nosuch", which this virtlab does not have');
  await expect(panel.getByTestId("lesson-problem-broken")).toContainText("steps[1].action.type: must be one of command, devices, benchmark, snapshot-save, snapshot-restore");
  await expect(panel.getByTestId("lesson-open-models")).toBeVisible();
  await panel.getByTestId("lesson-open-memory").click();
  await expect(panel.getByTestId("lesson-title")).toContainText(/memory/i);
  await expect(page).toHaveURL(/[?&]lesson=memory&step=1$/);
  await waitForShell(page);
  expect(pageErrors).toEqual([]);
});
