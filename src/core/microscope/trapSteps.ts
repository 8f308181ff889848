/**
 * The microscope's lesson steps for traps and the JIT, on a running machine: a command run with
 * the trap meter on (per-device traps, per MB when the step says how many bytes it moves, and the
 * guest's own /proc/interrupts before and after), and a command run with the JIT on, then off,
 * then on again, on the same machine without a restart. Shaped as StepOutcome lines here.
 */
import type { Clock } from "../clock.ts";
import { AppError } from "../errors.ts";
import type { CommandResult } from "../console.ts";
import type { Machine } from "../machine.ts";
import type { StepOutcome } from "../lessons/outcome.ts";
import { TrapMeter, interruptsDelta, portCount, type TrapSnapshot } from "./traps.ts";

function hooksOf(machine: Machine) {
  const hooks = machine.microscope();
  if (hooks === undefined) throw new AppError("not-running", "This emulator has no trap meter.");
  return hooks;
}

/** One line per device with traps, busiest first; per MB when `bytes` is known. */
export function trapLines(traps: TrapSnapshot, bytes?: number): string[] {
  const mb = bytes === undefined || bytes <= 0 ? undefined : bytes / 1e6;
  const fmt = (n: number): string => (mb === undefined ? String(n) : `${Math.round(n / mb).toLocaleString("en")}/MB`);
  return Object.entries(traps.devices)
    .map(([name, d]) => ({ name, d, total: portCount(d) + d.mmioReads + d.mmioWrites + d.irqs }))
    .filter((r) => r.total > 0)
    .sort((a, b) => b.total - a.total || a.name.localeCompare(b.name))
    .map(({ name, d }) => {
      const parts: string[] = [];
      if (portCount(d) > 0) parts.push(`${fmt(portCount(d))} port accesses`);
      if (d.mmioReads + d.mmioWrites > 0) parts.push(`${fmt(d.mmioReads + d.mmioWrites)} MMIO accesses`);
      if (d.irqs > 0) parts.push(`${fmt(d.irqs)} interrupts`);
      if (d.notifications > 0) parts.push(`${fmt(d.notifications)} virtqueue notifications`);
      return `${name}: ${parts.join(", ")}`;
    });
}

/** Run `command` with the meter on; `bytes` (what the command moves) turns counts into per-MB figures. */
export async function trapsStep(machine: Machine, command: string, timeoutMs: number, bytes?: number): Promise<{ outcome: StepOutcome; traps: TrapSnapshot; result: CommandResult }> {
  const hooks = hooksOf(machine);
  const before = (await machine.run("cat /proc/interrupts", { timeoutMs: 30_000 })).output;
  const meter = new TrapMeter();
  const watch = hooks.watchTraps(meter);
  let result: CommandResult;
  try {
    result = await machine.run(command, { timeoutMs });
  } finally {
    watch.dispose();
  }
  const after = (await machine.run("cat /proc/interrupts", { timeoutMs: 30_000 })).output;
  const traps = meter.snapshot();
  const t = traps.totals;
  const lines = [
    `With the trap meter on (it slows the machine a little): ${t.portIo} port accesses, ${t.mmio} MMIO accesses, ${t.irq} interrupts, ${t.notifications} virtqueue notifications in all${bytes === undefined ? "" : ` for ${bytes.toLocaleString("en")} bytes`}.`,
    ...trapLines(traps, bytes),
    `The guest's own count (/proc/interrupts, before → after, the reading commands included): ${
      interruptsDelta(before, after)
        .filter((d) => /^\d+$/.test(d.line))
        .map((d) => `IRQ ${d.line} ${d.name} +${d.delta}`)
        .join("; ") || "no change"
    }.`,
  ];
  if (result.exitCode !== 0) lines.push(`The command ended with exit code ${result.exitCode}.`);
  return { outcome: { ok: result.exitCode === 0 && t.portIo + t.mmio > 0, lines, output: result.output }, traps, result };
}

/** One run of a JIT switch step: with the JIT or interpreted, how long, how many MIPS. */
export interface JitRun {
  readonly jit: boolean;
  readonly seconds: number;
  readonly mips: number;
  readonly exitCode: number;
}

/**
 * The interpreted run against the faster run with the JIT (each JIT run starts from an empty
 * cache, so both pay the translation). When the JIT did not win, say why rather than print a
 * ratio below one as if it were the lesson.
 */
export function jitComparison(runs: readonly JitRun[]): string {
  const withJit = runs.filter((r) => r.jit && r.seconds > 0).map((r) => r.seconds);
  const off = runs.find((r) => !r.jit)?.seconds;
  if (withJit.length === 0 || off === undefined) return "Same machine, same shell, no restart: one of the runs did not finish, so there is nothing to compare.";
  const ratio = off / Math.min(...withJit);
  const head = `Same machine, same shell, no restart: interpreted, the command took ${ratio.toFixed(1)}× as long as its faster run with the JIT.`;
  if (ratio >= 1.2) return head;
  return `${head} Here translating cost ${ratio < 1 ? "more than" : "about as much as"} it saved: the JIT gains most on code that runs the same instructions over and over.`;
}

/** Run `command` with the JIT on, off, and on again, on the same machine; times and MIPS for each. */
export async function jitSwitchStep(machine: Machine, command: string, clock: Clock, timeoutMs: number): Promise<{ outcome: StepOutcome; runs: JitRun[] }> {
  const hooks = hooksOf(machine);
  const wasOn = hooks.jitEnabled();
  const runs: JitRun[] = [];
  try {
    for (const jit of [true, false, true]) {
      hooks.setJit(jit);
      const t0 = clock.now();
      const i0 = machine.instructionCounter();
      const result = await machine.run(command, { timeoutMs });
      const seconds = (clock.now() - t0) / 1000;
      const instructions = machine.instructionCounter() - i0;
      runs.push({ jit, seconds, mips: seconds > 0 ? instructions / seconds / 1e6 : 0, exitCode: result.exitCode });
    }
  } finally {
    hooks.setJit(wasOn);
  }
  const line = (r: JitRun, n: number): string => `Run ${n + 1}, JIT ${r.jit ? "on" : "off"}: ${r.seconds.toFixed(2)} s, ${r.mips.toFixed(0)} MIPS.`;
  const lines = [...runs.map(line), jitComparison(runs)];
  const ok = runs.every((r) => r.exitCode === 0);
  if (!ok) lines.push("A run ended with a non-zero exit code.");
  return { outcome: { ok, lines }, runs };
}
