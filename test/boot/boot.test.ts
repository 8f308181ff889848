/**
 * Boot tests: the real default guest on the real v86, headless in Node, asserting on console
 * output with deadlines (in the style of v86's own tests). Cases are a table.
 */
import { afterEach, describe, expect, it } from "vitest";
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
}

const CASES: readonly BootCase[] = [
  { name: "JIT, serial console", profile: { cpu: "jit" }, bootDeadlineMs: 60_000 },
  { name: "JIT, virtio console", profile: { cpu: "jit", console: "virtio" }, bootDeadlineMs: 60_000 },
  { name: "interpreter (JIT off)", profile: { cpu: "interpreter" }, bootDeadlineMs: 150_000 },
];

let machine: Machine | undefined;
afterEach(() => {
  machine?.dispose();
  machine = undefined;
});

describe.skipIf(!built)("default guest boots", () => {
  const kernelRelease = built ? readGuestManifest().kernelRelease : "";

  for (const c of CASES) {
    it(`${c.name}: reaches the prompt and uname -r prints the Debian kernel release`, async () => {
      machine = headlessMachine({ profile: c.profile });
      await machine.start();
      await machine.waitForShell({ timeoutMs: c.bootDeadlineMs });
      expect(machine.status.stage).toBe("ready");
      const result = await machine.run("uname -r", { timeoutMs: 30_000 });
      expect(result).toEqual({ output: kernelRelease, exitCode: 0 });
      expect(kernelRelease).toMatch(/^6\.1\.0-\d+-686$/);
    });
  }

  it("round-trips a command's output and exit status exactly", async () => {
    machine = headlessMachine();
    await machine.start();
    await machine.waitForShell({ timeoutMs: 60_000 });
    // Commands are typed as a user types them: a literal tab would ask the shell to complete.
    const text = "double  spaces | pipes > and 'quotes' $HOME";
    const echoed = await machine.run(`printf '%s\\tend\\n' "${text.replace(/\$/g, "\\$")}" line2`);
    expect(echoed).toEqual({ output: `${text}\tend\nline2\tend`, exitCode: 0 });
    expect(await machine.run("echo $((6*7))")).toEqual({ output: "42", exitCode: 0 });
    expect(await machine.run("exit_with() { return $1; }; exit_with 3")).toEqual({ output: "", exitCode: 3 });
    const lines = await machine.run("seq 1 500");
    expect(lines.output.split("\n")).toEqual(Array.from({ length: 500 }, (_, i) => String(i + 1)));
    // State persists between commands: it is one shell.
    await machine.run("cd /tmp && echo virtlab > note");
    expect(await machine.run("pwd; cat note")).toEqual({ output: "/tmp\nvirtlab", exitCode: 0 });
  });

  it("comes back to the shell after Ctrl-Alt-Del and after a hard reset", async () => {
    machine = headlessMachine();
    await machine.start();
    await machine.waitForShell({ timeoutMs: 60_000 });
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

  it("pauses (no instructions execute) and resumes", async () => {
    machine = headlessMachine();
    await machine.start();
    await machine.waitForShell({ timeoutMs: 60_000 });
    await machine.pause();
    expect(machine.status.running).toBe(false);
    const pending = machine.run("echo resumed", { timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 1000));
    expect(machine.recentOutput()).not.toContain("resumed\r");
    await machine.resume();
    expect(await pending).toEqual({ output: "resumed", exitCode: 0 });
  });
});
