/**
 * Just enough DNS (RFC 1035) for the NAT gateway: read a query, and answer A questions. The page
 * cannot resolve names itself (fetch does, later), so like v86's fetch backend the gateway
 * answers every name, here with an address of its own from a private pool, and remembers which
 * name it gave each address: a TCP connection to that address is then an HTTP request to that
 * name. Machines on the segment are answered with their real leased address.
 */
import { formatIpv4, type Ipv4 } from "../../lab/frames.ts";
import { ipToNumber, numberToIp, put16, u16 } from "./ip.ts";

export const DNS_PORT = 53;
const TYPE_A = 1;
const CLASS_IN = 1;
const RCODE_FORMERR = 1;
const RCODE_NOTIMP = 4;
const RCODE_REFUSED = 5;
/** Seconds a guest may keep an answer. */
const ANSWER_TTL = 60;

export interface DnsQuestion {
  readonly name: string;
  readonly type: number;
  readonly cls: number;
}

export interface DnsQuery {
  readonly id: number;
  readonly flags: number;
  readonly questions: readonly DnsQuestion[];
  /** The question section's bytes, copied into the answer as they came. */
  readonly questionBytes: Uint8Array;
}

/** Read a name at `at` (labels, or a compression pointer); undefined when malformed. */
function readName(b: Uint8Array, start: number): { name: string; next: number } | undefined {
  const labels: string[] = [];
  let at = start;
  let next: number | undefined;
  for (let hops = 0; hops < 32; hops++) {
    const length = b[at];
    if (length === undefined) return undefined;
    if (length === 0) return { name: labels.join("."), next: next ?? at + 1 };
    if ((length & 0xc0) === 0xc0) {
      if (at + 1 >= b.length) return undefined;
      next ??= at + 2;
      at = ((length & 0x3f) << 8) | (b[at + 1] as number);
      continue;
    }
    if (length > 63 || at + 1 + length > b.length) return undefined;
    labels.push(String.fromCharCode(...b.subarray(at + 1, at + 1 + length)));
    at += 1 + length;
  }
  return undefined;
}

/** A query (QR = 0, standard opcode); undefined for anything else. */
export function parseDnsQuery(b: Uint8Array): DnsQuery | "malformed" | undefined {
  if (b.length < 12) return undefined;
  const flags = u16(b, 2);
  if ((flags & 0x8000) !== 0) return undefined;
  const count = u16(b, 4);
  const questions: DnsQuestion[] = [];
  let at = 12;
  for (let i = 0; i < count; i++) {
    const name = readName(b, at);
    if (name === undefined || name.next + 4 > b.length) return "malformed";
    questions.push({ name: name.name, type: u16(b, name.next), cls: u16(b, name.next + 2) });
    at = name.next + 4;
  }
  return { id: u16(b, 0), flags, questions, questionBytes: b.slice(12, at) };
}

function encodeName(name: string): Uint8Array {
  const labels = name.split(".").filter((l) => l.length > 0);
  const out = new Uint8Array(labels.reduce((n, l) => n + 1 + l.length, 0) + 1);
  let at = 0;
  for (const label of labels) {
    out[at] = label.length;
    out.set(Uint8Array.from(label, (c) => c.charCodeAt(0) & 0xff), at + 1);
    at += 1 + label.length;
  }
  return out;
}

/**
 * The answer to `query`: an A record for each A question `resolve` knows, none for other
 * types (NOERROR, so a resolver asking AAAA then A carries on), NOTIMP for other opcodes, and
 * REFUSED with no records when `resolve` refuses a name of an A question.
 */
export function dnsAnswer(query: DnsQuery, resolve: (name: string) => Ipv4 | "refused" | undefined): Uint8Array {
  const opcode = (query.flags >>> 11) & 0x0f;
  let answers: Uint8Array[] = [];
  let rcode = opcode === 0 ? 0 : RCODE_NOTIMP;
  if (opcode === 0) {
    for (const q of query.questions) {
      if (q.type !== TYPE_A || q.cls !== CLASS_IN) continue;
      const ip = resolve(q.name);
      if (ip === "refused") rcode = RCODE_REFUSED;
      if (ip === undefined || ip === "refused") continue;
      const name = encodeName(q.name);
      const record = new Uint8Array(name.length + 14);
      record.set(name, 0);
      put16(record, name.length, TYPE_A);
      put16(record, name.length + 2, CLASS_IN);
      put16(record, name.length + 6, ANSWER_TTL);
      put16(record, name.length + 8, 4);
      record.set(ip, name.length + 10);
      answers.push(record);
    }
  }
  if (rcode === RCODE_REFUSED) answers = [];
  const length = 12 + query.questionBytes.length + answers.reduce((n, a) => n + a.length, 0);
  const out = new Uint8Array(length);
  put16(out, 0, query.id);
  // QR, the opcode and RD as asked, RA, the rcode.
  put16(out, 2, 0x8000 | (query.flags & 0x7900) | 0x0080 | rcode);
  put16(out, 4, query.questions.length);
  put16(out, 6, answers.length);
  out.set(query.questionBytes, 12);
  let at = 12 + query.questionBytes.length;
  for (const a of answers) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

/** A FORMERR answer to a query whose questions could not be read. */
export function dnsFormatError(query: Uint8Array): Uint8Array {
  const out = new Uint8Array(12);
  out.set(query.subarray(0, 2), 0);
  put16(out, 2, 0x8000 | 0x0080 | RCODE_FORMERR);
  return out;
}

/** A name as the gateway keeps it: lower case, no trailing dot. */
export function normalName(name: string): string {
  return name.toLowerCase().replace(/\.$/, "");
}

/**
 * Names to made-up addresses and back. Addresses are given in turn from the pool; when it wraps,
 * the oldest name loses its address (a guest that kept it would reach the newer name).
 */
export class FakeDns {
  private readonly byName = new Map<string, number>();
  private readonly byAddress = new Map<number, string>();
  private next: number;
  private readonly first: number;
  private readonly last: number;

  constructor(pool: { readonly first: Ipv4; readonly last: Ipv4 }) {
    this.first = ipToNumber(pool.first);
    this.last = ipToNumber(pool.last);
    this.next = this.first;
  }

  /** The address for `name`, given now if new. */
  addressFor(name: string): Ipv4 {
    const key = normalName(name);
    const known = this.byName.get(key);
    if (known !== undefined) return numberToIp(known);
    const ip = this.next;
    this.next = ip >= this.last ? this.first : ip + 1;
    const old = this.byAddress.get(ip);
    if (old !== undefined) this.byName.delete(old);
    this.byName.set(key, ip);
    this.byAddress.set(ip, key);
    return numberToIp(ip);
  }

  /** The name an address was given for, if it is one of ours. */
  nameOf(ip: Ipv4): string | undefined {
    return this.byAddress.get(ipToNumber(ip));
  }

  contains(ip: Ipv4): boolean {
    const n = ipToNumber(ip);
    return n >= this.first && n <= this.last;
  }

  /** Name ↔ address pairs given so far, for a UI. */
  get entries(): readonly { readonly name: string; readonly ip: string }[] {
    return [...this.byName].map(([name, ip]) => ({ name, ip: formatIpv4(numberToIp(ip)) }));
  }
}
