/**
 * Snapshots of the real guest in Node: save a running machine into the snapshot file format,
 * restore it into a fresh emulator, and find memory, processes and the shell as they were.
 */
import { afterEach, describe, expect, it } from "vitest";
import { DATA_DISK_BYTES, DiskStore, captureSnapshot, memoryStore, restoreSnapshotDisks, systemClock, type Machine } from "../../src/core/index.ts";
import { concatParts, decodeSnapshot, encodeSnapshot, v86StateVersion } from "../../src/core/snapshot/format.ts";
import { fingerprintDifferences, machineFingerprint } from "../../src/core/snapshot/fingerprint.ts";
import { V86_PACKAGE_VERSION, V86_STATE_VERSION } from "../../src/core/v86.ts";
import { guestIsBuilt, headlessMachine, loadDefaultGuest } from "../../src/node/guest.ts";

const machines: Machine[] = [];
afterEach(() => {
  for (const m of machines.splice(0)) m.dispose();
});

async function booted(): Promise<Machine> {
  const machine = headlessMachine();
  machines.push(machine);
  await machine.start();
  await machine.waitForShell({ timeoutMs: 90_000 });
  return machine;
}

describe.skipIf(!guestIsBuilt())("snapshots of the default guest", () => {
  it("restores memory, a running process and the shell into a fresh emulator, through the file format", async () => {
    const first = await booted();
    await first.run("echo kept-in-tmpfs > /tmp/note");
    // A background counter: a process that must still be running after the restore.
    await first.run("(i=0; while true; do i=$((i+1)); echo $i > /tmp/counter; sleep 1; done) >/dev/null 2>&1 &");
    await first.run("sleep 2");
    const before = Number((await first.run("cat /tmp/counter")).output);
    expect(before).toBeGreaterThan(0);

    const { state, shellReady } = await first.saveState();
    expect(v86StateVersion(state)).toBe(V86_STATE_VERSION);
    const guest = loadDefaultGuest();
    const fingerprint = machineFingerprint(first.profile, guest);
    const file = concatParts(
      (await encodeSnapshot(state, { app: "test", v86: V86_PACKAGE_VERSION, fingerprint, name: "t", createdAt: 0, shellReady, preview: "" })).parts,
    );
    first.dispose();

    const decoded = await decodeSnapshot(file);
    const second = headlessMachine({ initialState: { state: decoded.state, shellReady: decoded.header.shellReady } });
    machines.push(second);
    expect(fingerprintDifferences(decoded.header.fingerprint, machineFingerprint(second.profile, guest))).toEqual([]);
    await second.start();
    expect(second.shellReady).toBe(true);
    expect(await second.run("cat /tmp/note")).toEqual({ output: "kept-in-tmpfs", exitCode: 0 });
    expect(await second.run("echo $((6*7))")).toEqual({ output: "42", exitCode: 0 });
    const after = Number((await second.run("sleep 2; cat /tmp/counter")).output);
    expect(after).toBeGreaterThan(before);

    // Machine.restoreState onto a running emulator works too (the page does not use it: its
    // restores start a fresh emulator with initialState, see session.test.ts).
    await second.run("rm /tmp/note");
    await second.restoreState(decoded.state, { shellReady: true });
    expect(await second.run("cat /tmp/note")).toEqual({ output: "kept-in-tmpfs", exitCode: 0 });
  });

  it("saves the data disk with the memory: a file written after the save is gone after the restore, one written before is back", async () => {
    const store = new DiskStore(memoryStore());
    const guest = loadDefaultGuest(undefined, { dataDisk: true });
    const open = () => store.open("default:hda", { size: DATA_DISK_BYTES, clock: systemClock });
    const disk = await open();
    const first = headlessMachine({ guest, disks: { hda: disk } });
    machines.push(first);
    await first.start();
    await first.waitForShell({ timeoutMs: 90_000 });
    expect((await first.run("echo before > /data/before && echo in-tmpfs > /tmp/t && sync")).exitCode).toBe(0);
    await first.run("(i=0; while true; do i=$((i+1)); echo $i > /tmp/counter; sleep 1; done) >/dev/null 2>&1 &");
    await first.run("sleep 2");

    const { header, parts } = await captureSnapshot(first, {
      fingerprint: machineFingerprint(first.profile, guest, { hda: { size: DATA_DISK_BYTES, base: "blank" } }),
      disks: [{ slot: "hda", disk, base: "blank" }],
      app: "test",
      v86: V86_PACKAGE_VERSION,
      name: "t",
      createdAt: 0,
      preview: "",
    });
    expect(header.disks.map((d) => d.slot)).toEqual(["hda"]);
    expect(header.disks[0]?.pages.length).toBeGreaterThan(0);
    // The machine runs on after the save; what it writes now is not in the snapshot.
    expect(first.status.running).toBe(true);
    expect((await first.run("echo after > /data/after && rm /data/before && sync")).exitCode).toBe(0);
    await disk.flush();
    first.dispose();
    disk.dispose();

    const decoded = await decodeSnapshot(concatParts(parts));
    await restoreSnapshotDisks(store, "default", decoded.disks);
    const restoredDisk = await open();
    const second = headlessMachine({ guest, disks: { hda: restoredDisk }, initialState: { state: decoded.state, shellReady: decoded.header.shellReady } });
    machines.push(second);
    await second.start();
    expect(await second.run("cat /data/before /tmp/t; ls -1 /data")).toEqual({ output: "before\nin-tmpfs\nbefore\nlost+found", exitCode: 0 });
    // The file system is consistent with the memory: writing and reading back works after a cache drop.
    expect(await second.run("echo again > /data/again && sync && echo 3 > /proc/sys/vm/drop_caches && cat /data/again")).toEqual({ output: "again", exitCode: 0 });
    const counter = Number((await second.run("cat /tmp/counter; sleep 2")).output);
    expect(Number((await second.run("cat /tmp/counter")).output)).toBeGreaterThan(counter);
    expect(await second.run("echo $((6*7))")).toEqual({ output: "42", exitCode: 0 });
    restoredDisk.dispose();
  });
});
