/**
 * Everyday comfort (classroom issue): Alt+Shift shortcuts that never reach the guest, the help
 * overlay that lists them, theme and zoom remembered across reloads, pause by key, and paste
 * into the terminal with Ctrl+Shift+V.
 */
import AxeBuilder from "@axe-core/playwright";
import { TEST_ISO_PATH } from "../images/testIso.ts";
import { bootFromCdrom, expect, expectTerminalLine, runInGuest, setPageHidden, terminalBuffer, terminalLines, terminalSize, test, textScreen, waitForShell } from "./fixtures.ts";

test("shortcuts: help lists them, pause by key, a letter as another layout types it, and none of them reaches the guest", async ({ page, pageErrors }) => {
  await page.goto("/");
  await waitForShell(page);
  await page.locator(".xterm-helper-textarea").focus();

  await page.keyboard.press("Alt+Shift+KeyH");
  const help = page.getByTestId("help");
  await expect(help).toBeVisible();
  for (const line of ["Alt+Shift+P", "Alt+Shift+D", "Alt+Shift+S", "Alt+Shift+F", "Alt+Shift+T", "Alt+Shift+=", "Alt+Shift+-", "Alt+Shift+B", "Alt+Shift+R", "Alt+Shift+H", "Ctrl+Shift+V or Shift+Insert"]) {
    await expect(help.locator("kbd", { hasText: line }).first()).toBeVisible();
  }
  // Each row names its action as the bar does now: the guest runs, so Alt+Shift+P pauses.
  const pauseRow = help.locator("tr", { hasText: "Alt+Shift+P" });
  await expect(pauseRow).toContainText("Pause");
  await page.keyboard.press("Escape");
  await expect(help).toBeHidden();

  await page.keyboard.press("Alt+Shift+KeyP");
  await expect(page.getByTestId("run-state")).toHaveText("paused");
  await page.keyboard.press("Alt+Shift+KeyH");
  await expect(pauseRow).toContainText("Resume");
  await page.keyboard.press("Escape");
  await expect(help).toBeHidden();
  await page.keyboard.press("Alt+Shift+KeyP");
  await expect(page.getByTestId("run-state")).toHaveText("running");

  // A French AZERTY keyboard's M is where a US keyboard has ';': its Alt+Shift+M opens the
  // Microscope (it did nothing before), and again closes it.
  const azertyM = `(() => document.activeElement.dispatchEvent(new KeyboardEvent("keydown", { code: "Semicolon", key: "M", altKey: true, shiftKey: true, bubbles: true, cancelable: true })))()`;
  await page.evaluate(azertyM);
  await expect(page.getByTestId("microscope")).toBeVisible();
  await page.evaluate(azertyM);
  await expect(page.getByTestId("microscope")).toBeHidden();
  await page.locator(".xterm-helper-textarea").focus();

  // The keys above were the page's: the guest's line is still empty, so this runs as typed.
  await page.keyboard.type("echo typed-$((40+2))");
  await page.keyboard.press("Enter");
  await expect(page.locator(".xterm-rows")).toContainText("typed-42");
  const lines = await page.locator(".xterm-rows > div").evaluateAll((rows) => rows.map((r) => (r.textContent ?? "").trim()));
  expect(lines.filter((l) => l.startsWith("root@virtlab:/# echo typed-"))).toEqual(["root@virtlab:/# echo typed-$((40+2))"]);
  expect(pageErrors).toEqual([]);
});

test("the keyboard leaves a terminal with Alt+Shift+B and comes back, and skips over it to the panels; Tab in the terminal is the guest's", async ({ page, pageErrors }) => {
  await page.goto("/");
  await waitForShell(page);
  const input = page.locator(".xterm-helper-textarea");
  // Where every visit starts: a screen reader is told on entering how to leave.
  await expect(input).toBeFocused();
  // With a mouse and a keyboard there is no row of touch keys.
  await expect(page.getByTestId("touch-keys")).toBeHidden();
  await expect(input).toHaveAccessibleDescription(/Alt\+Shift\+B moves the focus out to the buttons/);
  // Tab completes in the guest's shell and the focus stays (a guest needs it).
  await page.keyboard.type("ech");
  await page.keyboard.press("Tab");
  await expectTerminalLine(page, "root@virtlab:/# echo");
  await expect(input).toBeFocused();
  await page.keyboard.press("Shift+Tab");
  await expect(input).toBeFocused();

  await page.keyboard.press("Alt+Shift+KeyB");
  const focusedAction = (): Promise<string | null> => page.evaluate<string | null>(`document.activeElement?.closest("#actions") ? document.activeElement.getAttribute("data-action") : null`);
  await expect.poll(focusedAction).toBe("pause");
  // From there Tab walks the page's controls as usual.
  await page.keyboard.press("Tab");
  await expect.poll(focusedAction).not.toBe("pause");
  await expect.poll(focusedAction).not.toBeNull();
  await page.keyboard.press("Alt+Shift+KeyB");
  await expect(input).toBeFocused();

  // Tabbing on from the bar, a link shown while it has the focus leads over the terminal to the panels after it.
  await page.keyboard.press("Alt+Shift+KeyB");
  const skip = page.getByTestId("terminal").getByTestId("skip-terminal");
  for (let i = 0; i < 30 && !(await skip.evaluate((el) => el.ownerDocument.activeElement === el)); i++) await page.keyboard.press("Tab");
  await expect(skip).toBeFocused();
  await expect(skip).toBeInViewport();
  expect((await skip.boundingBox())?.width ?? 0).toBeGreaterThan(100);
  await page.keyboard.press("Enter");
  await expect(page.getByRole("button", { name: "New machine" })).toBeFocused();
  await expect(skip).not.toBeInViewport({ ratio: 0.5 });
  await input.focus();
  // None of those keys reached the guest: its line is as the completion left it ("echo ").
  await page.keyboard.type("tab-$((6*7))");
  await page.keyboard.press("Enter");
  await expectTerminalLine(page, "tab-42");
  expect((await terminalLines(page)).filter((l) => l.includes("tab-$"))).toEqual(["root@virtlab:/# echo tab-$((6*7))"]);
  expect(pageErrors).toEqual([]);
});

test.describe("on a touch screen", () => {
  test.use({ hasTouch: true, viewport: { width: 820, height: 1180 } });

  test("a row of the keys a touch keyboard lacks: Tab completes, Ctrl then c stops a command, ↑ recalls it; the keys stay in the terminal", async ({ page, pageErrors }) => {
    await page.goto("/");
    await waitForShell(page);
    const input = page.locator(".xterm-helper-textarea");
    const keys = page.getByTestId("terminal").getByTestId("touch-keys");
    await expect(keys).toBeVisible();
    // Under the terminal's rows, not over them.
    const rowsBottom = await page.getByTestId("terminal").locator(".xterm-screen").evaluate((el) => el.getBoundingClientRect().bottom);
    expect((await keys.boundingBox())?.y ?? 0).toBeGreaterThanOrEqual(rowsBottom - 1);

    await page.keyboard.type("ech");
    await keys.getByTestId("touch-key-tab").tap();
    await expectTerminalLine(page, "root@virtlab:/# echo");
    await expect(input).toBeFocused();
    await page.keyboard.type("touch-$((6*7))\n");
    await expectTerminalLine(page, "touch-42");

    // Ctrl (held for the next key typed) and c: the sleep is stopped at once, as Ctrl+C stops it.
    await page.keyboard.type("sleep 300\n");
    const ctrl = keys.getByTestId("touch-key-ctrl");
    await ctrl.tap();
    await expect(ctrl).toHaveAttribute("aria-pressed", "true");
    await expect(input).toBeFocused();
    // Named keys, readable in both themes, Ctrl pressed too (axe, every impact).
    for (const theme of ["first", "second"]) {
      const found = await new AxeBuilder({ page }).include('[data-testid="terminal"] [data-testid="touch-keys"]').withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]).analyze();
      expect(found.violations.map((v) => `${theme} theme: ${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)).toEqual([]);
      await page.keyboard.press("Alt+Shift+KeyT");
    }
    await page.keyboard.type("c");
    await expect(ctrl).toHaveAttribute("aria-pressed", "false");
    await expect.poll(async () => (await terminalLines(page)).filter((l) => l.trim() !== "").at(-1)).toBe("root@virtlab:/#");
    // ↑ brings the last command back from the shell's history; only the next key had Ctrl.
    await keys.getByTestId("touch-key-up").tap();
    await expectTerminalLine(page, "root@virtlab:/# sleep 300");
    await keys.getByTestId("touch-key-ctrl").tap();
    await page.keyboard.type("u");
    await page.keyboard.type("echo after-$((40+2))\n");
    await expectTerminalLine(page, "after-42");
    expect((await terminalLines(page)).filter((l) => l.includes("after-$"))).toEqual(["root@virtlab:/# echo after-$((40+2))"]);

    // A finger swiped down over the terminal brings back earlier lines (xterm 6.0.0 alone scrolls nothing).
    await page.keyboard.type("seq 300\n");
    await expectTerminalLine(page, "300");
    const firstNumber = async (): Promise<number> => Number((await terminalLines(page)).find((l) => /^\d+$/.test(l)) ?? NaN);
    const before = await firstNumber();
    const box = await page.getByTestId("terminal").locator(".xterm-screen").boundingBox();
    const x = (box?.x ?? 0) + (box?.width ?? 0) / 2;
    const y = (box?.y ?? 0) + 100;
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Input.dispatchTouchEvent", { type: "touchStart", touchPoints: [{ x, y }] });
    for (let i = 1; i <= 10; i++) await cdp.send("Input.dispatchTouchEvent", { type: "touchMove", touchPoints: [{ x, y: y + i * 40 }] });
    await cdp.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
    await expect.poll(firstNumber).toBeLessThan(before - 10);
    expect(pageErrors).toEqual([]);
  });

  test("the VGA screen of a guest without a serial console: the Keyboard button brings a keyboard whose text, Enter and Backspace reach the guest, and the row's ↑", async ({ page, pageErrors }) => {
    await page.goto("/");
    await waitForShell(page);
    await page.getByTestId("image-file").setInputFiles(TEST_ISO_PATH);
    await expect(page.getByTestId("image-list").getByTestId("image-row")).toHaveCount(2, { timeout: 60_000 });
    await bootFromCdrom(page, "GRUB", "grub-rescue-cdrom.iso");
    await expect.poll(() => textScreen(page), { timeout: 90_000 }).toContain("GNU GRUB");
    await page.locator('button[data-action="vga"]').click();
    const keyboard = page.getByTestId("vga-keyboard");
    await expect(keyboard).toBeVisible();
    // A tablet held upright: the screen goes under the terminal, its whole width (before: 190 px beside it).
    const terminalBox = await page.getByTestId("terminal").boundingBox();
    const screenBox = await page.locator("#vga").boundingBox();
    expect(screenBox?.y ?? 0).toBeGreaterThanOrEqual((terminalBox?.y ?? 0) + (terminalBox?.height ?? 0) - 1);
    expect(screenBox?.width ?? 0).toBeGreaterThan(700);
    await keyboard.tap();
    const field = page.getByTestId("vga-touch-input");
    await expect(field).toBeFocused();
    await expect(page.getByTestId("vga-keys")).toHaveText("Keys go to the machine's keyboard.");
    const found = await new AxeBuilder({ page }).include("#vga .vga-controls").withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]).analyze();
    expect(found.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)).toEqual([]);
    // A touch keyboard types text and names no key (insertText: input events only, as it sends).
    await page.keyboard.insertText("c");
    await expect(page.locator("#vga .vga-text")).toContainText("grub>");
    await page.keyboard.insertText("echo typed-by-touchx");
    // Its Backspace: the field's last character deleted, no key named.
    await page.evaluate(`(() => {
      const field = document.querySelector('[data-testid="vga-touch-input"]');
      field.value = field.value.slice(0, -1);
      field.dispatchEvent(new InputEvent("input", { inputType: "deleteContentBackward" }));
    })()`);
    await page.keyboard.insertText("\n");
    await expect.poll(() => textScreen(page)).toMatch(/grub> echo typed-by-touch\s*\n\s*typed-by-touch\s*\n/);
    // ↑ from the row: GRUB's command history, then Enter again.
    await page.getByTestId("vga-touch-key-up").tap();
    await expect(field).toBeFocused();
    await page.keyboard.insertText("\n");
    await expect.poll(async () => (await textScreen(page)).match(/^typed-by-touch\s*$/gm)?.length ?? 0).toBe(2);
    expect(pageErrors).toEqual([]);
  });
});

test("by keyboard: Esc closes the machine form and the keys go back to its button, Enter in a snapshot's name saves it, and a shell coming up takes the keys from a clicked button but not from a field", async ({ page, pageErrors }) => {
  await page.goto("/");
  await waitForShell(page);
  await page.getByTestId("machine-new").focus();
  await page.keyboard.press("Enter");
  await expect(page.getByTestId("machine-name-input")).toBeFocused();
  await page.keyboard.press("Escape");
  await expect(page.getByTestId("machine-form")).toBeHidden();
  await expect(page.getByTestId("machine-new")).toBeFocused();

  const name = page.getByTestId("snapshot-name");
  await name.focus();
  await page.keyboard.type("by-enter");
  await page.keyboard.press("Enter");
  await expect(page.getByTestId("snapshot-row-name")).toHaveText(["by-enter"], { timeout: 60_000 });
  await expect(name).toBeFocused();

  // Restart the machine, then type a name while it starts: the shell's arrival leaves the field alone.
  await page.getByTestId("machine-boot").first().click();
  await name.focus();
  await expect(page.getByTestId("stage")).not.toHaveText("ready");
  await page.keyboard.type("typed");
  await waitForShell(page);
  await expect(page.getByTestId("stage")).toHaveText("ready");
  await expect(name).toBeFocused();
  await page.keyboard.type("-on");
  await expect(name).toHaveValue("typed-on");
  // From a button clicked (Restart), the shell's arrival still brings the keys to the terminal.
  await page.getByTestId("machine-boot").first().click();
  await expect(page.getByTestId("stage")).not.toHaveText("ready");
  await waitForShell(page);
  await expect(page.locator("#terminal .xterm-helper-textarea")).toBeFocused();
  expect(pageErrors).toEqual([]);
});

test("screen reader mode (Alt+Shift+R): the terminal's output is read as it comes and its lines are a list; remembered after a reload", async ({ page, pageErrors }) => {
  await page.goto("/");
  await waitForShell(page);
  const tree = page.getByTestId("terminal").getByRole("list");
  // Off by default: xterm hides its rows from assistive technology.
  await expect(tree).toHaveCount(0);
  await page.locator(".xterm-helper-textarea").focus();
  await page.keyboard.press("Alt+Shift+KeyR");
  await expect(tree).toHaveCount(1);
  await expect(page.getByTestId("terminal").locator(".live-region")).toContainText("Screen reader mode on");
  await page.keyboard.type("echo sr-$((6*7))\n");
  // Read as it comes (the live region), and browsable line by line (the list).
  await expect(page.getByTestId("terminal").locator(".live-region")).toContainText("sr-42");
  await expect(tree.getByRole("listitem").filter({ hasText: /^sr-42\s*$/ })).toHaveCount(1);

  await page.reload();
  await waitForShell(page);
  await expect(tree).toHaveCount(1);
  await page.locator(".xterm-helper-textarea").focus();
  await page.keyboard.press("Alt+Shift+KeyH");
  await expect(page.getByTestId("help").locator("tr", { hasText: "Alt+Shift+R" })).toContainText("Screen reader mode off");
  await page.keyboard.press("Escape");
  await page.keyboard.press("Alt+Shift+KeyR");
  await expect(tree).toHaveCount(0);
  await expectTerminalLine(page, "Screen reader mode off.");
  expect(pageErrors).toEqual([]);
});

test("in forced colours (a contrast theme) the terminal's cursor and selection still show", async ({ page, pageErrors }) => {
  await page.emulateMedia({ forcedColors: "active", colorScheme: "dark" });
  await page.goto("/");
  await waitForShell(page);
  await page.locator(".xterm-helper-textarea").focus();
  await page.keyboard.type("echo contrast");
  await page.keyboard.press("Enter");
  await expectTerminalLine(page, "contrast");
  // The share of a box's pixels that are not the black of the forced dark background.
  const lit = async (box: { x: number; y: number; width: number; height: number }): Promise<number> => {
    const png = (await page.screenshot({ clip: box })).toString("base64");
    return page.evaluate<number>(`(async () => {
      const bytes = Uint8Array.from(atob(${JSON.stringify(png)}), (c) => c.charCodeAt(0));
      const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/png" }));
      const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
      const g = canvas.getContext("2d");
      g.drawImage(bitmap, 0, 0);
      const d = g.getImageData(0, 0, bitmap.width, bitmap.height).data;
      let on = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] > 120) on++;
      return on / (d.length / 4);
    })()`);
  };
  const cursor = await page.locator("#terminal .xterm-cursor").boundingBox();
  if (cursor === null) throw new Error("no cursor drawn");
  // A block cursor (before: the forced background took it away, 0 % lit).
  expect(await lit(cursor)).toBeGreaterThan(0.8);
  const row = page.locator("#terminal .xterm-rows > div", { hasText: /^contrast\s*$/ });
  const word = await row.boundingBox();
  if (word === null) throw new Error("the output line is not on screen");
  const wordBox = { x: word.x, y: word.y, width: 8 * 9, height: word.height };
  const unselected = await lit(wordBox);
  await page.mouse.dblclick(word.x + 12, word.y + word.height / 2);
  // The selection's background under the word (before: as unselected, only the letters' strokes lit).
  await expect.poll(() => lit(wordBox)).toBeGreaterThan(Math.max(0.8, unselected + 0.3));
  expect(pageErrors).toEqual([]);
});

test("theme and zoom are remembered after a reload", async ({ page, pageErrors }) => {
  await page.emulateMedia({ colorScheme: "dark" });
  await page.goto("/");
  await waitForShell(page);
  const fontSize = () => page.evaluate<string>("getComputedStyle(document.querySelector('.xterm-rows')).fontSize");
  expect(await page.evaluate<string>("document.documentElement.dataset.theme")).toBe("dark");
  expect(await fontSize()).toBe("15px");

  await page.keyboard.press("Alt+Shift+KeyT");
  await page.keyboard.press("Alt+Shift+Equal");
  await page.keyboard.press("Alt+Shift+Equal");
  expect(await page.evaluate<string>("document.documentElement.dataset.theme")).toBe("light");
  await expect.poll(fontSize).toBe("20px");
  const background = await page.evaluate<string>("getComputedStyle(document.body).backgroundColor");
  expect(background).toBe("rgb(246, 248, 250)");

  await page.reload();
  await waitForShell(page);
  expect(await page.evaluate<string>("document.documentElement.dataset.theme")).toBe("light");
  await expect.poll(fontSize).toBe("20px");
  await page.locator('button[data-action="zoom-out"]').click();
  await expect.poll(fontSize).toBe("17px");
  // Checkboxes grow with the page too (the browser draws them at 13 px whatever the zoom).
  await page.keyboard.press("Alt+Shift+KeyM");
  const box = await page.getByTestId("microscope-meter").boundingBox();
  expect(box?.width).toBeGreaterThan(15);
  expect(box?.height).toBeGreaterThan(15);
  expect(pageErrors).toEqual([]);
});

test("Ctrl+Shift+V pastes into the terminal; a selection is copied", async ({ page, context, pageErrors }) => {
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  await page.goto("/");
  await waitForShell(page);
  await page.evaluate("navigator.clipboard.writeText('echo pasted-$((6*7))')");
  await page.locator(".xterm-helper-textarea").focus();
  await page.keyboard.press("Control+Shift+KeyV");
  // The clipboard is read asynchronously: Enter once the text is on the line.
  await expect(page.locator(".xterm-rows")).toContainText("# echo pasted-$((6*7))");
  await page.keyboard.press("Enter");
  await expect(page.locator(".xterm-rows")).toContainText("pasted-42");

  // Ctrl+C without Shift is the guest's: it interrupts a running program. Pressed once the program
  // runs: a ^C typed while the shell is still reading its line is only a character to it.
  await page.keyboard.type("echo started; sleep 30");
  await page.keyboard.press("Enter");
  await expectTerminalLine(page, "started");
  await page.keyboard.press("Control+KeyC");
  // The prompt is back long before the 30 s of sleep are over.
  const lastRow = async (): Promise<string | undefined> => (await terminalLines(page)).filter((l) => l !== "").at(-1);
  await expect.poll(lastRow, { timeout: 10_000 }).toBe("root@virtlab:/#");
  expect(await runInGuest(page, "echo back")).toEqual({ output: "back", exitCode: 0 });

  // Ctrl+C on a command virtlab typed (a lesson step): the shell drops it, end marker included;
  // it is reported as interrupted at once (not at its deadline), and the next command runs.
  await page.evaluate(() => {
    const w = globalThis as unknown as { virtlab?: { run(c: string, t?: number): Promise<unknown> }; interruptedRun?: Promise<unknown> | undefined };
    w.interruptedRun = w.virtlab?.run("echo run-started; sleep 60", 120_000);
  });
  await expectTerminalLine(page, "run-started");
  await page.keyboard.press("Control+KeyC");
  expect(await page.evaluate(() => (globalThis as unknown as { interruptedRun?: Promise<unknown> }).interruptedRun)).toEqual({ output: "run-started", exitCode: 130, interrupted: true });
  expect(await runInGuest(page, "echo next")).toEqual({ output: "next", exitCode: 0 });

  // Selecting text copies it.
  await page.evaluate("navigator.clipboard.writeText('')");
  const row = page.locator(".xterm-rows > div", { hasText: /^pasted-42/ }).last();
  const box = await row.boundingBox();
  if (box === null) throw new Error("the output line is not on screen");
  await page.mouse.dblclick(box.x + 12, box.y + box.height / 2);
  await expect.poll(() => page.evaluate<string>("navigator.clipboard.readText()")).toBe("pasted-42");
  expect(pageErrors).toEqual([]);
});

test("fullscreen puts the terminal on the whole screen and back", async ({ page, pageErrors }) => {
  await page.goto("/");
  await waitForShell(page);
  const fullscreen = page.locator('button[data-action="fullscreen"]');
  await fullscreen.click();
  await expect.poll(() => page.evaluate<string | null>("document.fullscreenElement?.id ?? null")).toBe("screens");
  await expect(fullscreen).toHaveText("Exit fullscreen");
  await page.keyboard.press("Alt+Shift+KeyF");
  await expect.poll(() => page.evaluate<string | null>("document.fullscreenElement?.id ?? null")).toBeNull();
  await expect(fullscreen).toHaveText("Fullscreen");
  expect(pageErrors).toEqual([]);
});

test("beside the VGA screen the terminal keeps 80 columns with a smaller font, so an 80-column screen is not cut; a phone-wide window keeps the user's size", async ({ page, pageErrors }) => {
  await page.setViewportSize({ width: 1024, height: 720 });
  await page.goto("/");
  await waitForShell(page);
  const size = () => terminalSize(page);
  expect(await size()).toMatchObject({ fontSize: 15, cols: expect.any(Number) });
  expect((await size()).cols).toBeGreaterThan(80);
  // A line as wide as a serial console's program draws (an installer's dialog, `top`).
  const line = "#".repeat(80);
  expect(await runInGuest(page, `printf '%080d\\n' 0 | tr 0 '#'`)).toEqual({ output: line, exitCode: 0 });
  const vga = page.locator('button[data-action="vga"]');
  await vga.click();
  await expect(vga).toHaveText("Hide screen");
  await expect.poll(async () => (await size()).cols).toBeGreaterThanOrEqual(80);
  expect((await size()).fontSize).toBeLessThan(15);
  // Still one row, not wrapped.
  await expectTerminalLine(page, line);
  await vga.click();
  await expect.poll(async () => (await size()).fontSize).toBe(15);

  // Too narrow for 80 columns even at the smallest size: the user's size stays, and zoom works.
  await page.setViewportSize({ width: 420, height: 720 });
  await expect.poll(async () => (await size()).cols).toBeLessThan(80);
  expect((await size()).fontSize).toBe(15);
  await page.locator('button[data-action="zoom-in"]').click();
  await expect.poll(async () => (await size()).fontSize).toBeGreaterThan(15);
  expect(pageErrors).toEqual([]);
});

test("a click on a bar button leaves the keys where the user types: Pause, Resume, then a command reaches the guest", async ({ page, pageErrors }) => {
  await page.goto("/");
  await waitForShell(page);
  await page.locator(".xterm").click();
  const pause = page.locator('button[data-action="pause"]');
  await pause.click();
  await expect(pause).toHaveText("Resume");
  await pause.click();
  await expect(pause).toHaveText("Pause");
  // Still the terminal's: Enter does not press Resume/Pause again, the command runs.
  await page.keyboard.type("echo typed-after-resume-$((6*7))\n");
  await expectTerminalLine(page, "typed-after-resume-42");
  await expect(pause).toHaveText("Pause");
  await expect(page.getByTestId("stage")).toHaveText("ready");
  // The keyboard still reaches the buttons: Tab to one and press it.
  await pause.focus();
  await page.keyboard.press("Enter");
  await expect(pause).toHaveText("Resume");
  await page.keyboard.press("Enter");
  await expect(pause).toHaveText("Pause");
  expect(pageErrors).toEqual([]);
});

test("a page in the background (no animation frames) still takes the guest's output, a flood included, and shows the newest when it comes back", async ({ page, pageErrors }) => {
  await page.goto("/");
  await waitForShell(page);
  await page.locator(".xterm").click();
  // What a hidden tab gets: no animation frames at all, and a hidden document.
  await page.evaluate(`(() => {
    window.heldFrames = [];
    window.pageFrames = window.requestAnimationFrame;
    window.requestAnimationFrame = (run) => window.heldFrames.push(run);
  })()`);
  await setPageHidden(page, true);
  const parsed = async (): Promise<string[]> => terminalBuffer(page, false);
  await page.keyboard.type("echo hidden-$((6*7))\n");
  // Before, it waited for a frame: in a tab left in the background, guest output piled up unparsed.
  await expect.poll(parsed, { timeout: 15_000 }).toContain("hidden-42");
  await page.keyboard.type("seq 1 60000; echo flood-$((6*7))\n");
  await expect.poll(parsed, { timeout: 60_000 }).toContain("flood-42");
  expect(await parsed()).toContain("60000");
  // Back in front: frames again, and the screen shows the newest output.
  await setPageHidden(page, false);
  await page.evaluate(`(() => {
    window.requestAnimationFrame = window.pageFrames;
    for (const run of window.heldFrames) run(performance.now());
  })()`);
  await expectTerminalLine(page, "flood-42");
  await page.keyboard.type("echo back-$((6*7))\n");
  await expectTerminalLine(page, "back-42");
  expect(pageErrors).toEqual([]);
});

test("a tab the browser discarded in the background says so when it is opened again, and its machine runs", async ({ page, pageErrors }) => {
  // What Chromium tells a page it loads anew after discarding its tab (memory saver).
  await page.addInitScript(`Object.defineProperty(document, "wasDiscarded", { configurable: true, get: () => true })`);
  await page.goto("/");
  await waitForShell(page);
  await expect(page.getByTestId("notice")).toContainText("The browser closed this tab while it was in the background, to save memory, and opened it again");
  expect(await runInGuest(page, "echo $((6*7))")).toEqual({ output: "42", exitCode: 0 });
  expect(pageErrors).toEqual([]);
});
