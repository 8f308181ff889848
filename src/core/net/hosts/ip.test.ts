import { describe, expect, it } from "vitest";
import { internetChecksum, type Mac } from "../../lab/frames.ts";
import { ICMP_TIME_EXCEEDED, PROTO_ICMP, broadcastOf, decrementTtl, icmpErrorFrame, inSubnet, ipToNumber, ipv4Frame, numberToIp, parseIpv4, parseIpv4Frame, parseUdp, udpFrame } from "./ip.ts";

const a: Mac = [0x52, 0x54, 0, 0, 0, 1];
const b: Mac = [0x52, 0x54, 0, 0, 0, 2];

describe("ipv4 helpers", () => {
  it("converts addresses and subnets", () => {
    expect(ipToNumber([10, 0, 1, 255])).toBe(0x0a0001ff);
    expect(numberToIp(0xc0a80101)).toEqual([192, 168, 1, 1]);
    expect(parseIpv4("10.0.2.1")).toEqual([10, 0, 2, 1]);
    expect(parseIpv4("10.0.2.256")).toBeUndefined();
    expect(parseIpv4("10.0.2")).toBeUndefined();
    expect(inSubnet([10, 0, 1, 9], [10, 0, 1, 1], 24)).toBe(true);
    expect(inSubnet([10, 0, 2, 9], [10, 0, 1, 1], 24)).toBe(false);
    expect(broadcastOf([10, 0, 1, 1], 24)).toEqual([10, 0, 1, 255]);
    expect(broadcastOf([172, 16, 5, 1], 20)).toEqual([172, 16, 15, 255]);
  });

  it("builds a UDP frame byte-exact, with checksums that verify", () => {
    const frame = udpFrame({ from: a, to: b, src: [10, 0, 0, 1], dst: [10, 0, 0, 2], srcPort: 1000, dstPort: 53, payload: Uint8Array.of(1, 2, 3) });
    expect(frame.length).toBe(14 + 20 + 8 + 3);
    expect([...frame.subarray(12, 14)]).toEqual([0x08, 0x00]);
    expect([...frame.subarray(14, 24)]).toEqual([0x45, 0, 0, 31, 0, 0, 0, 0, 64, 17]);
    expect([...frame.subarray(34, 40)]).toEqual([0x03, 0xe8, 0x00, 0x35, 0x00, 0x0b]);
    expect(internetChecksum(frame, 14, 34)).toBe(0);
    const packet = parseIpv4Frame(frame);
    expect(packet?.headerOk).toBe(true);
    const udp = packet === undefined ? undefined : parseUdp(packet);
    expect(udp).toMatchObject({ srcPort: 1000, dstPort: 53, checksumOk: true });
    expect([...(udp?.payload ?? [])]).toEqual([1, 2, 3]);
    frame[frame.length - 1] = 9;
    const bad = parseIpv4Frame(frame);
    expect(bad === undefined ? undefined : parseUdp(bad)?.checksumOk).toBe(false);
  });

  it("decrements the TTL keeping the header checksum right", () => {
    const frame = ipv4Frame({ from: a, to: b, src: [10, 0, 1, 5], dst: [10, 0, 2, 5], protocol: 17, payload: new Uint8Array(12), ttl: 2 });
    const packet = parseIpv4Frame(frame);
    if (packet === undefined) throw new Error("no packet");
    const out = decrementTtl(packet);
    expect(out[22]).toBe(1);
    expect(internetChecksum(out, 14, 34)).toBe(0);
  });

  it("quotes the datagram in an ICMP error, and sends none about an ICMP error or a broadcast", () => {
    const frame = udpFrame({ from: a, to: b, src: [10, 0, 1, 5], dst: [10, 0, 2, 5], srcPort: 40000, dstPort: 33434, payload: new Uint8Array(40) });
    const packet = parseIpv4Frame(frame);
    if (packet === undefined) throw new Error("no packet");
    const error = icmpErrorFrame(packet, { from: b, src: [10, 0, 1, 1], type: ICMP_TIME_EXCEEDED, code: 0 });
    if (error === undefined) throw new Error("no error frame");
    const reply = parseIpv4Frame(error);
    expect(reply).toMatchObject({ protocol: PROTO_ICMP, src: [10, 0, 1, 1], dst: [10, 0, 1, 5], dstMac: a, headerOk: true });
    expect(error[34]).toBe(11);
    expect(internetChecksum(error, 34, error.length)).toBe(0);
    expect([...error.subarray(42)]).toEqual([...frame.subarray(14)]);
    const errorPacket = parseIpv4Frame(error);
    if (errorPacket === undefined) throw new Error("no packet");
    expect(icmpErrorFrame(errorPacket, { from: a, src: [10, 0, 1, 5], type: 3, code: 3 })).toBeUndefined();
    const broadcast = parseIpv4Frame(udpFrame({ from: a, to: [255, 255, 255, 255, 255, 255], src: [10, 0, 1, 5], dst: [255, 255, 255, 255], srcPort: 1, dstPort: 2, payload: new Uint8Array(1) }));
    if (broadcast === undefined) throw new Error("no packet");
    expect(icmpErrorFrame(broadcast, { from: b, src: [10, 0, 1, 1], type: 3, code: 3 })).toBeUndefined();
  });
});
