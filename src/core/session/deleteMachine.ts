/**
 * Deleting a saved machine. The machine running here gives way first to the built-in machine
 * (as saved: its disk size may have been edited), so its disks are let go before they are
 * deleted; when that switch fails (e.g. its unsaved disk pages could not be written), nothing is
 * deleted. The built-in machine cannot be deleted, and nothing is switched for it.
 */
import { AppError } from "../errors.ts";
import { DEFAULT_MACHINE, DEFAULT_MACHINE_ID, type MachineRecord, type MachineStore } from "../storage/machines.ts";

export interface RunningMachine {
  /** The saved machine running here. */
  readonly id: string;
  /** Make `record` the running machine (the page's selectMachine). */
  switchTo(record: MachineRecord): Promise<void>;
}

export async function deleteMachine(machines: Pick<MachineStore, "get" | "delete">, id: string, running: RunningMachine): Promise<void> {
  if (id === DEFAULT_MACHINE_ID) throw new AppError("bad-profile", "The built-in machine cannot be deleted (its disk can be reset).");
  if (running.id === id) await running.switchTo((await machines.get(DEFAULT_MACHINE_ID)) ?? DEFAULT_MACHINE);
  await machines.delete(id);
}
