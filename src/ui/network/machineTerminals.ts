/**
 * The network lab's terminals: a tab and a terminal per lab machine, one shown at a time. Each
 * terminal follows its machine's session (TerminalView.follow) and sends it the keys typed. Thin: the sessions say what happened; this draws it.
 */
import { labStoppedNotice, type LabMachine } from "../../core/index.ts";
import { h } from "../kit/dom.ts";
import { TerminalView } from "../terminal.ts";

interface MachineView {
  /** The machine's name now (a move may land a machine under the name it had in its tab). */
  name: string;
  readonly session: LabMachine["session"];
  readonly terminal: TerminalView;
  readonly pane: HTMLElement;
  readonly tab: HTMLButtonElement;
  dispose(): void;
}

export class MachineTerminals {
  private readonly views = new Map<string, MachineView>();
  private selected: string | undefined;

  constructor(
    private readonly tabs: HTMLElement,
    private readonly panes: HTMLElement,
  ) {}

  /**
   * A view for each of `machines`, none for a machine gone; `select` shown (a machine just added:
   * its terminal made in a shown box, as xterm measures its font there), else the one shown
   * before, else the first.
   */
  show(machines: readonly LabMachine[], select?: string): void {
    if (select !== undefined) this.selected = select;
    for (const m of machines) this.viewFor(m);
    for (const [name, view] of this.views) {
      if (machines.some((m) => m.name === name)) continue;
      view.dispose();
      this.views.delete(name);
      if (this.selected === name) this.selected = undefined;
    }
    if (select !== undefined) this.select(select);
    else if (this.selected === undefined && machines[0] !== undefined) this.select(machines[0].name);
  }

  select(name: string): void {
    this.selected = name;
    for (const [n, view] of this.views) {
      view.pane.hidden = n !== name;
      view.tab.setAttribute("aria-selected", String(n === name));
      if (n === name) view.terminal.refit();
    }
    this.views.get(name)?.terminal.focus();
  }

  private viewFor(m: LabMachine): MachineView {
    const existing = this.views.get(m.name) ?? this.renamed(m);
    if (existing !== undefined) return existing;
    // Shown at once when it is the one selected (a machine just added).
    const pane = h("div", { className: "network-terminal", role: "tabpanel", testid: `network-terminal-${m.name}`, hidden: this.selected !== m.name });
    this.panes.append(pane);
    const terminal = new TerminalView(pane, () => view.tab);
    const subscriptions = [terminal.follow(m.session, labStoppedNotice), terminal.onInput((data) => m.session.write(data))];
    const tab = h("button", { type: "button", role: "tab", testid: `network-tab-${m.name}`, "aria-selected": String(this.selected === m.name), onClick: () => this.select(view.name) }, m.name);
    this.tabs.append(tab);
    const view: MachineView = {
      name: m.name,
      session: m.session,
      terminal,
      pane,
      tab,
      dispose: () => {
        for (const s of subscriptions) s.dispose();
        terminal.dispose();
        pane.remove();
        tab.remove();
      },
    };
    this.views.set(m.name, view);
    return view;
  }

  /** The view of `m`'s session under another name (renamed when a move landed in it): it goes on under the new one, its screen kept. */
  private renamed(m: LabMachine): MachineView | undefined {
    const [old, view] = [...this.views].find(([, v]) => v.session === m.session) ?? [];
    if (old === undefined || view === undefined) return undefined;
    this.views.delete(old);
    view.name = m.name;
    view.tab.textContent = m.name;
    view.tab.dataset["testid"] = `network-tab-${m.name}`;
    view.pane.dataset["testid"] = `network-terminal-${m.name}`;
    this.views.set(m.name, view);
    if (this.selected === old) this.selected = m.name;
    return view;
  }
}
