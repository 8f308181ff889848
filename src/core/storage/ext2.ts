/**
 * An empty ext2 file system of any size, made on the host without writing it: the blank data
 * disk's base. Only the few blocks that say "empty" carry bytes (superblock and its backups,
 * group descriptors, bitmaps, the first inode-table block, the root directory and lost+found);
 * everything else, inode tables included, is zeros, which ext2 reads as unused. So a 2 GiB disk
 * costs a few hundred KiB of description and no formatting in the guest.
 *
 * Layout: 4 KiB blocks, 32768 blocks per group, one inode per 16 KiB, 128-byte inodes, revision 1
 * with sparse superblocks and file types in directory entries (what mke2fs -t ext2 makes, minus
 * resize_inode and dir_index). `e2fsck -fn` finds nothing to fix (test/boot and the unit test).
 */
import type { BlockSource } from "./disk.ts";

export const EXT2_BLOCK_SIZE = 4096;
const BLOCKS_PER_GROUP = 8 * EXT2_BLOCK_SIZE;
const INODE_SIZE = 128;
const BYTES_PER_INODE = 16384;
const INODES_PER_BLOCK = EXT2_BLOCK_SIZE / INODE_SIZE;
const ROOT_INO = 2;
const LOST_FOUND_INO = 11;
const FIRST_INO = 11;
const LOST_FOUND_BLOCKS = 4;
/** The smallest file system made: a group needs room for its metadata and some data. */
export const EXT2_MIN_BYTES = 512 * 1024;

export interface Ext2Options {
  /** Bytes of the disk; the file system covers whole blocks of it. */
  readonly size: number;
  readonly label?: string;
  /** 16 bytes. */
  readonly uuid?: Uint8Array;
  /** Seconds since 1970 for the times the file system records. */
  readonly time?: number;
}

export interface Ext2Image extends BlockSource {
  /** Blocks that are not all zeros, by block number: what a formatter would write. */
  readonly blocks: ReadonlyMap<number, Uint8Array>;
  readonly blockCount: number;
  readonly groupCount: number;
}

const hasSuper = (group: number): boolean => {
  if (group <= 1) return true;
  for (const p of [3, 5, 7]) {
    let n = p;
    while (n < group) n *= p;
    if (n === group) return true;
  }
  return false;
};

export function emptyExt2(options: Ext2Options): Ext2Image {
  const { size } = options;
  if (!Number.isSafeInteger(size) || size < EXT2_MIN_BYTES) throw new RangeError(`An ext2 file system needs at least ${EXT2_MIN_BYTES} bytes, not ${size}.`);
  let blockCount = Math.floor(size / EXT2_BLOCK_SIZE);
  const inodesTotal = Math.max(64, Math.floor(size / BYTES_PER_INODE));
  let groupCount = Math.ceil(blockCount / BLOCKS_PER_GROUP);
  const inodesPerGroup = Math.min(BLOCKS_PER_GROUP, Math.ceil(inodesTotal / groupCount / INODES_PER_BLOCK) * INODES_PER_BLOCK);
  const inodeTableBlocks = inodesPerGroup / INODES_PER_BLOCK;
  const gdtBlocks = Math.ceil((groupCount * 32) / EXT2_BLOCK_SIZE);
  const overhead = (g: number): number => (hasSuper(g) ? 1 + gdtBlocks : 0) + 2 + inodeTableBlocks;
  // A last group too small for its own metadata (and a little data) is left out, as mke2fs does.
  const lastBlocks = blockCount - (groupCount - 1) * BLOCKS_PER_GROUP;
  if (groupCount > 1 && lastBlocks < overhead(groupCount - 1) + 50) {
    groupCount -= 1;
    blockCount = groupCount * BLOCKS_PER_GROUP;
  }
  const time = options.time ?? 0;
  const blocks = new Map<number, Uint8Array>();
  const block = (n: number): Uint8Array => {
    let b = blocks.get(n);
    if (b === undefined) {
      b = new Uint8Array(EXT2_BLOCK_SIZE);
      blocks.set(n, b);
    }
    return b;
  };

  const groupStart = (g: number): number => g * BLOCKS_PER_GROUP;
  const groupBlocks = (g: number): number => Math.min(BLOCKS_PER_GROUP, blockCount - groupStart(g));
  const layout = Array.from({ length: groupCount }, (_, g) => {
    let at = groupStart(g) + (hasSuper(g) ? 1 + gdtBlocks : 0);
    const blockBitmap = at++;
    const inodeBitmap = at++;
    const inodeTable = at;
    return { blockBitmap, inodeBitmap, inodeTable, firstFree: inodeTable + inodeTableBlocks };
  });
  // Group 0's data: the root directory's block, then lost+found's.
  const rootBlock = layout[0]!.firstFree;
  const lostFoundFirst = rootBlock + 1;
  const usedInGroup = layout.map((l, g) => l.firstFree - groupStart(g) + (g === 0 ? 1 + LOST_FOUND_BLOCKS : 0));
  const freeBlocks = layout.map((_, g) => groupBlocks(g) - usedInGroup[g]!);
  const freeInodes = layout.map((_, g) => inodesPerGroup - (g === 0 ? FIRST_INO : 0));
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

  // Bitmaps: used blocks from the group's start; bits past the group's end are set (padding).
  layout.forEach((l, g) => {
    const bits = block(l.blockBitmap);
    setBits(bits, 0, usedInGroup[g]!);
    setBits(bits, groupBlocks(g), BLOCKS_PER_GROUP);
    const ibits = block(l.inodeBitmap);
    if (g === 0) setBits(ibits, 0, FIRST_INO);
    setBits(ibits, inodesPerGroup, EXT2_BLOCK_SIZE * 8);
  });

  // Inodes 2 (root) and 11 (lost+found) in group 0's first inode-table blocks.
  const inode = (ino: number): DataView => {
    const index = ino - 1;
    const b = block(layout[0]!.inodeTable + Math.floor(index / INODES_PER_BLOCK));
    return new DataView(b.buffer, (index % INODES_PER_BLOCK) * INODE_SIZE, INODE_SIZE);
  };
  const writeDirInode = (view: DataView, mode: number, links: number, first: number, count: number): void => {
    view.setUint16(0, mode, true);
    view.setUint32(4, count * EXT2_BLOCK_SIZE, true); // i_size
    view.setUint32(8, time, true); // atime
    view.setUint32(12, time, true); // ctime
    view.setUint32(16, time, true); // mtime
    view.setUint16(26, links, true);
    view.setUint32(28, (count * EXT2_BLOCK_SIZE) / 512, true); // i_blocks, in 512-byte sectors
    for (let i = 0; i < count; i++) view.setUint32(40 + 4 * i, first + i, true);
  };
  writeDirInode(inode(ROOT_INO), 0o40755, 3, rootBlock, 1);
  writeDirInode(inode(LOST_FOUND_INO), 0o40700, 2, lostFoundFirst, LOST_FOUND_BLOCKS);

  // Directory blocks: ".", ".." (and lost+found in the root); the rest of lost+found is empty.
  const dir = (n: number, entries: readonly [number, string][]): void => {
    const view = new DataView(block(n).buffer);
    let at = 0;
    entries.forEach(([ino, name], i) => {
      const length = i === entries.length - 1 ? EXT2_BLOCK_SIZE - at : 8 + Math.ceil(name.length / 4) * 4;
      view.setUint32(at, ino, true);
      view.setUint16(at + 4, length, true);
      view.setUint8(at + 6, name.length);
      view.setUint8(at + 7, 2); // EXT2_FT_DIR
      for (let c = 0; c < name.length; c++) view.setUint8(at + 8 + c, name.charCodeAt(c));
      at += length;
    });
  };
  dir(rootBlock, [
    [ROOT_INO, "."],
    [ROOT_INO, ".."],
    [LOST_FOUND_INO, "lost+found"],
  ]);
  dir(lostFoundFirst, [
    [LOST_FOUND_INO, "."],
    [ROOT_INO, ".."],
  ]);
  for (let i = 1; i < LOST_FOUND_BLOCKS; i++) new DataView(block(lostFoundFirst + i).buffer).setUint16(4, EXT2_BLOCK_SIZE, true);

  // Group descriptors, and the superblock with a copy in every group that has one.
  const gdt = new Uint8Array(gdtBlocks * EXT2_BLOCK_SIZE);
  const gview = new DataView(gdt.buffer);
  layout.forEach((l, g) => {
    const at = g * 32;
    gview.setUint32(at, l.blockBitmap, true);
    gview.setUint32(at + 4, l.inodeBitmap, true);
    gview.setUint32(at + 8, l.inodeTable, true);
    gview.setUint16(at + 12, freeBlocks[g]!, true);
    gview.setUint16(at + 14, freeInodes[g]!, true);
    gview.setUint16(at + 16, g === 0 ? 2 : 0, true); // directories: root, lost+found
  });
  const superblock = (group: number): Uint8Array => {
    const sb = new Uint8Array(1024);
    const v = new DataView(sb.buffer);
    v.setUint32(0, inodesPerGroup * groupCount, true);
    v.setUint32(4, blockCount, true);
    v.setUint32(8, Math.floor(blockCount / 20), true); // 5 % reserved for root
    v.setUint32(12, sum(freeBlocks), true);
    v.setUint32(16, sum(freeInodes), true);
    v.setUint32(20, 0, true); // first data block (0 with 4 KiB blocks)
    v.setUint32(24, 2, true); // log2(block size) - 10
    v.setUint32(28, 2, true); // fragments = blocks
    v.setUint32(32, BLOCKS_PER_GROUP, true);
    v.setUint32(36, BLOCKS_PER_GROUP, true);
    v.setUint32(40, inodesPerGroup, true);
    v.setUint32(48, time, true); // last write
    v.setInt16(54, -1, true); // no mount-count check
    v.setUint16(56, 0xef53, true);
    v.setUint16(58, 1, true); // clean
    v.setUint16(60, 1, true); // on errors: continue
    v.setUint32(64, time, true); // last check
    v.setUint32(76, 1, true); // revision 1 (dynamic)
    v.setUint32(84, FIRST_INO, true);
    v.setUint16(88, INODE_SIZE, true);
    v.setUint16(90, group, true);
    v.setUint32(96, 0x2, true); // incompat: filetype
    v.setUint32(100, 0x1, true); // ro_compat: sparse_super
    sb.set(options.uuid?.subarray(0, 16) ?? new Uint8Array(16), 104);
    const label = options.label ?? "";
    for (let c = 0; c < Math.min(16, label.length); c++) sb[120 + c] = label.charCodeAt(c) & 0x7f;
    v.setUint32(264, time, true); // made
    return sb;
  };
  for (let g = 0; g < groupCount; g++) {
    if (!hasSuper(g)) continue;
    const first = groupStart(g);
    // The primary superblock sits 1024 bytes into block 0; a backup at the start of its block.
    block(first).set(superblock(g), g === 0 ? 1024 : 0);
    for (let i = 0; i < gdtBlocks; i++) block(first + 1 + i).set(gdt.subarray(i * EXT2_BLOCK_SIZE, (i + 1) * EXT2_BLOCK_SIZE));
  }

  return {
    size,
    blocks,
    blockCount,
    groupCount,
    read: async (offset, length) => readSparse(blocks, offset, length),
  };
}

/** Bytes of a sparse image: the blocks given, zeros elsewhere. */
export function readSparse(blocks: ReadonlyMap<number, Uint8Array>, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  const first = Math.floor(offset / EXT2_BLOCK_SIZE);
  const last = Math.floor((offset + length - 1) / EXT2_BLOCK_SIZE);
  if (length === 0) return out;
  if (last - first > blocks.size) {
    for (const [n, bytes] of blocks) if (n >= first && n <= last) copyBlock(out, bytes, n, offset, length);
  } else {
    for (let n = first; n <= last; n++) {
      const bytes = blocks.get(n);
      if (bytes !== undefined) copyBlock(out, bytes, n, offset, length);
    }
  }
  return out;
}

function copyBlock(out: Uint8Array, bytes: Uint8Array, n: number, offset: number, length: number): void {
  const blockStart = n * EXT2_BLOCK_SIZE;
  const from = Math.max(offset, blockStart);
  const to = Math.min(offset + length, blockStart + EXT2_BLOCK_SIZE);
  out.set(bytes.subarray(from - blockStart, to - blockStart), from - offset);
}

function setBits(bits: Uint8Array, from: number, to: number): void {
  for (let i = from; i < to; i++) bits[i >> 3]! |= 1 << (i & 7);
}

/** 16 bytes derived from a string (FNV-1a, spread): a stable UUID for a disk's file system. */
export function stableUuid(seed: string): Uint8Array {
  const out = new Uint8Array(16);
  let h = 0x811c9dc5;
  for (let round = 0; round < 4; round++) {
    for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 0x01000193) >>> 0;
    h = Math.imul(h ^ round, 0x01000193) >>> 0;
    new DataView(out.buffer).setUint32(round * 4, h, false);
  }
  out[6] = (out[6]! & 0x0f) | 0x40; // version 4 layout
  out[8] = (out[8]! & 0x3f) | 0x80;
  return out;
}
