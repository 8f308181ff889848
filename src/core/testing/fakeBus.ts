/** A network endpoint for unit tests: `emit` plays its NIC transmitting, `received` is what it was given. */
import { Emitter } from "../events.ts";
import type { NetworkBus } from "../net/bus.ts";
import { ETHERTYPE_IPV4, type Mac } from "../net/frames.ts";

export class FakeEndpoint implements NetworkBus {
  private readonly frames = new Emitter<Uint8Array>();
  private readonly delivered = new Emitter<Uint8Array>();
  readonly onNetworkFrame = this.frames.event;
  /** Each frame given to this endpoint (after it is recorded in `received`). */
  readonly onDelivered = this.delivered.event;
  readonly received: Uint8Array[] = [];
  /** When set, sendNetworkFrame throws (a machine whose network is off). */
  refuse = false;

  constructor(readonly mac: Mac = [0x52, 0x54, 0, 0, 0, 1]) {}

  emit(frame: Uint8Array): void {
    this.frames.fire(frame);
  }

  sendNetworkFrame(frame: Uint8Array): void {
    if (this.refuse) throw new Error("network is off");
    this.received.push(frame);
    this.delivered.fire(frame);
  }

  get listening(): boolean {
    return this.frames.hasListeners;
  }
}

/** An Ethernet frame from `src` to `dst` (IPv4 type) with `tag` as the first payload byte, `length` bytes in all. */
export function ethFrame(src: Mac, dst: Mac, tag = 0, length = 60): Uint8Array {
  const frame = new Uint8Array(Math.max(length, 15));
  frame.set(dst, 0);
  frame.set(src, 6);
  frame[12] = ETHERTYPE_IPV4 >> 8;
  frame[13] = ETHERTYPE_IPV4 & 0xff;
  frame[14] = tag;
  return frame.subarray(0, length);
}
