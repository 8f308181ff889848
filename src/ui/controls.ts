/**
 * The machine's controls: the action bar's buttons, the page's Alt+Shift shortcuts and the help
 * overlay listing them, all from the action registry through one `ActionDispatcher`.
 */
import { IDLE_STATUS, type MachineStatus } from "../core/index.ts";
import type { ActionContext } from "./actions.ts";
import { ActionDispatcher } from "./actionDispatcher.ts";
import { CLIPBOARD_KEYS } from "./comfort/shortcuts.ts";
import { byId } from "./panels.ts";

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
  private readonly dispatcher: ActionDispatcher;

  constructor(private readonly host: ControlsHost) {
    this.dispatcher = new ActionDispatcher({ context: () => host.context(), status: () => host.status(), report: (error) => host.report(error), ran: () => host.changed() });
    this.dispatcher.renderBar(byId("actions"));
    this.installHelp();
  }

  /** Labels and enabled state follow the status, in the bar and in the help while it is shown. */
  render(status: MachineStatus): void {
    this.dispatcher.refresh(status);
    if (byId<HTMLDialogElement>("help").open) this.fillHelp(status);
  }

  /** Run the action with this id, as its button would. */
  dispatch(id: string): Promise<void> {
    return this.dispatcher.dispatch(id);
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
    this.fillHelp(IDLE_STATUS);
  }

  /**
   * The help's rows name each action as its button does now ("Pause" while the guest runs, the
   * theme it switches to): opening the help redraws the page, which fills them again. (Filled
   * once at the start, it said "Resume" and "Dark theme" whatever the page showed.)
   */
  private fillHelp(status: MachineStatus): void {
    byId("help-keys").replaceChildren(this.dispatcher.helpTable(status, CLIPBOARD_KEYS.map(([keys, what]) => [keys, what, ""] as const)));
  }
}
