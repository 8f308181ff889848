/**
 * Machines that persist (issue 3), in Chromium with its real IndexedDB: the data disk survives a
 * browser restart, reset and export, images added by upload (a real GRUB ISO boots), bad files
 * and a full quota, and a second tab on the same machine.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "@playwright/test";
import { TEST_ISO_PATH } from "../images/testIso.ts";
import { GUEST_DIR } from "../src/node/guest.ts";
import { bootFromCdrom, expect, launchProfile, overrideQuota, runInGuest, shownErrors, storageEstimate, terminalBuffer, test, textScreen, waitForShell } from "./fixtures.ts";

const diskState = (page: Page) => page.getByTestId("disk-state");

test.beforeAll(() => {
  if (!existsSync(TEST_ISO_PATH)) throw new Error(`The test ISO is missing: run "npx tsx images/testIso.ts" (npm test does) to fetch it to ${TEST_ISO_PATH}.`);
});

test("the data disk keeps what the guest wrote across a browser restart; export has the bytes; reset (two steps) erases it", async ({ playwright }) => {
  const browserType = playwright.chromium;
  test.setTimeout(300_000);
  const profile = mkdtempSync(join(tmpdir(), "virtlab-e2e-"));
  try {
    let { context, page } = await launchProfile(browserType, profile);
    await page.goto("/");
    await waitForShell(page);
    expect(await runInGuest(page, "echo hello > /data/note && sync && cat /data/note")).toEqual({ output: "hello", exitCode: 0 });
    await expect(diskState(page)).toHaveText("saved");
    await context.close();

    // Browser restart: a new process on the same profile.
    ({ context, page } = await launchProfile(browserType, profile));
    await page.goto("/");
    await waitForShell(page);
    expect(await runInGuest(page, "cat /data/note")).toEqual({ output: "hello", exitCode: 0 });
    // A page reload too.
    await page.reload();
    await waitForShell(page);
    expect(await runInGuest(page, "cat /data/note")).toEqual({ output: "hello", exitCode: 0 });

    // Export: base + overlay as a raw 64 MiB image; the note's bytes are in it (ext2, not compressed).
    const marker = "virtlab-export-marker-7f3a";
    expect((await runInGuest(page, `echo ${marker} > /data/marker && sync`)).exitCode).toBe(0);
    // The export takes the Blob + download path (Playwright's Chromium has showSaveFilePicker, but no one to click its dialog).
    await page.evaluate(() => delete (globalThis as { showSaveFilePicker?: unknown }).showSaveFilePicker);
    const download = page.waitForEvent("download");
    await page.getByTestId("disk-export").click();
    const downloaded = await download;
    expect(downloaded.suggestedFilename()).toBe("Debian-6.1-busybox-built-in-hda.img");
    const file = await downloaded.path();
    const bytes = readFileSync(file);
    expect(bytes.length).toBe(64 * 1024 * 1024);
    expect(bytes.includes(Buffer.from(`hello\n`))).toBe(true);
    expect(bytes.includes(Buffer.from(`${marker}\n`))).toBe(true);
    await expect(page.getByTestId("disk-export-state")).toHaveText("Exported Debian-6.1-busybox-built-in-hda.img (64.0 MiB): see your downloads.");

    // Reset: the first press only asks; cancel keeps everything. By keyboard: the focus goes to the
    // harmless answer, which reads the question, and back to Reset disk… (before: to the page's body).
    await page.getByTestId("disk-reset").focus();
    await page.keyboard.press("Enter");
    await expect(page.getByTestId("disk-reset-question")).toContainText("Erase everything the guest wrote to hda");
    await expect(page.getByTestId("disk-reset-cancel")).toBeFocused();
    await expect(page.getByTestId("disk-reset-cancel")).toHaveAccessibleDescription(/Erase everything the guest wrote to hda/);
    await page.keyboard.press("Enter");
    await expect(page.getByTestId("disk-reset")).toBeFocused();
    expect(await runInGuest(page, "cat /data/note")).toEqual({ output: "hello", exitCode: 0 });
    await page.getByTestId("disk-reset").click();
    await page.getByTestId("disk-reset-confirm").click();
    await expect(page.getByTestId("stage")).not.toHaveText("ready");
    await waitForShell(page);
    // A blank disk again: formatted afresh, the note is gone.
    expect(await runInGuest(page, "ls -1 /data")).toEqual({ output: "lost+found", exitCode: 0 });
    await page.reload();
    await waitForShell(page);
    expect((await runInGuest(page, "cat /data/note")).exitCode).not.toBe(0);
    expect(await shownErrors(page)).toEqual([]);
    await context.close();
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
});

test("a full quota: a write-back, a restart and an import are refused with a clear message; nothing saved is lost; saving resumes by itself once there is room", async ({ page }) => {
  test.setTimeout(300_000);
  await page.goto("/");
  await page.getByTestId("image-file").setInputFiles(TEST_ISO_PATH);
  const rows = page.getByTestId("image-list").getByTestId("image-row");
  await expect(rows).toHaveCount(2, { timeout: 60_000 });
  await waitForShell(page);
  expect((await runInGuest(page, "echo kept > /data/kept && sync")).exitCode).toBe(0);
  await expect(diskState(page)).toHaveText("saved");

  const { usage } = await storageEstimate(page);
  await overrideQuota(page, usage + 256 * 1024);
  // Chromium's IndexedDB reuses its last free-space check for about 30 s: wait until it asks again.
  await page.waitForTimeout(31_000);
  expect((await runInGuest(page, "dd if=/dev/urandom of=/data/big bs=65536 count=32 2>/dev/null && sync")).exitCode).toBe(0);
  await expect(diskState(page)).toHaveAttribute("data-state", "not-saved", { timeout: 30_000 });
  await expect(diskState(page)).toContainText("not saved: the browser's storage for virtlab is full");
  // The running machine is intact: the guest still reads everything.
  expect(await runInGuest(page, "cat /data/kept; wc -c < /data/big")).toEqual({ output: "kept\n2097152", exitCode: 0 });
  // A restart now would drop the pages storage refused: the machine keeps running, and says so.
  await page.locator('button[data-action="cold-boot"]').click();
  await expect(page.locator("#error")).toContainText("so it was not restarted (restarting would lose them). It keeps running.");
  await expect(page.getByTestId("stage")).toHaveText("ready");
  expect(await runInGuest(page, "wc -c < /data/big")).toEqual({ output: "2097152", exitCode: 0 });
  // Leaving the page now would lose them too: the browser asks first (staying keeps it all).
  const asked = page.waitForEvent("dialog", { timeout: 15_000 });
  void page.reload({ timeout: 15_000 }).catch(() => undefined);
  const dialog = await asked;
  expect(dialog.type()).toBe("beforeunload");
  await dialog.dismiss();
  expect(await runInGuest(page, "cat /data/kept; wc -c < /data/big")).toEqual({ output: "kept\n2097152", exitCode: 0 });
  // An import now: refused with the mapped message; the library keeps what it had.
  await page.getByTestId("image-file").setInputFiles(TEST_ISO_PATH);
  await expect(page.locator("#error")).toContainText("The browser's storage for virtlab is full");
  await expect(page.locator("#error")).toContainText("Nothing already saved was lost");
  await expect(page.getByTestId("image-progress")).toHaveText("grub-rescue-cdrom.iso was not added.");
  await expect(rows).toHaveCount(2);

  // Room again: everything pending is saved without another write from the guest (the disk
  // tries again, at least every 30 s), then writes go on as before.
  await expect(diskState(page)).toContainText("saving is tried again at least every 30 s");
  await overrideQuota(page, undefined);
  await expect(diskState(page)).toHaveText("saved", { timeout: 75_000 });
  expect((await runInGuest(page, "echo more > /data/more && sync")).exitCode).toBe(0);
  await expect(diskState(page)).toHaveText("saved", { timeout: 30_000 });
  await page.reload();
  await expect(rows).toHaveCount(2);
  await waitForShell(page);
  expect(await runInGuest(page, "cat /data/kept /data/more; wc -c < /data/big")).toEqual({ output: "kept\nmore\n2097152", exitCode: 0 });
});

test("images: a bad file is refused with its message; an ISO added by upload is listed, renamed, boots (GRUB), takes keys on its screen (as typed on an Italian keyboard, or by position; none held once the window loses them), its machine's snapshot is listed after a reload, and the ISO is deleted after a confirmation", async ({ page }) => {
  test.setTimeout(240_000);
  await page.goto("/");
  const rows = page.getByTestId("image-list").getByTestId("image-row");
  await expect(rows).toHaveCount(1); // the built-in guest
  await expect(rows.first()).toContainText("built in");

  // Not an image: refused, named, nothing stored.
  const dir = mkdtempSync(join(tmpdir(), "virtlab-files-"));
  const notes = join(dir, "notes.txt");
  writeFileSync(notes, "shopping list\n".repeat(100));
  await page.getByTestId("image-file").setInputFiles(notes);
  await expect(page.locator("#error")).toContainText("That file cannot be used as an image");
  await expect(page.locator("#error")).toContainText("notes.txt is not a disk image virtlab knows");
  await expect(page.getByTestId("image-progress")).toHaveText("notes.txt was not added.");
  await expect(rows).toHaveCount(1);

  // The GRUB rescue CD, added by the file picker.
  await page.getByTestId("image-file").setInputFiles(TEST_ISO_PATH);
  await expect(rows).toHaveCount(2, { timeout: 60_000 });
  const iso = rows.nth(1);
  await expect(iso).toContainText("grub-rescue-cdrom.iso");
  await expect(iso).toContainText("CD-ROM (ISO 9660)");
  await expect(iso).toContainText("4.8 MiB");
  // Renamed.
  await iso.getByTestId("image-rename").click();
  await page.getByTestId("image-rename-input").fill("GRUB rescue CD");
  // Enter saves, and the focus stays on the row's controls (before: the page's body).
  await page.getByTestId("image-rename-input").press("Enter");
  await expect(iso.getByTestId("image-rename")).toBeFocused();
  await expect(rows.nth(1).getByTestId("image-name")).toHaveText("GRUB rescue CD");

  // A machine that boots it.
  await bootFromCdrom(page, "GRUB", "GRUB rescue CD");
  await expect(page.getByTestId("machine-list").getByTestId("machine-row")).toHaveCount(2);
  await expect.poll(() => textScreen(page), { timeout: 90_000 }).toContain("GNU GRUB");
  // The screen is drawn by v86 in the machine's Worker; Show screen puts its text in the page.
  await page.locator('button[data-action="vga"]').click();
  await expect(page.locator("#vga .vga-text")).toContainText("GNU GRUB");
  // Keys typed with the screen clicked go to the guest's PS/2 keyboard: GRUB's command line.
  await page.locator(".xterm").click();
  await expect(page.getByTestId("vga-keys")).toHaveText("Keys go to the terminal: click the screen to type to the machine's keyboard.");
  await page.locator("#vga .vga-text").click();
  await expect(page.getByTestId("vga-keys")).toHaveText("Keys go to the machine's keyboard.");
  await page.getByTestId("vga-native").click();
  await page.keyboard.press("KeyC");
  await expect(page.locator("#vga .vga-text")).toContainText("grub>");
  await page.keyboard.type("echo typed-on-the-screen\n");
  await expect.poll(() => textScreen(page)).toMatch(/grub> echo typed-on-the-screen\s*\n\s*typed-on-the-screen/);
  // An Italian keyboard (its '/' is Shift+7, its '-' where the US '/' is, '@' AltGr+ò): what it
  // types reaches GRUB's US keyboard as typed (by position it was "echo a&b/c").
  const italian: Stroke[] = [...[..."echo a"].map(letter), ["Digit7", "/", "shift"], letter("b"), ["Slash", "-"], letter("c"), ["Semicolon", "@", "altgr"], letter("d"), ["Enter", "Enter"]];
  await typeStrokes(page, italian);
  await expect.poll(() => textScreen(page)).toMatch(/grub> echo a\/b-c@d\s*\n\s*a\/b-c@d\s*\n/);
  // By position (a guest set to the user's layout), the Italian '-' is the US '/' at its place.
  await page.getByTestId("vga-key-mode").selectOption("position");
  await expect(page.getByTestId("vga-keys")).toHaveText("Keys go to the machine's keyboard.");
  await typeStrokes(page, [..."echo x"].map(letter).concat([["Slash", "-"], letter("y"), ["Enter", "Enter"]]));
  await expect.poll(() => textScreen(page)).toMatch(/grub> echo x\/y\s*\n\s*x\/y\s*\n/);
  await page.getByTestId("vga-key-mode").selectOption("typed");
  // Shift held when the window loses the keys (Alt+Tab away): the guest lets go of it too
  // (it typed "ECHO RELEASED" before).
  await page.evaluate(`(() => {
    document.body.dispatchEvent(new KeyboardEvent("keydown", { code: "ShiftLeft", key: "Shift", shiftKey: true, bubbles: true, cancelable: true }));
    window.dispatchEvent(new Event("blur"));
  })()`);
  await typeStrokes(page, [..."echo released"].map(letter).concat([["Enter", "Enter"]]));
  await expect.poll(() => textScreen(page)).toMatch(/grub> echo released\s*\n\s*released\s*\n/);
  expect(await page.evaluate(() => (globalThis as { virtlab?: { machineId(): string } }).virtlab?.machineId())).toMatch(/^m-/);
  // GRUB runs, but there is no shell: the page never says "Shell ready." for it.
  await expect(page.getByTestId("stage")).toHaveText("running (no shell)");
  await expect(page.locator("#progress-text")).toHaveText(/^Running \(no shell detected\)/);
  // A VGA-only guest leaves no prompt of the machine before it on the terminal, only its divider.
  const lines = (await terminalBuffer(page)).filter((l) => l !== "");
  expect(lines[0]).toBe("── GRUB · boot ──");
  expect(lines.some((l) => l.includes("root@virtlab"))).toBe(false);

  // A snapshot of it, to find after the reload.
  await page.getByTestId("snapshot-name").fill("GRUB at its command line");
  await page.getByTestId("snapshot-save").click();
  await expect(page.getByTestId("snapshot-progress")).toHaveText(/^Saved "GRUB at its command line"/);

  await page.reload();
  await expect(rows).toHaveCount(2);
  await expect(rows.nth(1).getByTestId("image-name")).toHaveText("GRUB rescue CD");
  // The page runs GRUB again, and lists GRUB's snapshots (it listed the built-in machine's, none).
  await expect(page.getByTestId("snapshot-row-name")).toHaveText(["GRUB at its command line"]);

  // Delete asks first.
  await rows.nth(1).getByTestId("image-delete").click();
  await expect(page.getByTestId("image-delete-question")).toContainText("GRUB uses it");
  await page.getByTestId("image-delete-confirm").click();
  await expect(rows).toHaveCount(1);
  // The focus stays in the library (the row that had it is gone).
  await expect.poll(() => page.evaluate<boolean>(`document.activeElement?.closest("#library") !== null`)).toBe(true);

  // The machine that used it says so plainly at its next start, and the stage is "failed".
  await page.reload();
  await expect(page.getByTestId("stage")).toHaveText("failed");
  await expect(page.locator("#error")).toContainText("This machine cannot start: an image it uses was deleted");
  await expect(page.locator("#error")).toContainText('GRUB uses "GRUB rescue CD" (cdrom), deleted from the image library.');
  await page.getByTestId("missing-image-edit").click();
  await expect(page.getByTestId("machine-form")).toBeVisible();
  await expect(page.getByTestId("machine-name-input")).toHaveValue("GRUB");
  rmSync(dir, { recursive: true, force: true });
});

test("a kernel and an initrd added to the library boot as a machine of their own, to a shell, with the command line the form starts with; of its two disks, the one chosen is exported; the kernel alone boots to its own panic, said plainly", async ({ page }) => {
  test.setTimeout(180_000);
  await page.goto("/");
  await waitForShell(page);
  const rows = page.getByTestId("image-list").getByTestId("image-row");
  // The built-in guest's own kernel and initrd, added as a user adds a distribution's.
  await page.getByTestId("image-file").setInputFiles([join(GUEST_DIR, "bzImage"), join(GUEST_DIR, "initramfs.cpio")]);
  await expect(rows).toHaveCount(3, { timeout: 60_000 });
  await expect(rows.nth(1)).toContainText("Linux kernel (bzImage)");
  await expect(rows.nth(2)).toContainText("initrd / initramfs");

  await page.getByTestId("machine-new").click();
  await page.getByTestId("machine-name-input").fill("My kernel");
  await page.getByTestId("machine-boot-source").selectOption("linux");
  await page.getByTestId("machine-kernel").selectOption({ label: "bzImage" });
  await page.getByTestId("machine-initrd").selectOption({ label: "initramfs.cpio" });
  // Without the crypto self-tests (~25 s of a Debian kernel's boot here) and the stall detectors.
  await expect(page.getByTestId("machine-cmdline")).toHaveValue("console=ttyS0 cryptomgr.notests nowatchdog rcupdate.rcu_cpu_stall_suppress=1");
  await expect(page.getByTestId("machine-cmdline-hint")).toContainText("cryptomgr.notests skips the crypto self-tests");
  await page.getByTestId("machine-slot-hda").selectOption("blank");
  await page.getByTestId("machine-slot-hdb").selectOption("blank");
  await page.getByTestId("machine-size-hdb").fill("16");
  await page.getByTestId("machine-save-boot").click();

  await expect(page.locator("#progress-text")).toHaveText(/^Shell ready: booted in \d+\.\d s\.$/, { timeout: 120_000 });
  await expect(page.getByTestId("stage")).toHaveText("ready");
  expect(await runInGuest(page, "cat /proc/cmdline; echo $((6*7))")).toEqual({ output: "console=ttyS0 cryptomgr.notests nowatchdog rcupdate.rcu_cpu_stall_suppress=1\n42", exitCode: 0 });

  // Export the second disk: the choice stays while the disks save (the bar is drawn again on each change).
  await page.getByTestId("disk-export-slot").selectOption("hdb");
  expect((await runInGuest(page, "printf on-hdb-marker > /dev/sdb && sync")).exitCode).toBe(0);
  await expect(diskState(page)).toHaveText("saved");
  await expect(page.getByTestId("disk-export-slot")).toHaveValue("hdb");
  // The file dialog (no one to click it here): closed first, which exports nothing and says nothing...
  await page.evaluate(() => {
    Object.assign(globalThis, { showSaveFilePicker: () => Promise.reject(new DOMException("The user aborted a request.", "AbortError")) });
  });
  await page.getByTestId("disk-export").click();
  await expect(page.getByTestId("disk-export")).toBeEnabled();
  await expect(page.getByTestId("disk-export-state")).toHaveText("");
  // ... then a file picked: it gets the disk's bytes.
  await page.evaluate(() => {
    const file = { name: "", size: 0, head: "" };
    Object.assign(globalThis, {
      exported: file,
      showSaveFilePicker: async ({ suggestedName }: { suggestedName: string }) => {
        file.name = suggestedName;
        return {
          createWritable: async () => ({
            write: async (piece: Uint8Array) => {
              if (file.size === 0) file.head = new TextDecoder().decode(piece.subarray(0, 13));
              file.size += piece.length;
            },
            close: async () => undefined,
          }),
        };
      },
    });
  });
  await page.getByTestId("disk-export").click();
  await expect(page.getByTestId("disk-export-state")).toHaveText("Exported My-kernel-hdb.img (16.0 MiB).");
  expect(await page.evaluate(() => (globalThis as unknown as { exported: unknown }).exported)).toEqual({ name: "My-kernel-hdb.img", size: 16 * 1024 * 1024, head: "on-hdb-marker" });
  expect(await shownErrors(page)).toEqual([]);

  // The kernel alone (no initrd: it mounts its root itself, and here none is given): it boots to
  // the kernel's own panic, which the status bar says with the kernel's reason.
  await page.getByTestId("machine-new").click();
  await page.getByTestId("machine-name-input").fill("Kernel alone");
  await page.getByTestId("machine-boot-source").selectOption("linux");
  await page.getByTestId("machine-kernel").selectOption({ label: "bzImage" });
  await expect(page.getByTestId("machine-initrd")).toHaveValue("");
  await expect(page.getByTestId("machine-initrd").locator("option:checked")).toHaveText("(none: root= on the command line)");
  await page.getByTestId("machine-save-boot").click();
  await expect(page.getByTestId("stage")).toHaveText("kernel panic", { timeout: 120_000 });
  await expect(page.locator("#progress-text")).toHaveText("The guest's kernel panicked (VFS: Unable to mount root fs on unknown-block(0,0)): the guest has stopped, the emulator did not crash. Reset starts it again, with what it wrote to its disks.");
  await expect(page.getByTestId("machine-list")).toContainText("kernel bzImage, no initrd");
  expect(await shownErrors(page)).toEqual([]);
});

test("a second tab on the same machine is told so; it can open read-only or take over, the first tab stops writing, and a waiting tab hears when the owner closes", async ({ page, context }) => {
  test.setTimeout(240_000);
  await page.goto("/");
  await expect(page.getByTestId("stage")).toHaveText(/booting|ready/, { timeout: 60_000 });

  const second = await context.newPage();
  await second.goto("/");
  await expect(second.getByTestId("lock-banner")).toBeVisible();
  await expect(second.getByTestId("lock-banner")).toContainText("This machine is open in another tab");

  // Take over: the second tab runs the machine, the first stops and says so.
  await second.getByTestId("lock-takeover").click();
  await expect(page.getByTestId("lock-banner")).toContainText("taken over in another tab");
  await expect(page.getByTestId("disk-state")).toHaveAttribute("data-state", "taken-over");
  await expect(page.getByTestId("stage")).toHaveText("stopped");
  await page.close();
  await waitForShell(second);
  expect(await runInGuest(second, "echo owner > /data/owner && sync && cat /data/owner")).toEqual({ output: "owner", exitCode: 0 });
  await expect(second.getByTestId("disk-state")).toHaveText("saved");

  // A third tab opens it read-only: it runs, its writes stay in memory.
  const third = await context.newPage();
  await third.goto("/");
  await expect(third.getByTestId("lock-banner")).toBeVisible();
  await third.getByTestId("lock-readonly").click();
  await waitForShell(third);
  await expect(third.getByTestId("disk-state")).toHaveAttribute("data-state", "read-only");
  expect(await runInGuest(third, "cat /data/owner; echo reader > /data/owner && sync")).toEqual({ output: "owner", exitCode: 0 });
  await third.close();
  // The owner's data was not touched by the reader.
  await second.reload();
  await waitForShell(second);
  expect(await runInGuest(second, "cat /data/owner")).toEqual({ output: "owner", exitCode: 0 });

  // A tab waiting for the machine hears when its owner closes, and starts it on a click.
  const fourth = await context.newPage();
  await fourth.goto("/");
  await expect(fourth.getByTestId("lock-banner")).toContainText("This machine is open in another tab");
  await second.close();
  await expect(fourth.getByTestId("lock-banner")).toHaveText("The other tab let this machine go: it can run here now.Start here");
  await expect(fourth.locator("#progress-text")).toHaveText("Debian 6.1 + busybox (built in) is no longer open in another tab.");
  await fourth.getByTestId("lock-start").click();
  await waitForShell(fourth);
  await expect(fourth.getByTestId("lock-banner")).toBeHidden();
  expect(await runInGuest(fourth, "cat /data/owner; echo fourth > /data/owner && sync")).toEqual({ output: "owner", exitCode: 0 });
  await expect(fourth.getByTestId("disk-state")).toHaveText("saved");
});

/** Keys of a virtlab IndexedDB database (idb-keyval's "kv" store), read with the raw API. */
async function databaseKeys(page: Page, database: string): Promise<string[]> {
  return page.evaluate(
    (name) =>
      new Promise<string[]>((resolve, reject) => {
        const idb = (globalThis as unknown as { indexedDB: { open(n: string): { result: unknown; onsuccess: () => void; onerror: () => void } } }).indexedDB;
        const open = idb.open(name);
        open.onerror = () => reject(new Error(`cannot open ${name}`));
        open.onsuccess = () => {
          const db = open.result as { transaction(s: string): { objectStore(s: string): { getAllKeys(): { result: unknown; onsuccess: () => void } } }; close(): void };
          const request = db.transaction("kv").objectStore("kv").getAllKeys();
          request.onsuccess = () => {
            resolve((request.result as unknown[]).map(String));
            db.close();
          };
        };
      }),
    database,
  );
}

test("a page closed in the middle of an import: what was added before is intact, and the next start removes the cut-off chunks", async ({ page, context }) => {
  test.setTimeout(240_000);
  await page.goto("/");
  const rows = page.getByTestId("image-list").getByTestId("image-row");
  await page.getByTestId("image-file").setInputFiles(TEST_ISO_PATH);
  await expect(rows).toHaveCount(2, { timeout: 60_000 });

  // A 96 MiB hard-disk image (MBR signature, random contents): big enough to close the page mid-import.
  const dir = mkdtempSync(join(tmpdir(), "virtlab-big-"));
  const big = join(dir, "big-disk.img");
  const bytes = Buffer.alloc(96 * 1024 * 1024);
  for (let i = 0; i < bytes.length; i += 4096) bytes.writeUInt32LE((i * 2654435761) >>> 0, i);
  bytes[510] = 0x55;
  bytes[511] = 0xaa;
  writeFileSync(big, bytes);
  try {
    await page.getByTestId("image-file").setInputFiles(big);
    await expect(page.getByTestId("image-progress")).toContainText(/Adding big-disk\.img: [1-9][\d.]* MiB of 96/, { timeout: 60_000 });
    const cutOff = (await databaseKeys(page, "virtlab-images")).filter((k) => k.startsWith("chunk:"));
    await page.close();

    const reopened = await context.newPage();
    await reopened.goto("/");
    const reopenedRows = reopened.getByTestId("image-list").getByTestId("image-row");
    await expect(reopenedRows).toHaveCount(2);
    await expect(reopenedRows.nth(1)).toContainText("grub-rescue-cdrom.iso");
    // The chunks the cut-off import wrote are gone; the ISO's chunks are all there.
    const iso = (await databaseKeys(reopened, "virtlab-images")).filter((k) => k.startsWith("image:"));
    expect(iso).toHaveLength(1);
    const isoId = iso[0]?.slice("image:".length) ?? "";
    await expect.poll(async () => (await databaseKeys(reopened, "virtlab-images")).filter((k) => k.startsWith("chunk:") && !k.startsWith(`chunk:${isoId}:`)), { timeout: 30_000 }).toEqual([]);
    expect(cutOff.some((k) => !k.startsWith(`chunk:${isoId}:`))).toBe(true);
    expect((await databaseKeys(reopened, "virtlab-images")).filter((k) => k.startsWith(`chunk:${isoId}:`))).toHaveLength(2);
    await waitForShell(reopened);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a file bigger than the page's disk cache reads back whole after a reload (sequential reads come through the Worker's read-ahead)", async ({ page, pageErrors }) => {
  test.setTimeout(480_000);
  const run = (command: string): Promise<{ output: string; exitCode: number }> =>
    page.evaluate(async (cmd) => {
      const proxy = (globalThis as unknown as { virtlab?: { run(c: string, timeoutMs?: number): Promise<{ output: string; exitCode: number }> } }).virtlab;
      if (proxy === undefined) throw new Error("test proxy missing");
      return proxy.run(cmd, 300_000);
    }, command);
  await page.goto("/");
  await waitForShell(page);
  // 40 MiB of random bytes: more than the page keeps in memory (32 MiB), so most comes back from IndexedDB.
  const written = await run("dd if=/dev/urandom of=/data/big bs=1M count=40 2>/dev/null && sync && sha256sum /data/big");
  expect(written.exitCode).toBe(0);
  expect(written.output).toMatch(/^[0-9a-f]{64} {2}\/data\/big$/);
  await expect(page.getByTestId("disk-state")).toHaveText("saved", { timeout: 120_000 });
  await page.reload();
  await waitForShell(page);
  // The guest's own cache dropped too: every byte comes from the disk.
  expect(await run("echo 3 > /proc/sys/vm/drop_caches; sha256sum /data/big")).toEqual(written);
  // A write into the middle, then the whole file again: the window the Worker holds took the write.
  expect((await run("printf virtlab | dd of=/data/big bs=1 seek=20000000 conv=notrunc 2>/dev/null && sync && echo 3 > /proc/sys/vm/drop_caches && dd if=/data/big bs=1 skip=20000000 count=7 2>/dev/null")).output).toBe("virtlab");
  const again = await run("sha256sum /data/big");
  expect(again.exitCode).toBe(0);
  expect(again.output).not.toBe(written.output);
  expect(pageErrors).toEqual([]);
});

/** A key as a keyboard of another layout reports it: its code, its character, the modifier it was typed with. */
type Stroke = [code: string, key: string, held?: "shift" | "altgr"];
const letter = (char: string): Stroke => [char === " " ? "Space" : `Key${char.toUpperCase()}`, char];

/** Each key pressed and released as the browser reports it (a layout Playwright's keyboard cannot type), with its modifier held around it. */
async function typeStrokes(page: Page, strokes: readonly Stroke[]): Promise<void> {
  await page.evaluate(`(async (strokes) => {
    const send = (type, code, key, held) => document.body.dispatchEvent(new KeyboardEvent(type, { code, key, bubbles: true, cancelable: true, shiftKey: held === "shift", modifierAltGraph: held === "altgr" }));
    for (const [code, key, held] of strokes) {
      if (held === "shift") send("keydown", "ShiftLeft", "Shift", "shift");
      if (held === "altgr") send("keydown", "AltRight", "AltGraph", "altgr");
      send("keydown", code, key, held);
      send("keyup", code, key, held);
      if (held === "shift") send("keyup", "ShiftLeft", "Shift");
      if (held === "altgr") send("keyup", "AltRight", "AltGraph");
      // A typist's pace: GRUB reads through the BIOS's 15-key buffer.
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
  })(${JSON.stringify(strokes)})`);
}
