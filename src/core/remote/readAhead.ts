/**
 * Sequential disk reads in the Worker, in bigger pieces than v86 asks for. v86's IDE controller
 * runs one command at a time and Linux asks for 128 KiB per command, so a file read through a disk
 * the page keeps was one Worker → page → Worker round trip per 128 KiB: the round trip, not the
 * page's storage, set the speed. A reader that goes on where it stopped is served from a window
 * fetched in one round trip, and the next window is asked for while the first is being used.
 * Random reads go to the page as before, one request each.
 *
 * Writes go to the page as always (this is no write cache); a write also patches the window in
 * use, and makes any other window it overlaps stale (on its way, or arrived and not used yet: its
 * bytes are from before the write): a stale window is never used, the read asks the page again,
 * after the write, so it sees it.
 */

/** How much one sequential round trip fetches. */
export const READ_AHEAD_BYTES = 2 * 1024 * 1024;

interface Window {
  readonly start: number;
  readonly bytes: Uint8Array;
}

interface InFlight {
  readonly start: number;
  readonly length: number;
  readonly arrival: Promise<Uint8Array>;
  stale: boolean;
}

export class DiskReadAhead {
  private current: Window | undefined;
  private next: InFlight | undefined;
  /** Every window asked for and not arrived (a write makes those it overlaps stale). */
  private readonly inFlight = new Set<InFlight>();
  /** Where the last read ended. */
  private expected = -1;
  /** Where the reader served by the windows goes on. */
  private stream = -1;

  constructor(
    private readonly byteLength: number,
    /** Read from the page: one round trip. */
    private readonly fetch: (start: number, length: number) => Promise<Uint8Array>,
    private readonly windowBytes = READ_AHEAD_BYTES,
  ) {}

  /** v86's get: the bytes come to `callback`, at once when the window has them. */
  read(start: number, length: number, callback: (bytes: Uint8Array) => void): void {
    // A small read elsewhere (a file system's indirect block) does not end the stream it interrupts.
    const sequential = start === this.expected || start === this.stream;
    this.expected = start + length;
    const hit = this.fromWindow(start, length);
    if (hit !== undefined) {
      this.stream = start + length;
      this.prefetch();
      callback(hit);
      return;
    }
    let next = this.next;
    if (next === undefined || next.stale || start < next.start || start + length > next.start + next.length) {
      if (!sequential || length >= this.windowBytes) {
        void this.fetch(start, length).then(callback);
        return;
      }
      // A window on its way that this reader does not use is left to arrive unused.
      next = this.next = this.request(start);
    }
    this.stream = start + length;
    const used = next;
    void used.arrival.then((bytes) => {
      if (this.next === used) this.next = undefined;
      if (used.stale) {
        // Written meanwhile: ask again, after the write.
        void this.fetch(start, length).then(callback);
        return;
      }
      this.current = { start: used.start, bytes };
      this.prefetch();
      callback(bytes.slice(start - used.start, start - used.start + length));
    });
  }

  /** v86's set, before it goes to the page: what is held of the range takes the new bytes. */
  write(start: number, data: Uint8Array): void {
    const end = start + data.length;
    const current = this.current;
    if (current !== undefined) {
      const from = Math.max(start, current.start);
      const to = Math.min(end, current.start + current.bytes.length);
      if (from < to) current.bytes.set(data.subarray(from - start, to - start), from - current.start);
    }
    // Every window fetched before this write and not yet the current one: on its way, or arrived
    // and waiting unused as the next (its bytes are from before the write).
    for (const w of [...this.inFlight, ...(this.next === undefined ? [] : [this.next])]) if (start < w.start + w.length && end > w.start) w.stale = true;
  }

  private fromWindow(start: number, length: number): Uint8Array | undefined {
    const w = this.current;
    if (w === undefined || start < w.start || start + length > w.start + w.bytes.length) return undefined;
    return w.bytes.slice(start - w.start, start - w.start + length);
  }

  /** Once the reader is half-way through the window, the next one is asked for. */
  private prefetch(): void {
    const w = this.current;
    if (w === undefined || this.next !== undefined) return;
    const end = w.start + w.bytes.length;
    if (this.stream < w.start + w.bytes.length / 2 || this.stream > end || end >= this.byteLength) return;
    this.next = this.request(end);
  }

  private request(start: number): InFlight {
    const length = Math.min(this.windowBytes, this.byteLength - start);
    const window: InFlight = { start, length, arrival: this.fetch(start, length), stale: false };
    this.inFlight.add(window);
    // A prefetch nobody used still leaves the set when it arrives.
    void window.arrival.then(() => this.inFlight.delete(window));
    return window;
  }
}
