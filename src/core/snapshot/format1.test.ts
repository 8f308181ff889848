/**
 * Files saved before the fingerprint was typed (format 1: boot source and disks as words) still
 * read, match and refuse as they did. The headers below are laid out as format-1 files were: the
 * pre-booted one is the header of images/out/prebooted.vlsnap as shipped before format 2.
 */
import { describe, expect, it } from "vitest";
import type { AppError } from "../errors.ts";
import { decodeText, encodeText } from "../host.ts";
import { DEFAULT_PROFILE, type DiskGuest, type LinuxGuest } from "../profile.ts";
import { PAGE_SIZE } from "../storage/disk.ts";
import { fingerprintDifferences, machineFingerprint } from "./fingerprint.ts";
import { SNAPSHOT_MAGIC, concatParts, decodeSnapshot, encodeSnapshot, readSnapshotHeader, V86_STATE_MAGIC } from "./format.ts";

const SHA = {
  bios: "7ba476745bd8d32d66b7a5bd12999e2445e7a345a4a72c30352b1d4a69a26e88",
  vgaBios: "cc2f735f19b6318922ac3de9506dee498f149a6b75534f7e5c176d4441a7fa4a",
  kernel: "6333ef5a8eff51d042c33c9a0e8dd894ce512e9644e24f6b98309239589866b9",
  initrd: "d7d0cf6177e2c1dbc0c6955f76a5b2c1afb1a1feb1f2ddf1763bcb8c337d85e9",
};
const CMDLINE = "console=ttyS0 init_on_free=1 tsc=reliable mitigations=off quiet cryptomgr.notests noisapnp virtlab.data=0:0:0:0";
const ISO = "e".repeat(64);

const guest: LinuxGuest = {
  kind: "linux",
  bios: { name: "bios.bin", url: "", sha256: SHA.bios },
  vgaBios: { name: "vgabios.bin", url: "", sha256: SHA.vgaBios },
  kernel: { name: "bzImage", url: "", sha256: SHA.kernel },
  initrd: { name: "initramfs.cpio", url: "", sha256: SHA.initrd },
  cmdline: CMDLINE,
  prompt: "# $",
};

/** The fingerprint of the shipped pre-booted state, format 1, as it was written. */
const PREBOOTED_V1 = {
  memoryMiB: 256,
  vgaMemoryMiB: 8,
  nic: "none",
  console: "uart",
  share9p: false,
  scratchDiskMiB: null,
  nicMtu: null,
  boot: "kernel + initrd",
  bios: SHA.bios,
  vgaBios: SHA.vgaBios,
  kernel: SHA.kernel,
  initrd: SHA.initrd,
  cmdline: CMDLINE,
  disks: { hda: "any size, blank" },
};

/** A user's format-1 snapshot: 64 MiB blank data disk (its pages carried) and an ISO in the CD drive. */
const USER_V1 = { ...PREBOOTED_V1, disks: { cdrom: `4096 bytes, ${ISO}`, hda: "67108864 bytes, blank" } };

function fakeState(size: number): Uint8Array {
  const state = new Uint8Array(size);
  const view = new DataView(state.buffer);
  view.setUint32(0, V86_STATE_MAGIC, true);
  view.setUint32(4, 6, true);
  return state;
}

/** A real file of today's format, its header then rewritten the way format 1 wrote it. */
async function formatOneFile(fingerprint: object, disks: readonly object[] = [], data = new Uint8Array(0)): Promise<Uint8Array> {
  const { header, parts } = await encodeSnapshot(
    fakeState(20_000),
    { app: "virtlab", v86: "0.5.462", fingerprint: machineFingerprint(DEFAULT_PROFILE, guest), name: "old", createdAt: 1, shellReady: true, preview: "" },
    data.length === 0 ? [] : [{ slot: "hda", size: 64 << 20, base: "blank", pages: [0], data }],
  );
  const body = concatParts(parts).subarray(readSnapshotHeader(concatParts(parts)).bodyOffset);
  const json = encodeText(JSON.stringify({ ...header, format: 1, fingerprint, disks }));
  const prefix = new Uint8Array(12);
  prefix.set(SNAPSHOT_MAGIC);
  new DataView(prefix.buffer).setUint32(8, json.length, true);
  return concatParts([prefix, json, body]);
}

describe("format-1 snapshot files", () => {
  it("the shipped pre-booted header reads as a typed fingerprint that fits the default machine with any data-disk size", async () => {
    const { header } = readSnapshotHeader(await formatOneFile(PREBOOTED_V1));
    expect(header.format).toBe(1);
    expect(header.fingerprint.boot).toEqual({ kind: "kernel-initrd" });
    expect(header.fingerprint.disks).toEqual({ hda: { size: "any", base: "blank" } });
    for (const size of [64 << 20, 2 ** 31]) {
      expect(fingerprintDifferences(header.fingerprint, machineFingerprint(DEFAULT_PROFILE, guest, { hda: { size, base: "blank" } }))).toEqual([]);
    }
    // Another base, or no data disk, is refused in words.
    expect(fingerprintDifferences(header.fingerprint, machineFingerprint(DEFAULT_PROFILE, guest, { hda: { size: 4096, base: { sha256: ISO } } }))).toEqual([
      "disks: hda saved with any size blank, this machine has 4 KiB image eeeeeeeeeeee…",
    ]);
    expect(fingerprintDifferences(header.fingerprint, machineFingerprint(DEFAULT_PROFILE, guest))).toEqual(["disks: hda saved with any size blank, this machine has no disk"]);
  });

  it("a user's snapshot with pinned sizes, an image and carried pages matches only the same disks, and decodes", async () => {
    const data = new Uint8Array(PAGE_SIZE).fill(7);
    const file = await formatOneFile(USER_V1, [{ slot: "hda", size: 64 << 20, base: "blank", pages: [0] }], data);
    const { header } = readSnapshotHeader(file);
    expect(header.fingerprint.disks).toEqual({ cdrom: { size: 4096, base: { sha256: ISO } }, hda: { size: 64 << 20, base: "blank" } });
    expect(header.disks[0]?.base).toBe("blank");
    const same = machineFingerprint(DEFAULT_PROFILE, guest, { hda: { size: 64 << 20, base: "blank" }, cdrom: { size: 4096, base: { sha256: ISO } } });
    expect(fingerprintDifferences(header.fingerprint, same)).toEqual([]);
    const bigger = machineFingerprint(DEFAULT_PROFILE, guest, { hda: { size: 2 ** 31, base: "blank" }, cdrom: { size: 4096, base: { sha256: ISO } } });
    expect(fingerprintDifferences(header.fingerprint, bigger)).toEqual(["disks: hda saved with 64 MiB blank, this machine has 2 GiB blank"]);
    const decoded = await decodeSnapshot(file);
    expect(decoded.disks[0]?.data.every((b) => b === 7)).toBe(true);
  });

  it("a BIOS boot source in words reads typed, and keeps its words in a refusal", async () => {
    const diskGuest: DiskGuest = { kind: "disk", bios: guest.bios, vgaBios: guest.vgaBios, bootFrom: "cdrom" };
    const { header } = readSnapshotHeader(await formatOneFile({ ...PREBOOTED_V1, boot: "BIOS from cdrom", kernel: null, initrd: null, cmdline: null, disks: {} }));
    expect(header.fingerprint.boot).toEqual({ kind: "bios", from: "cdrom" });
    expect(fingerprintDifferences(header.fingerprint, machineFingerprint(DEFAULT_PROFILE, diskGuest))).toEqual([]);
    expect(fingerprintDifferences(header.fingerprint, machineFingerprint(DEFAULT_PROFILE, { ...diskGuest, bootFrom: "hda" }))).toEqual([
      "boot source: saved with BIOS from cdrom, this machine has BIOS from hda",
    ]);
  });

  it("refuses words it does not read, and a format it does not know, as a bad snapshot", async () => {
    for (const fingerprint of [{ ...PREBOOTED_V1, disks: { hda: "big, blank" } }, { ...PREBOOTED_V1, boot: "PXE" }, { ...PREBOOTED_V1, nic: "e1000" }, { ...PREBOOTED_V1, disks: { hda: { size: 1, base: "blank" } } }]) {
      const error = (await decodeSnapshot(await formatOneFile(fingerprint)).catch((e: unknown) => e)) as AppError;
      expect(error.code).toBe("bad-snapshot");
      expect(error.message).toMatch(/machine description is damaged or in a form this virtlab does not read/);
    }
    const future = await formatOneFile(PREBOOTED_V1);
    const json = encodeText(decodeText(future.subarray(12, readSnapshotHeader(future).bodyOffset)).replace('"format":1', '"format":4'));
    const error = (await decodeSnapshot(concatParts([future.subarray(0, 12), json, future.subarray(12 + json.length)])).catch((e: unknown) => e)) as AppError;
    expect(error.message).toMatch(/file format 4; this virtlab reads formats 1, 2 and 3/);
  });
});
