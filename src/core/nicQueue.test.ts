import { describe, expect, it } from "vitest";
import { NicReceiveQueue, ne2kHasRoom, ne2kPagesFor, type Ne2kRing } from "./nicQueue.ts";

/** Linux's ne2k-pci ring: pages 0x4c..0x80 (the first 12 of 0x40..0x80 are its transmit buffers). */
const LINUX_RING = { cr: 0x22, pstart: 0x4c, pstop: 0x80 } as const;

describe("ne2kPagesFor", () => {
  it.each([
    [60, 1],
    [14, 1], // padded to 60
    [251, 1],
    [252, 2], // 256 bytes with the header: v86 and Linux's driver both count a second page
    [1514, 6],
  ])("a %d-byte frame takes %d page(s) with its 4-byte header", (length, pages) => {
    expect(ne2kPagesFor(length)).toBe(pages);
  });
});

describe("ne2kHasRoom", () => {
  const ring = (curpg: number, boundary: number, cr: number = LINUX_RING.cr): Ne2kRing => ({ ...LINUX_RING, cr, curpg, boundary });
  it.each([
    // [case, curpg, boundary, frame length, room]
    ["an empty ring (BNRY one page behind CURR)", 0x50, 0x4f, 1514, true],
    ["an empty ring where BNRY wrapped to the last page", 0x4c, 0x7f, 1514, true],
    ["7 free pages for a 6-page frame", 0x50, 0x57, 1514, true],
    ["6 free pages for a 6-page frame: it would leave CURR on BNRY", 0x50, 0x56, 1514, false],
    ["6 free pages for a 1-page frame", 0x50, 0x56, 60, true],
    ["free pages counted across the wrap", 0x7e, 0x4f, 1514, false], // 2 + 3 = 5 free
    ["free pages counted across the wrap, enough", 0x7e, 0x53, 1514, true], // 2 + 7 = 9 free
  ])("%s", (_name, curpg, boundary, length, room) => {
    expect(ne2kHasRoom(ring(curpg, boundary), length)).toBe(room);
  });

  it("a stopped card, or one whose ring is not set up yet, takes the frame (and v86 discards it)", () => {
    expect(ne2kHasRoom(ring(0x50, 0x56, 0x21), 1514)).toBe(true);
    expect(ne2kHasRoom(ring(0x50, 0), 1514)).toBe(true);
  });

  it("never lets a frame end exactly on BNRY, the state v86 would read as an empty ring", () => {
    // Fill from an empty ring with full-size frames while the driver reads nothing.
    let curpg = 0x4d;
    const boundary = 0x4c;
    let delivered = 0;
    for (let i = 0; i < 20; i++) {
      const state = ring(curpg, boundary);
      if (!ne2kHasRoom(state, 1514)) break;
      curpg += ne2kPagesFor(1514);
      if (curpg >= LINUX_RING.pstop) curpg += LINUX_RING.pstart - LINUX_RING.pstop;
      expect(curpg).not.toBe(boundary);
      delivered++;
    }
    // 52 pages, one kept spare: 8 frames of 6 pages.
    expect(delivered).toBe(8);
  });
});

describe("NicReceiveQueue", () => {
  function card(room: number): { queue: NicReceiveQueue; got: number[]; setRoom(n: number): void } {
    let free = room;
    const got: number[] = [];
    const queue = new NicReceiveQueue(
      () => free > 0,
      (frame) => {
        free--;
        got.push(frame[0] as number);
      },
      300,
    );
    return { queue, got, setRoom: (n) => (free = n) };
  }
  const frame = (id: number, length = 100): Uint8Array => new Uint8Array(length).fill(id);

  it("hands a frame over at once when the card has room and nothing waits", () => {
    const { queue, got } = card(5);
    expect(queue.offer(frame(1))).toBe(true);
    expect(got).toEqual([1]);
    expect(queue.waiting).toBe(0);
    expect(queue.counts).toEqual({ held: 0, dropped: 0 });
  });

  it("holds frames while the card is full and feeds them in order once it has room", () => {
    const { queue, got, setRoom } = card(1);
    queue.offer(frame(1));
    queue.offer(frame(2));
    queue.offer(frame(3));
    expect(got).toEqual([1]);
    setRoom(1);
    // A new frame goes behind the waiting ones even though the card has room now.
    queue.offer(frame(4));
    expect(got).toEqual([1, 2]);
    queue.feed();
    expect(got).toEqual([1, 2]);
    setRoom(10);
    queue.feed();
    expect(got).toEqual([1, 2, 3, 4]);
    expect(queue.waiting).toBe(0);
    expect(queue.counts).toEqual({ held: 3, dropped: 0 });
  });

  it("drops what goes past its byte budget, and counts it", () => {
    const { queue, got, setRoom } = card(0);
    expect([queue.offer(frame(1)), queue.offer(frame(2)), queue.offer(frame(3)), queue.offer(frame(4))]).toEqual([true, true, true, false]);
    setRoom(10);
    queue.feed();
    expect(got).toEqual([1, 2, 3]);
    expect(queue.counts).toEqual({ held: 3, dropped: 1 });
  });

  it("forgets waiting frames on clear", () => {
    const { queue, got, setRoom } = card(0);
    queue.offer(frame(1));
    queue.clear();
    setRoom(10);
    queue.feed();
    expect(got).toEqual([]);
    expect(queue.offer(frame(2, 300))).toBe(true);
  });
});
