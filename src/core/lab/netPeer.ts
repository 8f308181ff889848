/**
 * The guest's network peer inside the page: a host at 10.86.0.1 on the emulator's network bus
 * that answers ARP and ICMP echo requests, verifies every checksum and counts what it saw.
 * No TCP/IP stack and no outside network: frames never leave the emulator.
 */
import type { Disposable, Event } from "../events.ts";
import { host } from "../host.ts";
import { arpReply, formatIpv4, parseEchoRequest, type Ipv4, type Mac } from "./frames.ts";

export const PEER_MAC: Mac = [0x52, 0x54, 0x00, 0x86, 0x00, 0x01];
export const PEER_IP: Ipv4 = [10, 86, 0, 1];
export const GUEST_IP: Ipv4 = [10, 86, 0, 2];
export const PEER_ADDRESS = formatIpv4(PEER_IP);
export const GUEST_ADDRESS = formatIpv4(GUEST_IP);

/** What a peer needs from a machine: the network bus, both ways. */
export interface NetworkBus {
  readonly onNetworkFrame: Event<Uint8Array>;
  sendNetworkFrame(frame: Uint8Array): void;
}

export interface PeerCounters {
  readonly echoRequests: number;
  /** ICMP payload bytes of the echo requests (the replies carry the same back). */
  readonly payloadBytes: number;
  /** Ethernet frame bytes, both directions (requests seen + replies sent). */
  readonly frameBytes: number;
  readonly badChecksums: number;
  readonly arpReplies: number;
}

export class NetPeer implements Disposable {
  private counters = { echoRequests: 0, payloadBytes: 0, frameBytes: 0, badChecksums: 0, arpReplies: 0 };
  private readonly subscription: Disposable;

  constructor(private readonly bus: NetworkBus) {
    this.subscription = bus.onNetworkFrame((frame) => this.receive(frame));
  }

  get snapshot(): PeerCounters {
    return { ...this.counters };
  }

  private receive(frame: Uint8Array): void {
    const arp = arpReply(frame, PEER_MAC, PEER_IP);
    if (arp !== undefined) {
      this.counters.arpReplies++;
      this.reply(arp);
      return;
    }
    const echo = parseEchoRequest(frame, PEER_IP);
    if (echo === undefined) return;
    this.counters.echoRequests++;
    this.counters.payloadBytes += echo.payloadBytes;
    if (!echo.checksumsOk) {
      // A corrupted request gets no answer, as a real host would drop it.
      this.counters.badChecksums++;
      return;
    }
    this.counters.frameBytes += frame.length + echo.reply.length;
    this.reply(echo.reply);
  }

  /** Answer after the guest's transmit has returned, not from inside the NIC's send path. */
  private reply(frame: Uint8Array): void {
    host.queueMicrotask(() => {
      try {
        this.bus.sendNetworkFrame(frame);
      } catch {
        // The machine went away between the request and the reply: nothing to answer.
      }
    });
  }

  dispose(): void {
    this.subscription.dispose();
  }
}

/** Counter differences between two snapshots. */
export function peerDelta(before: PeerCounters, after: PeerCounters): PeerCounters {
  return {
    echoRequests: after.echoRequests - before.echoRequests,
    payloadBytes: after.payloadBytes - before.payloadBytes,
    frameBytes: after.frameBytes - before.frameBytes,
    badChecksums: after.badChecksums - before.badChecksums,
    arpReplies: after.arpReplies - before.arpReplies,
  };
}
