/**
 * The network lab's view of the other tabs joined to its LAN (issue 14, across tabs): their
 * machines as rows of the machine table (listed, not run from here), and the line that says which
 * tab this is and which addresses its router hands out. Draws what core's TabTrunk knows.
 */
import { lanPool, type NetworkLab } from "../../core/index.ts";
import { h } from "../kit/dom.ts";

/** The other tabs' machines, one row each, in the machine table's columns. */
export function otherTabRows(lab: NetworkLab): HTMLTableRowElement[] {
  return (lab.network.tabs?.tabs ?? []).flatMap((t) =>
    t.machines.map((m) =>
      h(
        "tr",
        { testid: `network-remote-${t.id}-${m.name}` },
        h("td", {}, `${m.name} (tab ${t.id})`),
        h("td", {}, "in another tab"),
        h("td", {}, "–"),
        h("td", {}, "–"),
        h("td", {}, "–"),
        h("td", {}, m.mac ?? "–"),
        h("td", { testid: `network-remote-address-${t.id}-${m.name}` }, m.address ?? "–"),
        h("td", { colSpan: 4 }, `through port ${t.port}`),
      ),
    ),
  );
}

/** Which tab this is, how many others joined, and this tab's slice of the LAN. */
export function tabLine(lab: NetworkLab): string {
  const trunk = lab.network.tabs;
  if (trunk === undefined) return `(bridged LAN; this tab is ${lab.tabId})`;
  const slice = trunk.slot === undefined ? "" : `, addresses 192.168.86.${lanPool(trunk.slot).join("–")} here`;
  return `This tab is ${lab.tabId}; ${trunk.tabs.length} other tab(s) joined${slice}.`;
}
