/**
 * Shareable set-ups (part of the classroom issue): a link names devices and memory; opening it
 * gives that machine; bad values fall back to defaults with a visible notice; "Copy link" gives
 * the link back. And no Content-Security-Policy violation anywhere (the pageErrors fixture).
 */
import type { Page } from "@playwright/test";
import { BOOT_DEADLINE_MS, bootKept, expect, indexedDbKv, runInGuest, shownErrors, startedFrom, test, waitForShell } from "./fixtures.ts";

/** Resolves when the Worker that reads the link's kept boot ahead (src/worker/keptBoot.worker.ts) has done what it was asked and ended. */
function keptBootWorkerEnds(page: Page): Promise<void> {
  return page
    .waitForEvent("worker", { predicate: (worker) => worker.url().includes("keptBoot.worker"), timeout: BOOT_DEADLINE_MS })
    .then((worker) => new Promise<void>((done) => worker.on("close", () => done())));
}

/** The entries of links' kept boots kept unpacked (core's unpackedCache.ts). */
async function linkEntries(page: Page): Promise<string[]> {
  return (await indexedDbKv(page, "virtlab-unpacked", { kind: "keys" })).filter((key) => key.includes(":link:"));
}

test("a shared link opens the machine it names (booted once, then from its kept boot), and Copy link gives the same link back", async ({ page, pageErrors }) => {
  const requested: string[] = [];
  page.on("request", (request) => requested.push(new URL(request.url()).pathname.split("/").pop() ?? ""));
  let readAheadEnds = keptBootWorkerEnds(page);
  await page.goto("/?nic=virtio&console=virtio&mem=192");
  await waitForShell(page);
  // Other hardware: the page's early decoder saw the link and fetched no pre-booted state (its
  // description may be read, to refuse it).
  expect(requested.filter((name) => name === "prebooted.vlsnap")).toEqual([]);
  // Not the pre-booted default: other hardware, so a boot (with the reason in the terminal), kept for next time.
  expect(await startedFrom(page)).toBe("boot");
  await expect(page.locator(".xterm-rows")).toContainText("This boot is kept in this browser");
  const hardware = "tty; basename $(readlink /sys/class/net/eth0/device/driver); awk '/MemTotal/ {print ($2 > 150000 && $2 < 200000)}' /proc/meminfo";
  const expected = { output: "/dev/hvc0\nvirtio_net\n1", exitCode: 0 };
  expect(await runInGuest(page, hardware)).toEqual(expected);
  expect(await runInGuest(page, "echo before-reload > /data/kept && sync")).toEqual({ output: "", exitCode: 0 });
  // Written back to the browser's storage (the status bar says so) before the page goes away.
  await expect(page.getByTestId("disk-state")).toHaveText("saved", { timeout: 30_000 });
  expect(await bootKept(page)).toMatchObject({ kind: "kept" });
  // Kept unpacked for the link too, by the Worker that reads it ahead at the link's next visit.
  await readAheadEnds;
  expect((await linkEntries(page)).sort()).toEqual([expect.stringMatching(/^meta:link:/), expect.stringMatching(/^state:link:/)]);
  // The same link again, that entry deleted: the kept boot restores from the boot cache, with the
  // user's data disk mounted, and is kept unpacked again.
  const reloadFromKeptBoot = async (): Promise<void> => {
    readAheadEnds = keptBootWorkerEnds(page);
    await page.reload();
    await waitForShell(page);
    expect(await startedFrom(page)).toBe("boot-cache");
    await expect(page.locator("#progress-text")).toContainText("started from this hardware's saved boot");
    expect(await runInGuest(page, hardware)).toEqual(expected);
    expect(await runInGuest(page, "cat /data/kept")).toEqual({ output: "before-reload", exitCode: 0 });
    await readAheadEnds;
  };
  await indexedDbKv(page, "virtlab-unpacked", { kind: "delete", keys: await linkEntries(page) });
  await reloadFromKeptBoot();
  expect(await linkEntries(page)).toHaveLength(2);
  // And again, the boot cache emptied: the state read ahead unpacked is what restores (checked
  // against its digest once the start was over, and whole: still there).
  await indexedDbKv(page, "virtlab-bootcache", { kind: "delete" });
  await reloadFromKeptBoot();
  expect(await linkEntries(page)).toHaveLength(2);
  await expect(page.getByTestId("lab-nic-virtio")).toBeChecked();
  await expect(page.getByTestId("lab-console-virtio")).toBeChecked();
  await expect(page.getByTestId("notice")).toBeHidden();

  await page.locator('button[data-action="copy-link"]').click();
  await expect(page.getByTestId("notice")).toContainText("?nic=virtio&console=virtio&mem=192");
  const link = await page.getByTestId("notice").getAttribute("data-link");
  expect(new URL(link ?? "").search).toBe("?nic=virtio&console=virtio&mem=192");
  expect(pageErrors).toEqual([]);
  expect(await shownErrors(page)).toEqual([]);
});

test("bad values in a link are ignored with a visible notice, and the default machine starts", async ({ page, pageErrors }) => {
  await page.goto("/?nic=e1000&mem=lots&colour=red");
  await expect(page.getByTestId("notice")).toContainText("nic=e1000 was ignored: use none, ne2k, virtio");
  await expect(page.getByTestId("notice")).toContainText("mem=lots was ignored");
  await expect(page.getByTestId("notice")).toContainText('colour=red was ignored: virtlab does not know "colour"');
  await waitForShell(page);
  expect(await startedFrom(page)).toBe("pre-booted");
  expect(await runInGuest(page, "ls /sys/class/net")).toEqual({ output: "lo", exitCode: 0 });
  expect(pageErrors).toEqual([]);
});
