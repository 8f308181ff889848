/**
 * Disk controls of the running machine: the saved indicator, "Reset disk" (two steps), "Export
 * disk", the storage meter and the "open in another tab" banner.
 */
import type { Disposable, DiskSlot, MachineRecord } from "../../core/index.ts";
import { inlineConfirm } from "../kit/confirm.ts";
import { actionButton, h } from "../kit/dom.ts";
import { exportDisk, exportFileName } from "./exportDisk.ts";
import { formatBytes } from "./guests.ts";
import type { DiskView, StorageController } from "./StorageController.ts";

export interface DiskBarHost {
  readonly controller: StorageController;
  current(): MachineRecord;
  /** Stop the machine, drop its overlays, boot it again. */
  resetDisks(): Promise<void>;
  /** Boot the current machine again (after a lock choice). */
  restart(): Promise<void>;
  report(error: unknown): void;
}

export class DiskBar {
  private readonly indicator = h("span", { testid: "disk-state", className: "disk-state", role: "status" });
  private readonly resetBox = h("span", { className: "disk-reset" });
  private readonly exportBox = h("span", { className: "disk-export" });
  private readonly exportNote = h("span", { testid: "disk-export-state", className: "muted" });
  private readonly exportSelect = h("select", { testid: "disk-export-slot", hidden: true, title: "Which disk to export" });
  private readonly exportButton = actionButton("Export disk", "disk-export", () => this.export(this.exportSelect.value as DiskSlot), (error) => this.host.report(error), "Download the disk (image + what the guest wrote) as a raw image");
  private exportSlots: readonly DiskSlot[] = [];
  private exporting = false;
  private readonly meter = h("span", { testid: "storage-meter", className: "storage-meter muted" });
  private readonly banner = h("div", { testid: "lock-banner", className: "lock-banner", role: "alert", hidden: true });
  private confirming = false;
  private persistAsked = false;
  private readonly subscription: Disposable;

  constructor(
    container: HTMLElement,
    private readonly host: DiskBarHost,
  ) {
    this.exportBox.append(this.exportSelect, this.exportButton);
    container.append(this.banner, h("div", { className: "disk-bar" }, h("strong", {}, "Disk: "), this.indicator, this.resetBox, this.exportBox, this.exportNote, this.meter));
    this.subscription = host.controller.onChange((view) => {
      this.render(view);
      if (view.indicator.state === "saving" || view.indicator.state === "unsaved") this.askPersistence();
      if (view.indicator.state === "saved") void this.refreshMeter();
    });
    this.render(host.controller.view);
    void this.refreshMeter();
  }

  /** Stop following the disks (the controller outlives this bar). */
  dispose(): void {
    this.subscription.dispose();
  }

  /** Ask the browser not to evict our data; once, on the first save or import. */
  askPersistence(): void {
    if (this.persistAsked) return;
    this.persistAsked = true;
    void navigator.storage
      ?.persisted?.()
      .then((already) => (already ? true : navigator.storage.persist()))
      .then(() => this.refreshMeter())
      .catch(() => undefined);
  }

  async refreshMeter(): Promise<void> {
    const storage = navigator.storage;
    if (storage?.estimate === undefined) {
      this.meter.textContent = "Storage: this browser gives no estimate.";
      return;
    }
    try {
      const [estimate, persisted] = await Promise.all([storage.estimate(), storage.persisted?.() ?? Promise.resolve(false)]);
      const used = estimate.usage ?? 0;
      const quota = estimate.quota ?? 0;
      this.meter.textContent = `Storage: ${formatBytes(used)} used, ${formatBytes(Math.max(0, quota - used))} available · ${
        persisted ? "persistent" : "not persistent (the browser may evict it when space runs low)"
      }`;
      this.meter.dataset["usage"] = String(used);
      this.meter.dataset["quota"] = String(quota);
    } catch {
      this.meter.textContent = "Storage: the estimate failed.";
    }
  }

  /** Another tab holds the machine: offer read-only or take-over. */
  showBusy(lost: boolean): void {
    this.banner.replaceChildren(
      h(
        "p",
        {},
        lost
          ? "This machine was taken over in another tab. This tab stopped the machine and writes nothing more to its disks."
          : "This machine is open in another tab. Only one tab at a time can write to its disks.",
      ),
      actionButton("Open read-only", "lock-readonly", async () => {
        this.hideBanner();
        this.host.controller.openReadOnly();
        await this.host.restart();
      }, this.host.report, "Run it here too; what the guest writes is kept in memory only"),
      actionButton(lost ? "Take it back" : "Take over", "lock-takeover", async () => {
        this.hideBanner();
        await this.host.controller.takeOver();
        await this.host.restart();
      }, this.host.report, "Use the machine in this tab; the other tab stops writing to it"),
    );
    this.banner.dataset["lost"] = String(lost);
    this.banner.hidden = false;
  }

  /** The other tab let the machine go: it can start here. */
  showFree(): void {
    if (this.banner.hidden) return;
    this.banner.replaceChildren(
      h("p", {}, "The other tab let this machine go: it can run here now."),
      actionButton("Start here", "lock-start", async () => {
        this.hideBanner();
        await this.host.restart();
      }, this.host.report),
    );
    this.banner.dataset["lost"] = "false";
  }

  hideBanner(): void {
    this.banner.hidden = true;
  }

  private render(view: DiskView): void {
    this.indicator.textContent = view.indicator.text;
    this.indicator.dataset["state"] = view.indicator.state;
    const canWrite = view.lock === "owner" && view.slots.length > 0;
    if (!this.confirming) this.renderReset(canWrite, view.slots);
    this.renderExport(view.slots);
  }

  private renderReset(enabled: boolean, slots: readonly DiskSlot[]): void {
    const button = h("button", { type: "button", testid: "disk-reset", disabled: !enabled, title: "Drop everything the guest wrote; the disks return to their images (or blank)" });
    button.textContent = "Reset disk…";
    button.addEventListener("click", () => this.confirmReset(slots));
    this.resetBox.replaceChildren(button);
  }

  private confirmReset(slots: readonly DiskSlot[]): void {
    this.confirming = true;
    const done = (): void => {
      this.confirming = false;
      this.render(this.host.controller.view);
    };
    this.resetBox.replaceChildren(
      ...inlineConfirm({
        testid: "disk-reset",
        question: `Erase everything the guest wrote to ${slots.join(", ")} of “${this.host.current().name}”? This cannot be undone.`,
        confirm: "Yes, erase",
        onConfirm: async () => {
          done();
          await this.host.resetDisks();
        },
        onCancel: done,
        report: this.host.report,
      }),
    );
  }

  /** The slot list changes only with the machine: keep the user's choice (and the button) across the disks' saves. */
  private renderExport(slots: readonly DiskSlot[]): void {
    if (this.exportSlots.join() !== slots.join()) {
      this.exportSlots = slots;
      const chosen = this.exportSelect.value;
      this.exportSelect.replaceChildren(...slots.map((slot) => h("option", { value: slot }, slot)));
      if (slots.includes(chosen as DiskSlot)) this.exportSelect.value = chosen;
      this.exportSelect.hidden = slots.length < 2;
    }
    this.exportButton.disabled = slots.length === 0 || this.exporting;
  }

  private async export(slot: DiskSlot): Promise<void> {
    const disk = this.host.controller.disk(slot);
    if (disk === undefined || this.exporting) return;
    const name = exportFileName(this.host.current().name, slot);
    this.exporting = true;
    this.exportButton.disabled = true;
    this.exportNote.textContent = `Exporting ${name}…`;
    try {
      const path = await exportDisk(disk, name, (done, total) => {
        this.exportNote.textContent = `Exporting ${name}: ${formatBytes(done)} of ${formatBytes(total)}`;
      });
      const exported = `Exported ${name} (${formatBytes(disk.byteLength)})`;
      this.exportNote.textContent = { download: `${exported}: see your downloads.`, "file-picker": `${exported}.`, cancelled: "" }[path];
    } catch (error) {
      this.exportNote.textContent = "";
      throw error;
    } finally {
      this.exporting = false;
      this.render(this.host.controller.view);
    }
  }
}
