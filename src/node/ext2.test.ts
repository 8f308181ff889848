/**
 * The empty ext2 the host makes for a blank data disk (src/core/storage/ext2.ts), checked by
 * Debian's own e2fsck -fn at several sizes. Skipped, with the reason, without e2fsprogs.
 */
import { execFileSync } from "node:child_process";
import { closeSync, existsSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { emptyExt2, stableUuid } from "../core/index.ts";
import { EXT2_BLOCK_SIZE, readSparse } from "../core/storage/ext2.ts";

const E2FSCK = ["/sbin/e2fsck", "/usr/sbin/e2fsck"].find((p) => existsSync(p));
const MiB = 1024 * 1024;

describe("empty ext2 made on the host", () => {
  it("describes an empty file system in a few blocks, whatever the size", () => {
    const small = emptyExt2({ size: 64 * MiB });
    const big = emptyExt2({ size: 2048 * MiB });
    expect(small.groupCount).toBe(1);
    expect(big.groupCount).toBe(16);
    expect(big.blocks.size).toBeLessThan(64);
    // The superblock: magic, and the label.
    const sb = readSparse(big.blocks, 1024, 1024);
    expect(sb[56]! | (sb[57]! << 8)).toBe(0xef53);
    // Same disk id, same bytes: the base of a disk never changes under its overlay.
    expect(stableUuid("default:hda")).toEqual(stableUuid("default:hda"));
    expect(stableUuid("default:hda")).not.toEqual(stableUuid("m-1:hda"));
    expect(() => emptyExt2({ size: 4096 })).toThrow(RangeError);
  });

  it.skipIf(E2FSCK === undefined)("passes e2fsck -fn at several sizes (Debian's e2fsprogs)", () => {
    const dir = mkdtempSync(join(tmpdir(), "virtlab-ext2-"));
    try {
      // 512 KiB (the smallest blank disk), 64 MiB (the default), an odd size, one whose last group
      // is too small to keep, and one just under 2 GiB (the largest).
      for (const size of [512 * 1024, 64 * MiB, 200 * MiB + 12345, 128 * MiB + 60 * 4096, 2047 * MiB]) {
        const image = emptyExt2({ size, label: "virtlab-data", uuid: stableUuid(String(size)), time: 1_700_000_000 });
        const path = join(dir, `${size}.img`);
        // A sparse file: the blocks the image describes, zeros (holes) elsewhere.
        const fd = openSync(path, "w");
        for (const [n, bytes] of image.blocks) writeSync(fd, bytes, 0, Math.min(EXT2_BLOCK_SIZE, size - n * EXT2_BLOCK_SIZE), n * EXT2_BLOCK_SIZE);
        ftruncateSync(fd, size);
        closeSync(fd);
        const out = execFileSync(E2FSCK as string, ["-fn", path], { encoding: "utf8" });
        expect(out).toMatch(/virtlab-data: 11\/\d+ files/);
        rmSync(path);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
