/**
 * The page's side of moving a machine between tabs (issue 15): core's TabMover over a
 * BroadcastChannel, given this page's machine, its disks and their Web Lock, and the panel that
 * shows it. The composition root calls this once.
 */
import { TabMover, type ChannelLike, type Machine, type MachineSession, type MachineRecord, type MoveState, type NetworkLab } from "../../core/index.ts";
import { DATABASES, type StorageController } from "../storage/StorageController.ts";
import { handedOverLine } from "../messages.ts";
import { MigrationPanel } from "./MigrationPanel.ts";
import { pageClock } from "../pageClock.ts";

export interface MigrationShell {
  readonly session: MachineSession;
  readonly storage: StorageController;
  readonly current: MachineRecord;
  readonly lab: NetworkLab | undefined;
  start(): Promise<void>;
  report(error: unknown): void;
}

/** The channel the virtlab tabs of this origin find each other on. */
export const MIGRATION_TABS_CHANNEL = "virtlab-migration-tabs";

/** The terminal as a move needs it: a line for a departure. */
export interface MoveTerminal {
  notice(text: string): void;
}

export function installMigration(shell: MigrationShell, container: HTMLElement | null, terminal: MoveTerminal): TabMover | undefined {
  if (container === null || typeof BroadcastChannel === "undefined") return undefined;
  const machineId = (): string | undefined => (shell.session.machine === undefined ? undefined : shell.current.id);
  const mover: TabMover = new TabMover(
    {
      machine: () => shell.session.machine,
      machineId,
      fingerprint: () => shell.session.fingerprint(),
      diskStore: `indexeddb:${location.origin}/${DATABASES.disks}`,
      // The Web Lock's client id when this tab holds the lock; otherwise a name no lock has.
      lockName: async () => (shell.storage.view.lock === "owner" ? ((await shell.storage.lockHolder(shell.current.id)) ?? `tab ${mover.tabId}`) : `tab ${mover.tabId}`),
      lockHolder: (id) => shell.storage.lockHolder(id),
      releaseDisks: () => shell.storage.releaseForMove(),
      reclaimDisks: () => shell.storage.reclaimAfterMove(),
      takeDisks: () => shell.storage.takeForMove(shell.current),
      handedOver: async () => {
        await shell.storage.handedOver();
        shell.session.halt();
      },
      restart: () => shell.start(),
      arrived: (fromTab, screen) => shell.session.arrived(fromTab, screen),
      label: () => shell.current.name,
      clock: pageClock(),
      wallTime: () => Date.now(),
    },
    // A BroadcastChannel is a ChannelLike; only the DOM typing of its onmessage differs.
    new BroadcastChannel(MIGRATION_TABS_CHANNEL) as unknown as ChannelLike,
  );
  // Where the user looks: the tab a machine left says where it went. (The tab it arrived in starts
  // its terminal afresh through the session's run, at the landing: the arrived hook above.)
  let said = false;
  mover.onChange((state: MoveState) => {
    if (state.role === "idle" || state.outcome === undefined) {
      said = false;
      return;
    }
    if (said || state.outcome.kind !== "done") return;
    said = true;
    if (state.role === "source") terminal.notice(handedOverLine(state.tab));
  });
  new MigrationPanel(container, {
    mover,
    machines: () => {
      const lab = shell.lab;
      const labMachines = lab === undefined ? [] : lab.machines.map((m) => lab.machine(m.name));
      return [shell.session.machine, ...labMachines].filter((m): m is Machine => m !== undefined);
    },
    report: (error) => shell.report(error),
  });
  window.addEventListener("pagehide", () => mover.dispose());
  return mover;
}
