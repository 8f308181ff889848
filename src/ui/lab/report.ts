/** One benchmark report drawn: per workload a chart, the table of models and the course's KVM figures. */
import { comparison, formatRatio, formatSize, formatValue, pairById, type LabReport, type WorkloadResult } from "../../core/lab/index.ts";
import { h, scrollBox } from "../kit/dom.ts";
import { barChart } from "./chart.ts";

export function renderReport(report: LabReport): HTMLElement[] {
  return report.results.map((r) => renderResult(r));
}

function renderResult(result: WorkloadResult): HTMLElement {
  const pair = pairById(result.pair);
  const runs = [result.emulated, result.paravirtual, ...result.variants];
  const table = h(
    "table",
    {},
    h("tr", {}, ...["model", "median", "spread (min–max)", "runs", `ratio (${pair.sideNames.paravirtual}/${pair.sideNames.emulated})`, "KVM (% of native)", "data"].map((t) => h("th", {}, t))),
    ...runs.map((run) => {
      const isEmulated = run.side === "emulated";
      const kvm = pair.kvm === undefined ? "–" : isEmulated ? `${pair.kvm.emulated}% ${pair.kvm.emulatedLabel}` : run.variant === undefined ? `${pair.kvm.paravirtual}% ${pair.kvm.paravirtualLabel}` : "";
      return h(
        "tr",
        { "data-side": run.side },
        h("td", {}, run.variant ?? run.label),
        h("td", {}, formatValue(run.summary.median, result.unit)),
        h("td", {}, `${(run.summary.spread * 100).toFixed(0)}% (${formatValue(run.summary.min, result.unit)}–${formatValue(run.summary.max, result.unit)})`),
        h("td", {}, String(run.summary.runs)),
        h("td", { "data-testid": isEmulated ? undefined : run.variant === undefined ? "lab-ratio" : undefined }, isEmulated ? "1×" : formatRatio(run.summary.median / result.emulated.summary.median)),
        h("td", {}, kvm),
        h("td", { title: run.integrity.filter((c) => !c.ok).map((c) => `${c.what}: expected ${c.expected}, got ${c.actual}`).join("\n") }, run.ok ? `✓ ${run.integrity.length} checks` : "✗ failed"),
      );
    }),
  );
  const kvmRatio = result.kvmRatio === undefined ? "" : ` KVM: ${formatRatio(result.kvmRatio)}.`;
  const words = comparison(result);
  return h(
    "section",
    { class: "lab-result", "data-workload": result.workload },
    h("h4", {}, `${pair.title}: ${result.title} (${formatSize(result)}) — ratio ${formatRatio(result.ratio)}.${kvmRatio}`),
    barChart(runs.map((run) => ({ label: run.variant ?? run.label, value: run.summary.median, min: run.summary.min, max: run.summary.max, emulated: run.side === "emulated" })), result.unit),
    scrollBox(`${pair.title}: ${result.title}, figures`, table),
    words === undefined ? undefined : h("p", { class: "lab-note" }, words),
    pair.kvm === undefined ? undefined : h("p", { class: "lab-note" }, `The course's KVM figures (% of native): ${pair.kvm.emulatedLabel} ${pair.kvm.emulated}%, ${pair.kvm.paravirtualLabel} ${pair.kvm.paravirtual}%. ${pair.kvm.note}`),
  );
}
