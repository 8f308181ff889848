/** The network lab's traffic tables: a row per switch port (counters), per captured packet and per web request. */
import type { CapturedPacket, NetworkSummary, PacketCapture, WebRequest } from "../../core/index.ts";
import { h } from "../kit/dom.ts";

/** One row per port: frames and bytes each way, and its drops of every reason added up. */
export function portRows(summary: NetworkSummary): HTMLTableRowElement[] {
  return summary.ports.map((p) => {
    const drops = Object.values(p.counters.drops).reduce((a, b) => a + b, 0);
    return h(
      "tr",
      { testid: `network-port-${p.label}` },
      h("td", {}, p.label),
      h("td", {}, p.segment),
      h("td", {}, String(p.counters.framesIn)),
      h("td", {}, String(p.counters.framesOut)),
      h("td", {}, String(p.counters.bytesIn)),
      h("td", {}, String(p.counters.bytesOut)),
      h("td", {}, String(drops)),
    );
  });
}

/** One row per packet, as the capture decodes it (a dropped one says why). */
export function packetRow(capture: PacketCapture, p: CapturedPacket): HTMLTableRowElement {
  const decoded = capture.decode(p);
  return h(
    "tr",
    { className: p.dropped === undefined ? "" : "dropped" },
    h("td", {}, String(p.number)),
    h("td", {}, (p.time / 1000).toFixed(3)),
    h("td", {}, p.port),
    h("td", {}, decoded.protocol),
    h("td", {}, `${decoded.summary}${p.dropped === undefined ? "" : ` (dropped: ${p.dropped})`}`),
  );
}

/** One row per guest web request through the page (or one saying why there is none). */
export function webRows(requests: readonly WebRequest[], outside: boolean): HTMLTableRowElement[] {
  if (requests.length === 0) {
    const none = outside
      ? "None yet. A machine's HTTP to port 80 (wget http://…) is fetched by this page, as https, and only sites that let other origins read them (CORS) answer."
      : "Outside access is off: nothing leaves the lab.";
    return [h("tr", { testid: "network-web-none" }, h("td", { colSpan: 4, className: "muted" }, none))];
  }
  return requests.map((r) => {
    const answer = r.status === undefined ? (r.closed ? "closed before asking" : "waiting…") : r.why === undefined ? String(r.status) : `${r.status}: ${r.why}`;
    return h("tr", { className: r.why === undefined ? "" : "dropped" }, h("td", {}, r.router), h("td", {}, r.asked ?? "–"), h("td", {}, r.url ?? "–"), h("td", {}, answer));
  });
}
