/**
 * The machine's controls: the action bar's buttons, the page's Alt+Shift shortcuts and the help
 * overlay listing them. Every action runs through `run` here, with the error reported once.
 */
import { IDLE_STATUS, type MachineStatus } from "../core/index.ts";
import { ACTIONS, type Action, type ActionContext } from "./actions.ts";
import { CLIPBOARD_KEYS, formatShortcut, matchShortcut } from "./comfort/shortcuts.ts";

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`The page is missing #${id}.`);
  return el as T;
}

export interface ControlsHost {
  context(): ActionContext;
  /** The status as the user sees it now. */
  status(): MachineStatus;
  report(error: unknown): void;
  /** After an action: draw the page again. */
  changed(): void;
  focusTerminal(): void;
}

export class Controls {
  private readonly buttons = new Map<string, HTMLButtonElement>();

  constructor(private readonly host: ControlsHost) {
    const nav = byId("actions");
    for (const action of ACTIONS) {
      if (action.inBar === false) continue;
      const button = document.createElement("button");
      button.type = "button";
      button.dataset["action"] = action.id;
      button.title = action.shortcut === undefined ? action.title : `${action.title} (${formatShortcut(action.shortcut)})`;
      button.addEventListener("click", () => void this.run(action));
      nav.append(button);
      this.buttons.set(action.id, button);
    }
    // Capture phase: the page's keys are taken before xterm would send them to the guest.
    window.addEventListener(
      "keydown",
      (event) => {
        const action = matchShortcut(event, ACTIONS);
        if (action === undefined) return;
        event.preventDefault();
        event.stopPropagation();
        if (event.repeat || !action.enabled(this.host.status(), this.host.context())) return;
        void this.run(action);
      },
      { capture: true },
    );
    this.installHelp();
  }

  /** Labels and enabled state follow the status. */
  render(status: MachineStatus): void {
    const ctx = this.host.context();
    for (const action of ACTIONS) {
      const button = this.buttons.get(action.id);
      if (button === undefined) continue;
      button.textContent = action.label(status, ctx);
      button.disabled = !action.enabled(status, ctx);
    }
  }

  async run(action: Action): Promise<void> {
    try {
      await action.run(this.host.context());
    } catch (error) {
      this.host.report(error);
    }
    this.host.changed();
  }

  private installHelp(): void {
    const help = byId<HTMLDialogElement>("help");
    help.addEventListener("close", () => this.host.focusTerminal());
    // Esc closes it wherever the focus is inside (a dialog's own Esc handling can be withheld).
    help.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        help.close();
      }
    });
    const ctx = this.host.context();
    const rows = [
      ...ACTIONS.filter((a) => a.shortcut !== undefined).map((a) => [formatShortcut(a.shortcut ?? ""), a.label(IDLE_STATUS, ctx).replace(/^\?$/, "This help"), a.title] as const),
      ...CLIPBOARD_KEYS.map(([keys, what]) => [keys, what, ""] as const),
    ];
    const table = document.createElement("table");
    for (const [keys, label, title] of rows) {
      const tr = table.insertRow();
      const key = document.createElement("kbd");
      key.textContent = keys;
      tr.insertCell().append(key);
      tr.insertCell().textContent = label;
      tr.insertCell().textContent = title;
    }
    byId("help-keys").replaceChildren(table);
  }
}
