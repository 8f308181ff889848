/**
 * Classic libpcap files (the format tcpdump writes and Wireshark and tshark open): a 24-byte
 * global header (magic, version 2.4, snap length, LINKTYPE_ETHERNET) and per frame a 16-byte
 * record header (seconds, microseconds or nanoseconds, bytes kept, bytes on the wire) and the
 * bytes. Times are clock milliseconds placed on the calendar by `epochMs` (wall-clock ms at
 * clock time 0), which the caller supplies: the core reads no wall clock. The reader takes
 * either byte order and either resolution, and refuses anything else with a typed error.
 */
import { concatBytes } from "../bytes.ts";
import { AppError } from "../errors.ts";

export const PCAP_MAGIC_MICRO = 0xa1b2c3d4;
export const PCAP_MAGIC_NANO = 0xa1b23c4d;
export const PCAPNG_MAGIC = 0x0a0d0d0a;
export const LINKTYPE_ETHERNET = 1;
const GLOBAL_HEADER = 24;
const RECORD_HEADER = 16;

export interface PcapRecord {
  /** Clock milliseconds (fractions kept down to the file's resolution). */
  readonly time: number;
  readonly frame: Uint8Array;
  /** Bytes the frame had on the wire, when `frame` is already cut; its length otherwise. */
  readonly originalLength?: number;
}

export interface PcapWriteOptions {
  /** Wall-clock milliseconds since 1970 at clock time 0. */
  readonly epochMs: number;
  readonly snapLength?: number;
  /** Nanosecond timestamps (magic 0xa1b23c4d) instead of microseconds. */
  readonly nanoseconds?: boolean;
}

export function pcapHeader(options: PcapWriteOptions): Uint8Array {
  const header = new Uint8Array(GLOBAL_HEADER);
  const view = new DataView(header.buffer);
  view.setUint32(0, options.nanoseconds === true ? PCAP_MAGIC_NANO : PCAP_MAGIC_MICRO, true);
  view.setUint16(4, 2, true);
  view.setUint16(6, 4, true);
  // thiszone and sigfigs stay 0.
  view.setUint32(16, snapLengthOf(options), true);
  view.setUint32(20, LINKTYPE_ETHERNET, true);
  return header;
}

function snapLengthOf(options: PcapWriteOptions): number {
  return Math.max(1, Math.floor(options.snapLength ?? 65_535));
}

/**
 * Seconds and the fraction (µs or ns) of `epochMs + ms` since 1970. The two are split apart
 * before adding: their sum as one double would keep only about 0.2 µs of a present-day time.
 */
export function splitTime(epochMs: number, ms: number, nanoseconds: boolean): { seconds: number; fraction: number } {
  const perMs = nanoseconds ? 1e6 : 1e3;
  const epochSeconds = Math.floor(epochMs / 1000);
  const timeSeconds = Math.floor(ms / 1000);
  let seconds = epochSeconds + timeSeconds;
  let fraction = Math.round((epochMs - epochSeconds * 1000 + (ms - timeSeconds * 1000)) * perMs);
  while (fraction >= perMs * 1000) {
    seconds += 1;
    fraction -= perMs * 1000;
  }
  return { seconds, fraction };
}

export function pcapRecord(record: PcapRecord, options: PcapWriteOptions): Uint8Array {
  const kept = Math.min(record.frame.length, snapLengthOf(options));
  const out = new Uint8Array(RECORD_HEADER + kept);
  const view = new DataView(out.buffer);
  const { seconds, fraction } = splitTime(options.epochMs, record.time, options.nanoseconds === true);
  view.setUint32(0, seconds >>> 0, true);
  view.setUint32(4, fraction, true);
  view.setUint32(8, kept, true);
  view.setUint32(12, Math.max(record.originalLength ?? record.frame.length, record.frame.length), true);
  out.set(record.frame.subarray(0, kept), RECORD_HEADER);
  return out;
}

/** A whole file: the header, then each record in the order given. */
export function writePcap(records: Iterable<PcapRecord>, options: PcapWriteOptions): Uint8Array {
  const parts = [pcapHeader(options)];
  for (const record of records) parts.push(pcapRecord(record, options));
  return concatBytes(parts);
}

export interface PcapFileRecord {
  readonly seconds: number;
  /** Microseconds or nanoseconds, as the file says. */
  readonly fraction: number;
  /** Wall-clock milliseconds since 1970. */
  readonly timeMs: number;
  readonly includedLength: number;
  readonly originalLength: number;
  readonly frame: Uint8Array;
}

export interface PcapFile {
  readonly littleEndian: boolean;
  readonly nanoseconds: boolean;
  readonly versionMajor: number;
  readonly versionMinor: number;
  readonly snapLength: number;
  readonly linkType: number;
  readonly records: readonly PcapFileRecord[];
}

function refuse(message: string, details: { subject?: string; record?: number; offset?: number } = {}): AppError<"bad-capture"> {
  return new AppError("bad-capture", message, { details });
}

/** Parse a classic pcap file; AppError "bad-capture" for anything else, or a file cut short. */
export function readPcap(bytes: Uint8Array, subject?: string): PcapFile {
  const named = subject === undefined ? {} : { subject };
  if (bytes.length < GLOBAL_HEADER) throw refuse(`The file has ${bytes.length} bytes, fewer than a pcap header.`, named);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magicLe = view.getUint32(0, true);
  const magicBe = view.getUint32(0, false);
  let littleEndian: boolean;
  let nanoseconds: boolean;
  if (magicLe === PCAP_MAGIC_MICRO || magicLe === PCAP_MAGIC_NANO) [littleEndian, nanoseconds] = [true, magicLe === PCAP_MAGIC_NANO];
  else if (magicBe === PCAP_MAGIC_MICRO || magicBe === PCAP_MAGIC_NANO) [littleEndian, nanoseconds] = [false, magicBe === PCAP_MAGIC_NANO];
  else if (magicLe === PCAPNG_MAGIC) throw refuse("This is a pcapng file; virtlab reads classic pcap files.", named);
  else throw refuse("This is not a pcap file (no pcap magic number at its start).", named);
  const versionMajor = view.getUint16(4, littleEndian);
  const versionMinor = view.getUint16(6, littleEndian);
  if (versionMajor !== 2) throw refuse(`pcap version ${versionMajor}.${versionMinor} is not one virtlab reads (2.4).`, named);
  const snapLength = view.getUint32(16, littleEndian);
  const linkType = view.getUint32(20, littleEndian) & 0x0fffffff;
  const records: PcapFileRecord[] = [];
  const perMs = nanoseconds ? 1e6 : 1e3;
  for (let at = GLOBAL_HEADER; at < bytes.length; ) {
    const record = records.length + 1;
    if (at + RECORD_HEADER > bytes.length) throw refuse(`Record ${record}'s header is cut short.`, { ...named, record, offset: at });
    const seconds = view.getUint32(at, littleEndian);
    const fraction = view.getUint32(at + 4, littleEndian);
    const includedLength = view.getUint32(at + 8, littleEndian);
    const originalLength = view.getUint32(at + 12, littleEndian);
    if (at + RECORD_HEADER + includedLength > bytes.length) throw refuse(`Record ${record} is cut short.`, { ...named, record, offset: at });
    if (includedLength > originalLength || fraction >= perMs * 1000) throw refuse(`Record ${record}'s header makes no sense.`, { ...named, record, offset: at });
    records.push({ seconds, fraction, timeMs: seconds * 1000 + fraction / perMs, includedLength, originalLength, frame: bytes.slice(at + RECORD_HEADER, at + RECORD_HEADER + includedLength) });
    at += RECORD_HEADER + includedLength;
  }
  return { littleEndian, nanoseconds, versionMajor, versionMinor, snapLength, linkType, records };
}
