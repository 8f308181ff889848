import { describe, expect, it } from "vitest";
import { arpReply, arpRequestFrame, echoRequestFrame, parseEchoRequest } from "../lab/frames.ts";
import { ACK, PSH, SYN, tcpFrame } from "../lab/tcp.ts";
import { dhcpMessage, dnsQuery, dnsResponse, linuxSyn } from "../testing/netFrames.ts";
import { decodeFrame } from "./decode.ts";
import { BROADCAST_MAC, PROTO_ICMP, internetChecksum, ipv4Frame, put16, udpFrame, type Ipv4, type Mac } from "./frames.ts";

const M1: Mac = [0x52, 0x54, 0, 0x12, 0x34, 0x01];
const M2: Mac = [0x52, 0x54, 0, 0x12, 0x34, 0x02];
const IP1: Ipv4 = [10, 0, 0, 1];
const IP2: Ipv4 = [10, 0, 0, 2];
const ZERO: Ipv4 = [0, 0, 0, 0];
const ALL: Ipv4 = [255, 255, 255, 255];

describe("decodeFrame: ARP and ICMP", () => {
  it("names an ARP request and its reply as Wireshark does", () => {
    const request = arpRequestFrame(M1, IP1, IP2);
    const d = decodeFrame(request);
    expect(d).toMatchObject({ protocol: "ARP", layers: ["ethernet", "arp"], source: "52:54:00:12:34:01", destination: "Broadcast", summary: "Who has 10.0.0.2? Tell 10.0.0.1" });
    expect(d.arp).toEqual({ operation: "request", senderMac: "52:54:00:12:34:01", senderIp: "10.0.0.1", targetMac: "00:00:00:00:00:00", targetIp: "10.0.0.2" });
    const reply = decodeFrame(arpReply(request, M2, IP2) as Uint8Array);
    expect(reply.summary).toBe("10.0.0.2 is at 52:54:00:12:34:02");
    expect(reply.arp?.operation).toBe("reply");
    expect(decodeFrame(arpRequestFrame(M1, IP1, IP1)).summary).toBe("Gratuitous ARP for 10.0.0.1 (Request)");
  });

  it("reads an echo request and reply: id, seq, ttl, addresses", () => {
    const request = echoRequestFrame({ from: M1, to: M2, src: IP1, dst: IP2, id: 1, seq: 1, payload: new Uint8Array(56) });
    const d = decodeFrame(request);
    expect(d.summary).toBe("Echo (ping) request id=0x0001, seq=1, ttl=64");
    expect(d).toMatchObject({ protocol: "ICMP", source: "10.0.0.1", destination: "10.0.0.2", layers: ["ethernet", "ipv4", "icmp"], icmp: { type: 8, code: 0, id: 1, seq: 1 } });
    expect(d.ipv4).toMatchObject({ ttl: 64, protocol: 1, headerLength: 20, totalLength: 84, checksumOk: true, dontFragment: false, moreFragments: false, fragmentOffset: 0 });
    const reply = decodeFrame((parseEchoRequest(request, IP2) as { reply: Uint8Array }).reply);
    expect(reply.summary).toBe("Echo (ping) reply id=0x0001, seq=1, ttl=64");
    expect(reply.source).toBe("10.0.0.2");
  });

  it("reads time exceeded and port unreachable (what traceroute sees)", () => {
    const quoted = new Uint8Array(28);
    const icmp = (type: number, code: number): Uint8Array => {
      const body = new Uint8Array(8 + quoted.length);
      body[0] = type;
      body[1] = code;
      body.set(quoted, 8);
      put16(body, 2, internetChecksum(body));
      return ipv4Frame({ from: M2, to: M1, src: IP2, dst: IP1, protocol: PROTO_ICMP, payload: body });
    };
    expect(decodeFrame(icmp(11, 0))).toMatchObject({ summary: "Time-to-live exceeded (Time to live exceeded in transit)", icmp: { type: 11, code: 0 } });
    expect(decodeFrame(icmp(3, 3)).summary).toBe("Destination unreachable (Port unreachable)");
    expect(decodeFrame(icmp(42, 7)).summary).toBe("ICMP type 42, code 7");
  });

  it("notes a bad IPv4 header checksum without calling the frame malformed", () => {
    const frame = echoRequestFrame({ from: M1, to: M2, src: IP1, dst: IP2, id: 1, seq: 1, payload: new Uint8Array(8) });
    frame[14 + 8] = 3; // TTL changed, checksum not
    const d = decodeFrame(frame);
    expect(d.ipv4?.checksumOk).toBe(false);
    expect(d.malformed).toBeUndefined();
  });

  it("shows fragments with their flags and offset, and decodes no transport in a later fragment", () => {
    const first = decodeFrame(ipv4Frame({ from: M1, to: M2, src: IP1, dst: IP2, protocol: 17, id: 0xabcd, fragment: 0x2000, payload: new Uint8Array(16) }));
    expect(first.ipv4).toMatchObject({ moreFragments: true, fragmentOffset: 0, id: 0xabcd });
    const later = decodeFrame(ipv4Frame({ from: M1, to: M2, src: IP1, dst: IP2, protocol: 17, id: 0xabcd, fragment: 185, payload: new Uint8Array(16) }));
    expect(later).toMatchObject({ summary: "Fragmented IP protocol (proto=17, off=1480, ID=0xabcd)", layers: ["ethernet", "ipv4"] });
    expect(decodeFrame(ipv4Frame({ from: M1, to: M2, src: IP1, dst: IP2, protocol: 6, fragment: 0x4000, payload: new Uint8Array(0) })).ipv4?.dontFragment).toBe(true);
  });
});

describe("decodeFrame: UDP, DHCP, DNS, TCP", () => {
  it("recognises each DHCP message type and its options", () => {
    const discover = udpFrame({ from: M1, to: BROADCAST_MAC, src: ZERO, dst: ALL, srcPort: 68, dstPort: 67, payload: dhcpMessage(1, 1, 0x3903f326, [[12, [0x76, 0x6d, 0x31]], [50, [10, 0, 0, 15]]]) });
    const d = decodeFrame(discover);
    expect(d).toMatchObject({ protocol: "DHCP", layers: ["ethernet", "ipv4", "udp", "dhcp"], summary: "DHCP Discover - Transaction ID 0x3903f326", source: "0.0.0.0", destination: "255.255.255.255" });
    expect(d.dhcp).toMatchObject({ op: 1, messageType: 1, messageTypeName: "Discover", clientMac: "52:54:00:12:34:01", hostname: "vm1", requestedIp: "10.0.0.15" });
    const offer = udpFrame({ from: M2, to: M1, src: IP1, dst: [10, 0, 0, 15], srcPort: 67, dstPort: 68, payload: dhcpMessage(2, 2, 7, [[54, [...IP1]], [1, [255, 255, 255, 0]], [3, [...IP1]], [6, [...IP1, 8, 8, 8, 8]], [51, [0, 0, 0x0e, 0x10]]]) });
    expect(decodeFrame(offer).dhcp).toMatchObject({ messageTypeName: "Offer", serverId: "10.0.0.1", subnetMask: "255.255.255.0", routers: ["10.0.0.1"], dnsServers: ["10.0.0.1", "8.8.8.8"], leaseSeconds: 3600 });
    const names = [3, 4, 5, 6, 7, 8].map((t) => decodeFrame(udpFrame({ from: M1, to: M2, src: IP1, dst: IP2, srcPort: 68, dstPort: 67, payload: dhcpMessage(1, t, 1) })).dhcp?.messageTypeName);
    expect(names).toEqual(["Request", "Decline", "ACK", "NAK", "Release", "Inform"]);
  });

  it("reads a DNS query and its answer, following the name pointer", () => {
    const query = decodeFrame(udpFrame({ from: M1, to: M2, src: IP1, dst: IP2, srcPort: 40000, dstPort: 53, payload: dnsQuery(0x1a2b, "example.com") }));
    expect(query).toMatchObject({ protocol: "DNS", summary: "Standard query 0x1a2b A example.com", dns: { id: 0x1a2b, response: false, queryName: "example.com", queryType: 1 } });
    const answer = decodeFrame(udpFrame({ from: M2, to: M1, src: IP2, dst: IP1, srcPort: 53, dstPort: 40000, payload: dnsResponse(0x1a2b, "example.com", [93, 184, 216, 34]) }));
    expect(answer.summary).toBe("Standard query response 0x1a2b A example.com A 93.184.216.34");
    expect(answer.dns?.answers).toEqual([{ name: "example.com", type: 1, ttl: 3600, data: "93.184.216.34" }]);
    const nx = decodeFrame(udpFrame({ from: M2, to: M1, src: IP2, dst: IP1, srcPort: 53, dstPort: 40000, payload: dnsResponse(2, "nope.test", undefined, 3) }));
    expect(nx.summary).toBe("Standard query response 0x0002 No such name A nope.test");
    expect(decodeFrame(udpFrame({ from: M1, to: M2, src: IP1, dst: IP2, srcPort: 40001, dstPort: 53, payload: dnsQuery(3, "vm2", 28) })).summary).toBe("Standard query 0x0003 AAAA vm2");
  });

  it("survives a DNS name pointer loop", () => {
    const looped = Uint8Array.from([0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
    const d = decodeFrame(udpFrame({ from: M1, to: M2, src: IP1, dst: IP2, srcPort: 40000, dstPort: 53, payload: looped }));
    expect(d.malformed).toBe("DNS question cut short");
    expect(d.dns?.id).toBe(9);
  });

  it("shows other UDP with its ports and length", () => {
    const d = decodeFrame(udpFrame({ from: M1, to: M2, src: IP1, dst: IP2, srcPort: 33434, dstPort: 33435, payload: new Uint8Array(32) }));
    expect(d).toMatchObject({ protocol: "UDP", summary: "33434 → 33435 Len=32", udp: { srcPort: 33434, dstPort: 33435, length: 40 } });
  });

  it("reads TCP ports, flags, seq/ack, window and payload length", () => {
    const base = { from: M1, to: M2, src: IP1, dst: IP2, srcPort: 40000, dstPort: 80, window: 64240 };
    const syn = decodeFrame(tcpFrame({ ...base, seq: 0, ack: 0, flags: SYN, mss: 1460 }));
    expect(syn.summary).toBe("40000 → 80 [SYN] Seq=0 Win=64240 Len=0 MSS=1460");
    expect(syn.tcp).toMatchObject({ flagNames: ["SYN"], headerLength: 24, payloadLength: 0, options: { mss: 1460 } });
    const data = decodeFrame(tcpFrame({ ...base, seq: 1, ack: 4000000000, flags: PSH | ACK, payload: new Uint8Array(100) }));
    expect(data.summary).toBe("40000 → 80 [PSH, ACK] Seq=1 Ack=4000000000 Win=64240 Len=100");
    expect(data.tcp).toMatchObject({ seq: 1, ack: 4000000000, window: 64240, payloadLength: 100, flags: 0x18 });
    expect(decodeFrame(tcpFrame({ ...base, seq: 5, ack: 9, flags: SYN | ACK })).summary).toBe("40000 → 80 [SYN, ACK] Seq=5 Ack=9 Win=64240 Len=0");
  });

  it("reads the options of a Linux SYN as Wireshark lists them", () => {
    const frame = linuxSyn();
    const d = decodeFrame(frame);
    expect(d.summary).toBe("40000 → 80 [SYN] Seq=0 Win=64240 Len=0 MSS=1460 SACK_PERM TSval=12345 TSecr=0 WS=128");
    expect(d.tcp?.options).toMatchObject({ mss: 1460, sackPermitted: true, timestamp: { value: 12345, echo: 0 }, windowScale: 7 });
    // An option whose length runs past the header ends the list quietly.
    frame[14 + 20 + 20 + 1] = 40;
    expect(decodeFrame(frame).tcp?.options.words).toEqual([]);
  });

  it("skips 802.1Q tags", () => {
    const plain = echoRequestFrame({ from: M1, to: M2, src: IP1, dst: IP2, id: 2, seq: 3, payload: new Uint8Array(8) });
    const tagged = new Uint8Array(plain.length + 4);
    tagged.set(plain.subarray(0, 12), 0);
    tagged.set([0x81, 0x00, 0x00, 0x0a], 12);
    tagged.set(plain.subarray(12), 16);
    const d = decodeFrame(tagged);
    expect(d).toMatchObject({ layers: ["ethernet", "vlan", "ipv4", "icmp"], summary: "Echo (ping) request id=0x0002, seq=3, ttl=64" });
    expect(d.ethernet?.vlans).toEqual([10]);
  });

  it("names IPv6 neighbour discovery and unknown EtherTypes", () => {
    const ns = new Uint8Array(14 + 40 + 24);
    ns.set([0x33, 0x33, 0xff, 0, 0, 1], 0);
    ns.set(M1, 6);
    ns.set([0x86, 0xdd, 0x60], 12);
    ns[14 + 6] = 58;
    ns[14 + 7] = 255;
    ns.set([0xfe, 0x80], 14 + 8);
    ns[14 + 8 + 15] = 1;
    ns.set([0xff, 0x02], 14 + 24);
    ns[14 + 24 + 15] = 1;
    ns[14 + 40] = 135;
    const d = decodeFrame(ns);
    expect(d).toMatchObject({ protocol: "ICMPv6", summary: "Neighbor Solicitation", source: "fe80::1", destination: "ff02::1", layers: ["ethernet", "ipv6"] });
    // An MLDv2 report, as Linux sends one when an interface comes up: the ICMPv6 message after
    // hop-by-hop options (next header 58, length 0: 8 bytes, a router alert and padding).
    const mld = new Uint8Array(14 + 40 + 8 + 28);
    mld.set(ns.subarray(0, 14 + 40));
    mld[14 + 6] = 0;
    mld.set([58, 0, 5, 2, 0, 0, 1, 0], 14 + 40);
    mld[14 + 48] = 143;
    expect(decodeFrame(mld)).toMatchObject({ protocol: "ICMPv6", summary: "Multicast Listener Report Message v2", layers: ["ethernet", "ipv6"] });
    // A later fragment of an echo request: its first bytes are the message's middle, not a type.
    const fragment = new Uint8Array(14 + 40 + 8 + 64);
    fragment.set(ns.subarray(0, 14 + 40));
    fragment[14 + 6] = 44;
    fragment.set([58, 0, 0x05, 0xa9, 0, 0, 0, 7], 14 + 40);
    fragment[14 + 48] = 128;
    expect(decodeFrame(fragment)).toMatchObject({ protocol: "IPv6", summary: "IPv6 fragment" });
    fragment.set([0, 1], 14 + 40 + 2);
    expect(decodeFrame(fragment)).toMatchObject({ protocol: "ICMPv6", summary: "Echo (ping) request" });
    // Extension headers cut short: named, with a note, never a throw.
    const cut = decodeFrame(mld.subarray(0, 14 + 40 + 4));
    expect(cut).toMatchObject({ protocol: "IPv6", summary: "IPv6 extension header [Malformed Packet: IPv6 extension header cut short]" });
    const other = new Uint8Array(60);
    other.set([0x88, 0xcc], 12);
    expect(decodeFrame(other).summary).toBe("Ethernet type 0x88cc");
  });
});

describe("decodeFrame never throws", () => {
  it("returns what it read and a note for every truncation of real frames", () => {
    const frames = [
      arpRequestFrame(M1, IP1, IP2),
      echoRequestFrame({ from: M1, to: M2, src: IP1, dst: IP2, id: 1, seq: 1, payload: new Uint8Array(8) }),
      tcpFrame({ from: M1, to: M2, src: IP1, dst: IP2, srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: SYN, window: 1, mss: 1460 }),
      udpFrame({ from: M1, to: BROADCAST_MAC, src: ZERO, dst: ALL, srcPort: 68, dstPort: 67, payload: dhcpMessage(1, 1, 1, [[12, [65, 66]]]) }),
      udpFrame({ from: M2, to: M1, src: IP2, dst: IP1, srcPort: 53, dstPort: 40000, payload: dnsResponse(1, "a.example", [1, 2, 3, 4]) }),
    ];
    for (const frame of frames) {
      const whole = decodeFrame(frame);
      expect(whole.malformed).toBeUndefined();
      for (let length = 0; length < frame.length; length++) {
        const cut = decodeFrame(frame.subarray(0, length));
        expect(cut.summary).not.toBe("");
        if (length < 14) expect(cut.malformed).toMatch(/shorter than an Ethernet header/);
        // Layers read before the cut are kept.
        if (length >= 34 && whole.layers.includes("ipv4")) expect(cut.ipv4?.src).toBe(whole.ipv4?.src);
      }
    }
  });

  it("handles random bytes of every length without throwing", () => {
    let state = 1;
    const next = (): number => (state = (state * 1103515245 + 12345) >>> 0) >>> 24;
    for (let n = 0; n < 3000; n++) {
      const frame = Uint8Array.from({ length: n % 300 }, next);
      // Steer a share of them into the IPv4/UDP paths.
      if (frame.length > 40 && n % 3 === 0) frame.set([0x08, 0x00, 0x45], 12);
      if (frame.length > 40 && n % 6 === 0) frame[23] = 17;
      expect(() => decodeFrame(frame)).not.toThrow();
    }
  });

  it("marks a header length that points past the end", () => {
    const frame = echoRequestFrame({ from: M1, to: M2, src: IP1, dst: IP2, id: 1, seq: 1, payload: new Uint8Array(0) });
    frame[14] = 0x4f; // 60-byte header in a 28-byte packet
    const d = decodeFrame(frame);
    expect(d.malformed).toBe("bad IPv4 header length 60");
    expect(d.summary).toBe("IPv4 [Malformed Packet: bad IPv4 header length 60]");
  });
});
