/** What the page's views and flows may ask of the composition root (app.ts). */
import type { DeviceProfile, MachineRecord, MachineSession, NetworkLab, SnapshotStore, StartOutcome, StartRequest } from "../core/index.ts";
import type { StorageController } from "./storage/StorageController.ts";

export interface Shell {
  readonly session: MachineSession;
  readonly storage: StorageController;
  readonly snapshots: SnapshotStore;
  /** The saved machine the page runs, and the hardware it runs with (a link may change it). */
  readonly current: MachineRecord;
  readonly profile: DeviceProfile;
  /** (Re)start the page's machine. */
  start(request?: StartRequest): Promise<void>;
  /** New hardware means a new machine: a running state cannot move to other devices. How the start ended (undefined: storage could not be read). */
  restartWith(profile: DeviceProfile): Promise<StartOutcome | undefined>;
  /** Make `record` the page's machine (remembered for the next visit) and start it. */
  selectMachine(record: MachineRecord, request?: StartRequest): Promise<void>;
  /** A session like the page's for a machine that keeps nothing (session/scratch.ts). */
  scratchSession(): MachineSession;
  /** The network lab's machines and network, made on first use. */
  networkLab(): NetworkLab;
  /** Where the built-in guest's files are served. */
  readonly guestBase: string;
  report(error: unknown): void;
  notice(text: string): void;
}
