/**
 * What kind of image a file is, decided from its bytes (and size), not from its name.
 */
import { isGzip } from "../snapshot/compress.ts";
import { isZstd } from "../snapshot/zstd.ts";

export type ImageKind = "cdrom" | "harddisk" | "floppy" | "kernel" | "initrd";

/** The kinds of drive an image can go in. */
export type DriveKind = "cdrom" | "harddisk" | "floppy";

export const IMAGE_KIND_LABELS: Readonly<Record<ImageKind, string>> = {
  cdrom: "CD-ROM (ISO 9660)",
  harddisk: "hard disk",
  floppy: "floppy disk",
  kernel: "Linux kernel (bzImage)",
  initrd: "initrd / initramfs",
};

/** How many leading bytes `sniffImage` needs to decide (the ISO 9660 signature sits at 0x8001). */
export const SNIFF_BYTES = 0x8010;

const KIB = 1024;
/** Standard PC floppy sizes: 160K to 2.88M. */
export const FLOPPY_SIZES: readonly number[] = [160, 180, 320, 360, 720, 1200, 1440, 1680, 1722, 2880].map((k) => k * KIB);

const startsWith = (bytes: Uint8Array, offset: number, magic: readonly number[]): boolean =>
  bytes.length >= offset + magic.length && magic.every((b, i) => bytes[offset + i] === b);

const ascii = (text: string): number[] => Array.from(text, (c) => c.charCodeAt(0));

export interface SniffResult {
  readonly kind: ImageKind;
  /** What the bytes showed, for the user ("ISO 9660 volume", "gzip-compressed initrd"). */
  readonly evidence: string;
  /**
   * Every drive whose media these bytes fit, the detected kind first: detection is a guess, and
   * a hybrid image (an ISO that is also a floppy or a hard disk) may go in any of them.
   */
  readonly drives: readonly DriveKind[];
}

/**
 * Decide the kind from the first SNIFF_BYTES bytes (fewer for small files) and the total size.
 * Returns undefined for anything that is none of the known kinds.
 */
export function sniffImage(head: Uint8Array, size: number): SniffResult | undefined {
  const guess = guessKind(head, size);
  return guess === undefined ? undefined : { ...guess, drives: drivesFor(guess.kind, head, size) };
}

/** The drives the bytes fit, `kind`'s own first; none for a kernel or an initrd. */
export function drivesFor(kind: ImageKind, head: Uint8Array, size: number): DriveKind[] {
  if (kind === "kernel" || kind === "initrd") return [];
  const fits: DriveKind[] = [kind];
  const add = (drive: DriveKind, fit: boolean): void => {
    if (fit && !fits.includes(drive)) fits.push(drive);
  };
  add("cdrom", startsWith(head, 0x8001, ascii("CD001")));
  add("floppy", FLOPPY_SIZES.includes(size));
  // An MBR (isohybrid ISOs carry one) in whole sectors boots as a hard disk.
  add("harddisk", startsWith(head, 510, [0x55, 0xaa]) && size % 512 === 0);
  return fits;
}

/**
 * The drives an image record fits. Records from before `drives` was kept: its own kind, and a
 * floppy drive for a floppy-sized image.
 */
export function imageDrives(image: { readonly kind: ImageKind; readonly size: number; readonly drives?: readonly DriveKind[] }): readonly DriveKind[] {
  if (image.drives !== undefined) return image.drives;
  if (image.kind === "kernel" || image.kind === "initrd") return [];
  return image.kind !== "floppy" && FLOPPY_SIZES.includes(image.size) ? [image.kind, "floppy"] : [image.kind];
}

function guessKind(head: Uint8Array, size: number): Omit<SniffResult, "drives"> | undefined {
  if (size === 0) return undefined;
  if (startsWith(head, 0x8001, ascii("CD001"))) return { kind: "cdrom", evidence: "ISO 9660 volume descriptor" };
  if (startsWith(head, 0x202, ascii("HdrS"))) return { kind: "kernel", evidence: "Linux boot protocol header (HdrS)" };
  if (isGzip(head)) return { kind: "initrd", evidence: "gzip-compressed archive" };
  if (startsWith(head, 0, [0xfd, ...ascii("7zXZ"), 0x00])) return { kind: "initrd", evidence: "xz-compressed archive" };
  if (isZstd(head)) return { kind: "initrd", evidence: "zstd-compressed archive" };
  if (startsWith(head, 0, [0x02, 0x21, 0x4c, 0x18])) return { kind: "initrd", evidence: "lz4-compressed archive" };
  if (startsWith(head, 0, ascii("BZh"))) return { kind: "initrd", evidence: "bzip2-compressed archive" };
  if (startsWith(head, 0, ascii("07070"))) return { kind: "initrd", evidence: "cpio archive" };
  const bootSignature = startsWith(head, 510, [0x55, 0xaa]);
  if (FLOPPY_SIZES.includes(size)) {
    return { kind: "floppy", evidence: bootSignature ? "floppy size with a boot sector" : "standard floppy size" };
  }
  if (bootSignature && size % 512 === 0) return { kind: "harddisk", evidence: "master boot record (0x55AA)" };
  // Raw disks without a partition table: a file system made on the whole image (mkfs.ext4
  // disk.img), and a blank image (dd from /dev/zero, qemu-img create -f raw).
  if (size % 512 === 0 && startsWith(head, EXT_MAGIC_AT, EXT_MAGIC)) return { kind: "harddisk", evidence: "ext2/3/4 file system without a partition table" };
  if (size % 512 === 0 && size >= BLANK_MIN_BYTES && head.length === Math.min(size, SNIFF_BYTES) && head.every((b) => b === 0)) {
    return { kind: "harddisk", evidence: "blank (all zeros at the start)" };
  }
  return undefined;
}

/** The ext2/3/4 superblock's magic 0xEF53 (little-endian), at 1024 + 0x38. */
const EXT_MAGIC_AT = 1024 + 0x38;
const EXT_MAGIC = [0x53, 0xef];
/** A file of zeros smaller than this is not taken for a blank disk. */
const BLANK_MIN_BYTES = 1024 * KIB;

/**
 * Disk formats of other hypervisors: a disk inside a container of their own, which virtlab does
 * not read (v86 reads raw bytes). Named in the refusal, with how to make a raw image of it.
 * (A fixed VHD is the raw disk with a footer at its end: it reads as the raw disk it holds.)
 */
const FOREIGN_DISK_FORMATS: readonly { readonly name: string; readonly at: number; readonly magic: readonly number[] }[] = [
  { name: "QEMU qcow2", at: 0, magic: [0x51, 0x46, 0x49, 0xfb] },
  { name: "VMware VMDK (sparse extent)", at: 0, magic: ascii("KDMV") },
  { name: "VMware VMDK (descriptor)", at: 0, magic: ascii("# Disk DescriptorFile") },
  { name: "VirtualBox VDI", at: 0x40, magic: [0x7f, 0x10, 0xda, 0xbe] },
  { name: "Hyper-V VHDX", at: 0, magic: ascii("vhdxfile") },
  { name: "dynamic VHD", at: 0, magic: ascii("conectix") },
];

/** The name of another hypervisor's disk format these first bytes show, if any. */
export function foreignDiskFormat(head: Uint8Array): string | undefined {
  return FOREIGN_DISK_FORMATS.find((f) => startsWith(head, f.at, f.magic))?.name;
}
