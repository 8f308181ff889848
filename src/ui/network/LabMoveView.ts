/**
 * The network lab's move (issue 15, the network requirement): pick a running lab machine and a
 * tab whose lab joined the LAN, check the requirements (shown, the network among them), move it.
 * Thin: core's LabMover decides and moves; this draws and dispatches.
 */
import { LAB_MOVES_CHANNEL, LabMover, type ChannelLike, type MigrationMethod, type MoveCheck, type NetworkLab } from "../../core/index.ts";
import { actionButton, h } from "../kit/dom.ts";
import { LAB_MOVE_WORDS as W, MIGRATION_WORDS, labMoveLine, requirementLine } from "../messages.ts";
import { pageClock } from "../pageClock.ts";

export class LabMoveView {
  private readonly mover: LabMover;
  private readonly machine = h("select", { id: "lab-move-machine", testid: "lab-move-machine" });
  private readonly tab = h("select", { id: "lab-move-tab", testid: "lab-move-tab" });
  private readonly method = h("select", { id: "lab-move-method", testid: "lab-move-method" }, h("option", { value: "pre-copy" }, MIGRATION_WORDS.preCopy), h("option", { value: "stop-and-copy" }, MIGRATION_WORDS.stopAndCopy));
  private readonly checks = h("ul", { className: "migration-checks", testid: "lab-move-checks" });
  private readonly outcome = h("p", { testid: "lab-move-outcome", "aria-live": "polite" });
  private readonly moveButton: HTMLButtonElement;
  private checked: { readonly key: string; readonly check: MoveCheck } | undefined;

  constructor(
    container: HTMLElement,
    private readonly lab: NetworkLab,
    report: (error: unknown) => void,
  ) {
    this.mover = new LabMover(
      { lab: () => lab, label: () => `tab ${lab.tabId}`, clock: pageClock(), wallTime: () => Date.now(), tabId: lab.tabId },
      // A BroadcastChannel is a ChannelLike; only the DOM typing of its onmessage differs.
      new BroadcastChannel(LAB_MOVES_CHANNEL) as unknown as ChannelLike,
    );
    this.mover.tabs.onChange(() => this.refresh());
    this.mover.onChange((state) => {
      if (state.role !== "idle") this.outcome.textContent = labMoveLine(state, this.mover.machineMoving);
    });
    for (const select of [this.machine, this.tab, this.method]) select.addEventListener("change", () => this.drawChecks());
    this.moveButton = actionButton(W.move, "lab-move-go", () => this.move(), report);
    this.moveButton.disabled = true;
    container.replaceChildren(
      h("h3", {}, W.title),
      h("p", { className: "lab-note" }, W.explains),
      h(
        "p",
        { className: "lab-run" },
        h("label", { htmlFor: "lab-move-machine" }, `${W.machine} `),
        this.machine,
        h("label", { htmlFor: "lab-move-tab" }, ` ${W.toTab} `),
        this.tab,
        h("label", { htmlFor: "lab-move-method" }, ` ${MIGRATION_WORDS.method} `),
        this.method,
        " ",
        actionButton(W.check, "lab-move-check", () => this.check(), report),
        " ",
        this.moveButton,
      ),
      this.checks,
      this.outcome,
    );
    window.addEventListener("pagehide", () => this.mover.dispose());
    this.refresh();
  }

  /** The machines and tabs to choose from (kept while the user's choice is still there). */
  refresh(): void {
    const fill = (select: HTMLSelectElement, values: readonly { value: string; label: string }[], none: string): void => {
      if (select === document.activeElement) return;
      const chosen = select.value;
      select.replaceChildren(...(values.length === 0 ? [h("option", { value: "" }, none)] : values.map((v) => h("option", { value: v.value, selected: v.value === chosen }, v.label))));
    };
    fill(
      this.machine,
      this.lab.machines.filter((m) => m.state === "running").map((m) => ({ value: m.name, label: m.name })),
      W.noMachines,
    );
    fill(
      this.tab,
      this.mover.tabs.tabs().filter((t) => t.canReceive).map((t) => ({ value: t.tab, label: t.label })),
      W.noTabs,
    );
    this.drawChecks();
  }

  private key(): string {
    return `${this.machine.value}→${this.tab.value}`;
  }

  private async check(): Promise<void> {
    this.checked = undefined;
    this.drawChecks();
    if (this.machine.value === "" || this.tab.value === "") return;
    const key = this.key();
    this.checked = { key, check: await this.mover.check(this.tab.value, this.machine.value) };
    this.drawChecks();
  }

  private drawChecks(): void {
    const c = this.checked?.key === this.key() ? this.checked.check : undefined;
    this.checks.replaceChildren(...(c === undefined ? [] : c.checks.map((r) => h("li", { testid: `lab-move-check-${r.requirement}`, "data-ok": String(r.refusal === undefined) }, requirementLine(r)))));
    this.moveButton.disabled = c?.ok !== true;
  }

  private async move(): Promise<void> {
    const c = this.checked;
    if (c === undefined || c.key !== this.key()) return;
    this.checked = undefined;
    this.drawChecks();
    await this.mover.moveTo(this.tab.value, this.machine.value, this.method.value as MigrationMethod);
    this.refresh();
  }
}
