/**
 * Snapshots (issue 4) in Chromium with its real IndexedDB: the pre-booted start, save / reload /
 * restore with tmpfs, the data disk and a running process, export and import into a fresh browser
 * profile, damaged files, a snapshot of other hardware, and a full quota while saving.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "@playwright/test";
import { expect, flip, launchProfile, overrideQuota, runInGuest, shownErrors, startedFrom, storageEstimate, terminalBuffer, test, waitForShell } from "./fixtures.ts";

const rows = (page: Page) => page.getByTestId("snapshot-list").getByTestId("snapshot-row");

async function saveSnapshot(page: Page, name: string): Promise<void> {
  await page.getByTestId("snapshot-name").fill(name);
  await page.getByTestId("snapshot-save").click();
  await expect(page.getByTestId("snapshot-progress")).toHaveText(new RegExp(`^Saved "${name}" \\(\\d+(\\.\\d)? MiB\\)\\.$`), { timeout: 60_000 });
}

async function restore(page: Page, name: string): Promise<void> {
  await rows(page).filter({ hasText: name }).getByTestId("snapshot-restore").click();
  await expect(page.getByTestId("snapshot-progress")).toHaveText(`Restored "${name}".`, { timeout: 60_000 });
  await waitForShell(page);
}

test("the default URL starts from the pre-booted state with the data disk mounted; cold boot boots", async ({ page, pageErrors }) => {
  await page.goto("/");
  await waitForShell(page);
  expect(await startedFrom(page)).toBe("pre-booted");
  await expect(page.locator("#progress-text")).toHaveText(/^Shell ready: started from the pre-booted state in \d+\.\d s\.$/);
  expect(await runInGuest(page, "echo $((6*7)); grep -c ' /data ext2 ' /proc/mounts")).toEqual({ output: "42\n1", exitCode: 0 });
  // The guest's clock was set from the host's, not left at set-up time.
  const guestSeconds = Number((await runInGuest(page, "date +%s")).output);
  expect(Math.abs(guestSeconds - Date.now() / 1000)).toBeLessThan(30);

  const machine = "Debian 6.1 + busybox (built in)";
  expect((await terminalBuffer(page))[0]).toBe(`── ${machine} · pre-booted state ──`);

  await page.locator('button[data-action="cold-boot"]').click();
  await expect(page.getByTestId("stage")).toHaveText("booting");
  await waitForShell(page);
  expect(await startedFrom(page)).toBe("boot");
  expect(await runInGuest(page, "grep -c ' /data ext2 ' /proc/mounts")).toEqual({ output: "1", exitCode: 0 });
  // The cold boot starts on a cleared terminal: the divider first, no prompt of the run before it.
  const lines = await terminalBuffer(page);
  expect(lines[0]).toBe(`── ${machine} · cold boot ──`);
  expect(lines.findIndex((l) => l.startsWith("root@virtlab:/#"))).toBeGreaterThan(lines.findIndex((l) => l.includes("Linux version")));
  expect(pageErrors).toEqual([]);
  expect(await shownErrors(page)).toEqual([]);

  // Dropped on the page, a snapshot file lands in the snapshots (not the image library), and a
  // plain v86 state file is refused with what it is.
  // (A string: the e2e code is type-checked without the DOM's types.)
  const drop = (what: "snapshot" | "v86-state"): Promise<void> =>
    page.evaluate(`(async () => {
      const bytes = ${what === "snapshot"} ? await (await fetch("guest/prebooted.vlsnap")).arrayBuffer() : Uint8Array.from([0x76, 0x86, 0x76, 0x86, 6, 0, 0, 0, 0x40, 0, 0, 0, ...new Array(1000).fill(0)]);
      const data = new DataTransfer();
      data.items.add(new File([bytes], ${JSON.stringify(what === "snapshot" ? "class.vlsnap" : "v86state.bin")}));
      document.body.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
    })()`);
  await drop("snapshot");
  await expect(page.getByTestId("snapshot-progress")).toHaveText(/^Imported ".+" \(\d+(\.\d)? MiB\)\.$/, { timeout: 60_000 });
  await expect(rows(page)).toHaveCount(1);
  await expect(page.getByTestId("image-list").getByTestId("image-row")).toHaveCount(1);
  await drop("v86-state");
  await expect(page.getByRole("alert")).toContainText("v86state.bin is a machine state saved by v86 itself");
  await expect(rows(page)).toHaveCount(1);
  await expect(page.getByTestId("image-list").getByTestId("image-row")).toHaveCount(1);
});

test("save, reload, restore: a tmpfs file, the data disk (24 MiB of it) and a running process come back; rename; the quota running out keeps the earlier snapshot", async ({ page }) => {
  test.setTimeout(300_000);
  await page.goto("/");
  await waitForShell(page);
  expect((await runInGuest(page, "echo kept > /tmp/t && echo disk-then > /data/d && sync")).exitCode).toBe(0);
  // More than a chunk of the snapshot and a batch of its restore: 24 MiB, no two MiB alike.
  const big = "head -c 1048576 /dev/urandom > /tmp/r && for i in $(seq 24); do echo $i; cat /tmp/r; done > /data/big && rm /tmp/r && sync && sha256sum /data/big";
  const bigSum = (await runInGuest(page, big)).output.split(" ")[0];
  expect(bigSum).toMatch(/^[0-9a-f]{64}$/);
  await runInGuest(page, "(i=0; while true; do i=$((i+1)); echo $i > /tmp/counter; sleep 1; done) >/dev/null 2>&1 &");
  await runInGuest(page, "sleep 2");
  await saveSnapshot(page, "lesson start");
  await expect(rows(page)).toHaveCount(1);
  await expect(rows(page).first().getByTestId("snapshot-preview")).toContainText("root@virtlab");

  // Change everything, then reload: a fresh page, started from the pre-booted state.
  expect((await runInGuest(page, "rm /tmp/t /data/big; echo disk-now > /data/d && sync")).exitCode).toBe(0);
  await expect(page.getByTestId("disk-state")).toHaveText("saved");
  await page.reload();
  await waitForShell(page);
  expect((await runInGuest(page, "cat /tmp/t")).exitCode).not.toBe(0);
  expect(await runInGuest(page, "cat /data/d")).toEqual({ output: "disk-now", exitCode: 0 });

  await restore(page, "lesson start");
  expect(await startedFrom(page)).toBe("snapshot");
  expect(await runInGuest(page, "cat /tmp/t /data/d")).toEqual({ output: "kept\ndisk-then", exitCode: 0 });
  const counter = Number((await runInGuest(page, "cat /tmp/counter")).output);
  expect(Number((await runInGuest(page, "sleep 2; cat /tmp/counter")).output)).toBeGreaterThan(counter);
  // The restored disk is what the data disk now holds: a reload keeps it.
  await expect(page.getByTestId("disk-state")).toHaveText("saved");
  await page.reload();
  await waitForShell(page);
  expect(await runInGuest(page, "cat /data/d")).toEqual({ output: "disk-then", exitCode: 0 });
  expect((await runInGuest(page, "sha256sum /data/big")).output.split(" ")[0]).toBe(bigSum);

  await rows(page).first().getByTestId("snapshot-rename").click();
  await page.getByTestId("snapshot-rename-input").fill("before the lab");
  await page.getByTestId("snapshot-rename-save").click();
  await expect(rows(page).first().getByTestId("snapshot-row-name")).toHaveText("before the lab");

  // A full quota while saving: a clear message, and the earlier snapshot is untouched.
  const { usage } = await storageEstimate(page);
  await overrideQuota(page, usage + 1024 * 1024);
  await page.waitForTimeout(31_000); // Chromium's IndexedDB re-checks free space after ~30 s
  await page.getByTestId("snapshot-name").fill("too big");
  await page.getByTestId("snapshot-save").click();
  await expect(page.getByTestId("snapshot-progress")).toHaveText('"too big" was not saved. Earlier snapshots are unchanged.', { timeout: 60_000 });
  await expect(page.locator("#error")).toContainText("The browser's storage for virtlab is full");
  await expect(rows(page)).toHaveCount(1);
  await overrideQuota(page, undefined);
  await restore(page, "before the lab");
  expect(await runInGuest(page, "cat /tmp/t")).toEqual({ output: "kept", exitCode: 0 });
});

test("export, then import in a fresh browser profile and restore; damaged files are refused; a snapshot of other hardware is refused, then restored on a matching machine", async ({ page, playwright }) => {
  test.setTimeout(420_000);
  await page.goto("/");
  await waitForShell(page);
  expect((await runInGuest(page, "echo from-teacher > /data/handout && echo in-memory > /tmp/m && sync")).exitCode).toBe(0);
  await saveSnapshot(page, "handout");
  const download = page.waitForEvent("download");
  await rows(page).first().getByTestId("snapshot-export").click();
  const file = await (await download).path();
  const bytes = readFileSync(file);

  const dir = mkdtempSync(join(tmpdir(), "virtlab-snap-"));
  const profile = mkdtempSync(join(tmpdir(), "virtlab-profile-"));
  try {
    const good = join(dir, "handout.vlsnap");
    writeFileSync(good, bytes);
    const flipped = Buffer.from(bytes);
    const at = flipped.length - 1000;
    flipped[at] = (flipped[at] as number) ^ 0xff;
    writeFileSync(join(dir, "flipped.vlsnap"), flipped);
    writeFileSync(join(dir, "truncated.vlsnap"), bytes.subarray(0, bytes.length - 5000));
    writeFileSync(join(dir, "notes.vlsnap"), "not a snapshot at all\n".repeat(50));

    const { context, page: student } = await launchProfile(playwright.chromium, profile);
    await student.goto("/");
    await waitForShell(student);
    await expect(rows(student)).toHaveCount(0);
    for (const [name, message] of [
      ["flipped.vlsnap", "does not match its checksum"],
      ["truncated.vlsnap", "cut short"],
      ["notes.vlsnap", "not a virtlab snapshot"],
    ] as const) {
      await student.getByTestId("snapshot-file").setInputFiles(join(dir, name));
      await expect(student.getByTestId("snapshot-progress")).toHaveText(`${name} was not imported.`);
      await expect(student.locator("#error")).toContainText("This snapshot cannot be used");
      await expect(student.locator("#error")).toContainText(message);
      await expect(rows(student)).toHaveCount(0);
    }
    await student.getByTestId("snapshot-file").setInputFiles(good);
    await expect(rows(student)).toHaveCount(1);
    await restore(student, "handout");
    expect(await runInGuest(student, "cat /data/handout /tmp/m")).toEqual({ output: "from-teacher\nin-memory", exitCode: 0 });

    // Saved with another build of the built-in guest (virtlab updated since): said so, and no
    // matching machine is offered (none can be made); the machine runs on as it was.
    writeFileSync(join(dir, "earlier.vlsnap"), withHeader(bytes, (header) => ({ ...header, name: "from an earlier build", fingerprint: { ...header.fingerprint, initrd: "0".repeat(64) } })));
    await student.getByTestId("snapshot-file").setInputFiles(join(dir, "earlier.vlsnap"));
    await expect(rows(student)).toHaveCount(2);
    await rows(student).filter({ hasText: "from an earlier build" }).getByTestId("snapshot-restore").click();
    await expect(student.getByTestId("snapshot-differences")).toContainText("initrd: saved with 000000000000…");
    await expect(student.getByTestId("snapshot-mismatch")).toContainText("another build of the built-in guest");
    await expect(student.getByTestId("snapshot-create-matching")).toHaveCount(0);
    await expect(student.locator("#error")).toContainText("This snapshot was saved with another build of the built-in guest");
    expect(await runInGuest(student, "cat /data/handout")).toEqual({ output: "from-teacher", exitCode: 0 });

    // Other hardware: a virtio NIC. The restore is refused and says what differs.
    await flip(student, "lab-nic-virtio");
    await rows(student).filter({ has: student.getByTestId("snapshot-row-name").getByText("handout", { exact: true }) }).getByTestId("snapshot-restore").click();
    await expect(student.getByTestId("snapshot-differences")).toContainText("network card: saved with none, this machine has virtio");
    await expect(student.locator("#error")).toContainText("This snapshot was made for a different machine");
    expect(await runInGuest(student, "basename $(readlink /sys/class/net/eth0/device/driver)")).toEqual({ output: "virtio_net", exitCode: 0 });
    // The offer: a new machine with the snapshot's hardware, restored.
    await student.getByTestId("snapshot-create-matching").click();
    await expect(student.getByTestId("snapshot-progress")).toHaveText("Restored on a new machine that matches the snapshot.", { timeout: 120_000 });
    await waitForShell(student);
    expect(await startedFrom(student)).toBe("snapshot");
    expect(await runInGuest(student, "cat /data/handout /tmp/m; ls /sys/class/net")).toEqual({ output: "from-teacher\nin-memory\nlo", exitCode: 0 });
    await expect(student.getByTestId("machine-list").getByTestId("machine-row")).toHaveCount(2);
    await context.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(profile, { recursive: true, force: true });
  }
});

/** The snapshot file with its header changed by `change` (the header is JSON after the magic and its length; the chunks after it carry their own checksums). */
function withHeader(file: Buffer, change: (header: { name: string; fingerprint: Record<string, unknown> }) => object): Buffer {
  const length = file.readUInt32LE(8);
  const header = JSON.parse(file.subarray(12, 12 + length).toString("utf8")) as { name: string; fingerprint: Record<string, unknown> };
  const json = Buffer.from(JSON.stringify(change(header)), "utf8");
  const size = Buffer.alloc(4);
  size.writeUInt32LE(json.length);
  return Buffer.concat([file.subarray(0, 8), size, json, file.subarray(12 + length)]);
}
