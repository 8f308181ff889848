import { describe, expect, it } from "vitest";
import { isAppError } from "../errors.ts";
import { PCAP_MAGIC_MICRO, PCAP_MAGIC_NANO, pcapHeader, readPcap, splitTime, writePcap } from "./pcap.ts";

/** 2026-12-01T07:00:00Z in ms. */
const EPOCH = Date.UTC(2026, 11, 1, 7, 0, 0);

const frame = (length: number, fill: number): Uint8Array => new Uint8Array(length).fill(fill);

function refusal(bytes: Uint8Array): unknown {
  try {
    readPcap(bytes, "x.pcap");
  } catch (error) {
    return error;
  }
  return undefined;
}

describe("pcap writer and reader", () => {
  it("writes the classic global header: magic, 2.4, snap length, Ethernet", () => {
    const header = pcapHeader({ epochMs: EPOCH, snapLength: 1600 });
    const view = new DataView(header.buffer);
    expect(header.length).toBe(24);
    expect(view.getUint32(0, true)).toBe(PCAP_MAGIC_MICRO);
    expect([view.getUint16(4, true), view.getUint16(6, true)]).toEqual([2, 4]);
    expect([view.getInt32(8, true), view.getUint32(12, true)]).toEqual([0, 0]);
    expect(view.getUint32(16, true)).toBe(1600);
    expect(view.getUint32(20, true)).toBe(1);
    expect(new DataView(pcapHeader({ epochMs: 0, nanoseconds: true }).buffer).getUint32(0, true)).toBe(PCAP_MAGIC_NANO);
  });

  it("reads back what it wrote: frames, lengths and microsecond times", () => {
    const records = [
      { time: 0, frame: frame(60, 1) },
      { time: 1.5, frame: frame(98, 2) },
      { time: 1234.567891, frame: frame(1514, 3) },
    ];
    const file = readPcap(writePcap(records, { epochMs: EPOCH }));
    expect(file).toMatchObject({ littleEndian: true, nanoseconds: false, versionMajor: 2, versionMinor: 4, snapLength: 65535, linkType: 1 });
    expect(file.records.map((r) => [r.seconds - EPOCH / 1000, r.fraction, r.includedLength, r.originalLength])).toEqual([
      [0, 0, 60, 60],
      [0, 1500, 98, 98],
      [1, 234568, 1514, 1514],
    ]);
    expect(file.records.map((r) => r.frame)).toEqual(records.map((r) => r.frame));
    expect(file.records[2]?.timeMs).toBeCloseTo(EPOCH + 1234.568, 6);
  });

  it("keeps nanoseconds in the nanosecond variant", () => {
    const file = readPcap(writePcap([{ time: 0.000123, frame: frame(60, 0) }, { time: 999.9999, frame: frame(60, 0) }, { time: 2999.9999999, frame: frame(60, 0) }], { epochMs: EPOCH, nanoseconds: true }));
    expect(file.nanoseconds).toBe(true);
    expect(file.records.map((r) => [r.seconds - EPOCH / 1000, r.fraction])).toEqual([
      [0, 123],
      [0, 999999900],
      [3, 0],
    ]);
  });

  it("cuts frames to the snap length and keeps their length on the wire", () => {
    const bytes = writePcap([{ time: 0, frame: frame(1514, 7) }, { time: 1, frame: frame(40, 8) }, { time: 2, frame: frame(64, 9), originalLength: 9000 }], { epochMs: EPOCH, snapLength: 64 });
    const file = readPcap(bytes);
    expect(file.snapLength).toBe(64);
    expect(file.records.map((r) => [r.includedLength, r.originalLength, r.frame.length])).toEqual([
      [64, 1514, 64],
      [40, 40, 40],
      [64, 9000, 64],
    ]);
    expect(bytes.length).toBe(24 + 16 * 3 + 64 + 40 + 64);
  });

  it("carries a millisecond into the seconds instead of writing a million microseconds", () => {
    expect(splitTime(0, 1999.9999999, false)).toEqual({ seconds: 2, fraction: 0 });
    expect(splitTime(EPOCH + 999, 0.9999999, false)).toEqual({ seconds: EPOCH / 1000 + 1, fraction: 0 });
    expect(splitTime(EPOCH, 0.25, false)).toEqual({ seconds: EPOCH / 1000, fraction: 250 });
    expect(splitTime(EPOCH + 1, 12_345.000001, true)).toEqual({ seconds: EPOCH / 1000 + 12, fraction: 346_000_001 });
  });

  it("reads big-endian files", () => {
    const bytes = new Uint8Array(24 + 16 + 4);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, PCAP_MAGIC_MICRO, false);
    view.setUint16(4, 2, false);
    view.setUint16(6, 4, false);
    view.setUint32(16, 96, false);
    view.setUint32(20, 1, false);
    view.setUint32(24, 10, false);
    view.setUint32(28, 20, false);
    view.setUint32(32, 4, false);
    view.setUint32(36, 60, false);
    bytes.set([1, 2, 3, 4], 40);
    const file = readPcap(bytes);
    expect(file).toMatchObject({ littleEndian: false, snapLength: 96 });
    expect(file.records[0]).toMatchObject({ seconds: 10, fraction: 20, includedLength: 4, originalLength: 60, timeMs: 10_000.02 });
  });

  it("refuses a foreign file with a typed error naming it", () => {
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...new Array<number>(24).fill(0)]);
    const error = refusal(png);
    expect(isAppError(error, "bad-capture") && [error.message, error.details.subject]).toEqual(["This is not a pcap file (no pcap magic number at its start).", "x.pcap"]);
    const pcapng = new Uint8Array(32);
    new DataView(pcapng.buffer).setUint32(0, 0x0a0d0d0a, true);
    expect(refusal(pcapng)).toMatchObject({ code: "bad-capture", message: expect.stringMatching(/pcapng/) });
    expect(refusal(new Uint8Array(10))).toMatchObject({ code: "bad-capture", message: expect.stringMatching(/fewer than a pcap header/) });
    const v1 = pcapHeader({ epochMs: 0 });
    v1[4] = 1;
    expect(refusal(v1)).toMatchObject({ code: "bad-capture", message: expect.stringMatching(/version 1\.4/) });
  });

  it("refuses a file cut short, naming the record", () => {
    const bytes = writePcap([{ time: 0, frame: frame(60, 1) }, { time: 1, frame: frame(60, 2) }], { epochMs: EPOCH });
    expect(refusal(bytes.subarray(0, bytes.length - 1))).toMatchObject({ code: "bad-capture", details: { record: 2, offset: 24 + 76 } });
    expect(refusal(bytes.subarray(0, 24 + 76 + 8))).toMatchObject({ code: "bad-capture", message: "Record 2's header is cut short." });
    // A header only is an empty capture, not an error.
    expect(readPcap(bytes.subarray(0, 24)).records).toEqual([]);
  });

  it("refuses a record that claims more bytes kept than it had", () => {
    const bytes = writePcap([{ time: 0, frame: frame(60, 1) }], { epochMs: EPOCH });
    new DataView(bytes.buffer).setUint32(24 + 12, 10, true);
    expect(refusal(bytes)).toMatchObject({ code: "bad-capture", details: { record: 1 } });
  });
});
