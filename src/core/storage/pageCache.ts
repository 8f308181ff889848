/**
 * The overlay pages kept in memory that IndexedDB also has: least recently used first out, within
 * a fixed budget shared by the disks of one DiskStore. Pages not yet saved never live here (each
 * OverlayDisk keeps those itself until IndexedDB has them), so dropping one loses nothing.
 */
export const PAGE_CACHE_BYTES = 32 * 1024 * 1024;

export class PageCache {
  private readonly pages = new Map<string, Uint8Array>();
  private bytes = 0;

  constructor(readonly budgetBytes = PAGE_CACHE_BYTES) {}

  get size(): number {
    return this.bytes;
  }

  get(key: string): Uint8Array | undefined {
    const page = this.pages.get(key);
    if (page !== undefined) {
      // Most recently used last.
      this.pages.delete(key);
      this.pages.set(key, page);
    }
    return page;
  }

  has(key: string): boolean {
    return this.pages.has(key);
  }

  put(key: string, page: Uint8Array): void {
    this.delete(key);
    this.pages.set(key, page);
    this.bytes += page.length;
    for (const [oldest, bytes] of this.pages) {
      if (this.bytes <= this.budgetBytes) break;
      this.pages.delete(oldest);
      this.bytes -= bytes.length;
    }
  }

  delete(key: string): void {
    const page = this.pages.get(key);
    if (page === undefined) return;
    this.pages.delete(key);
    this.bytes -= page.length;
  }

  /** Forget every page whose key starts with `prefix` (a disk closed or dropped). */
  deletePrefix(prefix: string): void {
    for (const key of [...this.pages.keys()]) if (key.startsWith(prefix)) this.delete(key);
  }
}
