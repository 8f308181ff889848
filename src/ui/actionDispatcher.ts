/**
 * The one way into the action registry for the page: the bar's buttons, the Alt+Shift shortcuts
 * and the help's table all come from `ACTIONS` and every run goes through `dispatch` (errors
 * reported, the page redrawn after).
 */
import type { Disposable, MachineStatus } from "../core/index.ts";
import { ACTIONS, type Action, type ActionContext } from "./actions.ts";
import { formatShortcut, matchShortcut, type KeyChord } from "./comfort/shortcuts.ts";
import { h, keepFocusOnClick, listen } from "./kit/dom.ts";

export interface DispatcherHost {
  context(): ActionContext;
  /** The status the actions' labels and enabled states are computed from. */
  status(): MachineStatus;
  report(error: unknown): void;
  /** An action ran (or failed): draw the page again. */
  ran(): void;
}

export type ShortcutDecision = { readonly kind: "not-ours" } | { readonly kind: "swallow" } | { readonly kind: "run"; readonly action: Action };

/**
 * What a key press means: not the page's (it goes to the guest), the page's but not now (a held
 * key's repeat, a disabled action: taken from the guest all the same), or an action to run.
 */
export function decideShortcut(event: KeyChord & { readonly repeat: boolean }, actions: readonly Action[], status: MachineStatus, ctx: ActionContext): ShortcutDecision {
  const action = matchShortcut(event, actions);
  if (action === undefined) return { kind: "not-ours" };
  if (event.repeat || !action.enabled(status, ctx)) return { kind: "swallow" };
  return { kind: "run", action };
}

/** The help's rows: shortcut, what it does, and the longer words. */
export function shortcutRows(actions: readonly Action[], status: MachineStatus, ctx: ActionContext): (readonly [string, string, string])[] {
  return actions.filter((a) => a.shortcut !== undefined).map((a) => [formatShortcut(a.shortcut ?? ""), a.label(status, ctx).replace(/^\?$/, "This help"), a.title] as const);
}

export class ActionDispatcher implements Disposable {
  private readonly buttons = new Map<string, HTMLButtonElement>();
  private readonly keys: Disposable;

  constructor(
    private readonly host: DispatcherHost,
    private readonly actions: readonly Action[] = ACTIONS,
  ) {
    // Capture phase: the page's keys are taken before xterm would send them to the guest.
    this.keys = listen<KeyboardEvent>(
      window,
      "keydown",
      (event) => {
        const decision = decideShortcut(event, this.actions, this.host.status(), this.host.context());
        if (decision.kind === "not-ours") return;
        event.preventDefault();
        event.stopPropagation();
        if (decision.kind === "run") void this.run(decision.action);
      },
      { capture: true },
    );
  }

  /** Run the action with this id (a panel's button, a test), as its bar button would. */
  dispatch(id: string): Promise<void> {
    const action = this.actions.find((a) => a.id === id);
    if (action === undefined) return Promise.reject(new Error(`No action "${id}".`));
    return this.run(action);
  }

  /** One button per action in the bar (not those reached by shortcut only). */
  renderBar(nav: HTMLElement): void {
    for (const action of this.actions) {
      if (action.inBar === false) continue;
      const title = action.shortcut === undefined ? action.title : `${action.title} (${formatShortcut(action.shortcut)})`;
      const button = h("button", { type: "button", "data-action": action.id, title, onClick: () => void this.run(action), onMousedown: keepFocusOnClick });
      nav.append(button);
      this.buttons.set(action.id, button);
    }
  }

  /** The buttons' words and enabled states for this status. */
  refresh(status: MachineStatus): void {
    const ctx = this.host.context();
    for (const action of this.actions) {
      const button = this.buttons.get(action.id);
      if (button === undefined) continue;
      button.textContent = action.label(status, ctx);
      button.disabled = !action.enabled(status, ctx);
    }
  }

  /** The help's table of shortcuts (with `extra` rows, e.g. the terminal's clipboard keys). */
  helpTable(status: MachineStatus, extra: readonly (readonly [string, string, string])[]): HTMLTableElement {
    const table = h("table");
    for (const [keys, label, title] of [...shortcutRows(this.actions, status, this.host.context()), ...extra]) {
      const tr = table.insertRow();
      tr.insertCell().append(h("kbd", {}, keys));
      tr.insertCell().textContent = label;
      tr.insertCell().textContent = title;
    }
    return table;
  }

  dispose(): void {
    this.keys.dispose();
    for (const button of this.buttons.values()) button.remove();
    this.buttons.clear();
  }

  private async run(action: Action): Promise<void> {
    try {
      await action.run(this.host.context());
    } catch (error) {
      this.host.report(error);
    }
    this.host.ran();
  }
}
