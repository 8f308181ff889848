import { PAGE_SIZE } from "../storage/disk.ts";
import type { KeyValueStore } from "../storage/kv.ts";

/** `inner`, with each read of bytes from it (a disk's pages) told to `onRead` with the number of pages it reads. */
export function countingStore(inner: KeyValueStore, onRead: (pages: number) => void): KeyValueStore {
  return {
    ...inner,
    readInto: (slices, target) => (onRead(Math.ceil(slices.reduce((sum, slice) => sum + slice.length, 0) / PAGE_SIZE)), inner.readInto(slices, target)),
  };
}
