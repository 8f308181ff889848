import { describe, expect, it, vi } from "vitest";
import { FakeShell, PROMPT, fakeV86State, files, guest, memoryLoader } from "./testing/fakeShell.ts";
import type { BackendFactory, EmulatorBackend, HypercallRecord, MicroscopeHooks } from "./backend.ts";
import { Emitter } from "./events.ts";
import { ManualClock } from "./clock.ts";
import { AppError, isAppError } from "./errors.ts";
import { sha256Hex } from "./host.ts";
import { Machine, NO_SHELL_MAX_MS, NO_SHELL_QUIET_MS, REBOOT_GRACE_MS, type MachineStatus } from "./machine.ts";
import { DEFAULT_PROFILE, type DeviceProfile, type EmulatorConfig, type GuestSpec, type LinuxGuest } from "./profile.ts";

function setup(answers: Record<string, [string, number | "hang"]> = {}, overrides: Partial<LinuxGuest> = {}, profile: DeviceProfile = DEFAULT_PROFILE, base: GuestSpec = guest) {
  const clock = new ManualClock();
  let shell: FakeShell | undefined;
  const shells: FakeShell[] = [];
  const backend: BackendFactory = async (config) => {
    shell = new FakeShell(config, answers);
    shells.push(shell);
    return shell;
  };
  const machine = new Machine({
    profile,
    guest: base.kind === "linux" ? { ...base, ...overrides } : base,
    wasm: { name: "v86.wasm", url: "v86.wasm", size: 4 },
    loader: memoryLoader,
    backend,
    clock,
  });
  const statuses: MachineStatus[] = [];
  machine.onStatus((s) => statuses.push(s));
  return {
    machine,
    clock,
    statuses,
    shells,
    shell: (): FakeShell => {
      if (shell === undefined) throw new Error("not started");
      return shell;
    },
  };
}

/** The default guest's machine on `backend`, its files from `loader` (in memory unless given). */
function machineOn(backend: BackendFactory, loader: Pick<typeof memoryLoader, "load"> = memoryLoader): Machine {
  return new Machine({ profile: DEFAULT_PROFILE, guest, wasm: { name: "v86.wasm", url: "v86.wasm", size: 4 }, loader, backend, clock: new ManualClock() });
}

/**
 * A machine whose emulators arrive at once until `hold()`, then only when the test calls the
 * arrival (a Worker loading): `arrivals` in the order they were asked for.
 */
function machineWithHeldEmulators(): { machine: Machine; shells: FakeShell[]; arrivals: (() => void)[]; hold: () => void } {
  const shells: FakeShell[] = [];
  const arrivals: (() => void)[] = [];
  let held = false;
  const machine = machineOn(
    (config) =>
      new Promise((resolve) => {
        const shell = new FakeShell(config, {});
        shells.push(shell);
        if (held) arrivals.push(() => resolve(shell));
        else resolve(shell);
      }),
  );
  return { machine, shells, arrivals, hold: () => (held = true) };
}

/** What a backend in a Worker does to the files of its start message: moves them (the page's are detached). */
function moveToWorker(buffers: ArrayBuffer[]): void {
  (globalThis as unknown as { structuredClone(v: unknown, o: { transfer: ArrayBuffer[] }): unknown }).structuredClone(buffers, { transfer: buffers });
}

describe("Machine", () => {
  it("goes downloading → booting → ready when the prompt appears, with progress per file", async () => {
    const { machine, shell, statuses } = setup();
    const progress: string[] = [];
    machine.onDownloadProgress((p) => progress.push(p.file));
    await machine.start();
    expect(machine.status.stage).toBe("booting");
    expect(machine.shellReady).toBe(false);
    shell().boot();
    expect(machine.shellReady).toBe(true);
    expect(statuses.map((s) => s.stage)).toEqual(["downloading", "booting", "booting", "ready"]);
    expect(new Set(progress)).toEqual(new Set(Object.keys(files)));
    expect(shell().config.cmdline).toBe("console=ttyS0");
  });

  it("runs commands and returns their output and exit status, one at a time", async () => {
    const { machine, shell } = setup({ "uname -r": ["6.1.0-50-686\r\n", 0], "echo $((6*7))": ["42\r\n", 0] });
    await machine.start();
    shell().boot();
    const [a, b, c] = await Promise.all([machine.run("uname -r"), machine.run("echo $((6*7))"), machine.run("nope")]);
    expect(a).toEqual({ output: "6.1.0-50-686", exitCode: 0 });
    expect(b).toEqual({ output: "42", exitCode: 0 });
    expect(c).toEqual({ output: "sh: nope: not found", exitCode: 127 });
    // Each command starts by clearing any half-typed line (Ctrl-U).
    expect(shell().written.split("\x15")).toHaveLength(4);
  });

  it("waits for the shell before running a command", async () => {
    const { machine, shell } = setup({ true: ["", 0] });
    await machine.start();
    const result = machine.run("true");
    await Promise.resolve();
    expect(shell().written).toBe("");
    shell().boot();
    await expect(result).resolves.toEqual({ output: "", exitCode: 0 });
  });

  it("says while a command it sent is in flight (the page holds back terminal replies then)", async () => {
    const { machine, shell } = setup({ "echo hi": ["hi\r\n", 0] });
    await machine.start();
    shell().boot();
    const seen: boolean[] = [];
    machine.onOutput(() => seen.push(machine.runningCommand));
    expect(machine.runningCommand).toBe(false);
    await machine.run("echo hi");
    // The guest's answer came while the command was in flight; afterwards nothing is.
    expect(seen).toEqual([true]);
    expect(machine.runningCommand).toBe(false);
  });

  it("gives up at the deadline with a timeout error carrying the recent console output", async () => {
    const { machine, clock, shell } = setup();
    await machine.start();
    shell().print("Kernel panic - not syncing\r\n");
    const waiting = machine.waitForShell({ timeoutMs: 5000 });
    clock.advance(4999);
    clock.advance(1);
    const error = await waiting.catch((e: unknown) => e);
    if (!isAppError(error, "timeout")) return expect.fail(`not a timeout: ${String(error)}`);
    expect(error.details.recentOutput).toContain("Kernel panic");
  });

  it("turns an emulator crash into a 'crashed' stage and fails whoever waits", async () => {
    const { machine, shell } = setup();
    await machine.start();
    const waiting = machine.waitForShell();
    shell().fail(new Error("RuntimeError: unreachable"));
    const error = (await waiting.catch((e: unknown) => e)) as AppError;
    expect(error.code).toBe("emulator-crashed");
    expect(machine.status.stage).toBe("crashed");
    expect(machine.status.error?.code).toBe("emulator-crashed");
  });

  it("takes MIPS from the emulator's own reading times when it has them, and waits out a reading that did not change", async () => {
    const { machine, clock, shell } = setup();
    await machine.start();
    // A Worker's counter, read on its own clock: 1.2 s apart by it, though the page sampled 1 s apart.
    let reading = { counter: 0, atMs: 5_000 };
    (shell() as EmulatorBackend).instructionSample = () => reading;
    clock.advance(1000);
    reading = { counter: 120_000_000, atMs: 6_200 };
    clock.advance(1000);
    expect(machine.status.mips).toBeCloseTo(100, 5);
    // No status from the Worker since: MIPS stays as it was; the next reading counts from the last one.
    clock.advance(1000);
    expect(machine.status.mips).toBeCloseTo(100, 5);
    reading = { counter: 120_000_000 + 160_000_000, atMs: 7_000 };
    clock.advance(1000);
    expect(machine.status.mips).toBeCloseTo(200, 5);
  });

  it("pauses and resumes, and MIPS follows the instruction counter across its 32-bit wrap", async () => {
    const { machine, clock, shell } = setup();
    await machine.start();
    shell().counter = 0xffff_ff00;
    clock.advance(1000);
    shell().counter = 0xffff_ff00 + 50_000_000; // wraps past 2^32
    clock.advance(1000);
    expect(machine.status.mips).toBeCloseTo(50, 5);
    await machine.pause();
    expect(machine.status).toMatchObject({ running: false, mips: undefined });
    await machine.resume();
    expect(machine.status.running).toBe(true);
  });

  it("after Ctrl-Alt-Del, the old shell's prompt still on its way is not the shell coming back; a guest that ignores the keys has its shell back after a grace", async () => {
    const { machine, shell, shells, clock } = setup();
    await machine.start();
    shell().boot();
    machine.sendCtrlAltDel();
    // The prompt the old shell printed after the last command arrives after the keys were pressed.
    shells[0]?.print(PROMPT);
    expect(machine.shellReady).toBe(false);
    let back = false;
    void machine.waitForShell({ timeoutMs: 60_000 }).then(() => (back = true));
    // The guest reboots: the prompt of the new boot is the one that counts.
    shells[0]?.guestReboots();
    await Promise.resolve();
    await Promise.resolve();
    expect(back).toBe(false);
    shells[1]?.boot();
    await Promise.resolve();
    expect(machine.shellReady).toBe(true);

    // A guest that ignores Ctrl-Alt-Del: no reboot comes; after the grace its prompt counts again.
    machine.sendCtrlAltDel();
    shells[1]?.print(PROMPT);
    expect(machine.shellReady).toBe(false);
    clock.advance(REBOOT_GRACE_MS);
    expect(machine.shellReady).toBe(true);
    expect(shells).toHaveLength(2);
  });

  it("power-cycles with a fresh emulator when the guest reboots (Ctrl-Alt-Del)", async () => {
    const { machine, shell, shells } = setup();
    await machine.start();
    shell().boot();
    const cycles: string[] = [];
    machine.onPowerCycle((why) => cycles.push(why));
    machine.sendCtrlAltDel();
    expect(shells[0]?.ctrlAltDel).toBe(1);
    expect(machine.shellReady).toBe(false);
    expect(machine.status.stage).toBe("booting");
    shells[0]?.guestReboots();
    expect(cycles).toEqual(["reboot"]);
    await Promise.resolve();
    await Promise.resolve();
    expect(shells).toHaveLength(2);
    expect(shells[0]?.disposed).toBe(true);
    expect(shells[1]?.config).toBe(shells[0]?.config);
    const back = machine.waitForShell();
    shell().boot();
    await back;
    expect(machine.status).toMatchObject({ stage: "ready", running: true });
  });

  it("keys typed while the guest reboots are lost, as a PC's are, not an error; keys typed during the boot do not hide its prompt", async () => {
    const { machine, shells, arrivals, hold } = machineWithHeldEmulators();
    await machine.start();
    shells[0]?.boot();
    hold();
    shells[0]?.guestReboots();
    // No emulator until the next one arrives (a Worker loading): the keys go nowhere.
    await vi.waitFor(() => expect(arrivals).toHaveLength(1));
    expect(() => machine.write("lost")).not.toThrow();
    arrivals[0]!();
    await vi.waitFor(() => expect(shells).toHaveLength(2));
    await Promise.resolve();
    expect(shells[1]?.written).toBe("");
    // Typed during its boot: the shell's line editor echoes the keys after its prompt.
    machine.write("ls");
    expect(shells[1]?.written).toBe("ls");
    shells[1]?.print("Linux version 6.1.0\r\nls");
    expect(machine.status.stage).toBe("booting");
    shells[1]?.print(`\r\n${PROMPT}ls`);
    expect(machine.status).toMatchObject({ stage: "ready", shell: "ready" });
    machine.dispose();
    expect(() => machine.write("x")).toThrow(/not running/);
  });

  it("a line that only begins with a prompt is no prompt when nothing was typed ahead", async () => {
    const { machine, shell } = setup();
    await machine.start();
    shell().print(`Linux version 6.1.0\r\n${PROMPT}not a prompt`);
    expect(machine.status.stage).toBe("booting");
    shell().print(`\r\n${PROMPT}`);
    expect(machine.status.stage).toBe("ready");
  });

  it("a kernel panic: the machine says why and stops its emulator once the report is out; commands fail; a reset starts it again", async () => {
    const { machine, shell, shells } = setup();
    await machine.start();
    shell().boot();
    const inFlight = machine.run("echo c > /proc/sysrq-trigger", { timeoutMs: 60_000 });
    shell().print("[   14.45] sysrq: Trigger a crash\r\n[   14.46] Kernel panic - not syncing: sysrq triggered crash\r\n[   14.46] CPU: 0 PID: 1\r\n");
    // Not before its last line, which may come cut at a chunk's edge.
    expect(machine.status.stage).toBe("ready");
    shell().print("[   14.46] ---[ end Kernel panic - not sync");
    expect(machine.status.stage).toBe("ready");
    // The chunk with the last line is shown first: the terminal's line about the panic goes under the report.
    const order: string[] = [];
    machine.onOutput(() => order.push("output"));
    machine.onStatus((status) => order.push(status.stage));
    shell().print("ing: sysrq triggered crash ]---\r\n");
    expect(order).toEqual(["output", "panicked"]);
    expect(machine.status).toMatchObject({ stage: "panicked", running: false, mips: undefined, panic: "sysrq triggered crash" });
    await expect(inFlight).rejects.toMatchObject({ code: "not-running", message: "The guest's kernel panicked (sysrq triggered crash)." });
    await vi.waitFor(() => expect(shells[0]?.isRunning()).toBe(false));
    await expect(machine.run("echo hi")).rejects.toMatchObject({ code: "not-running" });
    await machine.reset();
    expect(machine.status).toMatchObject({ stage: "booting", running: true, panic: undefined });
    shell().boot();
    expect(machine.status.stage).toBe("ready");
    machine.dispose();
  });

  it("the same words printed by a program are no panic unless the kernel's report ends with them", async () => {
    const { machine, shell } = setup();
    await machine.start();
    shell().boot();
    shell().print("grep says: Kernel panic - not syncing: VFS: Unable to mount root fs\r\n" + PROMPT);
    expect(machine.status.stage).toBe("ready");
  });

  it("resets into a fresh emulator, also after a crash", async () => {
    const { machine, shell, shells } = setup();
    await machine.start();
    shell().fail(new Error("RuntimeError: unreachable"));
    expect(machine.status.stage).toBe("crashed");
    const cycles: string[] = [];
    machine.onPowerCycle((why) => cycles.push(why));
    await machine.reset();
    expect(cycles).toEqual(["reset"]);
    expect(shells).toHaveLength(2);
    expect(machine.status).toMatchObject({ stage: "booting", running: true, error: undefined });
    shell().boot();
    expect(machine.status.stage).toBe("ready");
  });

  it("two resets at once (a double click, a reset during the guest's reboot) leave one emulator: the earlier one's is never run", async () => {
    const { machine, shells, arrivals, hold } = machineWithHeldEmulators();
    await machine.start();
    hold();
    const first = machine.reset();
    const second = machine.reset();
    // Both asked for an emulator (the boot's files are loaded first); the earlier arrives last.
    await vi.waitFor(() => expect(arrivals).toHaveLength(2));
    arrivals[1]!();
    await second;
    arrivals[0]!();
    await first;
    expect(shells).toHaveLength(3);
    expect(shells.map((s) => s.disposed)).toEqual([true, true, false]);
    shells[2]!.boot();
    expect(machine.status).toMatchObject({ stage: "ready", running: true });
    machine.dispose();
    expect(shells[2]!.disposed).toBe(true);
  });

  it("loads the boot's files again for a reset when the backend took them (a Worker's, moved there), and only then", async () => {
    const loads: string[] = [];
    const seen: { kernel: number[]; initrd: number }[] = [];
    for (const takes of [true, false]) {
      const shells: FakeShell[] = [];
      const machine = machineOn(
        async (config) => {
          const files = [config.bios, config.vga_bios, config.bzimage, config.initrd].map((file) => file?.buffer ?? new ArrayBuffer(0));
          seen.push({ kernel: [...new Uint8Array(files[2] as ArrayBuffer)], initrd: (files[3] as ArrayBuffer).byteLength });
          if (takes) moveToWorker(files);
          const shell = new FakeShell(config, {});
          shells.push(shell);
          return shell;
        },
        { load: (ref, onProgress) => (loads.push(ref.name), memoryLoader.load(ref, onProgress)) },
      );
      await machine.start();
      await machine.reset();
      expect(shells).toHaveLength(2);
      machine.dispose();
    }
    const kernel = [...(files["bzImage"] as Uint8Array)];
    expect(seen).toEqual([0, 1, 2, 3].map(() => ({ kernel, initrd: (files["initramfs.cpio"] as Uint8Array).length })));
    const boot = ["bios.bin", "vgabios.bin", "bzImage", "initramfs.cpio"];
    // Taken: loaded at the start and again at the reset; kept: loaded once.
    expect(loads.filter((name) => boot.includes(name)).sort()).toEqual([...boot, ...boot, ...boot].sort());
  });

  it("a reset whose boot files no longer load (taken by the Worker, then the server gone) fails naming the file", async () => {
    let serverGone = false;
    const machine = machineOn(
      async (config) => {
        moveToWorker([config.bios, config.vga_bios, config.bzimage, config.initrd].flatMap((file) => (file === undefined ? [] : [file.buffer])));
        return new FakeShell(config, {});
      },
      { load: (ref, onProgress) => (serverGone && ref.name === "bzImage" ? Promise.reject(new AppError("asset-load-failed", "Could not download bzImage.", { details: { subject: "bzImage" } })) : memoryLoader.load(ref, onProgress)) },
    );
    await machine.start();
    serverGone = true;
    const error: unknown = await machine.reset().catch((e: unknown) => e);
    if (!isAppError(error, "asset-load-failed")) return expect.fail(`not an asset error: ${String(error)}`);
    expect(error.details.subject).toBe("bzImage");
    // No emulator runs now: the machine says it failed, and why.
    expect(machine.status).toMatchObject({ stage: "failed", running: false, error });
    machine.dispose();
  });

  it("refuses a file whose size does not match, naming it, and never starts the emulator", async () => {
    const { machine, shell } = setup({}, { kernel: { name: "bzImage", url: "bzImage", size: 999 } });
    const error: unknown = await machine.start().catch((e: unknown) => e);
    if (!isAppError(error, "asset-load-failed")) return expect.fail(`not an asset error: ${String(error)}`);
    expect(error.details.subject).toBe("bzImage");
    expect(error.message).toContain("bzImage");
    expect(machine.status.stage).toBe("failed");
    expect(shell).toThrow("not started");
  });

  it("checks sha256 when the guest declares it", async () => {
    const good = await sha256Hex(files["bzImage"] as Uint8Array);
    const ok = setup({}, { kernel: { name: "bzImage", url: "bzImage", sha256: good } });
    await expect(ok.machine.start()).resolves.toBeUndefined();
    const bad = setup({}, { kernel: { name: "bzImage", url: "bzImage", sha256: "0".repeat(64) } });
    await expect(bad.machine.start()).rejects.toMatchObject({ code: "asset-load-failed", message: expect.stringContaining("checksum") });
  });

  it("refuses an impossible profile before loading anything", () => {
    expect(() => setup({}, { prompt: "((" })).toThrow(/prompt pattern/);
  });

  it("restores a saved state: the shell is ready at once when it was ready at the save", async () => {
    const { machine, shell } = setup();
    await machine.start();
    shell().counter = 7;
    const saved = await machine.saveState();
    expect(saved.shellReady).toBe(false);
    const ready: number[] = [];
    machine.onShellReady(() => ready.push(1));
    await machine.restoreState(saved.state, { shellReady: true });
    expect(shell().restored).toEqual(["state:7"]);
    expect(machine.shellReady).toBe(true);
    expect(machine.status).toMatchObject({ stage: "ready", running: true });
    expect(ready).toEqual([1]);
  });

  it("rejects waiters and commands after dispose", async () => {
    const { machine } = setup();
    await machine.start();
    const waiting = machine.waitForShell();
    machine.dispose();
    await expect(waiting).rejects.toMatchObject({ code: "disposed" });
    expect(() => machine.write("x")).toThrow(AppError);
  });

  it("reports a command interrupted with Ctrl+C at once (exit 130) when the prompt comes back without the end marker, and runs the next", async () => {
    const { machine, shell } = setup({ "while true; do echo tick; sleep 1; done": ["tick\r\ntick\r\n", "hang"], "echo next": ["next\r\n", 0] });
    await machine.start();
    shell().boot();
    const loop = machine.run("while true; do echo tick; sleep 1; done");
    const next = machine.run("echo next");
    await Promise.resolve();
    await Promise.resolve();
    expect(shell().written).toContain("while true");
    // The user presses Ctrl+C: the tty echoes ^C, the shell drops the group and prints its prompt.
    shell().print("^C\r\n");
    shell().print(PROMPT.slice(0, 6));
    shell().print(PROMPT.slice(6));
    await expect(loop).resolves.toEqual({ output: "tick\ntick", exitCode: 130, interrupted: true });
    await expect(next).resolves.toEqual({ output: "next", exitCode: 0 });
  });

  it("does not take a prompt-like line before the command started for an interruption", async () => {
    const { machine, shell } = setup({ "echo hi": ["hi\r\n", 0] });
    await machine.start();
    shell().boot();
    // A prompt already on the line (the echo has not arrived) must not end the command.
    await expect(machine.run("echo hi")).resolves.toEqual({ output: "hi", exitCode: 0 });
  });

  it("says 'running, no shell detected' for a guest that prints and then waits with its own program, and 'ready' once a prompt shows", async () => {
    const { machine, shell, clock } = setup();
    await machine.start();
    expect(machine.status).toMatchObject({ stage: "booting", shell: "waiting" });
    // Nothing printed yet: a slow guest is still booting, however long.
    clock.advance(NO_SHELL_QUIET_MS * 2);
    expect(machine.status.stage).toBe("booting");
    shell().print("Linux version 6.1.0\r\nWelcome to the installer\r\nChoose a language: ");
    clock.advance(NO_SHELL_QUIET_MS - 1000);
    expect(machine.status.stage).toBe("booting");
    clock.advance(1000);
    expect(machine.status).toMatchObject({ stage: "ready", shell: "not-detected", running: true });
    expect(machine.shellReady).toBe(false);
    // The user types to the program; a shell prompt later still counts.
    machine.write("en\n");
    shell().print("en\r\n# exit\r\n" + PROMPT);
    expect(machine.status).toMatchObject({ stage: "ready", shell: "ready" });
  });

  it("says 'no shell detected' for a guest whose own program keeps printing, after the longer while", async () => {
    const { machine, shell, clock } = setup();
    await machine.start();
    for (let t = 0; t < NO_SHELL_MAX_MS; t += 1000) {
      shell().print("frame\r\n");
      clock.advance(1000);
    }
    expect(machine.status).toMatchObject({ stage: "ready", shell: "not-detected" });
  });

  it("a guest with no known prompt is ready with no shell, and a crash leaves no shell", async () => {
    const grubCd: GuestSpec = { kind: "disk", bios: guest.bios, vgaBios: guest.vgaBios, bootFrom: "cdrom" };
    const { machine } = setup({}, {}, DEFAULT_PROFILE, grubCd);
    await machine.start();
    expect(machine.status).toMatchObject({ stage: "ready", shell: "none" });
    const prompted = setup();
    await prompted.machine.start();
    prompted.shell().boot();
    prompted.shell().fail(new Error("RuntimeError: unreachable"));
    expect(prompted.machine.status).toMatchObject({ stage: "crashed", shell: "waiting" });
  });

  describe("balloon", () => {
    it("inflates to the size asked and resolves when the guest has handed the pages over", async () => {
      const { machine, shell, clock } = setup({}, {}, { ...DEFAULT_PROFILE, balloon: true });
      await machine.start();
      expect(shell().config.virtio_balloon).toBe(true);
      const done = machine.setBalloon(32);
      const balloon = shell().balloon;
      if (balloon === undefined) throw new Error("no balloon");
      expect(balloon.asked).toBe(32 * 256);
      expect(machine.balloon()).toEqual({ targetMiB: 32, actualMiB: 0 });
      clock.advance(200);
      balloon.pages = 32 * 256;
      clock.advance(50);
      await expect(done).resolves.toEqual({ actualMiB: 32, ms: 250 });
    });

    it("gives up with a timeout when no driver in the guest answers", async () => {
      const { machine, clock } = setup({}, {}, { ...DEFAULT_PROFILE, balloon: true });
      await machine.start();
      const done = machine.setBalloon(16, { timeoutMs: 1000 }).catch((e: unknown) => e);
      clock.advance(1000);
      const error = await done;
      expect((error as AppError).code).toBe("timeout");
      expect((error as AppError).message).toContain("balloon");
    });

    it("refuses sizes the guest could not live without, and machines with no balloon", async () => {
      const withBalloon = setup({}, {}, { ...DEFAULT_PROFILE, balloon: true });
      await withBalloon.machine.start();
      await expect(withBalloon.machine.setBalloon(DEFAULT_PROFILE.memoryMiB)).rejects.toMatchObject({ code: "bad-profile" });
      await expect(withBalloon.machine.setBalloon(-1)).rejects.toMatchObject({ code: "bad-profile" });
      const without = setup();
      await without.machine.start();
      expect(without.machine.balloon()).toBeUndefined();
      await expect(without.machine.setBalloon(8)).rejects.toMatchObject({ code: "not-running" });
    });
  });
});

/** A fake emulator with the microscope's JIT switch, which records what the machine sets. */
class JitShell extends FakeShell {
  jit: boolean;
  readonly jitSet: boolean[] = [];
  readonly microscope: MicroscopeHooks;
  constructor(config: EmulatorConfig) {
    super(config, {});
    this.jit = !config.disable_jit;
    this.microscope = {
      watchTraps: () => ({ dispose: () => undefined }),
      watchJit: () => ({ read: () => ({ blocks: 0, wasmBytes: 0, invalidations: 0 }), dispose: () => undefined }),
      setJit: (enabled) => {
        this.jit = enabled;
        this.jitSet.push(enabled);
      },
      jitEnabled: () => this.jit,
      onHypercall: new Emitter<HypercallRecord>().event,
    };
  }
}

function jitSetup(options: { hold?: boolean; profile?: DeviceProfile; guest?: GuestSpec; initialState?: { state: Uint8Array; shellReady: boolean } } = {}) {
  const clock = new ManualClock();
  const shells: JitShell[] = [];
  const machine = new Machine({
    profile: options.profile ?? DEFAULT_PROFILE,
    guest: options.guest ?? guest,
    wasm: { name: "v86.wasm", url: "v86.wasm", size: 4 },
    loader: memoryLoader,
    backend: async (config) => {
      const shell = new JitShell(config);
      shells.push(shell);
      return shell;
    },
    clock,
    ...(options.hold === false ? {} : { holdJitWhileSettingUp: true }),
    ...(options.initialState === undefined ? {} : { initialState: options.initialState }),
  });
  return { machine, clock, shells, shell: (): JitShell => shells.at(-1) as JitShell };
}

describe("Machine: v86's JIT held off while a start from a state is set up (holdJitWhileSettingUp)", () => {
  it("boots with the JIT on: nothing is held, nothing released at the prompt", async () => {
    const { machine, shell } = jitSetup();
    await machine.start();
    expect(shell().config.disable_jit).toBe(false);
    expect(machine.jitHeldForStart).toBe(false);
    shell().boot();
    machine.releaseJit();
    expect(shell().jitSet).toEqual([]);
  });

  it("after a start from a state keeps it off, shell ready or not, until the owner says the set-up is done", async () => {
    const { machine, shell } = jitSetup({ initialState: { state: fakeV86State("saved"), shellReady: true } });
    await machine.start();
    expect(shell().config.disable_jit).toBe(true);
    expect(machine.shellReady).toBe(true);
    expect(machine.jitHeldForStart).toBe(true);
    expect(shell().jitSet).toEqual([]);
    machine.releaseJit();
    expect(shell().jitSet).toEqual([true]);
    expect(machine.jitHeldForStart).toBe(false);
    // Later releases change nothing: the microscope's switch is the user's again.
    machine.releaseJit();
    expect(shell().jitSet).toEqual([true]);
  });

  it("the boot after a reset of a machine started from a state has the JIT on", async () => {
    const { machine, shells, shell } = jitSetup({ initialState: { state: fakeV86State("saved"), shellReady: true } });
    await machine.start();
    machine.releaseJit();
    await machine.reset();
    expect(shells).toHaveLength(2);
    expect(shell().config.disable_jit).toBe(false);
    expect(machine.jitHeldForStart).toBe(false);
  });

  it("ends the hold when a saved state is restored into the machine while its set-up is held", async () => {
    const { machine, shell } = jitSetup({ initialState: { state: fakeV86State("saved"), shellReady: true } });
    await machine.start();
    const saved = await machine.saveState();
    expect(machine.jitHeldForStart).toBe(true);
    await machine.restoreState(saved.state, { shellReady: true });
    expect(machine.shellReady).toBe(true);
    expect(machine.jitHeldForStart).toBe(false);
    expect(shell().jitSet).toEqual([true]);
  });

  it("a start from a state saved with no shell (an installer had the console) is running, not booting: no shell detected, JIT on, a later prompt still found", async () => {
    const { machine, shell } = jitSetup({ initialState: { state: fakeV86State("installer"), shellReady: false } });
    await machine.start();
    expect(machine.status).toMatchObject({ stage: "ready", shell: "not-detected", running: true });
    expect(shell().jitSet).toEqual([true]);
    expect(machine.jitHeldForStart).toBe(false);
    shell().print("\r\n" + PROMPT);
    expect(machine.status).toMatchObject({ stage: "ready", shell: "ready" });
  });

  it("a state with no shell restored into a running machine is running too", async () => {
    const { machine, shell } = jitSetup();
    await machine.start();
    shell().boot();
    await machine.restoreState(fakeV86State("installer"), { shellReady: false });
    expect(machine.status).toMatchObject({ stage: "ready", shell: "not-detected", running: true });
  });

  it("a boot whose guest runs a program of its own has no shell detected, its JIT on from the start", async () => {
    const { machine, shell, clock } = jitSetup();
    await machine.start();
    shell().print("Welcome to the installer\r\nChoose a language: ");
    clock.advance(NO_SHELL_QUIET_MS);
    expect(machine.status).toMatchObject({ stage: "ready", shell: "not-detected" });
    expect(shell().config.disable_jit).toBe(false);
    expect(shell().jitSet).toEqual([]);
  });

  it.each([
    ["without the option", { hold: false }, false],
    ["for a profile that asks for the interpreter", { profile: { ...DEFAULT_PROFILE, cpu: "interpreter" as const } }, true],
    ["for a guest without a known prompt (a CD the BIOS boots)", { guest: { kind: "disk", bios: guest.bios, vgaBios: guest.vgaBios, bootFrom: "cdrom" } as GuestSpec }, false],
  ])("never holds it for a start from a state %s (the config's JIT is the profile's)", async (_what, options, disabledByProfile) => {
    const { machine, shell } = jitSetup({ ...options, initialState: { state: fakeV86State("saved"), shellReady: true } });
    await machine.start();
    expect(shell().config.disable_jit).toBe(disabledByProfile);
    expect(machine.jitHeldForStart).toBe(false);
    shell().boot();
    machine.releaseJit();
    expect(shell().jitSet).toEqual([]);
  });
});
