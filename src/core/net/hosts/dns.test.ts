import { describe, expect, it } from "vitest";
import { FakeDns, dnsAnswer, dnsFormatError, parseDnsQuery, type DnsQuery } from "./dns.ts";
import { dnsQuery } from "./testing.ts";

function query(bytes: Uint8Array): DnsQuery {
  const q = parseDnsQuery(bytes);
  if (q === undefined || q === "malformed") throw new Error("not a query");
  return q;
}

describe("dns", () => {
  it("answers an A question byte-exact: header, the question echoed, one record with a 60 s TTL", () => {
    const bytes = dnsQuery(0xbeef, "example.com");
    const answer = dnsAnswer(query(bytes), () => [198, 18, 0, 1]);
    expect([...answer.subarray(0, 12)]).toEqual([0xbe, 0xef, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
    expect([...answer.subarray(12, bytes.length)]).toEqual([...bytes.subarray(12)]);
    const record = answer.subarray(bytes.length);
    expect([...record]).toEqual([7, ...Array.from("example", (c) => c.charCodeAt(0)), 3, 99, 111, 109, 0, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 18, 0, 1]);
  });

  it("answers AAAA with no records (NOERROR) and other opcodes with NOTIMP; FORMERR for a broken question", () => {
    const aaaa = dnsAnswer(query(dnsQuery(1, "example.com", 28)), () => [1, 2, 3, 4]);
    expect([aaaa[3], aaaa[6], aaaa[7]]).toEqual([0x80, 0, 0]);
    const status = dnsQuery(2, "example.com");
    status[2] = 0x10; // opcode 2 (status)
    expect((dnsAnswer(query(status), () => [1, 2, 3, 4])[3] as number) & 0x0f).toBe(4);
    const cut = dnsQuery(3, "example.com").subarray(0, 20);
    expect(parseDnsQuery(cut)).toBe("malformed");
    expect([...dnsFormatError(cut)]).toEqual([0, 3, 0x80, 0x81, 0, 0, 0, 0, 0, 0, 0, 0]);
    const response = dnsQuery(4, "a.b");
    response[2] = 0x81;
    expect(parseDnsQuery(response)).toBeUndefined();
  });

  it("answers REFUSED with no record when a name is refused, and AAAA for it still NOERROR", () => {
    const bytes = dnsQuery(5, "example.com");
    const refused = dnsAnswer(query(bytes), () => "refused");
    expect([...refused.subarray(0, 12)]).toEqual([0, 5, 0x81, 0x85, 0, 1, 0, 0, 0, 0, 0, 0]);
    expect(refused.length).toBe(bytes.length);
    expect(dnsAnswer(query(dnsQuery(6, "example.com", 28)), () => "refused")[3]).toBe(0x80);
  });

  it("follows a compression pointer, and refuses a pointer loop", () => {
    const bytes = new Uint8Array([0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
    expect(parseDnsQuery(bytes)).toBe("malformed");
    const pointing = new Uint8Array([0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 18, 0, 1, 0, 1, 1, 120, 0]);
    expect(query(pointing).questions[0]).toEqual({ name: "x", type: 1, cls: 1 });
  });

  it("gives each name its own address, the same again, and the name back from the address", () => {
    const fake = new FakeDns({ first: [198, 18, 0, 1], last: [198, 18, 0, 2] });
    expect(fake.addressFor("Example.COM.")).toEqual([198, 18, 0, 1]);
    expect(fake.addressFor("example.com")).toEqual([198, 18, 0, 1]);
    expect(fake.addressFor("debian.org")).toEqual([198, 18, 0, 2]);
    expect(fake.nameOf([198, 18, 0, 2])).toBe("debian.org");
    // The pool wraps: the oldest name loses its address.
    expect(fake.addressFor("third.net")).toEqual([198, 18, 0, 1]);
    expect(fake.nameOf([198, 18, 0, 1])).toBe("third.net");
    expect(fake.entries.map((e) => e.name)).toEqual(["debian.org", "third.net"]);
  });
});
