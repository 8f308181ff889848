/**
 * The page's machine session in Node, on the real guest: an "auto" start of the default machine
 * takes the pre-booted state with `initialState` (as the page does), settles (mounts the user's
 * data disk, sets the clock) and then answers commands; a snapshot taken through the session
 * restores through it, disks included. Hardware the pre-booted state does not fit boots once, its
 * boot is kept (the boot cache), and the next start of it restores that boot with the user's disk.
 */
import { describe, expect, it } from "vitest";
import { BootCache, DEFAULT_MACHINE, DEFAULT_PROFILE, DiskStore, SnapshotStore, memoryStore, type BootKept } from "../../src/core/index.ts";
import { concatParts } from "../../src/core/snapshot/format.ts";
import { guestIsBuilt } from "../../src/node/guest.ts";
import { nodeSession, startSession } from "../../src/node/session.ts";
import { frameTo, hasPrebooted, rxPackets, sessionsStoppedAfterEach } from "./sessions.ts";

const sessions = sessionsStoppedAfterEach();

describe.skipIf(!guestIsBuilt())("the machine session on the default guest", () => {
  it("starts from the pre-booted state, mounts the data disk, sets the clock, then runs a command", async () => {
    if (!(await hasPrebooted)) return expect.fail("no pre-booted state: run npx tsx images/prebooted.ts");
    const session = nodeSession();
    sessions.push(session);
    const runs: string[] = [];
    const settled: string[] = [];
    session.onRun((run) => runs.push(run.runStart.kind));
    session.onSettled(({ lastLine }) => settled.push(lastLine));
    let settlingSeen = false;
    session.onStatus((status) => {
      if (status.settling) settlingSeen = true;
    });
    await startSession(session, { kind: "auto" });
    expect(session.startedFrom).toBe("pre-booted");
    expect(runs).toEqual(["pre-booted", "pre-booted"]);
    expect(settlingSeen).toBe(true);
    expect(settled).toHaveLength(1);
    expect(session.status.readyDetail).toMatch(/^started from the pre-booted state in \d+\.\d s$/);
    const machine = session.machine;
    if (machine === undefined) return expect.fail("no machine after the start");
    // The user's data disk is mounted (the pre-booted state was saved without it).
    expect((await machine.run("grep -c ' /data ' /proc/mounts")).output).toBe("1");
    expect((await machine.run("echo hello > /data/f && sync && cat /data/f")).output).toBe("hello");
    // The guest's clock was set from the host's (it stood still while the state was saved).
    const guestNow = Number((await machine.run("date +%s")).output);
    expect(Math.abs(guestNow - Date.now() / 1000)).toBeLessThan(60);
    expect(await machine.run("echo $((6*7))")).toEqual({ output: "42", exitCode: 0 });
  });

  it("restores its own snapshot through a start request, disks included, and refuses one for other hardware before stopping", async () => {
    if (!(await hasPrebooted)) return expect.fail("no pre-booted state: run npx tsx images/prebooted.ts");
    const diskStore = new DiskStore(memoryStore());
    const session = nodeSession({ diskStore });
    sessions.push(session);
    await startSession(session, { kind: "auto" });
    const first = session.machine;
    if (first === undefined) return expect.fail("no machine");
    expect((await first.run("echo saved > /data/s && echo in-tmpfs > /tmp/t && sync")).exitCode).toBe(0);
    const file = concatParts(await session.capture({ name: "t", app: "test", preview: "", createdAt: 0 }));
    expect((await first.run("rm /data/s /tmp/t && echo later > /data/later && sync")).exitCode).toBe(0);

    // Other hardware: refused with what differs, and the running machine is untouched.
    const bigger = session.start({ record: DEFAULT_MACHINE, profile: { ...DEFAULT_PROFILE, memoryMiB: DEFAULT_PROFILE.memoryMiB * 2 }, request: { kind: "snapshot", file } });
    await expect(bigger).rejects.toMatchObject({ code: "snapshot-mismatch" });
    expect(session.machine).toBe(first);

    await startSession(session, { kind: "snapshot", file });
    expect(session.startedFrom).toBe("snapshot");
    const second = session.machine;
    if (second === undefined) return expect.fail("no machine after the restore");
    expect(await second.run("cat /data/s /tmp/t; ls -1 /data")).toEqual({ output: "saved\nin-tmpfs\nlost+found\ns", exitCode: 0 });
  });

  it("keeps the boot of hardware the pre-booted state does not fit; the next start of it restores, with the user's data disk mounted", async () => {
    const cache = new BootCache(new SnapshotStore(memoryStore()));
    const diskStore = new DiskStore(memoryStore());
    const session = nodeSession({ bootCache: cache, diskStore });
    sessions.push(session);
    const virtio = { nic: "virtio" as const };
    const kept = new Promise<BootKept>((resolve) => session.onBootKept(resolve));
    await startSession(session, { kind: "auto" }, DEFAULT_MACHINE, virtio);
    expect(session.startedFrom).toBe("boot");
    const booted = session.machine;
    if (booted === undefined) return expect.fail("no machine after the boot");
    // Kept at the first prompt; the user's disk is mounted again afterwards and takes a file.
    expect((await booted.run("grep -c ' /data ' /proc/mounts; echo from-boot > /data/f && sync && cat /data/f")).output).toBe("1\nfrom-boot");
    const outcome = await kept;
    expect(outcome, JSON.stringify(outcome)).toMatchObject({ kind: "kept" });
    expect(await cache.size()).toBe(1);

    await startSession(session, { kind: "auto" }, DEFAULT_MACHINE, virtio);
    expect(session.startedFrom).toBe("boot-cache");
    expect(session.status.readyDetail).toMatch(/^started from this hardware's saved boot in \d+\.\d s$/);
    const restored = session.machine;
    if (restored === undefined) return expect.fail("no machine after the restore");
    expect((await restored.run("grep -c ' /data ' /proc/mounts; cat /data/f; ls /sys/bus/virtio/drivers/virtio_net")).output).toMatch(/^1\nfrom-boot\n/);
    expect(await restored.run("echo $((6*7))")).toEqual({ output: "42", exitCode: 0 });
    // Its virtio-net was left as the boot had it (no link down and up after the restore: v86's
    // virtio-net filters nothing), and it takes a unicast frame for the MAC the guest has.
    const sh = async (command: string): Promise<string> => (await restored.agent.run(command)).output;
    // The link is up and the boot's DHCP client runs on (it was not stopped and started again).
    expect(await sh("cat /sys/class/net/eth0/carrier; kill -0 $(cat /run/udhcpc.eth0.pid) && echo dhcp-running")).toBe("1\ndhcp-running");
    const mac = (await sh("cat /sys/class/net/eth0/address")).trim();
    const before = await rxPackets(restored);
    restored.sendNetworkFrame(frameTo(mac));
    await expect.poll(() => rxPackets(restored), { timeout: 30_000, interval: 100 }).toBe(before + 1);
  });
});
