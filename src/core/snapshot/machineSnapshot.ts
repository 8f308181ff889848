/**
 * A whole machine in one snapshot: v86's state and the overlays of its disks from the same
 * instant, and the way back. Pausing first means no guest write lands between the state and the
 * disk pages; restoring writes each disk's overlay in one transaction before the state runs.
 */
import type { Disposable } from "../events.ts";
import type { Machine } from "../machine.ts";
import type { DiskSlot } from "../profile.ts";
import type { DiskStore, OverlayDisk } from "../storage/disk.ts";
import type { ImageRecord } from "../storage/images.ts";
import { diskIdFor, type MachineRecord } from "../storage/machines.ts";
import type { DiskBase, FingerprintDisk, MachineFingerprint } from "./fingerprint.ts";
import { encodeSnapshotTo, keptChunks, type SnapshotChunkSink, type SnapshotDiskSource, type SnapshotHeader, type SnapshotPacking } from "./format.ts";

/** What each of a machine's disks is, for its fingerprint: size and base image (or blank). */
export function machineDiskIdentities(record: MachineRecord, images: readonly ImageRecord[]): Record<string, FingerprintDisk> {
  const out: Record<string, FingerprintDisk> = {};
  for (const [slot, source] of Object.entries(record.disks)) {
    if (source === undefined) continue;
    if (source.kind === "blank") out[slot] = { size: source.sizeBytes, base: "blank" };
    else {
      const image = images.find((i) => i.id === source.imageId);
      out[slot] = image === undefined ? { size: 0, base: "missing" } : { size: image.size, base: { sha256: image.sha256 } };
    }
  }
  return out;
}

export interface CaptureOptions {
  readonly fingerprint: MachineFingerprint;
  /** The disks whose contents go into the snapshot, with their base. */
  readonly disks: readonly { readonly slot: DiskSlot; readonly disk: OverlayDisk; readonly base: DiskBase }[];
  readonly app: string;
  readonly v86: string;
  readonly name: string;
  readonly createdAt: number;
  readonly preview: string;
  /** gzip unless told (set-up's pre-booted states: zstd, filtered). */
  readonly packing?: SnapshotPacking;
}

/** Save the running (or paused) machine and its disks as a file's parts, in memory (set-up's pre-booted states); it runs on afterwards as it did before. */
export async function captureSnapshot(machine: Machine, options: CaptureOptions): Promise<{ header: SnapshotHeader; parts: Uint8Array[] }> {
  const kept = keptChunks();
  const { header, head } = await captureSnapshotTo(machine, options, kept.put);
  return { header, parts: kept.parts(head) };
}

/**
 * The same, each chunk handed to `put` as it is made (encodeSnapshotTo): the machine is paused
 * while its disks are flushed and its state saved, and runs on while its disks' pages (read a
 * run at a time, from the records they were in when it paused: `OverlayDisk.exportPages`) and
 * its state are packed. Returns the file's head.
 */
export async function captureSnapshotTo(machine: Machine, options: CaptureOptions, put: SnapshotChunkSink): Promise<{ header: SnapshotHeader; head: Uint8Array }> {
  let pausedHere = machine.status.running;
  const runOn = async (): Promise<void> => {
    if (!pausedHere) return;
    pausedHere = false;
    await machine.resume();
  };
  let exports: (SnapshotDiskSource & Disposable)[] = [];
  if (pausedHere) await machine.pause();
  try {
    // Pages the quota refused stay in memory and are exported from there.
    for (const { disk } of options.disks) await disk.flush().catch(() => undefined);
    const { state, shellReady } = await machine.saveState();
    exports = options.disks.map(({ slot, disk, base }) => ({ slot, size: disk.byteLength, base, ...disk.exportPages() }));
    await runOn();
    return await encodeSnapshotTo(
      state,
      { app: options.app, v86: options.v86, fingerprint: options.fingerprint, name: options.name, createdAt: options.createdAt, shellReady, preview: options.preview },
      exports,
      options.packing ?? {},
      put,
    );
  } finally {
    for (const overlay of exports) overlay.dispose();
    await runOn();
  }
}

/** Put the snapshot's disk overlays in place of the machine's (before the state is restored). */
export async function restoreSnapshotDisks(store: DiskStore, machineId: string, disks: readonly SnapshotDiskSource[]): Promise<void> {
  for (const disk of disks) await store.replaceOverlay(diskIdFor(machineId, disk.slot as DiskSlot), disk.size, disk, disk.blank ?? "zeros");
}
