/**
 * The "Move and share memory" panel (issue 15): move the running machine to another virtlab tab
 * (the other tabs found, the requirements checked and shown, stop-and-copy or pre-copy, the rounds
 * and the downtime in both tabs), and the same-page meter over the machines running in this page.
 * Thin: core's TabMover decides and moves, core's ksm.ts counts; this draws and dispatches.
 */
import { MIGRATION_WORKLOADS, samePageStatsOfKeys, type Machine, type MigrationMethod, type MigrationWorkloadId, type MoveCheck, type MoveState, type TabMover } from "../../core/index.ts";
import { actionButton, h } from "../kit/dom.ts";
import { MIGRATION_WORDS as W, moveOutcomeLine, requirementLine, roundCells, samePageLines } from "../messages.ts";

export interface MigrationPanelHost {
  readonly mover: TabMover;
  /** The machines running in this page (the page's own, the network lab's), for the meter. */
  machines(): readonly Machine[];
  report(error: unknown): void;
}

/** The meter reads every machine's page keys this often while it is on, and on screen. */
const METER_MS = 3000;

export class MigrationPanel {
  private readonly tabSelect = h("select", { id: "migration-tab", testid: "migration-tab" });
  private readonly method = h("select", { id: "migration-method", testid: "migration-method" }, h("option", { value: "pre-copy" }, W.preCopy), h("option", { value: "stop-and-copy" }, W.stopAndCopy));
  private readonly workload = h("select", { id: "migration-workload", testid: "migration-workload" }, ...MIGRATION_WORKLOADS.map((w) => h("option", { value: w.id }, w.label)));
  private readonly checks = h("ul", { className: "migration-checks", testid: "migration-checks" });
  private readonly status = h("p", { className: "lab-note", testid: "migration-status", role: "status" });
  private readonly roundRows = h("tbody", { testid: "migration-rounds" });
  private readonly summary = h("p", { testid: "migration-summary" });
  private readonly meter = h("p", { testid: "ksm-meter" });
  private readonly meterCounts = h("ul", { testid: "ksm-counts" });
  /** Off until the user asks: each reading hashes every page of every machine's RAM in its Worker. */
  private readonly meterLive = h("input", { type: "checkbox", id: "ksm-live", testid: "ksm-live" });
  private readonly moveButton: HTMLButtonElement;
  private checked: { tab: string; check: MoveCheck } | undefined;
  private note = "";

  constructor(
    container: HTMLElement,
    private readonly host: MigrationPanelHost,
  ) {
    const report = (error: unknown): void => host.report(error);
    this.moveButton = actionButton(W.move, "migration-move", () => this.move(), report);
    this.moveButton.disabled = true;
    this.tabSelect.addEventListener("change", () => {
      this.checked = undefined;
      this.drawChecks();
    });
    // The meter's part of the panel: watched for being on screen (the meter line itself is empty, of no height, until it first measures).
    const meterBox = h("div", {}, h("h3", {}, W.meterTitle), h("div", { className: "lab-run" }, this.meterLive, h("label", { htmlFor: "ksm-live" }, W.meterLive)), this.meter, this.meterCounts);
    container.append(
      h("h2", {}, W.title),
      h("p", { className: "lab-note" }, W.explains),
      h("div", { className: "lab-run" }, h("label", { htmlFor: "migration-tab" }, W.toTab), this.tabSelect, actionButton(W.check, "migration-check", () => this.check(), report)),
      this.checks,
      h("div", { className: "lab-run" }, h("label", { htmlFor: "migration-method" }, W.method), this.method, h("label", { htmlFor: "migration-workload" }, W.workload), this.workload, this.moveButton),
      this.status,
      h("table", { className: "migration-rounds" }, h("thead", {}, h("tr", {}, ...W.roundHeads.map((t) => h("th", {}, t)))), this.roundRows),
      this.summary,
      meterBox,
    );
    host.mover.tabs.onChange(() => this.drawTabs());
    host.mover.onChange((state) => this.drawMove(state));
    this.drawTabs();
    this.drawChecks();
    this.drawMove(host.mover.state);
    // Hashing every page costs the Workers time: only while the meter is on screen.
    let inView = false;
    new IntersectionObserver((entries) => (inView = entries.some((e) => e.isIntersecting))).observe(meterBox);
    const measure = (): void => void this.measure().catch(() => undefined);
    this.meterLive.addEventListener("change", () => {
      if (this.meterLive.checked) measure();
    });
    const tick = (): void => {
      if (this.meterLive.checked && inView && document.visibilityState === "visible") measure();
      setTimeout(tick, METER_MS);
    };
    setTimeout(tick, 500);
  }

  private drawTabs(): void {
    const before = this.tabSelect.value;
    const tabs = this.host.mover.tabs.tabs().filter((t) => t.canReceive);
    this.tabSelect.replaceChildren(...(tabs.length === 0 ? [h("option", { value: "" }, W.noTabs)] : tabs.map((t) => h("option", { value: t.tab }, `${W.tab} ${t.tab}: ${t.label}`))));
    if (tabs.some((t) => t.tab === before)) this.tabSelect.value = before;
  }

  private async check(): Promise<void> {
    const tab = this.tabSelect.value;
    if (tab === "") return;
    this.checked = undefined;
    this.drawChecks();
    const check = await this.host.mover.check(tab);
    this.checked = { tab, check };
    this.drawChecks();
  }

  private drawChecks(): void {
    const c = this.checked;
    this.checks.replaceChildren(...(c === undefined ? [] : c.check.checks.map((r) => h("li", { testid: `migration-check-${r.requirement}`, "data-ok": String(r.refusal === undefined) }, requirementLine(r)))));
    this.moveButton.disabled = c === undefined || !c.check.ok || c.tab !== this.tabSelect.value;
  }

  private async move(): Promise<void> {
    const c = this.checked;
    if (c === undefined) return;
    this.note = this.workload.selectedOptions[0]?.textContent ?? "";
    this.moveButton.disabled = true;
    this.checked = undefined;
    try {
      await this.host.mover.moveTo(c.tab, this.method.value as MigrationMethod, this.workload.value as MigrationWorkloadId);
    } finally {
      this.drawChecks();
    }
  }

  private drawMove(state: MoveState): void {
    if (state.role === "idle") {
      this.status.textContent = W.idle(this.host.mover.tabId);
      return;
    }
    this.status.textContent = moveOutcomeLine(state, this.note);
    this.status.dataset["role"] = state.role;
    this.status.dataset["outcome"] = state.outcome?.kind ?? (state.paused ? "paused" : "moving");
    this.roundRows.replaceChildren(...state.rounds.map((r) => h("tr", { testid: "migration-round" }, ...roundCells(r).map((t) => h("td", {}, t)))));
    const report = state.outcome?.kind === "done" ? state.outcome.report : undefined;
    this.summary.textContent = report === undefined ? "" : W.summary(report);
  }

  /** The same-page meter: page keys from each machine's Worker (8 bytes a page, not the RAM). */
  private async measure(): Promise<void> {
    const machines = this.host.machines();
    const keys = (await Promise.all(machines.map((m) => m.samePageKeys().catch(() => undefined)))).filter((k): k is Float64Array => k !== undefined);
    if (keys.length === 0) {
      this.meter.textContent = W.meterIdle;
      this.meterCounts.replaceChildren();
      return;
    }
    const stats = samePageStatsOfKeys(keys);
    const [line, ...counts] = samePageLines(stats);
    this.meter.textContent = line ?? "";
    this.meter.dataset["machines"] = String(stats.machines);
    this.meter.dataset["across"] = String(stats.duplicateAcross);
    this.meterCounts.replaceChildren(...counts.map((t) => h("li", {}, t)));
  }
}
