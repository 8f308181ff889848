/**
 * The guest's network peer inside the page: a host at 10.86.0.1 on the emulator's network bus
 * that answers ARP and ICMP echo requests and takes TCP connections for bulk transfers (a sink
 * on one port, a source on another, `tcp.ts`), verifies every checksum and counts what it saw.
 * No outside network: frames never leave the emulator.
 */
import { concatBytes } from "../bytes.ts";
import type { Clock } from "../clock.ts";
import type { Disposable } from "../events.ts";
import type { NetworkBus } from "../net/bus.ts";
import { host, sha256Hex } from "../host.ts";
import { arpReply, formatIpv4, parseEchoRequest, type Ipv4, type Mac } from "./frames.ts";
import { SYN, TcpEndpoint, parseTcp } from "./tcp.ts";

export const PEER_MAC: Mac = [0x52, 0x54, 0x00, 0x86, 0x00, 0x01];
export const PEER_IP: Ipv4 = [10, 86, 0, 1];
export const GUEST_IP: Ipv4 = [10, 86, 0, 2];
export const PEER_ADDRESS = formatIpv4(PEER_IP);
export const GUEST_ADDRESS = formatIpv4(GUEST_IP);
/** The guest sends to this port; the peer keeps and hashes what arrives. */
export const SINK_PORT = 5001;
/** The peer sends `setSource` bytes to whoever connects to this port, then closes. */
export const SOURCE_PORT = 5002;

/** One TCP connection the guest made to the peer. */
export interface TcpTransfer {
  readonly port: number;
  /** Both sides closed (FIN and ACK each way); false while open or after a reset. */
  closed: boolean;
  reset: boolean;
  /** Payload bytes taken from the guest, in order, and what the guest acknowledged of ours. */
  received: number;
  sent: number;
  retransmits: number;
  badChecksums: number;
  /** Clock time when the guest closed its side (all its data in). */
  remoteFinAt: number | undefined;
  /** sha256 of the bytes received (sink), once closed. */
  receivedSha256: Promise<string> | undefined;
}

/** What a peer needs from a machine: the network bus, both ways (defined in net/bus.ts). */
export type { NetworkBus };

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
  private readonly connections = new Map<string, { endpoint: TcpEndpoint; transfer: TcpTransfer }>();
  private readonly transfers: TcpTransfer[] = [];
  private source: Uint8Array = new Uint8Array(0);

  constructor(
    private readonly bus: NetworkBus,
    private readonly clock: Clock,
  ) {
    this.subscription = bus.onNetworkFrame((frame) => this.receive(frame));
  }

  /** What the source port sends to the next connections. */
  setSource(bytes: Uint8Array): void {
    this.source = bytes;
  }

  /** The newest connection to `port`, if any. */
  lastTransfer(port: number): TcpTransfer | undefined {
    return this.transfers.filter((t) => t.port === port).at(-1);
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
    const segment = parseTcp(frame, PEER_IP);
    if (segment !== undefined) {
      this.receiveTcp(segment);
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

  private receiveTcp(segment: NonNullable<ReturnType<typeof parseTcp>>): void {
    const key = `${formatIpv4(segment.srcIp)}:${segment.srcPort}:${segment.dstPort}`;
    let connection = this.connections.get(key);
    if (connection !== undefined && connection.endpoint.closed && (segment.flags & SYN) !== 0) {
      this.connections.delete(key);
      connection = undefined;
    }
    if (connection === undefined) {
      if ((segment.flags & SYN) === 0 || (segment.dstPort !== SINK_PORT && segment.dstPort !== SOURCE_PORT)) return;
      const transfer: TcpTransfer = { port: segment.dstPort, closed: false, reset: false, received: 0, sent: 0, retransmits: 0, badChecksums: 0, remoteFinAt: undefined, receivedSha256: undefined };
      const chunks: Uint8Array[] = [];
      const endpoint = new TcpEndpoint({
        local: { mac: PEER_MAC, ip: PEER_IP, port: segment.dstPort },
        clock: this.clock,
        send: (frame) => this.reply(frame),
        onRemoteFin: () => {
          transfer.remoteFinAt = this.clock.now();
        },
        ...(segment.dstPort === SOURCE_PORT ? { data: this.source } : { onData: (bytes: Uint8Array) => void chunks.push(bytes) }),
        onClosed: (reset) => {
          const counters = endpoint.counters;
          Object.assign(transfer, { reset, received: counters.received, sent: counters.acked, retransmits: counters.retransmits, badChecksums: counters.badChecksums });
          transfer.closed = !reset;
          if (segment.dstPort === SINK_PORT && !reset) transfer.receivedSha256 = sha256Hex(concatBytes(chunks));
        },
      });
      connection = { endpoint, transfer };
      this.connections.set(key, connection);
      this.transfers.push(transfer);
    }
    connection.endpoint.receive(segment);
    const counters = connection.endpoint.counters;
    Object.assign(connection.transfer, { received: counters.received, sent: counters.acked, retransmits: counters.retransmits, badChecksums: counters.badChecksums });
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
    for (const { endpoint } of this.connections.values()) endpoint.dispose();
    this.connections.clear();
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
