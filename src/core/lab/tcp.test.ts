import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.ts";
import type { Ipv4, Mac } from "./frames.ts";
import { ACK, FIN, PSH, SYN, TcpEndpoint, parseTcp, tcpFrame, type TcpSegment } from "./tcp.ts";

const guestMac: Mac = [0x00, 0x22, 0x15, 0x46, 0xe4, 0x19];
const peerMac: Mac = [0x52, 0x54, 0x00, 0x86, 0x00, 0x01];
const guestIp: Ipv4 = [10, 86, 0, 2];
const peerIp: Ipv4 = [10, 86, 0, 1];
const GUEST_ISN = 0xfffffff0; // wraps past 2^32 within the first segment
const ISS = 1000;

/** A segment from the guest to the peer, as the peer parses it off the bus. */
function fromGuest(o: { seq: number; ack?: number; flags: number; window?: number; mss?: number; payload?: Uint8Array }): TcpSegment {
  const frame = tcpFrame({
    from: guestMac,
    to: peerMac,
    src: guestIp,
    dst: peerIp,
    srcPort: 40000,
    dstPort: 5001,
    seq: o.seq >>> 0,
    ack: (o.ack ?? 0) >>> 0,
    flags: o.flags,
    window: o.window ?? 65535,
    ...(o.mss === undefined ? {} : { mss: o.mss }),
    ...(o.payload === undefined ? {} : { payload: o.payload }),
  });
  const segment = parseTcp(frame, peerIp);
  if (segment === undefined) throw new Error("not parsed");
  return segment;
}

function endpoint(options: { data?: Uint8Array } = {}) {
  const clock = new ManualClock();
  const sent: TcpSegment[] = [];
  const received: number[] = [];
  let closed: boolean | undefined;
  const ep = new TcpEndpoint({
    local: { mac: peerMac, ip: peerIp, port: 5001 },
    clock,
    iss: ISS,
    send: (frame) => {
      const segment = parseTcp(frame, guestIp);
      if (segment === undefined) throw new Error("the peer sent a frame that is not TCP to the guest");
      sent.push(segment);
    },
    ...(options.data === undefined ? {} : { data: options.data }),
    onData: (bytes) => received.push(...bytes),
    onClosed: (reset) => {
      closed = reset;
    },
  });
  return { ep, clock, sent, received, closed: () => closed };
}

const bytes = (n: number, seed = 1): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);

describe("tcp frames", () => {
  it("round-trips a segment with both checksums, the MSS option and a payload", () => {
    const segment = fromGuest({ seq: 123456789, ack: 42, flags: ACK | PSH, window: 5000, mss: 1460, payload: bytes(100) });
    expect(segment).toMatchObject({ srcPort: 40000, dstPort: 5001, seq: 123456789, ack: 42, flags: ACK | PSH, window: 5000, mss: 1460, checksumsOk: true });
    expect([...segment.payload]).toEqual([...bytes(100)]);
    expect(segment.srcIp).toEqual([...guestIp]);
  });

  it("notices a flipped payload byte, and ignores frames for other hosts", () => {
    const frame = tcpFrame({ from: guestMac, to: peerMac, src: guestIp, dst: peerIp, srcPort: 1, dstPort: 2, seq: 1, ack: 0, flags: ACK, window: 1, payload: bytes(10) });
    frame[frame.length - 1] = (frame[frame.length - 1] as number) ^ 0x40;
    expect(parseTcp(frame, peerIp)?.checksumsOk).toBe(false);
    expect(parseTcp(frame, [10, 86, 0, 9])).toBeUndefined();
  });
});

describe("tcp endpoint", () => {
  it("as a sink: handshake, in-order data across the 2^32 wrap, a repeat ACKed again, FIN both ways", () => {
    const { ep, sent, received, closed } = endpoint();
    ep.receive(fromGuest({ seq: GUEST_ISN, flags: SYN, mss: 1460 }));
    expect(sent.at(-1)).toMatchObject({ flags: SYN | ACK, seq: ISS, ack: (GUEST_ISN + 1) >>> 0, mss: 1460 });
    ep.receive(fromGuest({ seq: GUEST_ISN + 1, ack: ISS + 1, flags: ACK }));
    ep.receive(fromGuest({ seq: GUEST_ISN + 1, ack: ISS + 1, flags: ACK | PSH, payload: bytes(100) }));
    expect(sent.at(-1)).toMatchObject({ flags: ACK, ack: (GUEST_ISN + 101) >>> 0 });
    // The same segment again (its ACK was lost): not taken twice, ACKed again.
    ep.receive(fromGuest({ seq: GUEST_ISN + 1, ack: ISS + 1, flags: ACK | PSH, payload: bytes(100) }));
    expect(received).toHaveLength(100);
    expect(sent.at(-1)).toMatchObject({ flags: ACK, ack: (GUEST_ISN + 101) >>> 0 });
    ep.receive(fromGuest({ seq: GUEST_ISN + 101, ack: ISS + 1, flags: ACK | PSH, payload: bytes(50, 9) }));
    expect(received).toEqual([...bytes(100), ...bytes(50, 9)]);
    // The guest closes: the peer ACKs and closes its side too, then waits for the last ACK.
    ep.receive(fromGuest({ seq: GUEST_ISN + 151, ack: ISS + 1, flags: ACK | FIN }));
    expect(sent.at(-1)).toMatchObject({ flags: ACK | FIN, seq: ISS + 1, ack: (GUEST_ISN + 152) >>> 0 });
    expect(closed()).toBeUndefined();
    ep.receive(fromGuest({ seq: GUEST_ISN + 152, ack: ISS + 2, flags: ACK }));
    expect(closed()).toBe(false);
    expect(ep.counters.received).toBe(150);
  });

  it("drops a segment with a bad checksum and counts it", () => {
    const { ep, received } = endpoint();
    ep.receive(fromGuest({ seq: 1, flags: SYN }));
    ep.receive(fromGuest({ seq: 2, ack: ISS + 1, flags: ACK }));
    ep.receive({ ...fromGuest({ seq: 2, ack: ISS + 1, flags: ACK, payload: bytes(10) }), checksumsOk: false });
    expect(received).toHaveLength(0);
    expect(ep.counters.badChecksums).toBe(1);
  });

  it("as a source: stays within the guest's window and its congestion window, grows it on ACKs, then sends FIN", () => {
    const data = bytes(10_000);
    const { ep, sent } = endpoint({ data });
    ep.receive(fromGuest({ seq: 0, flags: SYN, mss: 1000, window: 3000 }));
    ep.receive(fromGuest({ seq: 1, ack: ISS + 1, flags: ACK | FIN, window: 3000 })); // nc < /dev/null: FIN at once
    const dataSegments = (): TcpSegment[] => sent.filter((s) => s.payload.length > 0);
    // Slow start begins at two segments.
    expect(dataSegments().map((s) => s.seq - ISS - 1)).toEqual([0, 1000]);
    ep.receive(fromGuest({ seq: 2, ack: ISS + 1 + 2000, flags: ACK, window: 3000 }));
    // cwnd grew to 4000, but the guest's window holds 3000.
    expect(dataSegments().map((s) => s.seq - ISS - 1)).toEqual([0, 1000, 2000, 3000, 4000]);
    for (let acked = 5000; acked <= 10_000; acked += 1000) ep.receive(fromGuest({ seq: 2, ack: ISS + 1 + acked, flags: ACK, window: 65535 }));
    const stream = new Uint8Array(10_000);
    for (const s of dataSegments()) stream.set(s.payload, s.seq - ISS - 1);
    expect([...stream]).toEqual([...data]);
    expect(sent.at(-1)).toMatchObject({ flags: ACK | FIN, seq: ISS + 1 + 10_000 });
    expect(ep.counters.retransmits).toBe(0);
  });

  it("sends again from the oldest unacknowledged byte after three duplicate ACKs, and after a timeout", () => {
    const data = bytes(8000);
    const { ep, sent, clock, closed } = endpoint({ data });
    ep.receive(fromGuest({ seq: 0, flags: SYN, mss: 1000 }));
    ep.receive(fromGuest({ seq: 1, ack: ISS + 1, flags: ACK | FIN }));
    ep.receive(fromGuest({ seq: 2, ack: ISS + 1 + 2000, flags: ACK }));
    // Segment 2000 was lost (a full NIC ring): the guest repeats its ACK for each later one.
    const beforeLoss = sent.length;
    for (let i = 0; i < 3; i++) ep.receive(fromGuest({ seq: 2, ack: ISS + 1 + 2000, flags: ACK }));
    expect(sent[beforeLoss]).toMatchObject({ seq: ISS + 1 + 2000 });
    expect(ep.counters.retransmits).toBeGreaterThan(0);
    // Data sent before the go-back-N is acknowledged at once: sending continues past it.
    ep.receive(fromGuest({ seq: 2, ack: ISS + 1 + 5000, flags: ACK }));
    const before = sent.length;
    // Nothing answers now: after the retransmission timeout the oldest unacknowledged byte goes again.
    clock.advance(1000);
    expect(sent.length).toBeGreaterThan(before);
    expect(sent.slice(before).some((s) => s.seq === ISS + 1 + 5000)).toBe(true);
    // The guest acknowledges whatever arrives, until all is in; then the FIN.
    for (let guard = 0; guard < 20 && sent.at(-1)?.flags !== (ACK | FIN); guard++) {
      const highest = Math.max(...sent.map((s) => s.seq - ISS - 1 + s.payload.length));
      ep.receive(fromGuest({ seq: 2, ack: ISS + 1 + highest, flags: ACK }));
    }
    expect(sent.at(-1)).toMatchObject({ flags: ACK | FIN, seq: ISS + 1 + 8000 });
    ep.receive(fromGuest({ seq: 2, ack: ISS + 1 + 8000 + 1, flags: ACK }));
    expect(closed()).toBe(false);
  });
});

describe("tcp endpoint answering later", () => {
  it("holds its FIN until respond() gives the answer, then sends it and closes", () => {
    const clock = new ManualClock();
    const sent: TcpSegment[] = [];
    let closed: boolean | undefined;
    const ep = new TcpEndpoint({
      local: { mac: peerMac, ip: peerIp, port: 80 },
      clock,
      iss: ISS,
      respondLater: true,
      send: (frame) => {
        const segment = parseTcp(frame, guestIp);
        if (segment !== undefined) sent.push(segment);
      },
      onClosed: (reset) => {
        closed = reset;
      },
    });
    ep.receive(fromGuest({ seq: 0, flags: SYN, mss: 1460 }));
    ep.receive(fromGuest({ seq: 1, ack: ISS + 1, flags: ACK }));
    ep.receive(fromGuest({ seq: 1, ack: ISS + 1, flags: ACK | PSH | FIN, payload: bytes(20) }));
    // The guest closed its side; the answer is not known yet: ACK only, no FIN.
    expect(sent.at(-1)).toMatchObject({ flags: ACK, ack: 22 });
    expect(sent.some((s) => (s.flags & FIN) !== 0)).toBe(false);
    ep.respond(bytes(3000, 5));
    const data = sent.filter((s) => s.payload.length > 0);
    expect(data.map((s) => s.seq - ISS - 1)).toEqual([0, 1460]);
    ep.receive(fromGuest({ seq: 22, ack: ISS + 1 + 2920, flags: ACK }));
    expect(sent.at(-1)).toMatchObject({ flags: ACK | FIN, seq: ISS + 1 + 3000 });
    ep.respond(bytes(10)); // a second answer is ignored
    ep.receive(fromGuest({ seq: 22, ack: ISS + 1 + 3001, flags: ACK }));
    expect(closed).toBe(false);
  });
});
