/** A machine's disks straight from the stores, for the session in Node and in tests (no lock, no other tab). */
import type { Clock } from "../clock.ts";
import type { DiskSlot } from "../profile.ts";
import type { DiskStore } from "../storage/disk.ts";
import type { ImageStore } from "../storage/images.ts";
import { diskIdFor, openMachineDisks, writableSlots, type MachineRecord, type OpenedDisks } from "../storage/machines.ts";
import type { SessionDisks } from "./session.ts";

/** A machine's disks opened from the stores, as the browser's StorageController does (no lock). */
export class StoreDisks implements SessionDisks {
  private opened: OpenedDisks | undefined;
  constructor(
    private readonly stores: { readonly images: Pick<ImageStore, "get" | "reader">; readonly disks: DiskStore },
    private readonly clock: Clock,
  ) {}

  async prepare(record: MachineRecord): Promise<{ readonly kind: "ready"; readonly disks: OpenedDisks["attached"] }> {
    await this.close();
    this.opened = await openMachineDisks(record, this.stores, { clock: this.clock });
    return { kind: "ready", disks: this.opened.attached };
  }

  disk(slot: DiskSlot) {
    return this.opened?.attached[slot];
  }

  get view(): { readonly slots: readonly DiskSlot[] } {
    return { slots: this.opened === undefined ? [] : (Object.keys(this.opened.attached) as DiskSlot[]).filter((s) => s !== "cdrom") };
  }

  async save(): Promise<void> {
    await Promise.all((this.opened?.overlays ?? []).map((d) => d.flush()));
  }

  async erase(record: MachineRecord): Promise<void> {
    const opened = this.opened;
    this.opened = undefined;
    // Nothing is written back: the pending pages are part of what is dropped.
    for (const disk of opened?.overlays ?? []) disk.dispose();
    for (const slot of writableSlots(record)) await this.stores.disks.drop(diskIdFor(record.id, slot));
  }

  async close(): Promise<void> {
    const opened = this.opened;
    this.opened = undefined;
    if (opened === undefined) return;
    await Promise.all(opened.overlays.map((d) => d.flush().catch(() => undefined)));
    for (const disk of opened.overlays) disk.dispose();
  }
}
