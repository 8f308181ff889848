/**
 * The Microscope panel (issue 13): the trap meter per device per second, JIT activity beside
 * MIPS with a live JIT switch, and the hypercall log. Thin: the core's MicroscopeSampler installs
 * the meter (only while this panel is open) and computes every figure; this renders and dispatches.
 */
import { MicroscopeSampler, describeHypercall, shortRate, type Disposable, type Machine, type MicroscopeHooks, type MicroscopeSample } from "../../core/index.ts";
import { h } from "../kit/dom.ts";

export interface MicroscopeHost {
  machine(): Machine | undefined;
  report(error: unknown): void;
}

const SAMPLE_MS = 1000;
const LOG_ROWS = 50;

export class MicroscopePanel {
  private sampler: MicroscopeSampler | undefined;
  /** The hooks of the backend being watched (a reset or restart brings new ones). */
  private watched: MicroscopeHooks | undefined;
  private hypercallListener: Disposable | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly meterSwitch = h("input", { type: "checkbox", id: "microscope-meter", testid: "microscope-meter", checked: true });
  private readonly jitSwitch = h("input", { type: "checkbox", id: "microscope-jit", testid: "microscope-jit" });
  private readonly status = h("p", { className: "lab-note", testid: "microscope-status" });
  private readonly traps = h("div", { testid: "microscope-traps", "aria-live": "polite" });
  private readonly jit = h("p", { testid: "microscope-jit-figures", "aria-live": "polite" });
  private readonly log = h("tbody", { testid: "microscope-hypercalls" });

  constructor(
    private readonly container: HTMLElement,
    private readonly host: MicroscopeHost,
  ) {
    this.meterSwitch.addEventListener("change", () => this.refresh());
    this.jitSwitch.addEventListener("change", () => this.setJit(this.jitSwitch.checked));
    const logTable = h(
      "table",
      { className: "walk-table" },
      h("caption", {}, "Hypercalls, newest first"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "call"), h("th", { scope: "col" }, "arguments"), h("th", { scope: "col" }, "reply"))),
      this.log,
    );
    container.replaceChildren(
      h("h2", {}, "Microscope"),
      h(
        "p",
        { className: "lab-note" },
        "What the guest makes the emulator do, per device and per second: every port access (by width), MMIO access, interrupt raised and virtqueue notification is a trap into the emulator. Counting wraps each handler, so figures are taken with the meter on and the machine runs a little slower; closing the panel or switching the meter off removes it.",
      ),
      h("p", {}, h("label", { htmlFor: "microscope-meter" }, this.meterSwitch, " Trap meter on")),
      this.status,
      this.traps,
      h("h3", {}, "Dynamic translation"),
      h("p", {}, h("label", { htmlFor: "microscope-jit" }, this.jitSwitch, " JIT on (off: every instruction interpreted; switched on the running machine)")),
      this.jit,
      h("h3", {}, "Hypercall log"),
      h("p", { className: "lab-note" }, "From the guest shell: devmem 0xfea00000 32 2; devmem 0xfea00004 32 3; devmem 0xfea00008 32 1 (call 1, add); devmem 0xfea0000c 32 reads the reply. Call 0 pings, call 2 reads the instruction counter."),
      logTable,
    );
  }

  /** The panel was shown or hidden, or the machine changed: install or remove the instruments. */
  setOpen(open: boolean): void {
    this.container.hidden = !open;
    this.open = open;
    this.refresh();
  }
  private open = false;

  /** Remove the meter, the timer and the hypercall listener (the page is going). */
  dispose(): void {
    this.open = false;
    this.stop();
  }

  /** Follow the current machine (called on every status change; cheap when nothing changed). */
  refresh(): void {
    const hooks = this.host.machine()?.microscope();
    if (!this.open || hooks !== this.watched) this.stop();
    if (!this.open) return;
    if (hooks === undefined) {
      this.status.textContent = "No running machine with the microscope's hooks.";
      return;
    }
    this.jitSwitch.checked = hooks.jitEnabled();
    if (this.watched !== hooks) {
      this.watched = hooks;
      this.hypercallListener = hooks.onHypercall((record) => this.logCall(record));
    }
    if (this.meterSwitch.checked && this.sampler === undefined) {
      this.sampler = new MicroscopeSampler(hooks);
      this.sampler.sample(performance.now());
      this.timer = setInterval(() => this.tick(), SAMPLE_MS);
      this.status.textContent = "Meter on: figures below are per second, taken with the meter installed.";
    } else if (!this.meterSwitch.checked && this.sampler !== undefined) {
      this.stopMeter();
      this.status.textContent = "Meter off: no handler is wrapped, the machine runs at full speed.";
      this.traps.replaceChildren();
      this.jit.textContent = "";
    }
  }

  private tick(): void {
    const sample = this.sampler?.sample(performance.now());
    if (sample !== undefined) this.render(sample);
  }

  private render(s: MicroscopeSample): void {
    const table = h("table", { className: "walk-table", testid: "microscope-trap-table" });
    table.append(
      h("caption", {}, "Traps per second, by device"),
      h(
        "tr",
        {},
        ...["device", "port reads 8/16/32", "port writes 8/16/32", "MMIO", "interrupts", "notifications"].map((t) => h("th", { scope: "col" }, t)),
      ),
    );
    const widths = (w: { 8: number; 16: number; 32: number }): string => `${shortRate(w[8])} / ${shortRate(w[16])} / ${shortRate(w[32])}`;
    for (const d of s.devices) {
      table.append(
        h(
          "tr",
          { "data-device": d.device },
          h("th", { scope: "row" }, d.device),
          h("td", {}, widths(d.portReads)),
          h("td", {}, widths(d.portWrites)),
          h("td", {}, shortRate(d.mmio)),
          h("td", {}, shortRate(d.irqs)),
          h("td", {}, shortRate(d.notifications)),
        ),
      );
    }
    const t = s.sinceOn.totals;
    this.traps.replaceChildren(table, h("p", { testid: "microscope-since-on" }, `Since the meter went on: ${t.portIo} port accesses, ${t.mmio} MMIO, ${t.irq} interrupts, ${t.notifications} notifications.`));
    const mips = this.host.machine()?.status.mips;
    const j = s.jit;
    this.jit.textContent =
      `${mips === undefined ? "MIPS —" : `${mips.toFixed(1)} MIPS`}` +
      (j === undefined ? "" : `; ${shortRate(j.blocksPerSecond)} blocks compiled/s, ${shortRate(j.wasmBytesPerSecond)} bytes of Wasm/s, ${shortRate(j.invalidationsPerSecond)} invalidations/s`);
  }

  private setJit(on: boolean): void {
    try {
      this.host.machine()?.microscope()?.setJit(on);
    } catch (error) {
      this.host.report(error);
    }
  }

  private logCall(record: { nr: number; args: readonly [number, number]; reply: number }): void {
    const c = describeHypercall(record);
    this.log.prepend(h("tr", {}, h("td", {}, c.call), h("td", {}, c.args), h("td", {}, c.reply)));
    while (this.log.rows.length > LOG_ROWS) this.log.lastElementChild?.remove();
  }

  private stopMeter(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.sampler?.dispose();
    this.sampler = undefined;
  }

  private stop(): void {
    this.stopMeter();
    this.hypercallListener?.dispose();
    this.hypercallListener = undefined;
    this.watched = undefined;
  }
}
