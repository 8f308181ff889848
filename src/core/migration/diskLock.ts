/**
 * One writer per machine's disks. In the page a Web Lock per machine is that writer's token
 * (ui/storage/MachineLock.ts); a move hands it from the source to the target, and the target
 * writes only once it holds it. `MemoryDiskLocks` is the same rule for two sessions in one process.
 */

export type LockState = { readonly kind: "free" } | { readonly kind: "held"; readonly by: string } | { readonly kind: "handed"; readonly from: string; readonly to: string };

export interface DiskLocks {
  holder(machineId: string): string | undefined;
  /** `from` holds the lock and gives it to `to`, who may now take it. False when `from` does not hold it. */
  handOver(machineId: string, from: string, to: string): boolean;
  /** Take a lock that is free or was handed to `who`. False when someone else holds it or it was handed to another. */
  take(machineId: string, who: string): boolean;
  /** The giver takes back a lock handed over and not taken yet, or handed back to it (a move that failed). */
  takeBack(machineId: string, from: string): boolean;
  release(machineId: string, who: string): void;
}

export class MemoryDiskLocks implements DiskLocks {
  private readonly locks = new Map<string, LockState>();

  state(machineId: string): LockState {
    return this.locks.get(machineId) ?? { kind: "free" };
  }

  holder(machineId: string): string | undefined {
    const s = this.state(machineId);
    return s.kind === "held" ? s.by : s.kind === "handed" ? s.from : undefined;
  }

  handOver(machineId: string, from: string, to: string): boolean {
    const s = this.state(machineId);
    if (s.kind !== "held" || s.by !== from) return false;
    this.locks.set(machineId, { kind: "handed", from, to });
    return true;
  }

  take(machineId: string, who: string): boolean {
    const s = this.state(machineId);
    if (s.kind === "held") return s.by === who;
    if (s.kind === "handed" && s.to !== who) return false;
    this.locks.set(machineId, { kind: "held", by: who });
    return true;
  }

  takeBack(machineId: string, from: string): boolean {
    const s = this.state(machineId);
    if (s.kind === "held") return s.by === from;
    // Handed over and not taken, or handed back by a target that could not run the machine.
    if (s.kind === "handed" && s.from !== from && s.to !== from) return false;
    this.locks.set(machineId, { kind: "held", by: from });
    return true;
  }

  release(machineId: string, who: string): void {
    if (this.holder(machineId) === who) this.locks.delete(machineId);
  }
}
