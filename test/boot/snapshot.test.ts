/**
 * Snapshots of the real guest in Node, through the page's session (src/node/session.ts): save a
 * running machine into the snapshot file format, restore it into a fresh emulator, and find
 * memory, processes, the shell and the data disk as they were. Both start from the pre-booted
 * state (these tests are about snapshots, not booting).
 */
import { describe, expect, it } from "vitest";
import { DiskStore, MachineSession, memoryStore, type Machine, type SessionDisks } from "../../src/core/index.ts";
import { concatParts, decodeSnapshot, v86StateVersion } from "../../src/core/snapshot/format.ts";
import { fingerprintDifferences } from "../../src/core/snapshot/fingerprint.ts";
import { V86_STATE_VERSION } from "../../src/core/v86Version.ts";
import { redrawConsoleCommand } from "../../src/core/guest.ts";
import { guestIsBuilt } from "../../src/node/guest.ts";
import { nodeSessionOptions, startSession } from "../../src/node/session.ts";
import { hasPrebooted, sessionsStoppedAfterEach } from "./sessions.ts";

const sessions = sessionsStoppedAfterEach();

/** The page's session on the default machine, started from the pre-booted state. */
async function started(diskStore = new DiskStore(memoryStore())): Promise<{ session: MachineSession; machine: Machine; disks: SessionDisks }> {
  if (!(await hasPrebooted)) throw new Error("no pre-booted state: run npx tsx images/prebooted.ts");
  const options = nodeSessionOptions({ diskStore });
  const session = new MachineSession(options);
  sessions.push(session);
  await startSession(session, { kind: "auto" });
  const machine = session.machine;
  if (machine === undefined || session.startedFrom !== "pre-booted") throw new Error(`the machine did not start from the pre-booted state (${session.startedFrom})`);
  return { session, machine, disks: options.disks };
}

/** A process that must still be running after a restore: a counter in tmpfs. */
const COUNTER = "(i=0; while true; do i=$((i+1)); echo $i > /tmp/counter; sleep 1; done) >/dev/null 2>&1 &";

describe.skipIf(!guestIsBuilt())("snapshots of the default guest", () => {
  it("restores memory, a running process and the shell into a fresh emulator, through the file format", async () => {
    const { session, machine: first } = await started();
    await first.run("echo kept-in-tmpfs > /tmp/note");
    await first.run(COUNTER);
    await first.run("sleep 2");
    const before = Number((await first.run("cat /tmp/counter")).output);
    expect(before).toBeGreaterThan(0);

    const file = concatParts(await session.capture({ name: "t", app: "test", preview: "", createdAt: 0 }));
    const decoded = await decodeSnapshot(file);
    expect(v86StateVersion(decoded.state)).toBe(V86_STATE_VERSION);
    expect(fingerprintDifferences(decoded.header.fingerprint, await session.fingerprint())).toEqual([]);

    // The restore the page does: a fresh emulator started from the state (initialState).
    await startSession(session, { kind: "snapshot", file });
    const second = session.machine;
    if (second === undefined) return expect.fail("no machine after the restore");
    expect(second).not.toBe(first);
    expect(session.startedFrom).toBe("snapshot");
    expect(second.shellReady).toBe(true);
    expect(await second.run("cat /tmp/note")).toEqual({ output: "kept-in-tmpfs", exitCode: 0 });
    expect(await second.run("echo $((6*7))")).toEqual({ output: "42", exitCode: 0 });
    const after = Number((await second.run("sleep 2; cat /tmp/counter")).output);
    expect(after).toBeGreaterThan(before);
    // Not tested here: Machine.restoreState onto a running emulator. The page never restores that
    // way (a fresh emulator with initialState, as above), and on the real guest a command typed
    // right after it lost all but its first line in about 1 run of 5.
  });

  it("saves the data disk with the memory: a file written after the save is gone after the restore, one written before is back", async () => {
    const { session, machine: first } = await started();
    expect((await first.run("echo before > /data/before && echo in-tmpfs > /tmp/t && sync")).exitCode).toBe(0);
    await first.run(COUNTER);
    await first.run("sleep 2");

    const file = concatParts(await session.capture({ name: "t", app: "test", preview: "", createdAt: 0 }));
    const { header } = await decodeSnapshot(file);
    expect(header.disks.map((d) => d.slot)).toEqual(["hda"]);
    expect(header.disks[0]?.pages.length).toBeGreaterThan(0);
    // The machine runs on after the save; what it writes now is not in the snapshot (the
    // session writes these pages to the store before it restores the snapshot's disks).
    expect(first.status.running).toBe(true);
    expect((await first.run("echo after > /data/after && rm /data/before && sync")).exitCode).toBe(0);

    await startSession(session, { kind: "snapshot", file });
    const second = session.machine;
    if (second === undefined) return expect.fail("no machine after the restore");
    expect(await second.run("cat /data/before /tmp/t; ls -1 /data")).toEqual({ output: "before\nin-tmpfs\nbefore\nlost+found", exitCode: 0 });
    // The file system is consistent with the memory: writing and reading back works after a cache drop.
    expect(await second.run("echo again > /data/again && sync && echo 3 > /proc/sys/vm/drop_caches && cat /data/again")).toEqual({ output: "again", exitCode: 0 });
    const counter = Number((await second.run("cat /tmp/counter; sleep 2")).output);
    expect(Number((await second.run("cat /tmp/counter")).output)).toBeGreaterThan(counter);
    expect(await second.run("echo $((6*7))")).toEqual({ output: "42", exitCode: 0 });
  });

  it("the machine runs on while its disks are packed: a file the guest rewrites meanwhile is in the snapshot as it was at the save", async () => {
    const kv = memoryStore();
    const { session, machine: first, disks } = await started(new DiskStore(kv));
    // More than a chunk of the file (8 MiB): pages in several of the snapshot's chunks.
    const made = await first.run("dd if=/dev/urandom of=/data/f bs=64k count=160 2>/dev/null && sync && sha256sum /data/f | cut -c1-64");
    expect(made.exitCode).toBe(0);
    const records = async (): Promise<number> => (await kv.keys()).filter((k) => !k.startsWith("disk:")).length;
    await disks.disk("hda")?.flush();
    const recordsBefore = await records();

    // The sink takes the first chunk, then waits while the guest writes.
    const bodies: Uint8Array[] = [];
    let letGo: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (letGo = resolve));
    let chunks = 0;
    const head = session.captureTo({ name: "t", app: "test", preview: "", createdAt: 0 }, async ({ index, packed }) => {
      bodies[index] = packed;
      if (chunks++ === 0) await held;
    });
    await expect.poll(() => chunks, { timeout: 30_000 }).toBe(1);
    expect(first.status.running).toBe(true);
    const rewritten = await first.run("dd if=/dev/zero of=/data/f bs=64k count=160 conv=notrunc 2>/dev/null && sync && sha256sum /data/f | cut -c1-64");
    expect(rewritten.exitCode).toBe(0);
    expect(rewritten.output).not.toBe(made.output);
    // The rewritten pages reached storage as new records, beside the ones the save reads.
    await expect.poll(records, { timeout: 30_000 }).toBeGreaterThan(recordsBefore);
    letGo();
    const file = concatParts([await head, ...bodies]);

    await startSession(session, { kind: "snapshot", file });
    const second = session.machine;
    if (second === undefined) return expect.fail("no machine after the restore");
    expect(await second.run("sha256sum /data/f | cut -c1-64")).toEqual(made);
  });

  it("a snapshot saved in vi comes back with vi's whole screen drawn again (not only its last line); a shell at its prompt is not signalled", async () => {
    const { session, machine: first } = await started();
    await first.run("printf 'first line\\nsecond line\\n' > /tmp/notes");
    // Whom the set-up's step would signal, asked without sending: nobody while the shell waits at its prompt.
    const whom = redrawConsoleCommand("uart").replace("kill -WINCH", "echo would-signal");
    expect(await first.agent.run(whom)).toEqual({ output: "", exitCode: 0 });
    let shown = "";
    const decoder = new TextDecoder();
    session.onOutput((bytes) => (shown += decoder.decode(bytes, { stream: true })));
    for (const ch of "vi /tmp/notes\n") first.write(ch);
    await expect.poll(() => shown, { timeout: 30_000 }).toContain("second line");
    // vi's process group, not the shell's.
    expect((await first.agent.run(whom)).output).toMatch(/^would-signal -\d+$/);
    const file = concatParts(await session.capture({ name: "in vi", app: "test", preview: "", createdAt: 0 }));

    shown = "";
    await startSession(session, { kind: "snapshot", file });
    // The set-up's SIGWINCH: vi clears the screen and draws its lines again.
    await expect.poll(() => shown, { timeout: 30_000 }).toContain("second line");
    expect(shown).toContain("first line");
    // Still vi, and the keys go to it: leave it and the shell answers.
    const second = session.machine;
    if (second === undefined) return expect.fail("no machine after the restore");
    for (const ch of ":q!\n") second.write(ch);
    expect(await second.run("echo $((6*7))")).toEqual({ output: "42", exitCode: 0 });
  });
});
