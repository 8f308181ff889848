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
type SaveFilePicker = (options: { suggestedName: string }) => Promise<{ createWritable(): Promise<WritableFile> }>;

export type ExportPath = "file-picker" | "download";

export async function exportDisk(disk: OverlayDisk, fileName: string, onProgress: (done: number, total: number) => void): Promise<ExportPath> {
  const picker = (window as { showSaveFilePicker?: SaveFilePicker }).showSaveFilePicker;
  if (picker !== undefined) {
    let handle;
    try {
      handle = await picker({ suggestedName: fileName });
    } catch (error) {
      // The user closed the dialog: nothing to do.
      if ((error as { name?: string }).name === "AbortError") return "file-picker";
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
