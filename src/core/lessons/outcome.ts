/**
 * What a lesson step shows after it ran: plain lines shaped from the core's own results, so the
 * panel only renders them (and tests check them without a browser).
 */
import type { CommandResult } from "../console.ts";
import { pairById } from "../lab/devices.ts";
import { comparison, formatRatio, formatSize, formatValue, type LabReport } from "../lab/results.ts";

export interface StepOutcome {
  /** Did the step do what the lesson expects (a command's exit code and `expect`; other steps: it ran). */
  readonly ok: boolean;
  readonly lines: readonly string[];
  /** Text shown as the guest printed it (a command's output). */
  readonly output?: string;
}

export function commandOutcome(result: CommandResult, expect?: string): StepOutcome {
  const lines: string[] = [];
  let ok = result.exitCode === 0;
  if (result.exitCode !== 0) lines.push(`The command ended with exit code ${result.exitCode}.`);
  if (expect !== undefined) {
    const matched = new RegExp(expect, "m").test(result.output);
    ok = ok && matched;
    lines.push(matched ? "The output shows what the lesson expects." : `The lesson expected output matching /${expect}/; look at what came instead.`);
  }
  return { ok, lines, output: result.output };
}

/** One line per workload: both models' medians, the ratio, and KVM's where the course notes have it. */
export function benchmarkOutcome(report: LabReport): StepOutcome {
  const lines = report.results.map((r) => {
    const pair = pairById(r.pair);
    const kvm = r.kvmRatio === undefined ? "" : ` (KVM: ${formatRatio(r.kvmRatio)})`;
    const figures = `${r.emulated.label} ${formatValue(r.emulated.summary.median, r.unit)}, ${r.paravirtual.label} ${formatValue(r.paravirtual.summary.median, r.unit)}`;
    const words = comparison(r);
    return `${pair.title}, ${r.title} (${formatSize(r)}): ${figures}; ${pair.sideNames.paravirtual}/${pair.sideNames.emulated} ${formatRatio(r.ratio)}${kvm}.${words === undefined ? "" : ` ${words}`}`;
  });
  const ok = report.results.every((r) => r.emulated.ok && r.paravirtual.ok);
  if (!ok) lines.push("Some integrity checks failed: the figures above moved the wrong bytes.");
  return { ok, lines };
}

/** What a balloon step moved: how much the guest handed over (or took back), of how much, how fast. */
export function balloonOutcome(result: { readonly actualMiB: number; readonly ms: number }, memoryMiB: number): StepOutcome {
  const time = `${Math.round(result.ms)} ms`;
  const line =
    result.actualMiB === 0
      ? `The balloon is empty: the guest has all its ${memoryMiB} MiB back (${time}).`
      : `The guest's driver handed ${result.actualMiB} MiB of its ${memoryMiB} MiB to the host (${time}); ${memoryMiB - result.actualMiB} MiB are left to the guest, so its MemTotal drops by ${result.actualMiB} MiB.`;
  return { ok: true, lines: [line] };
}
