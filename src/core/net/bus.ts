/**
 * The one interface every party on a virtual network speaks: a machine's NIC (Machine, a
 * Worker machine's client), an in-page host, a switch port. Frames are whole Ethernet frames
 * without the FCS. A frame handed over, either way, belongs to whoever took it: the giver does
 * not change or reuse its bytes afterwards (v86.ts copies what the NIC sends for this reason).
 */
import type { Event } from "../events.ts";

export interface NetworkBus {
  /** Frames the endpoint emits (its NIC transmits). */
  readonly onNetworkFrame: Event<Uint8Array>;
  /** Deliver a frame to the endpoint (its NIC receives). */
  sendNetworkFrame(frame: Uint8Array): void;
}
