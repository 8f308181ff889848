/**
 * The page's snapshot panel and snapshot links, wired to the session: saving captures through
 * it, restoring is a start request ({kind: "snapshot"}), and checks (emulator version, hardware,
 * a matching machine) are the core's.
 */
import {
  openSnapshot,
  notForThisEmulator,
  readSnapshotHeader,
  type MachineRecord,
  type SnapshotHeader,
  type SnapshotRecord,
} from "../../core/index.ts";
import type { Shell } from "../shell.ts";
import { browserEstimate } from "../storage/StorageController.ts";
import { SnapshotLinkFlow } from "./SnapshotLinkFlow.ts";
import { SnapshotPanel } from "./SnapshotPanel.ts";

/** Written into snapshots (the header's "app"). */
const APP_VERSION = "0.1.0";

export interface SnapshotFlowsHost {
  /** The terminal's last lines, as the snapshot's preview. */
  preview(): string;
  /** Ask the browser to keep this site's storage (before the first thing is stored). */
  askPersistence(): void;
  /** The machines panel lists machines again. */
  machinesChanged(): Promise<void>;
}

export class SnapshotFlows {
  readonly panel: SnapshotPanel | undefined;
  readonly link: SnapshotLinkFlow;

  constructor(
    private readonly shell: Shell,
    private readonly host: SnapshotFlowsHost,
    containers: { readonly panel: HTMLElement | null; readonly link: HTMLElement },
  ) {
    const report = (error: unknown): void => shell.report(error);
    this.panel =
      containers.panel === null
        ? undefined
        : new SnapshotPanel(containers.panel, {
            store: shell.snapshots,
            machineId: () => shell.current.id,
            save: (name, onProgress) => this.save(name, onProgress),
            import: (file, fileName) => this.import(file, fileName),
            restore: (file) => shell.start({ kind: "snapshot", file }),
            restoreOnMatchingMachine: (file) => this.restoreOnMatchingMachine(file),
            report,
          });
    // Listed once storage has said which machine the page runs (Panels.storageReady), not before.
    this.link = new SnapshotLinkFlow(containers.link, {
      store: shell.snapshots,
      estimate: browserEstimate,
      refuse: (header) => notForThisEmulator(header.v86, header.stateVersion),
      check: async (file) => void (await this.check(file)),
      matchingMachine: (header, name) => this.matchingMachine(header, name),
      // A storage read that fails says so (the link flow reports it), never "no such machine".
      machine: (id) => shell.storage.stores.machines.get(id),
      saveMachine: async (record) => {
        const saved = await shell.storage.stores.machines.save(record, await shell.storage.stores.images.list());
        await host.machinesChanged();
        return saved;
      },
      openOn: async (record, file) => {
        await shell.selectMachine(record, { kind: "snapshot", file });
      },
      running: () => shell.session.machine,
      report,
    });
  }

  private async save(name: string, onProgress: (saved: number, total: number) => void): Promise<SnapshotRecord> {
    this.host.askPersistence();
    const meta = { name, app: `virtlab ${APP_VERSION}`, preview: this.host.preview(), createdAt: Date.now() };
    return this.shell.snapshots.saveEncoded(this.shell.current.id, (put) => this.shell.session.captureTo(meta, put), onProgress);
  }

  /**
   * Check a snapshot file (every checksum, its state, the emulator version) before keeping it. Its
   * disks' pages are unpacked only when it is restored (a big disk's are never in memory at once).
   */
  private async check(file: Uint8Array): Promise<SnapshotHeader> {
    const { header } = await openSnapshot(file);
    const refusal = notForThisEmulator(header.v86, header.stateVersion);
    if (refusal !== undefined) throw refusal;
    this.host.askPersistence();
    return header;
  }

  private async import(file: Uint8Array, fileName: string): Promise<SnapshotRecord> {
    const header = await this.check(file);
    const record = await this.shell.snapshots.save(this.shell.current.id, [file]);
    return header.name.trim() === "" ? this.shell.snapshots.rename(record.id, fileName) : record;
  }

  private matchingMachine(header: SnapshotHeader, name: string): Promise<MachineRecord> {
    return this.shell.session.matchingMachine(header, this.shell.storage.stores.machines.draft(name));
  }

  /** A new saved machine that fits the snapshot, started from it. */
  private async restoreOnMatchingMachine(file: Uint8Array): Promise<void> {
    const { header } = readSnapshotHeader(file);
    const stores = this.shell.storage.stores;
    const record = await stores.machines.save(await this.matchingMachine(header, `For "${header.name}"`), await stores.images.list());
    await this.host.machinesChanged();
    await this.shell.snapshots.save(record.id, [file]);
    await this.shell.selectMachine(record, { kind: "snapshot", file });
  }

  /** The list follows the page's machine. */
  refresh(): Promise<void> {
    return this.panel?.refresh() ?? Promise.resolve();
  }

}
