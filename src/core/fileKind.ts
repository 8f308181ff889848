/**
 * Where a file dropped on the page goes, decided from its bytes: a virtlab snapshot, a disk
 * image (the kinds `sniffImage` knows), or a plain v86 state file, which virtlab cannot use as
 * it is (no machine description, no disks, no checksums) and says so.
 */
import { AppError } from "./errors.ts";
import { hasSnapshotMagic, V86_STATE_MAGIC } from "./snapshot/format.ts";
import { SNIFF_BYTES, sniffImage, type SniffResult } from "./storage/sniff.ts";
import { ZSTD_MAGIC } from "./snapshot/zstd.ts";

/** How many leading bytes `classifyFile` needs. */
export const CLASSIFY_BYTES = SNIFF_BYTES;

export type FileClass =
  | { readonly kind: "snapshot" }
  | { readonly kind: "image"; readonly image: SniffResult }
  /** A state saved by v86 itself (its own "save state"), possibly zstd-compressed. */
  | { readonly kind: "v86-state"; readonly compressed: boolean }
  | { readonly kind: "unknown" };

export function isSnapshotHead(head: Uint8Array): boolean {
  return hasSnapshotMagic(head);
}

const u32 = (bytes: Uint8Array, at: number): number | undefined =>
  bytes.length >= at + 4 ? ((bytes[at] as number) | ((bytes[at + 1] as number) << 8) | ((bytes[at + 2] as number) << 16) | ((bytes[at + 3] as number) << 24)) >>> 0 : undefined;

/**
 * Classify a file from its first CLASSIFY_BYTES bytes, its size and its name. The name only
 * breaks a tie the bytes leave open: a zstd stream whose start is compressed may be an initrd
 * or a compressed v86 state; v86 names its states "…state…".
 */
export function classifyFile(head: Uint8Array, size: number, name = ""): FileClass {
  if (isSnapshotHead(head)) return { kind: "snapshot" };
  if (u32(head, 0) === V86_STATE_MAGIC) return { kind: "v86-state", compressed: false };
  if (u32(head, 0) === ZSTD_MAGIC && (zstdStartsWithV86State(head) || /state/i.test(name))) return { kind: "v86-state", compressed: true };
  const image = sniffImage(head, size);
  return image === undefined ? { kind: "unknown" } : { kind: "image", image };
}

/**
 * Whether a zstd frame visibly starts with v86's state magic: its first block stored raw, or
 * compressed with raw literals (the first output bytes are then the first literals: the magic
 * repeats only two bytes, and a match needs three).
 */
function zstdStartsWithV86State(head: Uint8Array): boolean {
  const descriptor = head[4];
  if (descriptor === undefined) return false;
  const singleSegment = (descriptor & 0x20) !== 0;
  const dictionaryBytes = [0, 1, 2, 4][descriptor & 0x03] as number;
  const contentSizeBytes = [singleSegment ? 1 : 0, 2, 4, 8][descriptor >> 6] as number;
  const block = 5 + (singleSegment ? 0 : 1) + dictionaryBytes + contentSizeBytes;
  const header = u32(head, block);
  if (header === undefined) return false;
  const blockType = (header >> 1) & 0x03;
  const content = block + 3;
  if (blockType === 0) return u32(head, content) === V86_STATE_MAGIC;
  if (blockType !== 2) return false;
  const literals = head[content];
  if (literals === undefined || (literals & 0x03) !== 0) return false;
  const sizeFormat = (literals >> 2) & 0x03;
  const headerBytes = sizeFormat === 1 ? 2 : sizeFormat === 3 ? 3 : 1;
  return u32(head, content + headerBytes) === V86_STATE_MAGIC;
}

/** Why a v86 state file cannot be imported as it is (for the drop and Import… alike). */
export function v86StateRefusal(fileName: string, compressed: boolean): AppError<"bad-snapshot"> {
  return new AppError(
    "bad-snapshot",
    `${fileName} is a machine state saved by v86 itself${compressed ? " (zstd-compressed)" : ""}, not a virtlab snapshot or a disk image. ` +
      "It cannot be imported as it is: it holds only the emulator's memory and devices, with no description of the machine it needs " +
      "(memory, devices, BIOS, kernel, disks), no disk contents and no checksums, so virtlab can neither check that it fits nor rebuild that machine. " +
      "Open it in the v86 page that saved it; to move a virtlab machine, save a snapshot here and export it (.vlsnap).",
    { details: { subject: fileName } },
  );
}
