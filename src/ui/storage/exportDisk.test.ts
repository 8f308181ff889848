import { describe, expect, it } from "vitest";
import { exportDisk, exportFileName, type ExportedDisk, type SaveFilePicker } from "./exportDisk.ts";

/** A disk of `pieces` chunks, each filled with its index. */
function diskOf(pieces: number, size = 8): ExportedDisk {
  return {
    byteLength: pieces * size,
    async *chunks() {
      for (let i = 0; i < pieces; i++) yield new Uint8Array(size).fill(i + 1);
    },
  };
}

/** A file picker whose file records what is written to it (the user picked a place). */
function pickerInto(file: { written: number[]; closed: boolean; aborted: boolean; failAt?: number; asked?: string | undefined }): SaveFilePicker {
  return async ({ suggestedName }) => {
    file.asked = suggestedName;
    return {
      async createWritable() {
        return {
          async write(data: Uint8Array) {
            if (file.failAt !== undefined && file.written.length >= file.failAt) throw new Error("disk full");
            file.written.push(...data);
          },
          async close() {
            file.closed = true;
          },
          async abort() {
            file.aborted = true;
          },
        };
      },
    };
  };
}

describe("export disk through the file picker", () => {
  it("writes every piece in order, reports progress, closes the file", async () => {
    const file = { written: [] as number[], closed: false, aborted: false, asked: undefined as string | undefined };
    const progress: number[] = [];
    const path = await exportDisk(diskOf(3), "m-hda.img", (done) => progress.push(done), pickerInto(file));
    expect(path).toBe("file-picker");
    expect(file.asked).toBe("m-hda.img");
    expect(file.written).toEqual([...Array(8).fill(1), ...Array(8).fill(2), ...Array(8).fill(3)]);
    expect(progress).toEqual([8, 16, 24]);
    expect(file.closed).toBe(true);
  });

  it("the user closing the dialog is a cancel, not an export: nothing read, nothing written", async () => {
    let read = false;
    const disk: ExportedDisk = {
      byteLength: 8,
      async *chunks() {
        read = true;
        yield new Uint8Array(8);
      },
    };
    const closed: SaveFilePicker = () => Promise.reject(Object.assign(new Error("The user aborted a request."), { name: "AbortError" }));
    expect(await exportDisk(disk, "m-hda.img", () => undefined, closed)).toBe("cancelled");
    expect(read).toBe(false);
  });

  it("a write that fails aborts the file and reaches the caller", async () => {
    const file = { written: [] as number[], closed: false, aborted: false, failAt: 8 };
    await expect(exportDisk(diskOf(3), "m-hda.img", () => undefined, pickerInto(file))).rejects.toThrow("disk full");
    expect(file).toMatchObject({ closed: false, aborted: true });
  });

  it("a picker that fails otherwise (not a cancel) reaches the caller", async () => {
    const refused: SaveFilePicker = () => Promise.reject(Object.assign(new Error("Not allowed"), { name: "SecurityError" }));
    await expect(exportDisk(diskOf(1), "m-hda.img", () => undefined, refused)).rejects.toThrow("Not allowed");
  });
});

describe("export file name", () => {
  it.each([
    ["Debian 6.1 (busybox)", "hda", "Debian-6.1-busybox-hda.img"],
    ["", "hdb", "machine-hdb.img"],
  ])("%j, %s → %s", (machine, slot, expected) => {
    expect(exportFileName(machine, slot)).toBe(expected);
  });
});
