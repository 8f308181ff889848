import { gzipSync } from "node:zlib";
import type { Page } from "@playwright/test";
import { BOOT_DEADLINE_MS, expect, expectTerminalLine, indexedDbKv, runInGuest, shownErrors, startedFrom, terminalBuffer, terminalLines, test, waitForShell } from "./fixtures.ts";

test("boots the default guest to a shell and runs what the user types", async ({ page, pageErrors }) => {
  // Every request of the page and its Workers, by file name.
  const requested: string[] = [];
  page.on("request", (request) => requested.push(new URL(request.url()).pathname.split("/").pop() ?? ""));
  await page.goto("/");
  // Progress is shown while the files download and the guest boots.
  await expect(page.locator("#progress .steps")).toBeVisible();
  await waitForShell(page);
  // From the pre-booted state, which the decoder started by the page's entry fetched once, with
  // its description; a restore needs neither kernel nor initrd.
  expect(await startedFrom(page)).toBe("pre-booted");
  expect(requested.filter((name) => name.startsWith("prebooted"))).toEqual(["prebooted.json", "prebooted.vlsnap"]);
  expect(requested.filter((name) => name === "bzImage" || name === "initramfs.cpio")).toEqual([]);
  await expect(page.getByTestId("run-state")).toHaveText("running");
  await expect(page.getByTestId("mips")).toHaveText(/\d+(\.\d)? MIPS/);
  // The page's styles, xterm's included, come in the stylesheet it links: none is injected into
  // its head at run time (one that was took ~100 ms of the page's thread at every visit).
  await expect(page.locator("head style")).toHaveCount(0);
  await expect(page.locator(".xterm-helper-textarea")).toHaveCSS("position", "absolute");

  // Type like a user: into the terminal, then Enter.
  await page.locator(".xterm-helper-textarea").focus();
  await page.keyboard.type("echo $((6*7))");
  await page.keyboard.press("Enter");
  await expectTerminalLine(page, "root@virtlab:/# echo $((6*7))");
  await expectTerminalLine(page, "42");

  await page.keyboard.type("uname -a");
  await page.keyboard.press("Enter");
  const release = (await runInGuest(page, "uname -r")).output;
  expect(release).toMatch(/^6\.1\.0-\d+-686$/);
  // xterm draws on the next animation frames: under load the row may come a moment after the output.
  const unameShown = async (): Promise<boolean> => (await terminalLines(page)).some((l) => l.startsWith(`Linux virtlab ${release} #1 SMP`) && l.endsWith("i686 GNU/Linux"));
  await expect.poll(unameShown, { timeout: 10_000 }).toBe(true);

  expect(pageErrors).toEqual([]);
  expect(await shownErrors(page)).toEqual([]);
});

/** Load (or reload) the page until its shell is up and the pre-booted state's decoder has ended (it keeps or checks the unpacked state after the start). */
async function visitUntilDecoderEnds(page: Page, load: () => Promise<unknown>): Promise<void> {
  const ended = page
    .waitForEvent("worker", { predicate: (worker) => worker.url().includes("decode.worker"), timeout: BOOT_DEADLINE_MS })
    .then((worker) => new Promise<void>((done) => worker.on("close", () => done())));
  await load();
  await waitForShell(page);
  await ended;
}

test("a repeat visit starts from the state this browser kept unpacked, fetching no state file and no decoder; a damaged one is fetched again", async ({ page, pageErrors }) => {
  const requested: string[] = [];
  page.on("request", (request) => requested.push(new URL(request.url()).pathname.split("/").pop() ?? ""));
  const stateFiles = (): string[] => requested.filter((name) => name.startsWith("prebooted"));
  const zstdLoaded = (): boolean => requested.some((name) => /^zstd-.*\.wasm$/.test(name));
  await visitUntilDecoderEnds(page, () => page.goto("/"));
  expect(stateFiles()).toEqual(["prebooted.json", "prebooted.vlsnap"]);
  expect(zstdLoaded()).toBe(true);

  // The next visit reads the state kept unpacked: only the description is fetched (to know it is the same state).
  requested.length = 0;
  await visitUntilDecoderEnds(page, () => page.reload());
  expect(await startedFrom(page)).toBe("pre-booted");
  expect(stateFiles()).toEqual(["prebooted.json"]);
  // Nor is the state's decoder loaded: there is nothing to unpack.
  expect(zstdLoaded()).toBe(false);
  expect(await runInGuest(page, "echo $((6*7)); grep -c ' /data ' /proc/mounts")).toEqual({ output: "42\n1", exitCode: 0 });

  // A kept state cut short (a damaged entry) is not used: the file is fetched and unpacked again, and kept again.
  await indexedDbKv(page, "virtlab-unpacked", { kind: "cut-short", key: "state" });
  requested.length = 0;
  await visitUntilDecoderEnds(page, () => page.reload());
  expect(await startedFrom(page)).toBe("pre-booted");
  expect(stateFiles()).toEqual(["prebooted.json", "prebooted.vlsnap"]);
  expect(await runInGuest(page, "echo $((6*7))")).toEqual({ output: "42", exitCode: 0 });
  requested.length = 0;
  await visitUntilDecoderEnds(page, () => page.reload());
  expect(stateFiles()).toEqual(["prebooted.json"]);
  expect(pageErrors).toEqual([]);
  expect(await shownErrors(page)).toEqual([]);
});

test("pause stops the guest and resume continues it", async ({ page, pageErrors }) => {
  await page.goto("/");
  await waitForShell(page);
  const pause = page.locator('button[data-action="pause"]');
  await expect(pause).toHaveText("Pause");
  await pause.click();
  await expect(page.getByTestId("run-state")).toHaveText("paused");
  await expect(pause).toHaveText("Resume");
  await expect(page.getByTestId("mips")).toHaveText("– MIPS");

  // Typed while paused: nothing answers until the machine resumes.
  await page.locator(".xterm-helper-textarea").focus();
  await page.keyboard.type("echo resumed-$((2+3))");
  await page.keyboard.press("Enter");
  await page.waitForTimeout(1500);
  expect(await terminalLines(page)).not.toContain("resumed-5");

  await pause.click();
  await expect(page.getByTestId("run-state")).toHaveText("running");
  await expectTerminalLine(page, "resumed-5");
  expect(pageErrors).toEqual([]);
});

test("Ctrl-Alt-Del and `reboot` typed in the shell reboot the guest back to a shell, keys typed meanwhile neither fail nor hide its prompt; the VGA screen can be shown", async ({ page, pageErrors }) => {
  await page.goto("/");
  await waitForShell(page);
  await page.locator('button[data-action="vga"]').click();
  await expect(page.locator("#vga")).toBeVisible();
  await expect(page.locator('button[data-action="vga"]')).toHaveText("Hide screen");

  // Twice: the first reboot's files went to the machine's Worker (moved, not copied), so the
  // second loads them again.
  for (const word of ["back", "again"]) {
    if (word === "back") {
      await page.locator('button[data-action="ctrl-alt-del"]').click();
      await expect(page.getByTestId("stage")).toHaveText("booting");
    } else {
      // An impatient student: keys typed while the emulator restarts (lost, as a PC's) and while
      // the guest boots (its shell's line editor echoes them after the prompt).
      await page.locator(".xterm-helper-textarea").focus();
      await page.keyboard.type("reboot\n");
      await expect(page.getByTestId("stage")).toHaveText("booting");
      for (let i = 0; i < 400 && (await page.getByTestId("stage").textContent()) === "booting"; i++) await page.keyboard.type("x");
    }
    await expect(page.getByTestId("stage")).toHaveText("ready", { timeout: 120_000 });
    await expect(page.locator("#progress-text")).toHaveText(/^Shell ready: booted in \d+\.\d s\.$/);
    expect(await runInGuest(page, `echo ${word}`)).toEqual({ output: word, exitCode: 0 });
    // The reboot starts on a cleared terminal under a line saying so.
    expect((await terminalBuffer(page))[0]).toBe("── Debian 6.1 + busybox (built in) · reboot ──");
  }
  expect(pageErrors).toEqual([]);
});

test("poweroff typed in the shell powers the machine off, a kernel panic stops it, each says so in the terminal and the status bar, and Reset starts it again", async ({ page, pageErrors }) => {
  await page.goto("/");
  await waitForShell(page);
  await page.locator(".xterm-helper-textarea").focus();
  await page.keyboard.type("poweroff");
  await page.keyboard.press("Enter");
  await expect(page.getByTestId("stage")).toHaveText("powered off", { timeout: 30_000 });
  await expect(page.locator("#progress-text")).toHaveText("The guest powered itself off (poweroff or halt): Reset starts it again, with what it wrote to its disks.");
  // The shell's prompt came back before the kernel stopped: the line under it says the machine is off.
  await expectTerminalLine(page, "The guest powered itself off (poweroff or halt): Reset starts it again, with what it wrote to its disks.");
  await expect(page.locator('button[data-action="pause"]')).toBeDisabled();
  await page.locator('button[data-action="reset"]').click();
  await expect(page.getByTestId("stage")).toHaveText("ready", { timeout: 120_000 });
  expect(await runInGuest(page, "echo on-again")).toEqual({ output: "on-again", exitCode: 0 });

  // A kernel panic (a student's sysrq crash): the report stays on the screen, the status bar and
  // the line under it say why the guest stopped, and Reset starts it again.
  await page.locator(".xterm-helper-textarea").focus();
  await page.keyboard.type("echo c > /proc/sysrq-trigger\n");
  const panicked = "The guest's kernel panicked (sysrq triggered crash): the guest has stopped, the emulator did not crash. Reset starts it again, with what it wrote to its disks.";
  await expect(page.getByTestId("stage")).toHaveText("kernel panic", { timeout: 60_000 });
  await expect(page.locator("#progress-text")).toHaveText(panicked);
  // Under the whole report (its last line above), wrapped over rows at this width (spaces aside, as rows are trimmed).
  const squeeze = (text: string): string => text.replace(/\s/g, "");
  await expect.poll(async () => squeeze((await terminalBuffer(page)).join("")).endsWith(squeeze(`---[ end Kernel panic - not syncing: sysrq triggered crash ]---${panicked}`))).toBe(true);
  await expect(page.getByTestId("run-state")).toHaveText("–");
  await page.locator('button[data-action="reset"]').click();
  await expect(page.getByTestId("stage")).toHaveText("ready", { timeout: 120_000 });
  expect(await runInGuest(page, "echo after-panic")).toEqual({ output: "after-panic", exitCode: 0 });
  expect(pageErrors).toEqual([]);
});

test("a guest file that fails to load is named on the page once, never a blank page", async ({ page }) => {
  await page.route("**/guest/bzImage", (route) => route.fulfill({ status: 404, body: "gone" }));
  await page.goto("/");
  // A start from the pre-booted state needs no kernel: the missing file shows when a boot needs it.
  await waitForShell(page);
  await page.locator('button[data-action="cold-boot"]').click();
  const error = page.getByRole("alert");
  await expect(error).toBeVisible();
  await expect(error).toContainText("bzImage");
  await expect(error).toContainText("404");
  await expect(page.getByTestId("stage")).toHaveText("failed");
  expect(await shownErrors(page)).toHaveLength(1);
});

test("a page script that fails to load is said on the page, never a blank page", async ({ page }) => {
  // The entry loads the app's script after starting the state's decoder: that second script fails.
  await page.route(/\/assets\/app-[^/]*\.js$/, (route) => route.fulfill({ status: 404, body: "gone" }));
  await page.goto("/");
  await expect(page.locator("#error")).toBeVisible();
  await expect(page.locator("#error")).toContainText("virtlab's page could not load its script");
  await expect(page.locator("#error")).toContainText("Reload the page to try again.");
});

test("a broken emulator module is reported, not a silent hang", async ({ page }) => {
  await page.route("**/v86/v86.wasm.gz", (route) => route.fulfill({ status: 200, contentType: "application/gzip", body: gzipSync("not wasm") }));
  await page.goto("/");
  const error = page.getByRole("alert");
  await expect(error).toBeVisible();
  await expect(error).toContainText("emulator could not start");
});
