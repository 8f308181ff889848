/**
 * Lab results as plain objects (what the panel, `npm run bench`, the history and the exports
 * share), and the pure functions that shape them: ratio, KVM comparison, tables, CSV.
 */
import { formatTable, summarize, type Summary } from "../bench/stats.ts";
import type { DeviceProfile } from "../profile.ts";
import { WORKLOADS, kvmRatio, pairById, type PairId, type Side, type SizePreset, type Unit, type Workload } from "./devices.ts";

export interface IntegrityCheck {
  readonly what: string;
  readonly expected: string;
  readonly actual: string;
  readonly ok: boolean;
}

export function check(what: string, expected: string | number, actual: string | number | undefined): IntegrityCheck {
  const e = String(expected);
  const a = actual === undefined ? "(missing)" : String(actual);
  return { what, expected: e, actual: a, ok: e === a };
}

/** One timed repetition. */
export interface Sample {
  /** MB/s (10^6 bytes per second) or MIPS. */
  readonly value: number;
  readonly seconds: number;
  /** Bytes moved (or instructions, for MIPS). */
  readonly amount: number;
}

export interface ModelRun {
  readonly side: Side;
  readonly label: string;
  /** Set for extra settings of the paravirtual side (e.g. "9p msize 8 KiB"). */
  readonly variant?: string;
  readonly profile: Partial<DeviceProfile>;
  readonly warmup: readonly Sample[];
  readonly samples: readonly Sample[];
  readonly summary: Summary;
  readonly integrity: readonly IntegrityCheck[];
  /** Every integrity check passed. */
  readonly ok: boolean;
  /** Trap meter over one run (issue 13); absent when the emulator has no microscope. */
  readonly traps?: LabTraps;
}

/** What the trap meter counted over one run of a workload, and per 10^6 units moved. */
export interface LabTraps {
  readonly portIo: number;
  readonly mmio: number;
  readonly irq: number;
  readonly notifications: number;
  /** Per MB (10^6 bytes), or per million instructions for MIPS workloads. */
  readonly per: "MB" | "M instructions";
  readonly perMB: { readonly portIo: number; readonly mmio: number; readonly irq: number; readonly notifications: number };
  /** Port accesses, interrupts and notifications per device. */
  readonly devices: Readonly<Record<string, { readonly portIo: number; readonly mmio: number; readonly irq: number; readonly notifications: number }>>;
  /** Which run was metered: the warm-up (timed runs untouched) or, without warm-up, the first timed run. */
  readonly meteredRun: "warm-up" | "timed run 1";
}

export interface WorkloadResult {
  readonly workload: string;
  readonly pair: PairId;
  readonly title: string;
  readonly unit: Unit;
  /** Bytes, or round trips for the network echo. */
  readonly size: number;
  readonly emulated: ModelRun;
  readonly paravirtual: ModelRun;
  readonly variants: readonly ModelRun[];
  /** Median paravirtual / median emulated (JIT / interpreter for the CPU). */
  readonly ratio: number;
  readonly kvmRatio: number | undefined;
}

export interface LabReport {
  readonly format: "virtlab-lab-report";
  readonly version: 1;
  readonly id: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  /** Where it ran: "Node 20.19.0", a browser's user agent. */
  readonly host: string;
  readonly v86: string;
  readonly preset: SizePreset;
  readonly repetitions: number;
  /** Warm-ups asked for per model; a model's `warmup` lists each it ran (more when its timed runs were still getting faster). */
  readonly warmups: number;
  /** Machines that ran at once (each in its own Worker); absent in reports made before, which ran one at a time. */
  readonly machinesAtOnce?: number;
  readonly results: readonly WorkloadResult[];
}

export function modelRun(fields: Omit<ModelRun, "summary" | "ok">): ModelRun {
  if (fields.samples.length === 0) throw new RangeError("a model run needs at least one sample");
  return { ...fields, summary: summarize(fields.samples.map((s) => s.value)), ok: fields.integrity.length > 0 && fields.integrity.every((c) => c.ok) };
}

export function workloadResult(workload: Workload, size: number, emulated: ModelRun, paravirtual: ModelRun, variants: readonly ModelRun[] = []): WorkloadResult {
  return {
    workload: workload.id,
    pair: workload.pair,
    title: workload.title,
    unit: workload.unit,
    size,
    emulated,
    paravirtual,
    variants,
    ratio: emulated.summary.median === 0 ? Number.POSITIVE_INFINITY : paravirtual.summary.median / emulated.summary.median,
    kvmRatio: kvmRatio(pairById(workload.pair)),
  };
}

/** How virtlab's ratio compares with KVM's, in words; undefined when there is nothing to say. */
export function comparison(result: WorkloadResult): string | undefined {
  const pair = pairById(result.pair);
  // A workload may explain itself better than its pair does (e.g. echo round trips vs bulk TCP).
  const workload = WORKLOADS.find((w) => w.id === result.workload);
  const whyLower = workload?.whyLower ?? pair.whyLower;
  const whyHigher = workload?.whyHigher ?? pair.whyHigher;
  const names = pair.sideNames;
  const measured = `measured ${names.paravirtual}/${names.emulated} = ${formatRatio(result.ratio)}`;
  if (result.kvmRatio === undefined || pair.kvm === undefined) return `${measured}. ${result.ratio < 1.25 ? whyLower : whyHigher}`;
  const kvm = `KVM ${pair.kvm.paravirtualLabel}/${pair.kvm.emulatedLabel} = ${formatRatio(result.kvmRatio)}`;
  if (result.ratio < 1) return `Inverted: ${measured}, ${kvm}. ${whyLower}`;
  const off = (result.ratio - result.kvmRatio) / result.kvmRatio;
  if (Math.abs(off) <= 0.25) return `${measured}, close to ${kvm}.`;
  return `${measured}, ${kvm}. ${off < 0 ? whyLower : whyHigher}`;
}

export function formatRatio(ratio: number): string {
  return Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : "∞";
}

export function formatValue(value: number, unit: Unit): string {
  return `${value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)} ${unit}`;
}

export function formatSize(result: Pick<WorkloadResult, "size" | "workload">): string {
  if (result.workload === "net-echo") return `${result.size} round trips`;
  const kib = result.size / 1024;
  return kib >= 1024 ? `${kib / 1024} MiB` : `${kib} KiB`;
}

/** Rows: one per model run (emulated, paravirtual, variants), with ratio and KVM beside. */
export function reportRows(report: Pick<LabReport, "results">): string[][] {
  const rows: string[][] = [];
  for (const r of report.results) {
    const kvm = pairById(r.pair).kvm;
    for (const run of [r.emulated, r.paravirtual, ...r.variants]) {
      const isEmulated = run.side === "emulated";
      const ratio = isEmulated ? "" : formatRatio(run.summary.median / r.emulated.summary.median);
      const kvmCell = kvm === undefined ? "–" : isEmulated ? `${kvm.emulated}% (${kvm.emulatedLabel})` : run.variant === undefined ? `${kvm.paravirtual}% (${kvm.paravirtualLabel})` : "";
      rows.push([
        `${r.workload} ${formatSize(r)}`,
        run.variant ?? run.label,
        formatValue(run.summary.median, r.unit),
        formatValue(run.summary.min, r.unit),
        formatValue(run.summary.max, r.unit),
        `${(run.summary.spread * 100).toFixed(0)}%`,
        String(run.summary.runs),
        ratio,
        kvmCell,
        run.ok ? "ok" : "FAILED",
      ]);
    }
  }
  return rows;
}

export const REPORT_HEADER = ["workload", "model", "median", "min", "max", "spread", "runs", "ratio", "KVM (% of native)", "integrity"] as const;

export function formatReport(report: Pick<LabReport, "results">): string {
  return formatTable(REPORT_HEADER, reportRows(report));
}

const CSV_HEADER = ["report", "date", "host", "preset", "workload", "pair", "side", "model", "variant", "unit", "size", "runs", "median", "min", "max", "spread", "ratio", "kvm_ratio", "integrity_ok", "samples", "traps_port_io", "traps_mmio", "traps_irq", "traps_notifications", "traps_per", "port_io_per", "mmio_per", "irq_per", "notifications_per", "traps_metered_run"];

function trapCells(t: LabTraps | undefined): (string | number)[] {
  if (t === undefined) return ["", "", "", "", "", "", "", "", "", ""];
  return [t.portIo, t.mmio, t.irq, t.notifications, t.per, t.perMB.portIo, t.perMB.mmio, t.perMB.irq, t.perMB.notifications, t.meteredRun];
}

function csvCell(value: string | number): string {
  const text = String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One CSV row per model run of every report, with a header. */
export function reportsToCsv(reports: readonly LabReport[]): string {
  const lines = [CSV_HEADER.join(",")];
  for (const report of reports) {
    for (const r of report.results) {
      for (const run of [r.emulated, r.paravirtual, ...r.variants]) {
        const ratio = run.side === "emulated" ? 1 : run.summary.median / r.emulated.summary.median;
        lines.push(
          [
            report.id,
            report.finishedAt,
            report.host,
            report.preset,
            r.workload,
            r.pair,
            run.side,
            run.label,
            run.variant ?? "",
            r.unit,
            r.size,
            run.summary.runs,
            run.summary.median,
            run.summary.min,
            run.summary.max,
            run.summary.spread,
            ratio,
            r.kvmRatio ?? "",
            run.ok ? "true" : "false",
            run.samples.map((s) => s.value).join(" "),
            ...trapCells(run.traps),
          ]
            .map(csvCell)
            .join(","),
        );
      }
    }
  }
  return lines.join("\n") + "\n";
}
