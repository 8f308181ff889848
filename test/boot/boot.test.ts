/**
 * Boot tests: the real default guest on the real v86, headless in Node, asserting on console
 * output with deadlines (in the style of v86's own tests). Cases are a table. The default
 * machine's boot is shared by the tests that only need a shell (round trips, pause), and then by
 * Ctrl-Alt-Del and reset, then reboot, poweroff and a kernel panic from its shell, last since they reboot it; the virtio console case boots its own. The interpreter's boot to a shell is the device lab's
 * (test/boot/lab.test.ts boots its JIT-off machine from scratch and runs workloads on it).
 */
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import type { DeviceProfile, Machine } from "../../src/core/index.ts";
import { guestIsBuilt, headlessMachine, readGuestManifest } from "../../src/node/guest.ts";

const built = guestIsBuilt();
if (!built && process.env["CI"] === "true") {
  throw new Error("The default guest is not built (images/out/guest.json missing): run `npm run guest`.");
}

interface BootCase {
  readonly name: string;
  readonly profile: Partial<DeviceProfile>;
  readonly bootDeadlineMs: number;
  /** The default machine: kept booted for the tests after the table. */
  readonly shared?: true;
}

/** A hang detector, not a speed target: a boot takes 10-30 s, and boot files run two at a time. */
const BOOT_DEADLINE_MS = 120_000;

const CASES: readonly BootCase[] = [
  { name: "JIT, serial console", profile: {}, bootDeadlineMs: BOOT_DEADLINE_MS, shared: true },
  { name: "JIT, virtio console", profile: { cpu: "jit", console: "virtio" }, bootDeadlineMs: BOOT_DEADLINE_MS },
];

let machine: Machine | undefined;
afterEach(() => {
  machine?.dispose();
  machine = undefined;
});

/** The default machine, booted once for every test that only needs its shell. */
let sharedMachine: Promise<Machine> | undefined;
function defaultMachine(): Promise<Machine> {
  sharedMachine ??= (async () => {
    const m = headlessMachine();
    await m.start();
    await m.waitForShell({ timeoutMs: BOOT_DEADLINE_MS });
    return m;
  })();
  return sharedMachine;
}
afterAll(async () => (await sharedMachine?.catch(() => undefined))?.dispose());

describe.skipIf(!built)("default guest boots", () => {
  const kernelRelease = built ? readGuestManifest().kernelRelease : "";

  for (const c of CASES) {
    it(`${c.name}: reaches the prompt and uname -r prints the Debian kernel release`, async () => {
      let m: Machine;
      if (c.shared === true) {
        m = await defaultMachine();
      } else {
        m = machine = headlessMachine({ profile: c.profile });
        await m.start();
        await m.waitForShell({ timeoutMs: c.bootDeadlineMs });
      }
      expect(m.status.stage).toBe("ready");
      const result = await m.run("uname -r", { timeoutMs: 30_000 });
      expect(result).toEqual({ output: kernelRelease, exitCode: 0 });
      expect(kernelRelease).toMatch(/^6\.1\.0-\d+-686$/);
      // Keys typed faster than the guest reads them all arrive (xterm sends one key per write;
      // v86's virtio-console used to drop input while the guest had no receive buffer posted).
      let seen = "";
      const listener = m.onOutput((chunk) => {
        if (chunk.port === m.consolePort) seen += new TextDecoder().decode(chunk.bytes);
      });
      for (const key of "echo typed-$((6*7))-$((100+23))\n") m.write(key);
      await vi.waitFor(() => expect(seen).toContain("typed-42-123"), { timeout: 30_000, interval: 50 });
      listener.dispose();
      // lspci (a script of ours) names the bus's devices, the virtio console among them when it is there.
      const lspci = (await m.run("lspci")).output.split("\n");
      expect(lspci).toContain("00:00.0 Host bridge: Intel 440FX (emulated) [8086:1237]");
      expect(lspci.some((line) => line.endsWith("Communication controller: virtio console (paravirtual) [1af4:1043]"))).toBe(c.profile.console === "virtio");
      if (c.profile.console === "virtio") {
        // The guest knows the terminal's size: v86's default first, then what the page says.
        expect((await m.run("stty size")).output).toBe("25 80");
        m.resizeConsole(100, 30);
        await vi.waitFor(async () => expect((await m.run("stty size")).output).toBe("30 100"), { timeout: 10_000, interval: 200 });
      }
    });
  }

  it("skips each start-up step the command line names in initcall_blacklist (a name the kernel does not know would be ignored silently)", async () => {
    const machine = await defaultMachine();
    const cmdline = (await machine.run("cat /proc/cmdline")).output;
    const names = /(?:^| )initcall_blacklist=(\S+)/.exec(cmdline)?.[1]?.split(",") ?? [];
    expect(names.length).toBeGreaterThan(0);
    const skipped = (await machine.run("dmesg | grep ' blacklisted$'")).output;
    for (const name of names) expect(skipped).toContain(`initcall ${name} blacklisted`);
    // What they did is not missing where the guest looks: tracefs still mounts, modules still load.
    expect(await machine.run("grep -c . /proc/modules >/dev/null && ls /sys/kernel/tracing >/dev/null && echo ok")).toEqual({ output: "ok", exitCode: 0 });
  });

  it("round-trips a command's output and exit status exactly", async () => {
    const machine = await defaultMachine();
    // Commands are typed as a user types them: a literal tab would ask the shell to complete.
    const text = "double  spaces | pipes > and 'quotes' $HOME";
    const echoed = await machine.run(`printf '%s\\tend\\n' "${text.replace(/\$/g, "\\$")}" line2`);
    expect(echoed).toEqual({ output: `${text}\tend\nline2\tend`, exitCode: 0 });
    expect(await machine.run("echo $((6*7))")).toEqual({ output: "42", exitCode: 0 });
    // The shell's LANG names UTF-8, so busybox handles an accented letter as one character: ls
    // shows it in a file's name (it showed "caff??"), and the line editor deletes it with one
    // Backspace. Keys that come before the line editor has the tty again (right after the last
    // command's end) are edited by the kernel instead, which the tty's IUTF8 flag makes do the same
    // (without it, a clean-clone run under load once got "perchX").
    expect(await machine.run("echo $LANG")).toEqual({ output: "C.UTF-8", exitCode: 0 });
    expect(await machine.run("echo perché\x7f\x7fX")).toEqual({ output: "percX", exitCode: 0 });
    expect(await machine.run("touch /tmp/caffè && ls /tmp | grep caff && rm /tmp/caffè")).toEqual({ output: "caffè", exitCode: 0 });
    // Keys typed while a command runs (here, to `read`) are edited by the kernel's line discipline,
    // not the line editor: with the console's IUTF8 flag set, its Backspace takes é whole. Before,
    // it took one byte of the two, so `perché`, two Backspaces and X read as `perch` + X.
    let seen = "";
    const ready = new Promise<void>((resolve) => {
      const listener = machine.onOutput((chunk) => {
        seen += new TextDecoder().decode(chunk.bytes);
        if (seen.includes("READING")) {
          listener.dispose();
          resolve();
        }
      });
    });
    const read = machine.run(`echo READ""ING; read -r v; echo "[$v]"`);
    await ready;
    machine.write("perché\x7f\x7fX\r");
    const result = await read;
    expect(result.exitCode).toBe(0);
    expect(result.output.split("\n").at(-1)).toBe("[percX]");
    expect(await machine.run("exit_with() { return $1; }; exit_with 3")).toEqual({ output: "", exitCode: 3 });
    const lines = await machine.run("seq 1 500");
    expect(lines.output.split("\n")).toEqual(Array.from({ length: 500 }, (_, i) => String(i + 1)));
    // State persists between commands: it is one shell.
    await machine.run("cd /tmp && echo virtlab > note");
    expect(await machine.run("pwd; cat note")).toEqual({ output: "/tmp\nvirtlab", exitCode: 0 });
    await machine.run("cd /");
  });

  it("pauses (no instructions execute) and resumes", async () => {
    const machine = await defaultMachine();
    await machine.pause();
    expect(machine.status.running).toBe(false);
    const pending = machine.run("echo resumed", { timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 1000));
    expect(machine.recentOutput()).not.toContain("resumed\r");
    await machine.resume();
    expect(await pending).toEqual({ output: "resumed", exitCode: 0 });
  });

  it("a pause longer than the kernel's stall timeouts leaves no stall report on the console (the guest's clocks jump by the pause)", { timeout: 90_000 }, async () => {
    const machine = await defaultMachine();
    // The lockup and RCU stall detectors: 20 s and 21 s in Debian's kernel. The pause is the input.
    await machine.pause();
    await new Promise((r) => setTimeout(r, 25_000));
    await machine.resume();
    // The kernel's log has every report the console got: none, and both detectors are off.
    const result = await machine.run("cat /proc/sys/kernel/watchdog /sys/module/rcupdate/parameters/rcu_cpu_stall_suppress; dmesg | grep -c -e 'BUG: soft lockup' -e 'detected stall' || true");
    expect(result).toEqual({ output: "0\n1\n0", exitCode: 0 });
  });

  it("comes back to the shell after Ctrl-Alt-Del and after a hard reset", async () => {
    // The shared machine, last: after this it has rebooted twice.
    const machine = await defaultMachine();
    await machine.run("echo before > /tmp/mark");
    machine.sendCtrlAltDel();
    expect(machine.shellReady).toBe(false);
    await machine.waitForShell({ timeoutMs: 90_000 });
    // A reboot starts from the initramfs again: tmpfs is empty.
    expect((await machine.run("cat /tmp/mark")).exitCode).not.toBe(0);
    await machine.reset();
    await machine.waitForShell({ timeoutMs: 90_000 });
    expect(await machine.run("echo $((1+1))")).toEqual({ output: "2", exitCode: 0 });
  });

  it("reboot typed in the shell reboots; poweroff powers the machine off (stage off, the emulator stopped); a kernel panic stops it with the kernel's reason; a reset starts it again after each", { timeout: 420_000 }, async () => {
    // The shared machine, last of all. busybox's applets alone ask PID 1, which is a script here.
    const machine = await defaultMachine();
    await machine.run("echo before > /tmp/mark");
    const reboots: string[] = [];
    const listener = machine.onPowerCycle((kind) => reboots.push(kind));
    machine.write("reboot\n");
    await vi.waitFor(() => expect(reboots).toEqual(["reboot"]), { timeout: 60_000, interval: 100 });
    listener.dispose();
    await machine.waitForShell({ timeoutMs: 90_000 });
    expect((await machine.run("cat /tmp/mark")).exitCode).not.toBe(0);

    machine.write("poweroff\n");
    await vi.waitFor(() => expect(machine.status).toMatchObject({ stage: "off", running: false }), { timeout: 60_000, interval: 100 });
    await expect(machine.run("echo still here", { timeoutMs: 5_000 })).rejects.toMatchObject({ code: "not-running" });
    await machine.reset();
    await machine.waitForShell({ timeoutMs: 90_000 });
    expect(await machine.run("echo $((2+2))")).toEqual({ output: "4", exitCode: 0 });

    // A student crashes the guest's kernel on purpose: its report is printed, then the machine says why.
    machine.write("echo c > /proc/sysrq-trigger\n");
    await vi.waitFor(() => expect(machine.status).toMatchObject({ stage: "panicked", running: false, panic: "sysrq triggered crash" }), { timeout: 60_000, interval: 100 });
    expect(machine.recentOutput()).toContain("Kernel panic - not syncing: sysrq triggered crash");
    await machine.reset();
    await machine.waitForShell({ timeoutMs: 90_000 });
    expect(await machine.run("echo $((3+3))")).toEqual({ output: "6", exitCode: 0 });
  });
});
