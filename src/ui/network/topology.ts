/**
 * The network's topology as an SVG drawing: each segment a line (a bus), each port a box on it
 * (machines, the page's hosts and the ports toward other tabs told apart), and in routed mode
 * the router's two interfaces drawn as one box joining both lines. From the switch's summary only.
 */
import type { NetworkMode, NetworkSummary } from "../../core/index.ts";

const SVG = "http://www.w3.org/2000/svg";
const BOX_W = 104;
const BOX_H = 28;
const GAP = 18;
const ROW_H = 84;

function el<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

export function topologySvg(summary: NetworkSummary, mode: NetworkMode): SVGSVGElement {
  const kinds = new Map(summary.ports.map((p) => [p.label, p.kind]));
  const segments = summary.segments.filter((s) => s.ports.length > 0);
  const widest = Math.max(1, ...segments.map((s) => s.ports.length));
  const width = 40 + widest * (BOX_W + GAP);
  const height = Math.max(1, segments.length) * ROW_H + 10;
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": `Topology (${mode}): ${segments.map((s) => `${s.id}: ${s.ports.join(", ")}`).join("; ") || "no machines yet"}` });
  const routerBoxes: { x: number; y: number }[] = [];
  segments.forEach((segment, row) => {
    const y = 20 + row * ROW_H;
    svg.append(el("text", { x: 4, y: y - 6, class: "topology-segment" }, `segment ${segment.id}`));
    svg.append(el("line", { x1: 10, y1: y + BOX_H + 10, x2: width - 10, y2: y + BOX_H + 10, class: "topology-bus" }));
    segment.ports.forEach((label, i) => {
      const x = 20 + i * (BOX_W + GAP);
      const kind = kinds.get(label);
      const host = kind === "host";
      svg.append(el("line", { x1: x + BOX_W / 2, y1: y + BOX_H, x2: x + BOX_W / 2, y2: y + BOX_H + 10, class: "topology-bus" }));
      svg.append(el("rect", { x, y, width: BOX_W, height: BOX_H, rx: host ? 2 : 8, class: host ? "topology-host" : kind === "tab" ? "topology-tab" : "topology-machine" }));
      svg.append(el("text", { x: x + BOX_W / 2, y: y + BOX_H / 2 + 4, "text-anchor": "middle" }, label));
      if (label.startsWith("router-")) routerBoxes.push({ x: x + BOX_W / 2, y });
    });
  });
  // Routed: the router's interfaces are one machine; a line joins them across the segments.
  if (mode === "routed" && routerBoxes.length === 2) {
    const [a, b] = routerBoxes as [{ x: number; y: number }, { x: number; y: number }];
    svg.append(el("line", { x1: a.x, y1: a.y + BOX_H, x2: b.x, y2: b.y, class: "topology-route" }));
  }
  return svg;
}
