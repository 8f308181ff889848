/**
 * The network lab's table of this tab's machines, a row per machine kept while it is listed. The
 * table is drawn again every second and with the traffic; rows made anew each time took a click on
 * Remove that straddled a redraw (pressed on the old button, released on the new one: no click)
 * and detached the button under the pointer. Now the cells are written in place, and a field being
 * typed in keeps what the user typed.
 */
import type { LabMachine, NetworkLab } from "../../core/index.ts";
import { actionButton, h } from "../kit/dom.ts";

const STARTED_FROM = { boot: "a boot", "pre-booted": "pre-booted state", "boot-cache": "kept boot", snapshot: "snapshot", moved: "moved from another tab" } as const;

/** A cell's field and its scale: the unit shown per unit kept (KB/s shown, bytes/s kept; 0 = no cap). */
const IMPAIRMENTS = [
  { field: "lossPercent", label: "Loss each way", max: 100, scale: 1 },
  { field: "latencyMs", label: "Latency each way", max: 5000, scale: 1 },
  { field: "rateBytesPerSecond", label: "Rate cap each way", max: 1_000_000, scale: 1000 },
] as const;

interface KeptRow {
  readonly row: HTMLTableRowElement;
  update(machine: LabMachine, address: string | undefined): void;
}

export class MachineRows {
  private readonly rows = new Map<string, KeptRow>();

  constructor(
    private readonly lab: NetworkLab,
    private readonly report: (error: unknown) => void,
  ) {}

  /**
   * `body` begins with the rows of `machines` in their order, and holds nothing after them: those
   * kept brought up to date where they are (a row moved or taken out would take the focus from a
   * field in it), new ones put in, the rest let go.
   */
  drawInto(body: HTMLTableSectionElement, machines: readonly LabMachine[]): void {
    const keyOf = (m: LabMachine): string => `${m.name} ${m.nic} ${m.identity.mac}`;
    const listed = new Set(machines.map(keyOf));
    for (const key of this.rows.keys()) if (!listed.has(key)) this.rows.delete(key);
    const addresses = new Map(this.lab.network.machines.map((n) => [n.label, n.address]));
    machines.forEach((m, i) => {
      const key = keyOf(m);
      const kept = this.rows.get(key) ?? this.make(m);
      this.rows.set(key, kept);
      kept.update(m, addresses.get(m.name));
      const at = body.children[i];
      if (at !== kept.row) body.insertBefore(kept.row, at ?? null);
    });
    while (body.children.length > machines.length) body.lastElementChild?.remove();
  }

  private make(m: LabMachine): KeptRow {
    const lab = this.lab;
    const cell = (testid?: string): HTMLTableCellElement => h("td", testid === undefined ? {} : { testid });
    const state = cell(`network-state-${m.name}`);
    const from = cell(`network-from-${m.name}`);
    const mips = cell(`network-mips-${m.name}`);
    const address = cell(`network-address-${m.name}`);
    const inputs = IMPAIRMENTS.map(({ field, label, max, scale }) => {
      const input = h("input", { type: "number", min: 0, max, step: 1, "aria-label": `${label} of ${m.name}`, testid: `network-${field}-${m.name}` });
      input.addEventListener("change", () => {
        try {
          lab.network.switch.port(m.name)?.setImpairments({ [field]: Number(input.value) * scale });
        } catch (error) {
          this.report(error);
        }
      });
      return { input, field, scale };
    });
    const row = h(
      "tr",
      { testid: `network-machine-${m.name}` },
      h("td", {}, m.name),
      state,
      from,
      mips,
      h("td", {}, m.nic === "virtio" ? "virtio-net" : "NE2000"),
      h("td", {}, m.identity.mac),
      address,
      ...inputs.map(({ input }) => h("td", {}, input)),
      h("td", {}, actionButton("Remove", `network-remove-${m.name}`, () => lab.remove(m.name), this.report)),
    );
    const update = (now: LabMachine, leased: string | undefined): void => {
      const port = lab.network.switch.port(now.name);
      const speed = lab.machine(now.name)?.status.mips;
      setText(state, now.problem === undefined ? now.state : `${now.state}: ${now.problem}`);
      if (state.title !== (now.problem ?? "")) state.title = now.problem ?? "";
      setText(from, now.startedFrom === undefined ? "–" : STARTED_FROM[now.startedFrom]);
      setText(mips, speed === undefined ? "–" : speed.toFixed(0));
      setText(address, leased ?? "–");
      for (const { input, field, scale } of inputs) {
        input.disabled = port === undefined;
        // Not while the user types in it: a redraw would take the value away mid-typing.
        if (input.ownerDocument.activeElement !== input) input.value = String((port?.impairments[field] ?? 0) / scale);
      }
    };
    return { row, update };
  }
}

function setText(cell: HTMLElement, text: string): void {
  if (cell.textContent !== text) cell.textContent = text;
}
