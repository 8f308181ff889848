/**
 * The Network lab panel (issue 14): machines on a virtual switch, its mode, each machine's
 * terminal, the topology, per-port counters, the live packet list and the capture as .pcap.
 * Thin: the core's NetworkLab and VirtualNetwork decide and count; this draws and dispatches.
 */
import { NETWORK_MODES, PROTOCOL_NAMES, type NetworkLab, type NetworkMode, type NetworkSummary, type PacketFilter, type ProtocolName } from "../../core/index.ts";
import { actionButton, h, scrollBox } from "../kit/dom.ts";
import { download } from "../kit/download.ts";
import { LabMoveView } from "./LabMoveView.ts";
import { MachineRows } from "./machineRows.ts";
import { MachineTerminals } from "./machineTerminals.ts";
import { otherTabRows, tabLine } from "./otherTabs.ts";
import { packetRow, portRows, webRows } from "./trafficRows.ts";
import { topologySvg } from "./topology.ts";

export interface NetworkPanelHost {
  /** The lab, made on first use (the composition root owns how). */
  lab(): NetworkLab;
  report(error: unknown): void;
}

const PACKET_ROWS = 60;
const REFRESH_MS = 1000;
/** The packet list, counters and topology redraw at most this often while traffic flows. */
const DRAW_MS = 250;

export class NetworkPanel {
  private labNow: NetworkLab | undefined;
  private rows: MachineRows | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private pending: ReturnType<typeof setTimeout> | undefined;
  private readonly mode = h("select", { id: "network-mode", testid: "network-mode" });
  private readonly explains = h("p", { className: "lab-note", testid: "network-mode-explains" });
  private readonly outside = h("input", { type: "checkbox", id: "network-outside", testid: "network-outside" });
  private readonly joinTabs = h("input", { type: "checkbox", id: "network-join-tabs", testid: "network-join-tabs" });
  private readonly tabNote = h("span", { className: "lab-note", testid: "network-tab-id" });
  private readonly nic = h("select", { id: "network-nic", testid: "network-nic" }, h("option", { value: "virtio" }, "virtio-net"), h("option", { value: "ne2k" }, "NE2000"));
  private readonly machineRows = h("tbody", { testid: "network-machines" });
  private readonly tabs = h("div", { className: "network-tabs", role: "tablist", testid: "network-tabs" });
  private readonly panes = h("div", { className: "network-panes" });
  private readonly terminals = new MachineTerminals(this.tabs, this.panes);
  private readonly moveSection = h("div", { className: "lab-move", testid: "lab-move" });
  private moveView: LabMoveView | undefined;
  private readonly topology = h("div", { className: "network-topology", testid: "network-topology" });
  private readonly counterRows = h("tbody", { testid: "network-counters" });
  private readonly packetRows = h("tbody", { testid: "network-packets" });
  private readonly webRows = h("tbody", { testid: "network-web" });
  private readonly portFilter = h("select", { id: "network-filter-port", testid: "network-filter-port" }, h("option", { value: "" }, "all ports"));
  private readonly protoFilter = h("select", { id: "network-filter-proto", testid: "network-filter-proto" }, h("option", { value: "" }, "all protocols"), ...PROTOCOL_NAMES.map((p) => h("option", { value: p }, p)));

  constructor(
    private readonly container: HTMLElement,
    private readonly host: NetworkPanelHost,
  ) {
    for (const m of NETWORK_MODES) this.mode.append(h("option", { value: m.mode }, m.label));
    this.mode.addEventListener("change", () => void this.setMode(this.mode.value as NetworkMode));
    this.outside.addEventListener("change", () => {
      this.lab.network.setOutside(this.outside.checked);
      this.draw();
    });
    this.joinTabs.addEventListener("change", () => {
      try {
        if (this.joinTabs.checked) this.lab.joinTabs();
        else this.lab.leaveTabs();
      } catch (error) {
        this.joinTabs.checked = this.lab.joinedTabs;
        this.host.report(error);
      }
    });
    this.portFilter.addEventListener("change", () => this.drawPackets());
    this.protoFilter.addEventListener("change", () => this.drawPackets());
    // Wide at a projector's zoom: the table scrolls in its own box, not the whole page.
    const table = (caption: string, heads: readonly string[], body: HTMLElement): HTMLElement =>
      scrollBox(caption, h("table", { className: "walk-table" }, h("caption", {}, caption), h("thead", {}, h("tr", {}, ...heads.map((t) => h("th", { scope: "col" }, t === "" ? h("span", { className: "visually-hidden" }, "actions") : t)))), body));
    container.replaceChildren(
      h("h2", {}, "Network lab"),
      h("p", { className: "lab-note" }, "Machines of their own beside this page's, each in its own Worker, on a virtual switch in this page. Nothing they write is kept. They reach the outside only through the page and only with outside access on (no cookies or credentials are sent, and never to virtlab itself)."),
      h("p", {}, h("label", { htmlFor: "network-mode" }, "Mode "), this.mode, " ", h("label", { htmlFor: "network-outside" }, this.outside, " Outside access (web through this page)")),
      this.explains,
      h("p", {}, h("label", { htmlFor: "network-join-tabs" }, this.joinTabs, " Join other tabs of this browser"), " ", this.tabNote),
      h("p", {}, h("label", { htmlFor: "network-nic" }, "NIC "), this.nic, " ", actionButton("Add machine", "network-add", () => this.add(), (e) => this.host.report(e))),
      table("Machines", ["machine", "state", "started from", "MIPS", "NIC", "MAC", "address", "loss % each way", "latency ms each way", "rate KB/s each way (0: none)", ""], this.machineRows),
      h("p", { className: "lab-note" }, "Loss, latency and the rate cap apply to the machine's cable in each direction: a ping crosses it twice, so 50 % loss loses about three pings in four, and 100 ms latency adds 200 ms to its round trip."),
      this.tabs,
      this.panes,
      this.moveSection,
      h("h3", {}, "Topology"),
      this.topology,
      table("Ports of the switch", ["port", "segment", "frames in", "frames out", "bytes in", "bytes out", "drops"], this.counterRows),
      table("Web requests through this page, newest last", ["router", "the guest asked", "the page fetched", "answer"], this.webRows),
      h("h3", {}, "Packets"),
      h("p", {}, h("label", { htmlFor: "network-filter-port" }, "Show "), this.portFilter, " ", h("label", { htmlFor: "network-filter-proto" }, "protocol "), this.protoFilter, " ", actionButton("Download capture (.pcap)", "network-pcap", () => this.downloadCapture(), (e) => this.host.report(e))),
      table("Newest last (decoded as Wireshark would)", ["no.", "time s", "port", "protocol", "info"], this.packetRows),
    );
  }

  get open(): boolean {
    return !this.container.hidden;
  }

  setOpen(open: boolean): void {
    this.container.hidden = !open;
    if (open) {
      this.wire();
      this.timer ??= setInterval(() => this.drawMachines(), REFRESH_MS);
      this.draw();
    } else if (this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private get lab(): NetworkLab {
    return this.wire();
  }

  /** The lab, subscribed once: its changes and the network's redraw the panel (at most every DRAW_MS: a transfer brings thousands of packets a second). */
  private wire(): NetworkLab {
    if (this.labNow !== undefined) return this.labNow;
    const lab = this.host.lab();
    this.labNow = lab;
    lab.onChanged(() => this.scheduleDraw());
    lab.network.monitor.onChanged(() => this.scheduleDraw());
    lab.network.capture.onPacket(() => this.scheduleDraw());
    this.mode.value = lab.network.mode;
    this.outside.checked = lab.network.outside;
    this.joinTabs.checked = lab.joinedTabs;
    if (typeof BroadcastChannel !== "undefined") this.moveView = new LabMoveView(this.moveSection, lab, (e) => this.host.report(e));
    return lab;
  }

  private async add(): Promise<void> {
    const nic = this.nic.value === "ne2k" ? "ne2k" : "virtio";
    const adding = this.lab.add(nic);
    // The new machine is listed (starting) at once: show its terminal while it starts, with the keys.
    const name = this.lab.machines.at(-1)?.name;
    this.terminals.show(this.lab.machines, name);
    await adding;
  }

  private async setMode(mode: NetworkMode): Promise<void> {
    await this.lab.setMode(mode);
  }

  private downloadCapture(): void {
    const capture = this.lab.network.capture;
    const bytes = capture.toPcap({ epochMs: Date.now() - performance.now(), filter: this.filter() });
    download(new Blob([bytes as BlobPart], { type: "application/vnd.tcpdump.pcap" }), `virtlab-${this.lab.network.mode}.pcap`);
  }

  private filter(): PacketFilter {
    const port = this.portFilter.value;
    const proto = this.protoFilter.value as ProtocolName | "";
    return { ...(port === "" ? {} : { ports: [port] }), ...(proto === "" ? {} : { protocols: [proto] }) };
  }

  private scheduleDraw(): void {
    if (!this.open) return;
    this.pending ??= setTimeout(() => {
      this.pending = undefined;
      this.draw();
    }, DRAW_MS);
  }

  private draw(): void {
    if (this.labNow === undefined) return;
    this.explains.textContent = NETWORK_MODES.find((m) => m.mode === this.labNow?.network.mode)?.explains ?? "";
    this.drawMachines();
    const summary = this.labNow.network.summary();
    this.drawTopology(summary);
    this.drawCounters(summary);
    this.webRows.replaceChildren(...webRows(this.labNow.network.webRequests(), this.labNow.network.outside));
    this.drawPackets();
  }

  private drawMachines(): void {
    const lab = this.labNow;
    if (lab === undefined) return;
    const machines = lab.machines;
    this.terminals.show(machines);
    this.rows ??= new MachineRows(lab, (e) => this.host.report(e));
    this.rows.drawInto(this.machineRows, machines);
    if (machines.length === 0) this.machineRows.append(h("tr", { testid: "network-no-machines" }, h("td", { colSpan: 11, className: "muted" }, "No machine of this tab on the switch yet: Add machine starts one, with the card chosen beside it.")));
    this.machineRows.append(...otherTabRows(lab));
    this.joinTabs.checked = lab.joinedTabs;
    this.tabNote.textContent = tabLine(lab);
    this.moveView?.refresh();
    const ports = [...lab.network.switch.ports.map((p) => p.label)];
    const chosen = this.portFilter.value;
    this.portFilter.replaceChildren(h("option", { value: "" }, "all ports"), ...ports.map((p) => h("option", { value: p, selected: p === chosen }, p)));
  }

  private drawTopology(summary: NetworkSummary): void {
    this.topology.replaceChildren(topologySvg(summary, this.labNow?.network.mode ?? "bridged"));
  }

  private drawCounters(summary: NetworkSummary): void {
    this.counterRows.replaceChildren(...portRows(summary));
  }

  private drawPackets(): void {
    const capture = this.labNow?.network.capture;
    if (capture === undefined) return;
    const packets = capture.packets(this.filter()).slice(-PACKET_ROWS);
    this.packetRows.replaceChildren(...packets.map((p) => packetRow(capture, p)));
  }
}
