/**
 * Big data disks (issue 17), real guest in Node, overlay in IndexedDB (fake-indexeddb):
 * - a blank data disk is an empty ext2 made on the host: the guest mounts it without formatting;
 * - a file larger than the page cache (a small one here) is written, the machine torn down, and read back from
 *   IndexedDB with the same checksum, with memory within the cache;
 * - the disk the guest wrote passes e2fsck -fn (when Debian's e2fsprogs is installed);
 * - the pre-booted state (made with the 64 MiB disk) serves a blank disk of another size.
 */
import "fake-indexeddb/auto";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  DiskStore,
  PAGE_CACHE_BYTES,
  PageCache,
  decodeSnapshot,
  fingerprintDifferences,
  machineFingerprint,
  mountDataCommand,
  openDiskDatabase,
  readSnapshotHeader,
  systemClock,
  DEFAULT_PROFILE,
  type Machine,
  type OverlayDisk,
} from "../../src/core/index.ts";
import { GUEST_DIR, guestIsBuilt, headlessMachine, loadDefaultGuest } from "../../src/node/guest.ts";

const MiB = 1024 * 1024;
const E2FSCK = ["/sbin/e2fsck", "/usr/sbin/e2fsck"].find((p) => existsSync(p));
const PREBOOTED = join(GUEST_DIR, "prebooted.vlsnap");

const open: { machine?: Machine; disk?: OverlayDisk }[] = [];
afterEach(() => {
  for (const o of open.splice(0)) {
    o.machine?.dispose();
    o.disk?.dispose();
  }
});

async function boot(disk: OverlayDisk, initialState?: { state: Uint8Array; shellReady: boolean }): Promise<Machine> {
  const machine = headlessMachine({ guest: loadDefaultGuest(undefined, { dataDisk: true }), disks: { hda: disk }, ...(initialState === undefined ? {} : { initialState }) });
  open.push({ machine, disk });
  await machine.start();
  await machine.waitForShell({ timeoutMs: 300_000 });
  return machine;
}

/** Start as the page does: from the pre-booted state (made with a 64 MiB disk), then mount `disk` of `size` bytes. */
async function restore(disk: OverlayDisk, size: number): Promise<Machine> {
  const decoded = await decodeSnapshot(new Uint8Array(readFileSync(PREBOOTED)));
  const machine = await boot(disk, { state: decoded.state, shellReady: decoded.header.shellReady });
  expect((await machine.run(mountDataCommand(size), { timeoutMs: 60_000 })).exitCode).toBe(0);
  return machine;
}

describe.skipIf(!guestIsBuilt())("big data disks", () => {
  it("a blank disk mounts without formatting; a file larger than the cache reads back after a teardown with the same checksum", async () => {
    const kv = openDiskDatabase(`big-disk-${Math.random()}`);
    const size = 256 * MiB;
    const disk = await new DiskStore(kv).open("m:hda", { size, blank: "ext2", clock: systemClock });
    // Started as the page starts, from the pre-booted state (a boot where there is none).
    const machine = existsSync(PREBOOTED) ? await restore(disk, size) : await boot(disk);
    expect((await machine.run("grep ' /data ' /proc/mounts")).output).toMatch(/^\/dev\/sd[a-z] \/data ext2 rw/);
    // Formatting would have written the inode tables and bitmaps (hundreds of pages); mounting
    // writes the superblock and little else.
    expect((await disk.exportOverlay()).pages.length).toBeLessThan(16);
    // The read-back store's cache is a quarter of the page's (the same code, a smaller budget), so
    // a file larger than it stays quick to write through the emulated disk.
    const cacheBytes = PAGE_CACHE_BYTES / 4;
    const fileMiB = cacheBytes / MiB + 16;
    // 1 MiB of random bytes repeated with a counter between copies (urandom is slow in the emulator).
    const written = await machine.run(
      `dd if=/dev/urandom of=/tmp/r bs=1M count=1 2>/dev/null && for i in $(seq ${fileMiB}); do cat /tmp/r; echo $i; done > /data/big && sync && sha256sum /data/big`,
      { timeoutMs: 600_000 },
    );
    expect(written.exitCode).toBe(0);
    const sum = written.output.split(" ")[0];
    expect(sum).toMatch(/^[0-9a-f]{64}$/);
    await disk.flush();
    expect(disk.saveState).toMatchObject({ unsavedPages: 0, error: undefined });
    machine.dispose();
    disk.dispose();

    // A new store (empty cache) over the same IndexedDB: everything comes from storage.
    const cache = new PageCache(cacheBytes);
    const again = await new DiskStore(kv, cache).open("m:hda", { size, blank: "ext2", clock: systemClock });
    const second = existsSync(PREBOOTED) ? await restore(again, size) : await boot(again);
    expect(await second.run("sha256sum /data/big | cut -d' ' -f1", { timeoutMs: 600_000 })).toEqual({ output: sum, exitCode: 0 });
    expect(cache.size).toBeLessThanOrEqual(cacheBytes);
    expect((await second.run("umount /data && echo ok")).output).toBe("ok");

    if (E2FSCK === undefined) {
      console.warn("e2fsck not installed (Debian package e2fsprogs): the file system check is skipped");
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), "virtlab-ext2-"));
    try {
      const image = join(dir, "data.img");
      writeFileSync(image, new Uint8Array(0));
      for await (const chunk of again.chunks(16 * MiB)) writeFileSync(image, chunk, { flag: "a" });
      expect(readFileSync(image).length).toBe(size);
      expect(execFileSync(E2FSCK, ["-fn", image], { encoding: "utf8" })).toMatch(/virtlab-data: 12\/\d+ files/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 1_500_000);

  it.skipIf(!existsSync(PREBOOTED))("the pre-booted state (made with the 64 MiB disk) serves a blank 2 GiB disk: probed again, mounted, no formatting", async () => {
    const file = new Uint8Array(readFileSync(PREBOOTED));
    const guest = loadDefaultGuest(undefined, { dataDisk: true });
    const size = 2048 * MiB;
    // The fingerprint does not pin the blank data disk's size.
    expect(fingerprintDifferences(readSnapshotHeader(file).header.fingerprint, machineFingerprint(DEFAULT_PROFILE, guest, { hda: { size, base: "blank" } }))).toEqual([]);
    const disk = await new DiskStore(openDiskDatabase(`big-pre-${Math.random()}`)).open("default:hda", { size, blank: "ext2", clock: systemClock });
    const machine = await restore(disk, size);
    expect((await machine.run("cat /sys/block/sda/size")).output).toBe(String(size / 512));
    // The device probed again has the data script's read-ahead, not the kernel's default.
    expect((await machine.run("cat /sys/block/sda/queue/read_ahead_kb")).output).toBe("1024");
    const df = await machine.run("df -k /data | tail -1");
    expect(Number(df.output.split(/\s+/)[1])).toBeGreaterThan(2_000_000);
    expect(await machine.run("echo big > /data/note && sync && cat /data/note")).toEqual({ output: "big", exitCode: 0 });
    // mke2fs would have written 16 groups' bitmaps and inode tables (hundreds of pages).
    expect((await disk.exportOverlay()).pages.length).toBeLessThan(32);
  });
});
