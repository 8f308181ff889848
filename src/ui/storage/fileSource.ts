/** A File (picked or dropped) as the core's ImageSource: read in slices, never whole in memory. */
import type { ImageSource } from "../../core/index.ts";

/** The part of a File/Blob this adapter uses (so unit tests can pass Node's Blob). */
export interface SliceableFile {
  readonly name: string;
  readonly size: number;
  slice(start: number, end: number): { arrayBuffer(): Promise<ArrayBuffer> };
}

export function fileSource(file: SliceableFile): ImageSource {
  return {
    name: file.name,
    size: file.size,
    async read(offset, length) {
      if (offset < 0 || length < 0 || offset + length > file.size) {
        throw new RangeError(`read ${offset}+${length} outside ${file.name} (${file.size} bytes)`);
      }
      return new Uint8Array(await file.slice(offset, offset + length).arrayBuffer());
    },
  };
}
