/**
 * The one interface every party on a virtual network speaks: a machine's NIC (Machine, a
 * Worker machine's client), an in-page host, a switch port. Frames are whole Ethernet frames
 * without the FCS. A frame handed over, either way, belongs to whoever took it: the giver does
 * not change or reuse its bytes afterwards (v86.ts copies what the NIC sends for this reason).
 */
import { Emitter, type Event } from "../events.ts";

export interface NetworkBus {
  /** Frames the endpoint emits (its NIC transmits). */
  readonly onNetworkFrame: Event<Uint8Array>;
  /** Deliver a frame to the endpoint (its NIC receives). */
  sendNetworkFrame(frame: Uint8Array): void;
}

/**
 * Two buses wired back to back: a frame given to one end is emitted by the other. For code
 * written to sit on a machine's bus (the lab's NetPeer takes the bus it answers), put one end on
 * a switch port and give the other to it: `const [port, peer] = crossover(); sw.attach("peer",
 * port, { kind: "host" }); new NetPeer(peer, clock)`.
 */
export function crossover(): readonly [NetworkBus, NetworkBus] {
  const left = new Emitter<Uint8Array>();
  const right = new Emitter<Uint8Array>();
  return [
    { onNetworkFrame: left.event, sendNetworkFrame: (frame) => right.fire(frame) },
    { onNetworkFrame: right.event, sendNetworkFrame: (frame) => left.fire(frame) },
  ];
}
