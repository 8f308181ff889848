/** The network lab's traffic tables: a row per switch port (counters) and per captured packet. */
import type { CapturedPacket, NetworkSummary, PacketCapture } from "../../core/index.ts";
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
