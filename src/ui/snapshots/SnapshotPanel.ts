/**
 * Snapshots of the running machine: save (button or Alt+Shift+S), the list for this machine
 * with a preview, restore, rename, delete (asks first), export to a file, import from a file
 * (picker, or dropped on the page). A snapshot for other hardware is refused with the fields
 * that differ, and a matching machine is offered when one can be made.
 */
import { AppError, CLASSIFY_BYTES, classifyFile, isAppError, savedOnOtherGuestBuild, snapshotDifferences, v86StateRefusal, type SnapshotChunks, type SnapshotRecord, type SnapshotStore } from "../../core/index.ts";
import { inlineConfirm } from "../kit/confirm.ts";
import { actionButton, h } from "../kit/dom.ts";
import { download, fileStem } from "../kit/download.ts";
import { inlineRename } from "../kit/rename.ts";
import { formatBytes } from "../storage/guests.ts";

export interface SnapshotHost {
  readonly store: SnapshotStore;
  /** The machine the page runs: snapshots are listed per machine. */
  machineId(): string;
  /** Save the running machine under `name`; progress while the file is stored. */
  save(name: string, onProgress: (saved: number, total: number) => void): Promise<SnapshotRecord>;
  /** Check a snapshot file (checksums, versions) and store it for this machine. */
  import(file: Uint8Array, name: string): Promise<SnapshotRecord>;
  /** Restore onto the running machine (refuses a snapshot of other hardware). */
  restore(file: SnapshotChunks): Promise<void>;
  /** A new saved machine that fits the snapshot, booted from it; throws with the reason when none can be made. */
  restoreOnMatchingMachine(file: Uint8Array): Promise<void>;
  report(error: unknown): void;
}

/** The default name: date and time, to the minute. */
export function defaultSnapshotName(now: Date): string {
  const pad = (n: number): string => String(n).padStart(2, "0");
  return `Snapshot ${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())} ${pad(now.getHours())}:${pad(now.getMinutes())}`;
}

export class SnapshotPanel {
  private readonly list = h("ul", { testid: "snapshot-list", className: "rows" });
  private readonly progress = h("p", { testid: "snapshot-progress", className: "muted", "aria-live": "polite" });
  private readonly mismatch = h("div", { testid: "snapshot-mismatch", className: "lock-banner", hidden: true });
  private readonly nameInput = h("input", { type: "text", testid: "snapshot-name", placeholder: "Name (default: date and time)", "aria-label": "Snapshot name" });
  private readonly fileInput = h("input", { type: "file", testid: "snapshot-file", accept: ".vlsnap,application/octet-stream", className: "visually-hidden", tabIndex: -1, "aria-label": "Snapshot file to import" });
  private busy = false;
  private listsAsked = 0;

  constructor(
    container: HTMLElement,
    private readonly host: SnapshotHost,
  ) {
    const save = actionButton("Save snapshot", "snapshot-save", async () => void (await this.save()), host.report, "Save the whole machine: memory, devices and disks (Alt+Shift+S)");
    // Enter in the name saves, as in a form (before: nothing happened).
    this.nameInput.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || event.isComposing) return;
      event.preventDefault();
      save.click();
    });
    const importButton = actionButton("Import…", "snapshot-import", () => this.fileInput.click(), host.report, "Add a snapshot file (.vlsnap) exported from virtlab");
    this.fileInput.addEventListener("change", () => {
      const file = this.fileInput.files?.[0];
      this.fileInput.value = "";
      if (file !== undefined) void this.importFile(file);
    });
    container.append(
      h("h2", {}, "Snapshots"),
      h("p", { className: "muted" }, "A snapshot keeps the whole machine (memory, devices and what the guest wrote to its disks) from one instant. Restore it later, or export it and import it in another browser. Alt+Shift+S saves one."),
      h("div", { className: "row-actions" }, this.nameInput, save, importButton, this.fileInput),
      this.progress,
      this.mismatch,
      this.list,
    );
  }

  /**
   * A file dropped on the page goes where its bytes say (core `classifyFile`): a snapshot is
   * imported here, a plain v86 state is refused with the reason; true when it was taken. Images
   * (and files of no known kind, which the library refuses with its words) are left to the library.
   */
  async claimDrop(file: File): Promise<boolean> {
    const head = new Uint8Array(await file.slice(0, CLASSIFY_BYTES).arrayBuffer());
    const found = classifyFile(head, file.size, file.name);
    if (found.kind === "snapshot") await this.importFile(file);
    else if (found.kind === "v86-state") {
      this.say(`${file.name} was not imported.`, "failed");
      this.host.report(v86StateRefusal(file.name, found.compressed));
    }
    return found.kind === "snapshot" || found.kind === "v86-state";
  }

  /** List the current machine's snapshots. Of lists asked for one after another (the machine changed meanwhile), only the last is shown. */
  async refresh(): Promise<void> {
    const asked = ++this.listsAsked;
    let records: SnapshotRecord[] = [];
    try {
      records = await this.host.store.list(this.host.machineId());
    } catch (error) {
      this.host.report(error);
    }
    if (asked !== this.listsAsked) return;
    this.list.replaceChildren(...records.map((r) => this.row(r)));
    if (records.length === 0) this.list.append(h("li", { className: "muted" }, "No snapshots of this machine yet."));
  }

  /** Save under `name` (a lesson's), else the name typed in, else the date and time. */
  async save(name = this.nameInput.value.trim() || defaultSnapshotName(new Date())): Promise<SnapshotRecord | undefined> {
    if (this.busy) return undefined;
    this.busy = true;
    this.say(`Saving "${name}"…`, "saving");
    try {
      const record = await this.host.save(name, (saved, total) => this.say(`Saving "${name}": ${formatBytes(saved)} of ${formatBytes(total)}`, "saving"));
      this.nameInput.value = "";
      this.say(`Saved "${record.name}" (${formatBytes(record.size)}).`, "done");
      return record;
    } catch (error) {
      this.say(`"${name}" was not saved. Earlier snapshots are unchanged.`, "failed");
      throw error;
    } finally {
      this.busy = false;
      await this.refresh();
    }
  }

  async importFile(file: File): Promise<void> {
    this.say(`Checking ${file.name}…`, "importing");
    try {
      const bytes = new Uint8Array(await file.arrayBuffer());
      const found = classifyFile(bytes.subarray(0, CLASSIFY_BYTES), bytes.length, file.name);
      if (found.kind === "v86-state") throw v86StateRefusal(file.name, found.compressed);
      const record = await this.host.import(bytes, file.name);
      this.say(`Imported "${record.name}" (${formatBytes(record.size)}).`, "done");
    } catch (error) {
      this.say(`${file.name} was not imported.`, "failed");
      this.host.report(error);
    }
    await this.refresh();
  }

  private say(text: string, state: string): void {
    this.progress.textContent = text;
    this.progress.dataset["state"] = state;
  }

  /** Restore the newest snapshot of this machine with that name (lessons name theirs). */
  async restoreByName(name: string): Promise<SnapshotRecord> {
    const record = (await this.host.store.list(this.host.machineId())).find((r) => r.name === name);
    if (record === undefined) throw new AppError("lesson-failed", `This machine has no snapshot named "${name}": save one first (the lesson's earlier step does).`);
    await this.restore(record);
    return record;
  }

  private async restore(record: SnapshotRecord): Promise<void> {
    this.mismatch.hidden = true;
    this.say(`Restoring "${record.name}"…`, "restoring");
    try {
      // Read a chunk at a time as it is restored: a big disk's snapshot is never in memory whole.
      await this.host.restore(await this.host.store.open(record.id));
      this.say(`Restored "${record.name}".`, "done");
    } catch (error) {
      this.say(`"${record.name}" was not restored.`, "failed");
      if (isAppError(error) && error.code === "snapshot-mismatch") this.showMismatch(error, record);
      throw error;
    }
  }

  private showMismatch(error: AppError, record: SnapshotRecord): void {
    const differences = snapshotDifferences(error);
    const create = actionButton(
      "Create a matching machine and restore there",
      "snapshot-create-matching",
      async () => {
        this.mismatch.hidden = true;
        this.say("Creating a matching machine…", "restoring");
        await this.host.restoreOnMatchingMachine(await this.host.store.readFile(record.id));
        this.say("Restored on a new machine that matches the snapshot.", "done");
        await this.refresh();
      },
      (e) => {
        this.say("No matching machine could be made.", "failed");
        this.host.report(e);
      },
    );
    // Another build of the built-in guest fits no machine here: there is nothing to create.
    const otherBuild = savedOnOtherGuestBuild(error);
    this.mismatch.replaceChildren(
      h("p", {}, otherBuild ? "This snapshot was saved with another build of the built-in guest (virtlab was updated since). What differs:" : "This snapshot was saved on different hardware. What differs:"),
      h("ul", { testid: "snapshot-differences" }, ...differences.map((d) => h("li", {}, d))),
      ...(otherBuild ? [] : [create]),
    );
    this.mismatch.hidden = false;
  }

  private row(record: SnapshotRecord): HTMLLIElement {
    const li = h("li", { testid: "snapshot-row", "data-snapshot-id": record.id });
    const name = h("span", { className: "name", testid: "snapshot-row-name" }, record.name);
    const meta = h("span", { className: "muted" }, ` · ${formatBytes(record.size)} · ${new Date(record.createdAt).toLocaleString()}`);
    const actions = h("span", { className: "row-actions" });
    const restore = actionButton("Restore", "snapshot-restore", () => this.restore(record), this.host.report, "Put the machine back to this snapshot (what it does now is lost)");
    const rename = actionButton("Rename", "snapshot-rename", () => this.renameForm(li, record), this.host.report);
    const exportButton = actionButton("Export", "snapshot-export", () => this.export(record), this.host.report, "Download this snapshot as one file (.vlsnap)");
    const remove = actionButton("Delete…", "snapshot-delete", () => this.confirmDelete(li, record), this.host.report);
    actions.append(restore, rename, exportButton, remove);
    li.append(name, meta, actions);
    if (record.preview.trim() !== "") li.append(h("pre", { className: "snapshot-preview", testid: "snapshot-preview" }, record.preview));
    return li;
  }

  private renameForm(li: HTMLLIElement, record: SnapshotRecord): void {
    const rename = inlineRename({
      testid: "snapshot-rename",
      value: record.name,
      onSave: async (name) => {
        await this.host.store.rename(record.id, name);
        await this.refresh();
      },
      onCancel: () => this.refresh(),
      report: this.host.report,
    });
    li.append(h("div", {}, ...rename.nodes));
    rename.focus();
  }

  private confirmDelete(li: HTMLLIElement, record: SnapshotRecord): void {
    const ask = inlineConfirm({
      testid: "snapshot-delete",
      question: `Delete "${record.name}"? It cannot be brought back (export it first to keep a copy).`,
      confirm: "Delete",
      cancel: "Keep it",
      block: true,
      onConfirm: async () => {
        await this.host.store.delete(record.id);
        await this.refresh();
      },
      onCancel: () => this.refresh(),
      report: this.host.report,
    });
    li.append(h("div", { className: "lock-banner" }, ...ask));
  }

  private async export(record: SnapshotRecord): Promise<void> {
    // Piece by piece into the Blob: a big disk's snapshot is never in the page's memory whole.
    let file = new Blob([], { type: "application/octet-stream" });
    for await (const piece of this.host.store.pieces(record.id)) file = new Blob([file, piece as BlobPart], { type: file.type });
    download(file, `${fileStem(record.name, "snapshot")}.vlsnap`);
    this.say(`Exported "${record.name}" (${formatBytes(file.size)}): see your downloads.`, "done");
  }
}

