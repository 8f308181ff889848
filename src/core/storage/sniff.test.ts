import { describe, expect, it } from "vitest";
import { SNIFF_BYTES, foreignDiskFormat, imageDrives, sniffImage } from "./sniff.ts";

function image(size: number, marks: [number, number[]][]): Uint8Array {
  const head = new Uint8Array(Math.min(size, SNIFF_BYTES));
  for (const [offset, bytes] of marks) head.set(bytes, offset);
  return head;
}
const ascii = (t: string): number[] => Array.from(t, (c) => c.charCodeAt(0));
const MiB = 1024 * 1024;

describe("sniffImage", () => {
  it("recognises each kind from its bytes", () => {
    expect(sniffImage(image(4 * MiB, [[0x8001, ascii("CD001")]]), 4 * MiB)?.kind).toBe("cdrom");
    expect(sniffImage(image(5 * MiB, [[0x202, ascii("HdrS")], [510, [0x55, 0xaa]]]), 5 * MiB)?.kind).toBe("kernel");
    expect(sniffImage(image(MiB, [[0, [0x1f, 0x8b, 8]]]), MiB)?.kind).toBe("initrd");
    expect(sniffImage(image(MiB, [[0, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0]]]), MiB)?.evidence).toMatch(/xz/);
    expect(sniffImage(image(MiB, [[0, [0x28, 0xb5, 0x2f, 0xfd]]]), MiB)?.evidence).toMatch(/zstd/);
    expect(sniffImage(image(MiB, [[0, ascii("070701")]]), MiB)?.evidence).toMatch(/cpio/);
    expect(sniffImage(image(1440 * 1024, [[510, [0x55, 0xaa]]]), 1440 * 1024)).toEqual({ kind: "floppy", evidence: "floppy size with a boot sector", drives: ["floppy", "harddisk"] });
    expect(sniffImage(image(64 * MiB, [[510, [0x55, 0xaa]]]), 64 * MiB)?.kind).toBe("harddisk");
  });

  it("takes raw disks without a partition table: a file system on the whole image, and a blank image", () => {
    expect(sniffImage(image(64 * MiB, [[1080, [0x53, 0xef]]]), 64 * MiB)).toEqual({ kind: "harddisk", evidence: "ext2/3/4 file system without a partition table", drives: ["harddisk"] });
    expect(sniffImage(image(256 * MiB, []), 256 * MiB)).toEqual({ kind: "harddisk", evidence: "blank (all zeros at the start)", drives: ["harddisk"] });
    // Zeros that are too small, cut short, or not whole sectors are no blank disk.
    expect(sniffImage(image(64 * 1024, []), 64 * 1024)).toBeUndefined();
    expect(sniffImage(new Uint8Array(512), 64 * MiB)).toBeUndefined();
    expect(sniffImage(image(64 * MiB + 100, []), 64 * MiB + 100)).toBeUndefined();
    expect(sniffImage(image(64 * MiB + 100, [[1080, [0x53, 0xef]]]), 64 * MiB + 100)).toBeUndefined();
    // Zeros with one byte set elsewhere in the head: not blank, and nothing else either.
    expect(sniffImage(image(64 * MiB, [[5000, [1]]]), 64 * MiB)).toBeUndefined();
  });

  it("names other hypervisors' disk formats, which it does not take", () => {
    const named = (marks: [number, number[]][]): string | undefined => foreignDiskFormat(image(64 * MiB, marks));
    expect(named([[0, [0x51, 0x46, 0x49, 0xfb]]])).toBe("QEMU qcow2");
    expect(named([[0, ascii("KDMV")]])).toBe("VMware VMDK (sparse extent)");
    expect(named([[0, ascii("# Disk DescriptorFile")]])).toBe("VMware VMDK (descriptor)");
    expect(named([[0x40, [0x7f, 0x10, 0xda, 0xbe]]])).toBe("VirtualBox VDI");
    expect(named([[0, ascii("vhdxfile")]])).toBe("Hyper-V VHDX");
    expect(named([[0, ascii("conectix")]])).toBe("dynamic VHD");
    expect(named([[510, [0x55, 0xaa]]])).toBeUndefined();
    expect(sniffImage(image(64 * MiB, [[0, [0x51, 0x46, 0x49, 0xfb]]]), 64 * MiB)).toBeUndefined();
  });

  it("prefers the ISO signature over a boot sector (hybrid ISOs carry both)", () => {
    expect(sniffImage(image(8 * MiB, [[510, [0x55, 0xaa]], [0x8001, ascii("CD001")]]), 8 * MiB)?.kind).toBe("cdrom");
  });

  it("refuses empty files, unknown bytes and odd-sized disks", () => {
    expect(sniffImage(new Uint8Array(0), 0)).toBeUndefined();
    expect(sniffImage(image(3 * MiB, [[0, ascii("%PDF-1.7")]]), 3 * MiB)).toBeUndefined();
    expect(sniffImage(image(MiB + 3, [[510, [0x55, 0xaa]]]), MiB + 3)).toBeUndefined();
  });

  it("decides from a short head when the file is small", () => {
    expect(sniffImage(Uint8Array.from([0x1f, 0x8b]), 2)?.kind).toBe("initrd");
    expect(sniffImage(Uint8Array.from([1, 2, 3]), 3)).toBeUndefined();
  });
});

describe("drives an image fits", () => {
  it("a 1.2 MB floppy image that is also an ISO (El Torito) fits the CD-ROM, the floppy drive and, with an MBR, a hard disk", () => {
    const size = 1200 * 1024;
    const hybrid = sniffImage(image(size, [[510, [0x55, 0xaa]], [0x8001, ascii("CD001")]]), size);
    // Detected as a CD-ROM (the suggestion), but the floppy drive can take it.
    expect(hybrid).toMatchObject({ kind: "cdrom", drives: ["cdrom", "floppy", "harddisk"] });
    const isoOnly = sniffImage(image(size, [[0x8001, ascii("CD001")]]), size);
    expect(isoOnly?.drives).toEqual(["cdrom", "floppy"]);
  });

  it("an isohybrid ISO fits a hard disk; a plain ISO, a kernel or an initrd do not", () => {
    expect(sniffImage(image(8 * MiB, [[510, [0x55, 0xaa]], [0x8001, ascii("CD001")]]), 8 * MiB)?.drives).toEqual(["cdrom", "harddisk"]);
    expect(sniffImage(image(8 * MiB, [[0x8001, ascii("CD001")]]), 8 * MiB)?.drives).toEqual(["cdrom"]);
    expect(sniffImage(image(5 * MiB, [[0x202, ascii("HdrS")], [510, [0x55, 0xaa]]]), 5 * MiB)?.drives).toEqual([]);
    expect(sniffImage(image(MiB, [[0, [0x1f, 0x8b, 8]]]), MiB)?.drives).toEqual([]);
    expect(sniffImage(image(64 * MiB, [[510, [0x55, 0xaa]]]), 64 * MiB)?.drives).toEqual(["harddisk"]);
  });

  it("records saved before drives were kept: their kind, and a floppy drive when floppy-sized", () => {
    expect(imageDrives({ kind: "cdrom", size: 1440 * 1024 })).toEqual(["cdrom", "floppy"]);
    expect(imageDrives({ kind: "cdrom", size: 8 * MiB })).toEqual(["cdrom"]);
    expect(imageDrives({ kind: "kernel", size: 1440 * 1024 })).toEqual([]);
    expect(imageDrives({ kind: "cdrom", size: 8 * MiB, drives: ["cdrom", "harddisk"] })).toEqual(["cdrom", "harddisk"]);
  });
});
