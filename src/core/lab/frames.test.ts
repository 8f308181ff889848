import { describe, expect, it } from "vitest";
import { arpReply, arpRequestFrame, echoRequestFrame, internetChecksum, parseEchoRequest, type Mac } from "./frames.ts";

const guestMac: Mac = [0x00, 0x22, 0x15, 0x46, 0xe4, 0x19];
const peerMac: Mac = [0x52, 0x54, 0x00, 0x86, 0x00, 0x01];

describe("frames", () => {
  it("computes the RFC 1071 example checksum", () => {
    // RFC 1071 section 3: 0001 f203 f4f5 f6f7 sums to ddf2, checksum is its complement.
    expect(internetChecksum(Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7))).toBe(~0xddf2 & 0xffff);
  });

  it("answers ARP for its own address only", () => {
    const reply = arpReply(arpRequestFrame(guestMac, [10, 86, 0, 2], [10, 86, 0, 1]), peerMac, [10, 86, 0, 1]);
    expect(reply).toBeDefined();
    expect([...(reply ?? new Uint8Array()).subarray(0, 6)]).toEqual([...guestMac]);
    expect([...(reply ?? new Uint8Array()).subarray(22, 28)]).toEqual([...peerMac]); // sender hardware address
    expect([...(reply ?? new Uint8Array()).subarray(38, 42)]).toEqual([10, 86, 0, 2]); // target protocol address
    expect(arpReply(arpRequestFrame(guestMac, [10, 86, 0, 2], [10, 86, 0, 9]), peerMac, [10, 86, 0, 1])).toBeUndefined();
  });

  it("turns an echo request into a valid echo reply and notices corruption", () => {
    const payload = Uint8Array.from({ length: 1472 }, (_, i) => i * 7);
    const request = echoRequestFrame({ from: guestMac, to: peerMac, src: [10, 86, 0, 2], dst: [10, 86, 0, 1], id: 7, seq: 3, payload });
    const parsed = parseEchoRequest(request, [10, 86, 0, 1]);
    expect(parsed?.checksumsOk).toBe(true);
    expect(parsed?.payloadBytes).toBe(1472);
    const reply = parsed?.reply ?? new Uint8Array();
    expect(reply.length).toBe(1514);
    expect(reply[34]).toBe(0); // echo reply
    expect(internetChecksum(reply, 14, 34)).toBe(0);
    expect(internetChecksum(reply, 34, reply.length)).toBe(0);
    expect([...reply.subarray(26, 30)]).toEqual([10, 86, 0, 1]);
    expect([...reply.subarray(42)]).toEqual([...payload]);

    const corrupted = request.slice();
    corrupted[100] = (corrupted[100] as number) ^ 0xff;
    expect(parseEchoRequest(corrupted, [10, 86, 0, 1])?.checksumsOk).toBe(false);
    expect(parseEchoRequest(request, [10, 86, 0, 5])).toBeUndefined();
  });
});
