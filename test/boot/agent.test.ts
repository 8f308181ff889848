/**
 * The guest agent on the real guest (images/lib/agent.ts, src/core/agent.ts), and the start from
 * the pre-booted state as the page does it: no kernel or initrd loaded, the set-up through the
 * agent, and nothing on the user's console but what was there at the save.
 */
import { createV86Backend } from "../../src/core/v86.ts";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  DATA_DISK_BYTES,
  DEFAULT_PROFILE,
  DiskStore,
  Machine,
  afterRestoreCommand,
  decodeSnapshot,
  memoryStore,
  systemClock,
  type AssetLoader,
} from "../../src/core/index.ts";
import { GUEST_DIR, WASM_PATH, fileAssetLoader, guestIsBuilt, headlessMachine, loadDefaultGuest } from "../../src/node/guest.ts";

const PREBOOTED = join(GUEST_DIR, "prebooted.vlsnap");

const machines: Machine[] = [];
afterEach(() => {
  for (const m of machines.splice(0)) m.dispose();
});

async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.skipIf(!guestIsBuilt() || loadDefaultGuest().agent !== "serial1")("the guest agent", () => {
  it("runs commands on the second serial port after a cold boot, unseen on the user's console", async () => {
    const machine = headlessMachine();
    machines.push(machine);
    await machine.start();
    await machine.waitForShell({ timeoutMs: 300_000 });
    await until(() => machine.agent.listening, "the agent to listen");
    const before = machine.recentOutput();
    expect(await machine.agent.run("uname -r")).toEqual({ output: loadDefaultGuest().kernelRelease, exitCode: 0 });
    expect(await machine.agent.run("echo out; echo err >&2; exit 3")).toEqual({ output: "out\nerr", exitCode: 3 });
    // Commands are one line of sh; quotes and markers' bytes in the output survive.
    expect((await machine.agent.run("printf 'a b\\tc'")).output).toBe("a b\tc");
    // The agent is not the user's shell: not in its session, and the console is unchanged.
    expect((await machine.agent.run("readlink /proc/$$/fd/1")).output).toBe("/dev/ttyS1");
    expect(machine.recentOutput()).toBe(before);
    expect(await machine.run("echo $((6*7))")).toEqual({ output: "42", exitCode: 0 });
  }, 400_000);

  it.skipIf(!existsSync(PREBOOTED))("starts from the pre-booted state without BIOS, kernel or initrd, mounts the data disk and sets the clock through the agent, and the console shows only the prompt", async () => {
    const decoded = await decodeSnapshot(new Uint8Array(readFileSync(PREBOOTED)));
    const guest = loadDefaultGuest(undefined, { dataDisk: true });
    const disk = await new DiskStore(memoryStore()).open("agent:hda", { size: DATA_DISK_BYTES, blank: "ext2", clock: systemClock });
    const loaded: string[] = [];
    const loader: AssetLoader = {
      load(ref, onProgress) {
        loaded.push(ref.name);
        return fileAssetLoader.load(ref, onProgress);
      },
    };
    const machine = new Machine({
      profile: DEFAULT_PROFILE,
      guest,
      wasm: { name: "v86.wasm", url: WASM_PATH },
      loader,
      backend: createV86Backend,
      disks: { hda: disk },
      initialState: { state: decoded.state, shellReady: decoded.header.shellReady, screen: decoded.header.preview },
    });
    machines.push(machine);
    const shown: string[] = [];
    machine.onOutput((chunk) => {
      if (chunk.port === machine.consolePort) shown.push(new TextDecoder().decode(chunk.bytes));
    });
    await machine.start();
    // The state's memory has the booted kernel and the BIOSes: only the emulator was loaded.
    expect(loaded).toEqual(["v86.wasm"]);
    expect(machine.shellReady).toBe(true);
    const epoch = 1_900_000_000;
    const result = await machine.housekeep(afterRestoreCommand({ mountData: { diskBytes: DATA_DISK_BYTES }, epochSeconds: epoch }), { timeoutMs: 60_000 });
    expect(result).toMatchObject({ exitCode: 0, typed: false });
    // Nothing was printed on the user's console: the page shows the prompt saved with the state.
    expect(shown.join("")).toBe("");
    expect(machine.recentOutput()).toMatch(/root@virtlab:\/# ?$/);
    const date = Number((await machine.agent.run("date +%s")).output);
    expect(date).toBeGreaterThanOrEqual(epoch);
    expect(date).toBeLessThan(epoch + 120);
    expect(await machine.agent.run("grep -c ' /data ext2 ' /proc/mounts && echo hi > /data/n && cat /data/n")).toEqual({ output: "1\nhi", exitCode: 0 });
    // The files of the modules loaded at boot were left out of the state (images/prebooted.ts):
    // modprobe still answers for those, and loads a module that was not loaded.
    // So were the drivers of hardware this machine does not have (virtio, NE2000, 9p); the
    // modules the recipe loads on demand stay, with what they depend on.
    const count = (name: string): string => `find /lib/modules -name ${name} | wc -l`;
    expect(await machine.agent.run([count("ext4.ko"), count("bridge.ko"), count("llc.ko"), count("veth.ko"), count("virtio_net.ko"), count("ne2k-pci.ko"), count("9p.ko")].join("; "))).toEqual({ output: "0\n1\n1\n1\n0\n0\n0", exitCode: 0 });
    expect(await machine.agent.run("modprobe ext4 && modprobe bridge && grep -c '^bridge ' /proc/modules")).toEqual({ output: "1", exitCode: 0 });
    // The user's shell is there as it was.
    expect(await machine.run("cat /data/n")).toEqual({ output: "hi", exitCode: 0 });
    // A reset boots again: it loads the BIOSes, kernel and initrd now, and reaches a shell.
    await machine.reset();
    await machine.waitForShell({ timeoutMs: 120_000 });
    expect(loaded.slice(1).sort()).toEqual(["bios.bin", "bzImage", "initramfs.cpio", "vgabios.bin"]);
    expect(await machine.run("echo $((6*7))")).toEqual({ output: "42", exitCode: 0 });
    disk.dispose();
  }, 240_000);
});
