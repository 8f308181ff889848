/**
 * A capture from the virtual switch, written as a .pcap file, opened by Wireshark's tshark:
 * the file is one tshark reads without complaint, with the times, lengths and protocols the
 * switch saw, and Info lines that agree with virtlab's decoder. Skipped, with the reason,
 * where tshark is not installed (Debian package "tshark").
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ManualClock, PacketCapture, VirtualSwitch, udpFrame, writePcap, type Ipv4, type Mac } from "../core/index.ts";
import { arpReply, arpRequestFrame, echoRequestFrame, parseEchoRequest } from "../core/lab/frames.ts";
import { SYN, tcpFrame } from "../core/lab/tcp.ts";
import { FakeEndpoint } from "../core/testing/fakeBus.ts";
import { dhcpMessage, dnsQuery, dnsResponse, linuxSyn } from "../core/testing/netFrames.ts";

const TSHARK = ["/usr/bin/tshark", "/usr/local/bin/tshark"].find((p) => existsSync(p));
const EPOCH = Date.UTC(2026, 11, 1, 7, 30, 0);
const M1: Mac = [0x52, 0x54, 0, 0x12, 0x34, 0x01];
const M2: Mac = [0x52, 0x54, 0, 0x12, 0x34, 0x02];
const IP1: Ipv4 = [10, 0, 0, 1];
const IP2: Ipv4 = [10, 0, 0, 2];

/** Two endpoints exchanging ARP, ping, DHCP, DNS and a TCP SYN through the switch, captured. */
function captureSomeTraffic(snapLength: number): PacketCapture {
  const clock = new ManualClock();
  const sw = new VirtualSwitch({ clock, schedule: (fn) => fn() });
  const a = new FakeEndpoint(M1);
  const b = new FakeEndpoint(M2);
  sw.attach("vm1", a);
  sw.attach("vm2", b);
  const capture = new PacketCapture(sw.onTap, { snapLength });
  const request = arpRequestFrame(M1, IP1, IP2);
  const ping = echoRequestFrame({ from: M1, to: M2, src: IP1, dst: IP2, id: 1, seq: 1, payload: new Uint8Array(56) });
  const steps: [FakeEndpoint, Uint8Array][] = [
    [a, request],
    [b, arpReply(request, M2, IP2) as Uint8Array],
    [a, ping],
    [b, (parseEchoRequest(ping, IP2) as { reply: Uint8Array }).reply],
    [a, udpFrame({ from: M1, to: [255, 255, 255, 255, 255, 255], src: [0, 0, 0, 0], dst: [255, 255, 255, 255], srcPort: 68, dstPort: 67, payload: dhcpMessage(1, 1, 0x3903f326, [[12, [0x76, 0x6d, 0x31]]]) })],
    [a, udpFrame({ from: M1, to: M2, src: IP1, dst: IP2, srcPort: 40000, dstPort: 53, payload: dnsQuery(0x1a2b, "example.com") })],
    [b, udpFrame({ from: M2, to: M1, src: IP2, dst: IP1, srcPort: 53, dstPort: 40000, payload: dnsResponse(0x1a2b, "example.com", [93, 184, 216, 34]) })],
    [a, tcpFrame({ from: M1, to: M2, src: IP1, dst: IP2, srcPort: 40001, dstPort: 80, seq: 0, ack: 0, flags: SYN, window: 64240 })],
    [a, linuxSyn()],
  ];
  for (const [endpoint, frame] of steps) {
    clock.advance(1.234567);
    endpoint.emit(frame);
  }
  return capture;
}

function tshark(bytes: Uint8Array, fields: string[]): string[][] {
  const dir = mkdtempSync(join(tmpdir(), "virtlab-pcap-"));
  try {
    const path = join(dir, "capture.pcap");
    writeFileSync(path, bytes);
    const args = ["-n", "-r", path, "-T", "fields", "-E", "separator=\t", ...fields.flatMap((f) => ["-e", f])];
    const out = execFileSync(TSHARK as string, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return out.trimEnd().split("\n").map((line) => line.split("\t"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("pcap files in tshark", () => {
  it.skipIf(TSHARK === undefined)("opens the switch's capture with its times, lengths, protocols and Info lines (Debian's tshark)", () => {
    const capture = captureSomeTraffic(65535);
    const packets = capture.packets();
    for (const nanoseconds of [false, true]) {
      const rows = tshark(writePcap(packets, { epochMs: EPOCH, nanoseconds }), ["frame.time_epoch", "frame.len", "frame.cap_len", "_ws.col.Protocol", "_ws.col.Info"]);
      expect(rows.map((r) => r[3])).toEqual(["ARP", "ARP", "ICMP", "ICMP", "DHCP", "DNS", "DNS", "TCP", "TCP"]);
      rows.forEach((row, i) => {
        const packet = packets[i];
        if (packet === undefined) return expect.fail(`tshark shows a packet ${i + 1} that was not written`);
        expect(Number(row[0]) * 1000).toBeCloseTo(EPOCH + packet.time, 2);
        expect([Number(row[1]), Number(row[2])]).toEqual([packet.frame.length, packet.frame.length]);
        const ours = capture.decode(packet);
        expect(ours.protocol).toBe(row[3]);
        // Wireshark adds what it learns from other packets (request/response links, relative
        // sequence numbers): its line starts the way ours does for the protocols where they agree.
        const info = (row[4] ?? "").replace(/\s+/g, " ");
        if (ours.protocol !== "ICMP") expect(info.startsWith(ours.summary.replace(/\s+/g, " ")), `${info} | ${ours.summary}`).toBe(true);
        else expect(info).toContain(ours.summary.split(" id=")[0]);
      });
    }
  });

  it.skipIf(TSHARK === undefined)("reads a capture cut to the snap length as cut, not as broken", () => {
    const packets = captureSomeTraffic(64).packets();
    const rows = tshark(writePcap(packets, { epochMs: EPOCH, snapLength: 64 }), ["frame.len", "frame.cap_len"]);
    expect(rows.map((r) => [Number(r[0]), Number(r[1])])).toEqual(packets.map((p) => [p.originalLength, Math.min(64, p.originalLength)]));
  });
});
