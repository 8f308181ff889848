/**
 * Machines: saved configurations (which images go where, how it boots, memory and devices).
 * A machine's disks are copy-on-write overlays named after the machine and the slot, so
 * deleting a machine or resetting a disk never touches the images in the library.
 */
import type { Clock } from "../clock.ts";
import { AppError } from "../errors.ts";
import { DATA_DISK_BYTES, DATA_DISK_SLOT } from "../guest.ts";
import { DEFAULT_PROFILE, DISK_SLOTS, type AttachedDisks, type DeviceProfile, type DiskSlot } from "../profile.ts";
import type { DiskStore, OverlayDisk } from "./disk.ts";
import type { ImageRecord, ImageStore } from "./images.ts";
import type { KeyValueStore } from "./kv.ts";
import { IMAGE_KIND_LABELS, imageDrives, type DriveKind, type ImageKind } from "./sniff.ts";

export type DiskSource = { readonly kind: "blank"; readonly sizeBytes: number } | { readonly kind: "image"; readonly imageId: string };

export type BootSource =
  /** The built-in Debian guest served with the app. */
  | { readonly kind: "default-guest" }
  /** A kernel and an initrd from the library; `initrdImageId` "": no initrd (the kernel mounts its root itself, `root=` on the command line). */
  | { readonly kind: "linux"; readonly kernelImageId: string; readonly initrdImageId: string; readonly cmdline: string }
  /** The BIOS boots from a drive. */
  | { readonly kind: "disk"; readonly bootFrom: "cdrom" | "hda" | "fda" };

export interface MachineRecord {
  readonly id: string;
  readonly name: string;
  /** The default machine: always there, cannot be deleted. */
  readonly builtIn: boolean;
  readonly profile: DeviceProfile;
  readonly boot: BootSource;
  readonly disks: Readonly<Partial<Record<DiskSlot, DiskSource>>>;
  readonly createdAt: number;
}

/**
 * The kernel command line a new kernel + initrd machine starts with: the serial console, where
 * virtlab's terminal is; no crypto self-tests (a distribution kernel such as Debian's tests its
 * crypto at boot, silent for ~25 s under emulation: measured in Chromium with the built-in
 * guest's own kernel and initrd, 37.5-39.4 s to the prompt without `cryptomgr.notests` and
 * 9.1-11.1 s with it, boot messages shown either way); and no lockup or RCU stall detectors,
 * which take a paused machine's jump in time for a stuck CPU (images/README.md says more).
 */
export const NEW_LINUX_CMDLINE = "console=ttyS0 cryptomgr.notests nowatchdog rcupdate.rcu_cpu_stall_suppress=1";

export const DEFAULT_MACHINE_ID = "default";

export const DEFAULT_MACHINE: MachineRecord = {
  id: DEFAULT_MACHINE_ID,
  name: "Debian 6.1 + busybox (built in)",
  builtIn: true,
  profile: DEFAULT_PROFILE,
  boot: { kind: "default-guest" },
  // The persistent data disk, mounted at /data by the guest (see guest.ts DATA_DISK_CMDLINE).
  disks: { hda: { kind: "blank", sizeBytes: DATA_DISK_BYTES } },
  createdAt: 0,
};

/** The kind of drive each slot is. */
export const SLOT_KINDS: Readonly<Record<DiskSlot, DriveKind>> = { hda: "harddisk", hdb: "harddisk", cdrom: "cdrom", fda: "floppy" };

/** Whether an image's bytes fit the slot's drive (not only the kind it was detected as). */
export function imageFitsSlot(image: ImageRecord, slot: DiskSlot): boolean {
  return imageDrives(image).includes(SLOT_KINDS[slot]);
}

export interface SlotChoice {
  readonly imageId: string;
  /** What the editor shows: the name, and the detected kind when it is another drive's. */
  readonly label: string;
  /** The image was detected as this slot's kind. */
  readonly suggested: boolean;
}

/** The library images a slot can take: those detected as its kind first, then the others that fit. */
export function slotChoices(images: readonly ImageRecord[], slot: DiskSlot): SlotChoice[] {
  const fitting = images.filter((image) => imageFitsSlot(image, slot));
  const suggested = fitting.filter((image) => image.kind === SLOT_KINDS[slot]);
  const others = fitting.filter((image) => image.kind !== SLOT_KINDS[slot]);
  return [
    ...suggested.map((image) => ({ imageId: image.id, label: image.name, suggested: true })),
    ...others.map((image) => ({ imageId: image.id, label: `${image.name} (detected: ${IMAGE_KIND_LABELS[image.kind]})`, suggested: false })),
  ];
}

export const diskIdFor = (machineId: string, slot: DiskSlot): string => `${machineId}:${slot}`;

const MAX_BLANK_DISK_BYTES = 2 * 1024 * 1024 * 1024;

/** Why a machine cannot boot with the library as it is; empty when it can. */
export function machineProblems(record: MachineRecord, images: readonly ImageRecord[]): string[] {
  const problems: string[] = [];
  const byId = new Map(images.map((i) => [i.id, i]));
  // An empty id is a form's "(choose)" left as it was: nothing was chosen, nothing went missing.
  const missing = (id: string, what: string): string => (id === "" ? `${what}: none chosen (pick an image of the library)` : `${what}: the image is no longer in the library`);
  const needImage = (id: string, kind: ImageKind, what: string): void => {
    const image = byId.get(id);
    if (image === undefined) problems.push(missing(id, what));
    else if (image.kind !== kind) problems.push(`${what}: ${image.name} is a ${image.kind} image, not a ${kind} image`);
  };
  const needFit = (id: string, slot: DiskSlot): void => {
    const image = byId.get(id);
    if (image === undefined) problems.push(missing(id, slot));
    else if (!imageFitsSlot(image, slot)) problems.push(`${slot}: ${image.name} (${IMAGE_KIND_LABELS[image.kind]}) does not fit a ${SLOT_KINDS[slot]} drive`);
  };
  if (record.name.trim() === "") problems.push("the machine needs a name");
  for (const slot of DISK_SLOTS) {
    const source = record.disks[slot];
    if (source === undefined) continue;
    if (source.kind === "image") needFit(source.imageId, slot);
    else if (slot === "cdrom") problems.push("a CD-ROM drive takes an ISO image, not a blank disk");
    else if (!Number.isInteger(source.sizeBytes) || source.sizeBytes < 512 * 1024 || source.sizeBytes % 512 !== 0 || source.sizeBytes > MAX_BLANK_DISK_BYTES) {
      problems.push(`${slot}: a blank disk must be between 512 KiB and 2 GiB, in whole sectors`);
    }
  }
  if (record.disks.hdb !== undefined && record.disks.hda === undefined) problems.push("hdb needs hda: Linux finds no slave disk without a master");
  const boot = record.boot;
  if (boot.kind === "linux") {
    needImage(boot.kernelImageId, "kernel", "kernel");
    if (boot.initrdImageId !== "") needImage(boot.initrdImageId, "initrd", "initrd");
  } else if (boot.kind === "disk" && record.disks[boot.bootFrom] === undefined) {
    problems.push(`it boots from ${boot.bootFrom}, but no image is attached there`);
  }
  return problems;
}

/** A library image a machine uses that is not in the library any more. */
/** What a machine uses a library image as: a drive, or the kernel or initrd it boots. */
export type ImageRole = DiskSlot | "kernel" | "initrd";

export interface ImageUse {
  readonly what: ImageRole;
  readonly imageId: string;
}

export interface MissingImage extends ImageUse {
  /** Its name when it was deleted, if the library remembers it. */
  readonly name: string | undefined;
}

/** A machine that uses an image, and as what (one image can be, say, both hda and hdb). */
export interface ImageUser {
  readonly machineId: string;
  readonly machineName: string;
  readonly as: readonly ImageRole[];
}

/** Every library image a machine uses, and for what (a drive, or the kernel or initrd it boots). */
export function imagesUsed(record: MachineRecord): ImageUse[] {
  const uses: ImageUse[] = [];
  for (const slot of DISK_SLOTS) {
    const source = record.disks[slot];
    if (source?.kind === "image") uses.push({ what: slot, imageId: source.imageId });
  }
  if (record.boot.kind === "linux") {
    uses.push({ what: "kernel", imageId: record.boot.kernelImageId });
    if (record.boot.initrdImageId !== "") uses.push({ what: "initrd", imageId: record.boot.initrdImageId });
  }
  return uses;
}

/** The machines that would not boot without this image (asked before deleting it). */
export function machinesUsingImage(machines: readonly MachineRecord[], imageId: string): ImageUser[] {
  return machines.flatMap((m) => {
    const as = imagesUsed(m).flatMap((u) => (u.imageId === imageId ? [u.what] : []));
    return as.length === 0 ? [] : [{ machineId: m.id, machineName: m.name, as }];
  });
}

/** The images a machine uses that the library no longer has (by id; names are looked up after). */
export function missingImages(record: MachineRecord, images: readonly ImageRecord[]): ImageUse[] {
  const have = new Set(images.map((i) => i.id));
  return imagesUsed(record).filter((u) => !have.has(u.imageId));
}

/**
 * Before a machine starts: every image it uses must be in the library. If one was deleted, an
 * "image-missing" error names it (and the machine), so the user can edit the machine or add
 * the image again.
 */
export async function checkMachineImages(record: MachineRecord, images: Pick<ImageStore, "list" | "deleted">): Promise<void> {
  const gone = missingImages(record, await images.list());
  if (gone.length === 0) return;
  const missing: MissingImage[] = await Promise.all(gone.map(async (g) => ({ ...g, name: (await images.deleted(g.imageId))?.name })));
  const words = missing.map((m) => `${m.name === undefined ? "an image" : `"${m.name}"`} (${m.what})`).join(" and ");
  throw new AppError("image-missing", `${record.name} uses ${words}, deleted from the image library.`, {
    details: { subject: missing.map((m) => m.name ?? m.what).join(", "), machineId: record.id, machineName: record.name, missing },
  });
}

export class MachineStore {
  constructor(
    private readonly kv: KeyValueStore,
    private readonly disks: DiskStore,
    private readonly now: () => number,
  ) {}

  /** The built-in machine first (with the user's saved changes to it), then the user's, oldest first. */
  async list(): Promise<MachineRecord[]> {
    const keys = (await this.kv.keys()).filter((k) => k.startsWith("machine:"));
    const records = (await this.kv.getMany<MachineRecord>(keys)).filter((r): r is MachineRecord => r !== undefined);
    const builtIn = records.find((r) => r.id === DEFAULT_MACHINE_ID) ?? DEFAULT_MACHINE;
    return [builtIn, ...records.filter((r) => r.id !== DEFAULT_MACHINE_ID).sort((a, b) => a.createdAt - b.createdAt)];
  }

  async get(id: string): Promise<MachineRecord | undefined> {
    return (await this.kv.get<MachineRecord>(`machine:${id}`)) ?? (id === DEFAULT_MACHINE_ID ? DEFAULT_MACHINE : undefined);
  }

  /** A new machine with an id and creation time. */
  draft(name: string): MachineRecord {
    return { id: `m-${this.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`, name, builtIn: false, profile: DEFAULT_PROFILE, boot: { kind: "disk", bootFrom: "cdrom" }, disks: {}, createdAt: this.now() };
  }

  async save(record: MachineRecord, images: readonly ImageRecord[]): Promise<MachineRecord> {
    const problems = machineProblems(record, images);
    if (problems.length > 0) throw new AppError("bad-profile", `This machine cannot be saved: ${problems.join("; ")}.`, { details: { problems } });
    if (record.id === DEFAULT_MACHINE_ID && (record.boot.kind !== "default-guest" || !record.builtIn)) {
      throw new AppError("bad-profile", "The built-in machine always boots the built-in guest; create a new machine instead.");
    }
    const previous = await this.get(record.id);
    await this.kv.set(`machine:${record.id}`, { ...record, name: record.name.trim() });
    // A disk whose source changed starts fresh: an overlay only fits the base it was written on.
    if (previous !== undefined) {
      for (const slot of DISK_SLOTS) {
        if (JSON.stringify(previous.disks[slot]) !== JSON.stringify(record.disks[slot])) await this.disks.drop(diskIdFor(record.id, slot));
      }
    }
    return record;
  }

  async delete(id: string): Promise<void> {
    if (id === DEFAULT_MACHINE_ID) throw new AppError("bad-profile", "The built-in machine cannot be deleted (its disk can be reset).");
    await this.kv.delete(`machine:${id}`);
    for (const slot of DISK_SLOTS) await this.disks.drop(diskIdFor(id, slot));
  }
}

export interface OpenedDisks {
  readonly attached: Readonly<Partial<Record<DiskSlot, OverlayDisk>>> & AttachedDisks;
  readonly overlays: readonly OverlayDisk[];
}

/** Open every disk of a machine: base images from the library, guest writes from the overlays. */
export async function openMachineDisks(
  record: MachineRecord,
  stores: { readonly images: Pick<ImageStore, "get" | "reader">; readonly disks: DiskStore },
  options: { readonly clock: Clock; readonly readOnly?: boolean },
): Promise<OpenedDisks> {
  const attached: Partial<Record<DiskSlot, OverlayDisk>> = {};
  const overlays: OverlayDisk[] = [];
  try {
    for (const slot of DISK_SLOTS) {
      const source = record.disks[slot];
      if (source === undefined) continue;
      let disk: OverlayDisk;
      if (source.kind === "blank") {
        // The default guest's data disk starts as an empty ext2 file system: mounted, never formatted.
        const blank = record.boot.kind === "default-guest" && slot === DATA_DISK_SLOT ? "ext2" : "zeros";
        disk = await stores.disks.open(diskIdFor(record.id, slot), { size: source.sizeBytes, blank, clock: options.clock, readOnly: options.readOnly === true });
      } else {
        const image = await stores.images.get(source.imageId);
        if (image === undefined) throw new AppError("image-missing", `The image for ${slot} is no longer in the library.`, { details: { subject: slot, machineId: record.id, machineName: record.name, missing: [] } });
        const base = stores.images.reader(image);
        // A CD-ROM is read-only media: nothing to keep.
        disk = await stores.disks.open(diskIdFor(record.id, slot), { size: image.size, base, clock: options.clock, readOnly: options.readOnly === true || slot === "cdrom" });
      }
      attached[slot] = disk;
      overlays.push(disk);
    }
  } catch (error) {
    for (const disk of overlays) disk.dispose();
    throw error;
  }
  return { attached, overlays };
}

/** Slots whose contents the guest can change (a CD-ROM is read-only media). */
export function writableSlots(record: MachineRecord): DiskSlot[] {
  return (Object.keys(record.disks) as DiskSlot[]).filter((s) => s !== "cdrom");
}
