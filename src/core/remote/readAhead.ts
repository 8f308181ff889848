/**
 * Sequential disk reads in the Worker, in bigger pieces than v86 asks for. v86's IDE controller
 * runs one command at a time and Linux asks for 128 KiB per command, so a file read through a disk
 * the page keeps was one Worker → page → Worker round trip per 128 KiB: the round trip, not the
 * page's storage, set the speed. A reader that goes on where it stopped is served from a window
 * fetched in one round trip, and the next window is asked for while the first is being used (a
 * quarter of the way in).
 * Small reads outside the stream (a file system's indirect blocks, bitmaps) come in aligned
 * blocks of SIDE_BLOCK_BYTES (one stored page: it costs the same to read as 4 KiB of it), and the
 * last few are kept: ext2 puts a large file's indirect blocks next to each other, away from its
 * data, so the guest reads them one at a time, each a stall of its read (one every 4 MiB of the
 * file), and the next is usually in the block read for the last.
 *
 * What a read is given is a view of the window or block, not a copy: v86 copies it before the
 * callback returns (into guest memory for DMA, into its data register's buffer for PIO) and keeps
 * no reference, so a copy here would be one more allocation per command for the collector to free
 * (tens of MiB between collections while a big file is read).
 *
 * Writes go to the page as always (this is no write cache); a write also patches the window in
 * use and the small blocks kept, and makes any other window or block it overlaps stale (on its
 * way, or arrived and not used yet: its bytes are from before the write): a stale one is never
 * used, the read asks the page again, after the write, so it sees it.
 */

/** How much one sequential round trip fetches. */
export const READ_AHEAD_BYTES = 8 * 1024 * 1024;

/** A small read elsewhere fetches the aligned block around it, this big (one stored page). */
export const SIDE_BLOCK_BYTES = 64 * 1024;
/** How many such blocks are kept (the most recently used). */
const SIDE_BLOCKS = 8;
/** Window buffers kept for the next windows once no window uses them (current, next, one spare). */
const SPARE_WINDOWS = 1;

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
  /** Small blocks read outside the stream, by start, least recently used first. */
  private readonly side = new Map<number, Uint8Array>();
  /** Buffers of windows no longer used, to be filled again. */
  private readonly spare: ArrayBuffer[] = [];

  constructor(
    private readonly byteLength: number,
    /**
     * Read from the page: one round trip. `into`, when given, is a buffer the bytes may be put in
     * (then it is the result's memory, and no longer the caller's).
     */
    private readonly fetch: (start: number, length: number, into?: Uint8Array) => Promise<Uint8Array>,
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
    // A block kept from a read elsewhere serves a read inside it, sequential or not: a mount reads
    // the superblock, then the group descriptors right after it, both in the first block.
    const kept = this.fromSide(start, length);
    if (kept !== undefined) {
      callback(kept);
      return;
    }
    let next = this.next;
    if (next === undefined || next.stale || start < next.start || start + length > next.start + next.length) {
      if (!sequential || length >= this.windowBytes) {
        this.readSide(start, length, callback);
        return;
      }
      // A window on its way that this reader does not use is left to arrive unused.
      if (next !== undefined) this.abandon(next);
      next = this.next = this.request(start);
    }
    this.stream = start + length;
    const used = next;
    void used.arrival.then((bytes) => {
      if (this.next === used) this.next = undefined;
      if (used.stale) {
        // Written meanwhile: ask again, after the write.
        this.retire(bytes);
        void this.fetch(start, length).then(callback);
        return;
      }
      if (this.current !== undefined) this.retire(this.current.bytes);
      this.current = { start: used.start, bytes };
      this.prefetch();
      callback(bytes.subarray(start - used.start, start - used.start + length));
    });
  }

  /** v86's set, before it goes to the page: what is held of the range takes the new bytes. */
  write(start: number, data: Uint8Array): void {
    const end = start + data.length;
    // The window in use and the small blocks kept: bytes held at `at`.
    const held: [number, Uint8Array][] = [...(this.current === undefined ? [] : [[this.current.start, this.current.bytes] as [number, Uint8Array]]), ...this.side];
    for (const [at, bytes] of held) {
      const from = Math.max(start, at);
      const to = Math.min(end, at + bytes.length);
      if (from < to) bytes.set(data.subarray(from - start, to - start), from - at);
    }
    // Every window fetched before this write and not yet the current one: on its way, or arrived
    // and waiting unused as the next (its bytes are from before the write).
    for (const w of [...this.inFlight, ...(this.next === undefined ? [] : [this.next])]) if (start < w.start + w.length && end > w.start) w.stale = true;
  }

  /** A read off the stream: from a small block kept, or the aligned block fetched; a large one as it is. */
  private readSide(start: number, length: number, callback: (bytes: Uint8Array) => void): void {
    const at = start - (start % SIDE_BLOCK_BYTES);
    if (start + length > at + SIDE_BLOCK_BYTES) {
      void this.fetch(start, length).then(callback);
      return;
    }
    const block: InFlight = this.track(at, Math.min(SIDE_BLOCK_BYTES, this.byteLength - at));
    void block.arrival.then((bytes) => {
      if (block.stale) {
        // Written meanwhile: ask again, after the write.
        void this.fetch(start, length).then(callback);
        return;
      }
      this.side.delete(at);
      this.side.set(at, bytes);
      if (this.side.size > SIDE_BLOCKS) this.side.delete(this.side.keys().next().value as number);
      callback(bytes.subarray(start - at, start - at + length));
    });
  }

  /** The bytes from a small block kept, when one holds the whole range (it becomes the most recently used). */
  private fromSide(start: number, length: number): Uint8Array | undefined {
    const at = start - (start % SIDE_BLOCK_BYTES);
    const kept = this.side.get(at);
    if (kept === undefined || start + length > at + kept.length) return undefined;
    this.side.delete(at);
    this.side.set(at, kept);
    return kept.subarray(start - at, start - at + length);
  }

  private fromWindow(start: number, length: number): Uint8Array | undefined {
    const w = this.current;
    if (w === undefined || start < w.start || start + length > w.start + w.bytes.length) return undefined;
    return w.bytes.subarray(start - w.start, start - w.start + length);
  }

  /**
   * Once the reader is a quarter of the way through the window, the next one is asked for: it has
   * the rest of this one (6 MiB of the guest's reading) to arrive.
   */
  private prefetch(): void {
    const w = this.current;
    if (w === undefined || this.next !== undefined) return;
    const end = w.start + w.bytes.length;
    if (this.stream < w.start + w.bytes.length / 4 || this.stream > end || end >= this.byteLength) return;
    this.next = this.request(end);
  }

  private request(start: number): InFlight {
    const length = Math.min(this.windowBytes, this.byteLength - start);
    const spare = this.spare.pop();
    return this.track(start, length, spare === undefined ? new Uint8Array(this.windowBytes).subarray(0, length) : new Uint8Array(spare, 0, length));
  }

  /** A window no reader will use: its buffer is free once it has arrived. */
  private abandon(window: InFlight): void {
    void window.arrival.then((bytes) => this.retire(bytes));
  }

  /**
   * A window's bytes no longer used: its buffer serves a later window. (v86 copies what a read
   * gives it before the read's callback returns, so no view of it is held anywhere.)
   */
  private retire(bytes: Uint8Array): void {
    if (bytes.buffer.byteLength === this.windowBytes && this.spare.length < SPARE_WINDOWS) this.spare.push(bytes.buffer as ArrayBuffer);
  }

  /** Fetches a range that a write made before it arrives must make stale. */
  private track(start: number, length: number, into?: Uint8Array): InFlight {
    const fetched: InFlight = { start, length, arrival: this.fetch(start, length, into), stale: false };
    this.inFlight.add(fetched);
    // A prefetch nobody used still leaves the set when it arrives.
    void fetched.arrival.then(() => this.inFlight.delete(fetched));
    return fetched;
  }
}
