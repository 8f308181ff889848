/** A plain SVG bar chart: one bar per model (median), a whisker from min to max. */
import type { Unit } from "../../core/lab/index.ts";

export interface Bar {
  readonly label: string;
  readonly value: number;
  readonly min: number;
  readonly max: number;
  readonly emulated: boolean;
}

const SVG = "http://www.w3.org/2000/svg";

function node(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const n = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
  if (text !== undefined) n.textContent = text;
  return n;
}

export function barChart(bars: readonly Bar[], unit: Unit): SVGSVGElement {
  const rowHeight = 22;
  const labelWidth = 170;
  const width = 520;
  const plot = width - labelWidth - 90;
  const top = Math.max(...bars.map((b) => b.max), 1e-9);
  const svg = node("svg", { viewBox: `0 0 ${width} ${bars.length * rowHeight + 4}`, class: "lab-chart", role: "img" }) as SVGSVGElement;
  svg.setAttribute("aria-label", bars.map((b) => `${b.label}: ${b.value.toFixed(2)} ${unit}`).join("; "));
  bars.forEach((bar, i) => {
    const y = i * rowHeight + 2;
    const w = (bar.value / top) * plot;
    svg.append(
      node("text", { x: labelWidth - 6, y: y + 14, "text-anchor": "end", class: "lab-chart-label" }, bar.label),
      node("rect", { x: labelWidth, y, width: Math.max(1, w), height: rowHeight - 6, class: bar.emulated ? "lab-bar-emulated" : "lab-bar-paravirtual" }),
      node("line", { x1: labelWidth + (bar.min / top) * plot, x2: labelWidth + (bar.max / top) * plot, y1: y + 8, y2: y + 8, class: "lab-whisker" }),
      // The value after the whisker's end, so the whisker never runs through it.
      node("text", { x: labelWidth + (Math.max(bar.value, bar.max) / top) * plot + 6, y: y + 14, class: "lab-chart-label" }, `${bar.value >= 10 ? bar.value.toFixed(0) : bar.value.toFixed(2)} ${unit}`),
    );
  });
  return svg;
}
