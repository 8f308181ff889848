/**
 * Frames on their way into a guest's NIC, held while the card has no room for them.
 *
 * v86's cards drop a frame that finds no room, and say nothing: the NE2000 when its receive ring
 * (52 pages of 256 bytes on Linux's ne2k-pci: about 8 full-size frames) is full, virtio-net when
 * the guest has posted no receive buffer. A real NE2000 would raise its overrun interrupt; v86's
 * raises none. A guest that did not get the CPU for a moment (a paused machine, two machines on a
 * busy computer) then lost whole TCP windows and waited out retransmission timeouts that grow
 * each time. QEMU keeps such frames in its network queue until the card can take them; so does
 * this queue, up to a byte budget (beyond it, a frame is dropped, as a switch's full port drops).
 *
 * The NE2000 check also keeps one page spare: v86 reads a ring whose write page has reached the
 * driver's boundary page as empty, and writes the next frame over frames the driver has not read.
 */

/** The NE2000 registers the room check reads (v86's src/ne2k.js keeps them under these names). */
export interface Ne2kRing {
  /** Command register: bit 0 is STOP. */
  readonly cr: number;
  /** Page the card writes the next frame to (CURR). */
  readonly curpg: number;
  /** The driver's boundary page (BNRY): one page behind the oldest frame it has not read. */
  readonly boundary: number;
  /** First and one-past-last page of the receive ring. */
  readonly pstart: number;
  readonly pstop: number;
}

/** A received frame's header (4 bytes) and data take whole 256-byte pages; frames shorter than 60 bytes are padded. */
export function ne2kPagesFor(frameLength: number): number {
  return 1 + ((Math.max(60, frameLength) + 4) >> 8);
}

/**
 * Whether the NE2000 can take a frame of this length now without losing it or a frame already in
 * its ring. A stopped card, or one whose driver has not set up its ring yet, takes (and discards)
 * whatever comes, as v86 does.
 */
export function ne2kHasRoom(ring: Ne2kRing, frameLength: number): boolean {
  if ((ring.cr & 1) !== 0 || ring.boundary === 0) return true;
  const free = ring.boundary > ring.curpg ? ring.boundary - ring.curpg : ring.pstop - ring.curpg + (ring.boundary - ring.pstart);
  // Strictly more than needed: a frame that fills the ring exactly would leave CURR on BNRY.
  return free > ne2kPagesFor(frameLength);
}

/** Bytes of frames a NIC's queue holds at most: a few TCP windows. */
export const NIC_QUEUE_BYTES = 256 * 1024;

export interface NicQueueCounts {
  /** Frames that waited in the queue at least once. */
  readonly held: number;
  /** Frames dropped because the queue was at its budget. */
  readonly dropped: number;
}

export class NicReceiveQueue {
  private readonly frames: Uint8Array[] = [];
  private bytes = 0;
  private heldCount = 0;
  private droppedCount = 0;

  constructor(
    /** Whether the card can take this frame now. */
    private readonly hasRoom: (frame: Uint8Array) => boolean,
    /** Hands the frame to the card. */
    private readonly deliver: (frame: Uint8Array) => void,
    private readonly maxBytes: number = NIC_QUEUE_BYTES,
  ) {}

  /** A frame for the guest: handed over now if the card has room and nothing waits before it. False when dropped. */
  offer(frame: Uint8Array): boolean {
    if (this.frames.length > 0) this.feed();
    if (this.frames.length === 0 && this.hasRoom(frame)) {
      this.deliver(frame);
      return true;
    }
    if (this.bytes + frame.length > this.maxBytes) {
      this.droppedCount++;
      return false;
    }
    this.frames.push(frame);
    this.bytes += frame.length;
    this.heldCount++;
    return true;
  }

  /** Hands over waiting frames, oldest first, while the card has room (call after the guest ran). */
  feed(): void {
    while (this.frames.length > 0) {
      const frame = this.frames[0] as Uint8Array;
      if (!this.hasRoom(frame)) return;
      this.frames.shift();
      this.bytes -= frame.length;
      this.deliver(frame);
    }
  }

  get waiting(): number {
    return this.frames.length;
  }

  get counts(): NicQueueCounts {
    return { held: this.heldCount, dropped: this.droppedCount };
  }

  /** Forget waiting frames (the machine restarts or restores: they belong to the guest it had). */
  clear(): void {
    this.frames.length = 0;
    this.bytes = 0;
  }
}
