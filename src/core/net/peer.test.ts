/**
 * The lab's in-page peer (lab/netPeer.ts), unchanged, on a switch port: the NetworkBus is the
 * one interface both sides speak. A scripted "guest" asks for the peer's MAC, then pings it,
 * through impaired cables, and the capture holds the exchange in order.
 */
import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.ts";
import { arpRequestFrame, echoRequestFrame } from "../lab/frames.ts";
import { NetPeer, PEER_IP, PEER_MAC } from "../lab/netPeer.ts";
import { FakeEndpoint } from "../testing/fakeBus.ts";
import { crossover } from "./bus.ts";
import { PacketCapture } from "./capture.ts";
import type { Ipv4, Mac } from "./frames.ts";
import { VirtualSwitch } from "./switch.ts";

const GUEST_MAC: Mac = [0x52, 0x54, 0, 0x12, 0x34, 0x56];
const GUEST_IP: Ipv4 = [10, 86, 0, 2];

/** Let pending microtasks run (the switch's turn, NetPeer's answer, the switch's next turn). */
async function microtasks(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

/** Move the clock a millisecond at a time, letting each moment's microtasks run. */
async function settle(clock: ManualClock, ms: number): Promise<void> {
  await microtasks();
  for (let i = 0; i < ms; i++) {
    clock.advance(1);
    await microtasks();
  }
}

describe("the lab's peer on a switch port", () => {
  it("answers ARP and ping through cables with latency; the round trip is the sum of both ways", async () => {
    const clock = new ManualClock();
    const sw = new VirtualSwitch({ clock });
    const guest = new FakeEndpoint(GUEST_MAC);
    sw.attach("vm1", guest, { impairments: { latencyMs: 3 } });
    // NetPeer answers the bus it is given: one end of a crossover on the port, the other to it.
    const [portEnd, peerEnd] = crossover();
    sw.attach("peer", portEnd, { kind: "host", impairments: { latencyMs: 7 } });
    const peer = new NetPeer(peerEnd, clock);
    const capture = new PacketCapture(sw.onTap);
    const arrivals: number[] = [];
    guest.onDelivered(() => arrivals.push(clock.now()));

    guest.emit(arpRequestFrame(GUEST_MAC, GUEST_IP, PEER_IP));
    await settle(clock, 30);
    expect(arrivals).toEqual([20]); // 3 + 7 there, 7 + 3 back
    guest.emit(echoRequestFrame({ from: GUEST_MAC, to: PEER_MAC, src: GUEST_IP, dst: PEER_IP, id: 7, seq: 1, payload: new Uint8Array(56) }));
    await settle(clock, 30);
    expect(arrivals).toEqual([20, 50]);
    expect(peer.snapshot).toMatchObject({ arpReplies: 1, echoRequests: 1, badChecksums: 0 });
    expect(capture.packets().map((p) => [p.time, p.port, capture.decode(p).summary])).toEqual([
      [3, "vm1", "Who has 10.86.0.1? Tell 10.86.0.2"],
      [17, "peer", "10.86.0.1 is at 52:54:00:86:00:01"],
      [33, "vm1", "Echo (ping) request id=0x0007, seq=1, ttl=64"],
      [47, "peer", "Echo (ping) reply id=0x0007, seq=1, ttl=64"],
    ]);
    // The switch learned both ends.
    expect(sw.macTable().map((e) => [e.mac, e.port])).toEqual([
      ["52:54:00:12:34:56", "vm1"],
      ["52:54:00:86:00:01", "peer"],
    ]);
    peer.dispose();
  });

  it("a crossover's ends each emit what the other is given", () => {
    const [left, right] = crossover();
    const heard: string[] = [];
    left.onNetworkFrame((f) => heard.push(`left ${f[0]}`));
    right.onNetworkFrame((f) => heard.push(`right ${f[0]}`));
    left.sendNetworkFrame(Uint8Array.of(1));
    right.sendNetworkFrame(Uint8Array.of(2));
    expect(heard).toEqual(["right 1", "left 2"]);
  });
});
