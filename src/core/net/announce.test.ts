/**
 * The announcement after a move (QEMU's announce-self): the frame bytes, the rounds on the clock,
 * and a switch that moves the MAC to the port it came from at once.
 */
import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.ts";
import { FakeEndpoint, ethFrame } from "../testing/fakeBus.ts";
import { announceSelf, announcementFrame } from "./announce.ts";
import { decodeFrame } from "./decode.ts";
import { gratuitousArp, rarpAnnounce, type Mac } from "./frames.ts";
import { VirtualSwitch } from "./switch.ts";

const MOVED: Mac = [0x52, 0x54, 0x00, 0xab, 0xcd, 0x01];
const PINGER: Mac = [0x52, 0x54, 0x00, 0xab, 0xcd, 0x02];

const hex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

describe("announcement frames", () => {
  it("builds a gratuitous ARP request: broadcast, sender = target = the guest's address, target MAC zero", () => {
    const frame = gratuitousArp(MOVED, [192, 168, 86, 117]);
    expect(hex(frame)).toBe(
      "ffffffffffff" + "525400abcd01" + "0806" + // Ethernet: broadcast, from the guest, ARP
        "0001" + "0800" + "06" + "04" + "0001" + // Ethernet/IPv4, request
        "525400abcd01" + "c0a85675" + // sender: the guest's MAC and address
        "000000000000" + "c0a85675", // target: no MAC, the same address
    );
    const decoded = decodeFrame(frame);
    expect(decoded.summary).toBe("Gratuitous ARP for 192.168.86.117 (Request)");
    expect(decoded.malformed).toBeUndefined();
  });

  it("builds QEMU's RARP when the address is not known: request reverse, the MAC as sender and target, addresses zero", () => {
    expect(hex(rarpAnnounce(MOVED))).toBe("ffffffffffff" + "525400abcd01" + "8035" + "0001" + "0800" + "06" + "04" + "0003" + "525400abcd01" + "00000000" + "525400abcd01" + "00000000");
    expect(hex(announcementFrame(MOVED, undefined))).toBe(hex(rarpAnnounce(MOVED)));
    expect(hex(announcementFrame(MOVED, [10, 0, 0, 7]))).toBe(hex(gratuitousArp(MOVED, [10, 0, 0, 7])));
  });

  it("sends its rounds on the clock, the gaps growing, and stops when disposed", () => {
    const clock = new ManualClock();
    const sent: number[] = [];
    announceSelf(() => sent.push(clock.now()), MOVED, [10, 0, 0, 7], clock, { rounds: 4, initialMs: 50, stepMs: 100 });
    expect(sent).toEqual([0]);
    clock.advance(1000);
    expect(sent).toEqual([0, 50, 200, 450]);
    const early: number[] = [];
    const stop = announceSelf(() => early.push(clock.now()), MOVED, undefined, clock, { rounds: 3, initialMs: 50, stepMs: 100 });
    stop.dispose();
    clock.advance(1000);
    expect(early).toEqual([1000]);
  });
});

describe("a switch hearing the announcement", () => {
  it("moves the MAC to the port the announcement came in on, so unicast to it goes there at once", () => {
    const clock = new ManualClock();
    const sw = new VirtualSwitch({ clock, schedule: (fn) => fn() });
    const before = new FakeEndpoint(MOVED);
    const after = new FakeEndpoint(MOVED);
    const pinger = new FakeEndpoint(PINGER);
    sw.attach("old", before);
    sw.attach("new", after);
    sw.attach("pinger", pinger);
    before.emit(ethFrame(MOVED, PINGER, 1));
    expect(sw.lookup("52:54:00:ab:cd:01")?.label).toBe("old");
    after.emit(gratuitousArp(MOVED, [192, 168, 86, 117]));
    expect(sw.lookup("52:54:00:ab:cd:01")?.label).toBe("new");
    // The pinger heard the broadcast; its next echo goes to the new port only.
    expect(pinger.received.map(hex)).toContain(hex(gratuitousArp(MOVED, [192, 168, 86, 117])));
    after.received.length = 0;
    before.received.length = 0;
    pinger.emit(ethFrame(PINGER, MOVED, 2));
    expect(after.received.map((f) => f[14])).toEqual([2]);
    expect(before.received).toEqual([]);
  });
});
