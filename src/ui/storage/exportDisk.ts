/**
 * "Export disk": base + overlay merged into a raw image, a piece at a time. With the File
 * System Access API (`showSaveFilePicker`, Chromium) every piece goes straight to the file;
 * otherwise the pieces become one Blob (the browser may keep it on disk) and a download link.
 */
import type { OverlayDisk } from "../../core/index.ts";
import { download, fileStem } from "../kit/download.ts";

interface WritableFile {
  write(data: Uint8Array): Promise<void>;
  close(): Promise<void>;
  abort?(): Promise<void>;
}
export type SaveFilePicker = (options: { suggestedName: string }) => Promise<{ createWritable(): Promise<WritableFile> }>;

/** Where the bytes went; "cancelled" when the user closed the file dialog (nothing was written). */
export type ExportPath = "file-picker" | "download" | "cancelled";

/** The part of a disk an export reads. */
export type ExportedDisk = Pick<OverlayDisk, "byteLength" | "chunks">;

export async function exportDisk(
  disk: ExportedDisk,
  fileName: string,
  onProgress: (done: number, total: number) => void,
  picker: SaveFilePicker | undefined = (globalThis as { showSaveFilePicker?: SaveFilePicker }).showSaveFilePicker,
): Promise<ExportPath> {
  if (picker !== undefined) {
    let handle;
    try {
      handle = await picker({ suggestedName: fileName });
    } catch (error) {
      if ((error as { name?: string }).name === "AbortError") return "cancelled";
      throw error;
    }
    const writable = await handle.createWritable();
    let done = 0;
    try {
      for await (const piece of disk.chunks()) {
        await writable.write(piece);
        done += piece.length;
        onProgress(done, disk.byteLength);
      }
      await writable.close();
    } catch (error) {
      await writable.abort?.().catch(() => undefined);
      throw error;
    }
    return "file-picker";
  }
  const parts: BlobPart[] = [];
  let done = 0;
  for await (const piece of disk.chunks()) {
    parts.push(piece as Uint8Array<ArrayBuffer>);
    done += piece.length;
    onProgress(done, disk.byteLength);
  }
  download(new Blob(parts, { type: "application/octet-stream" }), fileName);
  return "download";
}

export function exportFileName(machineName: string, slot: string): string {
  return `${fileStem(machineName, "machine")}-${slot}.img`;
}
