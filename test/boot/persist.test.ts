/**
 * The default machine's data disk, end to end in Node: real v86, real guest, overlay in
 * IndexedDB (fake-indexeddb). What the guest writes to /data is there after the machine is torn
 * down and booted again from the stored overlay.
 */
import "fake-indexeddb/auto";
import { afterEach, describe, expect, it } from "vitest";
import { DATA_DISK_BYTES, DiskStore, openIndexedDbStore, systemClock, type Machine, type OverlayDisk } from "../../src/core/index.ts";
import { guestIsBuilt, headlessMachine, loadDefaultGuest } from "../../src/node/guest.ts";

const open: { machine?: Machine; disk?: OverlayDisk }[] = [];
afterEach(() => {
  for (const o of open.splice(0)) {
    o.machine?.dispose();
    o.disk?.dispose();
  }
});

async function bootWithDataDisk(disks: DiskStore): Promise<{ machine: Machine; disk: OverlayDisk }> {
  const disk = await disks.open("default-data", { size: DATA_DISK_BYTES, clock: systemClock });
  const machine = headlessMachine({ guest: loadDefaultGuest(undefined, { dataDisk: true }), disks: { hda: disk } });
  open.push({ machine, disk });
  await machine.start();
  await machine.waitForShell({ timeoutMs: 90_000 });
  return { machine, disk };
}

describe.skipIf(!guestIsBuilt())("persistent data disk", () => {
  it("formats a blank disk at first boot, and what the guest writes is there after a teardown", async () => {
    const kv = openIndexedDbStore("virtlab-disks-boot-test", "kv");
    const first = await bootWithDataDisk(new DiskStore(kv));
    const mounts = await first.machine.run("grep ' /data ' /proc/mounts");
    expect(mounts.output).toMatch(/^\/dev\/sd[a-z] \/data ext2 rw[, ]/);
    expect(await first.machine.run("echo hello > /data/note && sync && cat /data/note")).toEqual({ output: "hello", exitCode: 0 });
    // Without sync: the guest writes its dirty pages back within about 2 s, so they reach the disk.
    expect((await first.machine.run("echo written-back-without-sync > /data/later")).exitCode).toBe(0);
    const marker = Buffer.from("written-back-without-sync");
    const onDisk = async (): Promise<boolean> => {
      const { data } = await first.disk.exportOverlay();
      return Buffer.from(data.buffer, data.byteOffset, data.byteLength).includes(marker);
    };
    await expect.poll(onDisk, { timeout: 20_000, interval: 250 }).toBe(true);
    await first.disk.flush();
    expect(first.disk.saveState).toMatchObject({ unsavedPages: 0, error: undefined });
    first.machine.dispose();
    first.disk.dispose();

    // A new machine and a new disk object, reading only what IndexedDB kept.
    const second = await bootWithDataDisk(new DiskStore(kv));
    expect(await second.machine.run("cat /data/note")).toEqual({ output: "hello", exitCode: 0 });
    // Mounted, not formatted again.
    expect((await second.machine.run("ls -1 /data")).output.split("\n")).toEqual(["later", "lost+found", "note"]);
    expect(await second.machine.run("cat /data/later")).toEqual({ output: "written-back-without-sync", exitCode: 0 });
  });
});
