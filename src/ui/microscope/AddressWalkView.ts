/**
 * The memory microscope's address walk (issue 13): walk a kernel or a process address through the
 * guest's real page tables, step by step, to guest physical memory and on to the byte of the
 * emulator's Wasm memory that holds it; and count, over a command, what a shadow-page-table VMM
 * would trap. Everything is decided in the core (src/core/microscope); this only renders it.
 */
import { addressWalk, hex, pageTableWorkload, type AddressWalkResult, type Machine, type WalkTarget } from "../../core/index.ts";
import { actionButton, h } from "../kit/dom.ts";
import { pageClock } from "../pageClock.ts";

export interface AddressWalkHost {
  machine(): Machine | undefined;
  report(error: unknown): void;
}

const WORKLOAD = "for i in $(seq 20); do /bin/true; done";

export class AddressWalkView {
  private readonly result = h("div", { className: "walk-result", testid: "walk-result" });
  private readonly shadow = h("div", { className: "walk-shadow", testid: "walk-shadow" });
  private busy = false;

  constructor(
    private readonly container: HTMLElement,
    private readonly host: AddressWalkHost,
  ) {
    const target = h("select", { "aria-label": "Address to walk", testid: "walk-target" });
    target.append(h("option", { value: "process" }, "a process's stack (checked against /proc/PID/pagemap)"), h("option", { value: "kernel" }, "kernel text (checked against PAGE_OFFSET)"));
    container.replaceChildren(
      h("h2", {}, "Address translation on the guest's page tables"),
      h(
        "p",
        { className: "lab-note" },
        "Reads the guest CPU's CR3/CR4 and its page tables from its memory, and walks an address the way the MMU does. v86 itself translates in software with its own TLB: the shadow-paging counts are a simulation on the guest's real tables (sampled, lower bounds).",
      ),
      h(
        "div",
        { className: "lab-run" },
        target,
        actionButton("Walk", "walk-run", () => this.run(async (m) => this.show(await addressWalk(m, target.value as WalkTarget, pageClock(), 120_000))), host.report),
        actionButton("Count page-table traps", "walk-shadow-run", () => this.run(async (m) => this.showShadow(await pageTableWorkload(m, WORKLOAD, pageClock(), 300_000))), host.report, `Runs: ${WORKLOAD}`),
      ),
      this.result,
      this.shadow,
    );
  }

  private async run(job: (machine: Machine) => Promise<void>): Promise<void> {
    const machine = this.host.machine();
    if (machine === undefined || this.busy) return;
    this.busy = true;
    this.container.setAttribute("aria-busy", "true");
    try {
      await job(machine);
    } finally {
      this.busy = false;
      this.container.removeAttribute("aria-busy");
    }
  }

  /** Show a walk (also called when a lesson step made one). */
  show(walk: AddressWalkResult): void {
    const r = walk.walk.result;
    const table = h("table", { className: "walk-table" });
    table.append(h("tr", {}, h("th", {}, "level"), h("th", {}, "table at"), h("th", {}, "index"), h("th", {}, "entry"), h("th", {}, "flags")));
    for (const s of r.steps) {
      const f = s.flags;
      const flags = [f.present ? "present" : "not present", f.writable ? "writable" : "read-only", f.user ? "user" : "kernel", f.large ? "large page" : "", f.global ? "global" : "", f.noExecute ? "NX" : ""].filter((x) => x !== "").join(", ");
      const entry = s.entryHigh === 0 ? hex(s.entry) : `0x${s.entryHigh.toString(16).padStart(8, "0")}${s.entry.toString(16).padStart(8, "0")}`;
      table.append(h("tr", {}, h("td", {}, s.level), h("td", {}, hex(s.table)), h("td", {}, String(s.index)), h("td", {}, entry), h("td", {}, flags)));
    }
    const regs = walk.walk.regs;
    const chain = r.ok
      ? `guest virtual ${hex(r.virtual)} → guest physical ${hex(r.physical)}${walk.walk.wasmOffset === undefined ? "" : ` → Wasm memory byte ${hex(walk.walk.wasmOffset)}`}`
      : `guest virtual ${hex(r.virtual)}: not mapped (${r.level})`;
    this.result.replaceChildren(
      h("p", {}, `CR3 ${hex(regs.cr3)}, CR4 ${hex(regs.cr4)}: ${r.mode} paging`),
      table,
      h("p", { className: "walk-chain" }, chain),
      h("p", { className: walk.outcome.ok ? "walk-agrees" : "walk-differs" }, walk.outcome.lines.find((l) => l.startsWith("The guest")) ?? ""),
    );
  }

  private showShadow(run: Awaited<ReturnType<typeof pageTableWorkload>>): void {
    this.shadow.replaceChildren(h("p", {}, `Workload: ${WORKLOAD}`), ...run.outcome.lines.map((l) => h("p", {}, l)));
  }
}
