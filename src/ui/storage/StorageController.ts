/**
 * The page's side of storage for the machine it runs: the stores, the machine's Web Lock, its
 * opened disks (overlays), flushing, reset and export. Panels and the App call this; it holds no
 * DOM.
 */
import {
  AppError,
  DiskStore,
  Emitter,
  ImageStore,
  MachineStore,
  diskIdFor,
  writableSlots,
  openDiskDatabase,
  openIndexedDbStore,
  openMachineDisks,
  type AttachedDisks,
  type DiskSlot,
  type MachineRecord,
  type OpenedDisks,
  type OverlayDisk,
  type StorageEstimate,
} from "../../core/index.ts";
import { diskIndicator, type DiskIndicator } from "./diskStatus.ts";
import { IMAGE_IMPORT_LOCK, MachineLock, ifExclusiveAvailable, machineLockHolder, type LockManagerLike } from "./MachineLock.ts";
import { pageClock } from "../pageClock.ts";

export interface Stores {
  readonly images: ImageStore;
  readonly disks: DiskStore;
  readonly machines: MachineStore;
}

/** One IndexedDB database per store (idb-keyval creates a store only with its database). */
export const DATABASES = { images: "virtlab-images", disks: "virtlab-disks", machines: "virtlab-machines" } as const;

export function browserEstimate(): Promise<StorageEstimate | undefined> {
  if (navigator.storage?.estimate === undefined) return Promise.resolve(undefined);
  return navigator.storage.estimate().then(
    (e) => (e.quota === undefined || e.usage === undefined ? undefined : { usage: e.usage, quota: e.quota }),
    () => undefined,
  );
}

export function openBrowserStores(): Stores {
  const images = new ImageStore(openIndexedDbStore(DATABASES.images, "kv"), { now: () => Date.now(), estimate: browserEstimate });
  const disks = new DiskStore(openDiskDatabase(DATABASES.disks));
  const machines = new MachineStore(openIndexedDbStore(DATABASES.machines, "kv"), disks, () => Date.now());
  return { images, disks, machines };
}

export function browserLocks(): LockManagerLike | undefined {
  return (navigator as { locks?: LockManagerLike }).locks;
}

export type Prepared = { readonly kind: "ready"; readonly disks: AttachedDisks } | { readonly kind: "busy" };

export interface DiskView {
  readonly indicator: { readonly state: DiskIndicator; readonly text: string };
  readonly lock: "none" | "owner" | "busy" | "lost" | "read-only";
  /** Writable disks of the running machine (reset and export apply to these). */
  readonly slots: readonly DiskSlot[];
}

export class StorageController {
  private lock: MachineLock | undefined;
  private opened: OpenedDisks | undefined;
  private readOnly = false;
  /** The disks are another tab's now: taken over (this tab writes nothing more), or handed over with a move (every page written first). */
  private gone: "taken-over" | "handed-over" | undefined;
  private readonly changeEmitter = new Emitter<DiskView>();
  private readonly lostEmitter = new Emitter<void>();
  /** The indicator or the lock changed. */
  readonly onChange = this.changeEmitter.event;
  /** Another tab took the running machine over: the App stops it. */
  readonly onLost = this.lostEmitter.event;

  constructor(
    readonly stores: Stores,
    private readonly locks: LockManagerLike | undefined,
  ) {}

  /** Remove what interrupted imports and drops left behind; skipped while another tab imports. */
  async collectGarbage(): Promise<void> {
    await ifExclusiveAvailable(this.locks, IMAGE_IMPORT_LOCK, () => this.stores.images.collectGarbage());
    await this.stores.disks.collectGarbage();
  }

  /** Take the machine's lock and open its disks; "busy" when another tab has the machine. */
  async prepare(record: MachineRecord): Promise<Prepared> {
    await this.close();
    if (this.lock?.machineId !== record.id) {
      this.lock?.dispose();
      this.readOnly = false;
      this.gone = undefined;
      const lock = new MachineLock(this.locks, record.id);
      lock.onLost(() => {
        this.gone = "taken-over";
        this.lostEmitter.fire();
        // The App disposes the machine; the overlays stop writing back here in any case.
        void this.close(false);
      });
      this.lock = lock;
    }
    if (!this.readOnly && this.lock.state !== "owner") {
      if ((await this.lock.acquire()) === "busy") {
        this.emit();
        return { kind: "busy" };
      }
      this.gone = undefined;
    }
    this.opened = await openMachineDisks(record, this.stores, { clock: pageClock(), readOnly: this.readOnly });
    for (const disk of this.writable()) disk.onSaveState(() => this.emit());
    this.emit();
    return { kind: "ready", disks: this.opened.attached };
  }

  /** After "busy" or a take-over: whether the other tab lets the machine go (see MachineLock.whenFree). */
  whenMachineFree(): Promise<boolean> {
    return this.lock?.whenFree() ?? Promise.resolve(false);
  }

  /** Run the machine without writing its disks back (another tab owns them). */
  openReadOnly(): void {
    this.lock?.release();
    this.readOnly = true;
    this.gone = undefined;
  }

  /** Take the machine from the other tab. */
  async takeOver(): Promise<void> {
    this.readOnly = false;
    this.gone = undefined;
    await this.lock?.takeOver();
  }

  /**
   * Stop using the disks: write back what is pending (unless `flushFirst` is false: after a
   * take-over this tab must not write any more), then let them go.
   */
  async close(flushFirst = true): Promise<void> {
    const opened = this.opened;
    this.opened = undefined;
    if (opened === undefined) return;
    if (flushFirst && this.gone === undefined) await Promise.all(opened.overlays.map((d) => d.flush().catch(() => undefined)));
    for (const disk of opened.overlays) disk.dispose();
    this.emit();
  }

  /** Write every pending change now; rejects (the pages stay in memory) when storage refused them. */
  async save(): Promise<void> {
    if (this.gone !== undefined) return;
    await Promise.all((this.opened?.overlays ?? []).map((d) => d.flush()));
  }

  /** Write every pending change now (pagehide, tab hidden). */
  flush(): Promise<void> {
    return Promise.all((this.opened?.overlays ?? []).map((d) => d.flush().catch(() => undefined))).then(() => undefined);
  }

  // --- migration (issue 15): the lock goes with a machine that moves to another tab ---
  /** Who holds `machineId`'s lock now (a tab's Web Lock client id). */
  lockHolder(machineId: string): Promise<string | undefined> {
    return machineLockHolder(this.locks, machineId);
  }

  /** A move's source, its guest paused: write every pending page, then let the lock go (the disks stay open for a failed move). */
  async releaseForMove(): Promise<void> {
    await this.save();
    this.lock?.release();
    this.emit();
  }

  /** The move failed before the target ran the machine: take the lock back, or fail if the target took it. */
  async reclaimAfterMove(): Promise<void> {
    if (this.lock === undefined || this.readOnly) return;
    if ((await this.lock.acquire()) === "busy") throw new AppError("migration-failed", "The other tab took the machine's disks: the machine stays paused here and writes nothing.", { details: { phase: "handed-over" } });
    this.emit();
  }

  /** The machine runs in another tab now: its disks close here without writing another page. */
  async handedOver(): Promise<void> {
    this.gone = "handed-over";
    await this.close(false);
  }

  /** A move's target: drop this tab's own disks unwritten, take the lock the source let go, open the disks anew. */
  async takeForMove(record: MachineRecord): Promise<AttachedDisks> {
    await this.close(false);
    this.readOnly = false;
    const prepared = await this.prepare(record);
    if (prepared.kind === "busy") throw new AppError("migration-refused", "Another tab holds the machine's disks: the source did not hand them over.", { details: { requirement: "disk-lock", differences: ["disk lock: still held by another tab"] } });
    return prepared.disks;
  }
  // --- end migration ---

  /** Drop what the guest wrote to the machine's disks; call with the machine stopped. */
  async erase(record: MachineRecord): Promise<void> {
    await this.close(false);
    for (const slot of writableSlots(record)) await this.stores.disks.drop(diskIdFor(record.id, slot));
  }

  disk(slot: DiskSlot): OverlayDisk | undefined {
    return this.opened?.attached[slot];
  }

  get view(): DiskView {
    const states = this.writable().map((d) => d.saveState);
    const lockState = this.lock?.state ?? "none";
    return {
      indicator: diskIndicator(states, this.gone),
      lock: this.readOnly ? "read-only" : lockState,
      slots: this.opened === undefined ? [] : (Object.keys(this.opened.attached) as DiskSlot[]).filter((s) => s !== "cdrom"),
    };
  }

  dispose(): void {
    void this.close();
    this.lock?.dispose();
    this.changeEmitter.dispose();
    this.lostEmitter.dispose();
  }

  private writable(): OverlayDisk[] {
    const attached = this.opened?.attached ?? {};
    return (Object.entries(attached) as [DiskSlot, OverlayDisk][]).filter(([slot]) => slot !== "cdrom").map(([, disk]) => disk);
  }

  private emit(): void {
    this.changeEmitter.fire(this.view);
  }
}

