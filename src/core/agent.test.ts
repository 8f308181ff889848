import { describe, expect, it, vi } from "vitest";
import type { BackendFactory, ConsolePort } from "./backend.ts";
import { ManualClock } from "./clock.ts";
import { decodeText, encodeText } from "./host.ts";
import { Machine } from "./machine.ts";
import { DEFAULT_PROFILE, type EmulatorConfig } from "./profile.ts";
import { FakeShell, guest, memoryLoader } from "./testing/fakeShell.ts";

/**
 * A guest whose shell sits at its prompt on ttyS0 and whose agent answers on ttyS1 the way
 * images/lib/agent.ts does (raw port, no echo).
 */
class AgentGuest extends FakeShell {
  /** What reached each port from the host. */
  readonly ports: Record<string, string> = {};
  /** Lines the agent got but does not answer (a hung command). */
  hang = false;
  constructor(
    config: EmulatorConfig,
    private readonly agentAnswers: Record<string, [string, number]>,
  ) {
    super(config, {});
  }
  override write(port: ConsolePort, bytes: Uint8Array): void {
    const text = decodeText(bytes);
    this.ports[port] = (this.ports[port] ?? "") + text;
    if (port !== "serial1") return super.write(port, bytes);
    if (this.config.uart1 !== true || this.hang) return;
    const match = /^(\d+) (.*)\n$/.exec(text);
    if (match === null) return;
    const [, id, command] = match;
    const [out, status] = this.agentAnswers[command ?? ""] ?? [`sh: ${command}: not found\n`, 127];
    // The frame may arrive cut anywhere: send it in two pieces.
    const frame = `\x1eS${id}\x1f${out}\x1eE${id} ${status}\x1f`;
    this.print(frame.slice(0, 3), "serial1");
    this.print(frame.slice(3), "serial1");
  }
}

function setup(options: { agent?: boolean; answers?: Record<string, [string, number]> } = {}) {
  const clock = new ManualClock();
  const guests: AgentGuest[] = [];
  const backend: BackendFactory = async (config) => {
    const g = new AgentGuest(config, options.answers ?? {});
    guests.push(g);
    return g;
  };
  const machine = new Machine({
    profile: DEFAULT_PROFILE,
    guest: (options.agent ?? true) ? { ...guest, agent: "serial1" as const } : guest,
    wasm: { name: "v86.wasm", url: "v86.wasm" },
    loader: memoryLoader,
    backend,
    clock,
    initialState: { state: encodeText("state"), shellReady: true },
  });
  const seen: string[] = [];
  machine.onOutput((chunk) => seen.push(`${chunk.port}:${decodeText(chunk.bytes)}`));
  return { machine, clock, guests, seen };
}

describe("GuestAgent", () => {
  it("runs commands on the second serial port, one at a time, and the user's console sees nothing", async () => {
    const { machine, guests, seen } = setup({ answers: { "date -s @5 >/dev/null": ["", 0], "cat /proc/uptime": ["12.5 10.0\n", 0], false: ["", 1] } });
    await machine.start();
    expect(guests[0]?.config.uart1).toBe(true);
    const [a, b, c] = await Promise.all([machine.agent.run("date -s @5 >/dev/null"), machine.agent.run("cat /proc/uptime"), machine.agent.run("false")]);
    expect(a).toEqual({ output: "", exitCode: 0 });
    expect(b).toEqual({ output: "12.5 10.0", exitCode: 0 });
    expect(c).toEqual({ output: "", exitCode: 1 });
    expect(guests[0]?.ports["serial0"]).toBeUndefined();
    expect(guests[0]?.ports["serial1"]).toBe("1 date -s @5 >/dev/null\n2 cat /proc/uptime\n3 false\n");
    // The agent's frames are not console output anyone shows.
    expect(seen).toEqual([]);
    machine.dispose();
  });

  it("refuses a command with a line break, and a guest without an agent, clearly", async () => {
    const { machine } = setup();
    await machine.start();
    await expect(machine.agent.run("echo a\necho b")).rejects.toMatchObject({ code: "bad-profile" });
    machine.dispose();
    const plain = setup({ agent: false });
    await plain.machine.start();
    expect(plain.guests[0]?.config.uart1).toBeUndefined();
    await expect(plain.machine.agent.run("true")).rejects.toMatchObject({ code: "not-running" });
    plain.machine.dispose();
  });

  it("gives up at the deadline, fails a command in flight on reset, and runs the next one", async () => {
    const { machine, clock, guests } = setup({ answers: { true: ["", 0] } });
    await machine.start();
    const first = guests[0];
    if (first === undefined) throw new Error("not started");
    first.hang = true;
    const slow = machine.agent.run("sleep 100", { timeoutMs: 1000 });
    const slowFailed = expect(slow).rejects.toMatchObject({ code: "timeout" });
    await Promise.resolve();
    clock.advance(1000);
    await slowFailed;
    const cut = machine.agent.run("sleep 100");
    const cutFailed = expect(cut).rejects.toMatchObject({ code: "not-running" });
    await Promise.resolve();
    await machine.reset();
    await cutFailed;
    expect(await machine.agent.run("true")).toEqual({ output: "", exitCode: 0 });
    machine.dispose();
  });

  it("waits for the agent's hello after a boot, split across chunks; gives up at the deadline", async () => {
    const { machine, guests } = setup();
    await machine.start();
    const g = guests[0];
    if (g === undefined) throw new Error("not started");
    let listening = false;
    const waiting = machine.agent.whenListening(5000).then(() => (listening = true));
    await Promise.resolve();
    expect(listening).toBe(false);
    g.print("\x1e", "serial1");
    g.print("A\x1f", "serial1");
    await waiting;
    expect(listening).toBe(true);
    // Already listening: at once.
    await machine.agent.whenListening(1);
    machine.dispose();

    const silent = setup();
    await silent.machine.start();
    const late = expect(silent.machine.agent.whenListening(1000)).rejects.toMatchObject({ code: "timeout" });
    silent.clock.advance(1000);
    await late;
    silent.machine.dispose();
  });

  it("a guest that powers itself off says so on the agent's port: the machine is off, its emulator stopped, a command in flight fails, and a reset starts it again", async () => {
    const { machine, guests } = setup();
    await machine.start();
    const g = guests[0];
    if (g === undefined) throw new Error("not started");
    const inFlight = machine.run("sleep 100", { timeoutMs: 60_000 });
    // The notice may come cut at a chunk's edge, after other bytes.
    g.print("\x1eA\x1f\x1e", "serial1");
    expect(machine.status.stage).toBe("ready");
    g.print("O\x1f", "serial1");
    await expect(inFlight).rejects.toMatchObject({ code: "not-running", message: "The guest powered itself off." });
    await vi.waitFor(() => expect(g.isRunning()).toBe(false));
    expect(machine.status).toMatchObject({ stage: "off", running: false, mips: undefined });
    // The shell's prompt may come after the notice (the shell and PID 1 write at once): still off.
    g.print("\r\nroot@virtlab:/# ");
    expect(machine.status).toMatchObject({ stage: "off", running: false });
    await expect(machine.run("echo hi")).rejects.toMatchObject({ code: "not-running" });
    await machine.reset();
    expect(machine.status).toMatchObject({ stage: "booting", running: true });
    expect(guests.at(-1)?.isRunning()).toBe(true);
    machine.dispose();
  });
});
