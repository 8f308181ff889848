/**
 * Across tabs (issue 14): the network lab's switch in one tab of a browser joined to the
 * switches of the lab in its other tabs, over a message channel every tab of the origin hears
 * (BroadcastChannel in the page; any `TabChannel` in tests).
 *
 * Each tab is still the only writer of its own machines: frames cross, nothing else does. Each
 * remote tab gets a port of its own on the local switch ("tab-<id>", kind "tab"), so the switch
 * learns which MACs live in which tab, counts each tab's traffic, and the topology shows it. A
 * frame the switch hands to such a port is posted on the channel addressed to that tab; a frame
 * posted to this tab comes out of the sender's port. The ports are protected (switch.ts): a frame
 * from one tab is never relayed to a third (each tab reaches every other directly), and a port
 * never sends back where a frame came from, so nothing echoes into the channel.
 *
 * Each tab keeps its own router with DHCP and DNS at the same address (192.168.86.1); so that
 * exactly one answers each machine, the page's hosts never cross (frames from or to their MACs
 * 52:54:00:86:ff:xx, and DHCP requests, stay in their tab), and each tab hands out addresses
 * from its own slice of the subnet: its slot, the lowest no other tab announced (a tie between
 * two tabs that joined at once goes to the lower id).
 *
 * Liveness: tabs announce themselves (hello) every `helloMs` with their slot and machines, and
 * ask one they have not heard for a while to answer (a hidden tab's timers may be throttled to
 * once a minute, but it answers from its message handler at once); a tab that closes says
 * goodbye, one not heard for `timeoutMs` (it crashed, or froze) is dropped too. Either way
 * its port goes, and with it every MAC the switch learned behind it.
 */
import type { Clock } from "../clock.ts";
import { DisposableStore, Emitter, type Disposable, type Event } from "../events.ts";
import { host } from "../host.ts";
import { ETHERTYPE_IPV4, ETH_HEADER, PROTO_UDP, u16 } from "./frames.ts";
import type { VirtualSwitch, SwitchPort } from "./switch.ts";

/** What the trunk needs of a channel every tab of the origin hears (BroadcastChannel). */
export interface TabChannel {
  post(message: unknown): void;
  onMessage(listener: (message: unknown) => void): Disposable;
  close(): void;
}

/** A machine as its tab announces it. */
export interface TabMachine {
  readonly name: string;
  /** aa:bb:cc:dd:ee:ff */
  readonly mac: string | undefined;
  readonly address: string | undefined;
}

/** Another tab on the trunk, as this one knows it. */
export interface RemoteTab {
  readonly id: string;
  /** Its switch port here. */
  readonly port: string;
  readonly slot: number | undefined;
  readonly machines: readonly TabMachine[];
  /** Clock milliseconds since it was last heard. */
  readonly silentMs: number;
}

export interface TabTrunkOptions {
  readonly switch: VirtualSwitch;
  /** The segment the other tabs join (the bridged LAN). */
  readonly segment: string;
  readonly channel: TabChannel;
  readonly clock: Clock;
  /** This tab's id: letters and digits, different in every tab. */
  readonly tabId: string;
  /** This tab's machines on the segment, for the hellos. */
  readonly machines: () => readonly TabMachine[];
  readonly helloMs?: number;
  readonly timeoutMs?: number;
  /** How long a joining tab listens for the others' slots before it takes one. */
  readonly settleMs?: number;
  readonly maxSlots?: number;
}

export const TAB_HELLO_MS = 2000;
export const TAB_TIMEOUT_MS = 7000;
export const TAB_SETTLE_MS = 300;
/** Tabs that can share the LAN at once (each its own slice of addresses). */
export const MAX_TAB_SLOTS = 8;
/** The name of the BroadcastChannel the lab's tabs share. */
export const TAB_CHANNEL_NAME = "virtlab-network-lab";

const MAX_FRAME = 65535 + ETH_HEADER + 4;
const ID = /^[a-z0-9]{1,32}$/;
const DHCP_SERVER_PORT = 67;

type Message =
  | { readonly kind: "hello"; readonly from: string; readonly slot: number | undefined; readonly machines: readonly TabMachine[]; readonly ask: boolean }
  | { readonly kind: "frame"; readonly from: string; readonly to: string; readonly frame: Uint8Array }
  | { readonly kind: "bye"; readonly from: string };

/** The page's own hosts (network.ts: 52:54:00:86:ff:xx) answer their own tab only. */
function pageHostMac(frame: Uint8Array, at: number): boolean {
  return frame[at] === 0x52 && frame[at + 1] === 0x54 && frame[at + 2] === 0x00 && frame[at + 3] === 0x86 && frame[at + 4] === 0xff;
}

/** A DHCP request (UDP to port 67): each tab's own server answers its own machines. */
function toDhcpServer(frame: Uint8Array): boolean {
  if (frame.length < ETH_HEADER + 20 + 8 || u16(frame, 12) !== ETHERTYPE_IPV4 || frame[ETH_HEADER + 9] !== PROTO_UDP) return false;
  const ihl = ((frame[ETH_HEADER] ?? 0) & 0x0f) * 4;
  return frame.length >= ETH_HEADER + ihl + 4 && u16(frame, ETH_HEADER + ihl + 2) === DHCP_SERVER_PORT;
}

/** Whether a frame stays in its tab (true) or may cross. */
export function staysInTab(frame: Uint8Array): boolean {
  return frame.length < ETH_HEADER || pageHostMac(frame, 0) || pageHostMac(frame, 6) || toDhcpServer(frame);
}

function str(value: unknown, max = 64): string | undefined {
  return typeof value === "string" && value.length <= max ? value : undefined;
}

/** A message off the channel, checked: another tab's page is ours, but its guests are not. */
function parseMessage(data: unknown): Message | undefined {
  if (typeof data !== "object" || data === null) return undefined;
  const m = data as Record<string, unknown>;
  const from = str(m["from"]);
  if (from === undefined || !ID.test(from)) return undefined;
  switch (m["kind"]) {
    case "hello": {
      const slot = m["slot"];
      const list = Array.isArray(m["machines"]) ? (m["machines"] as unknown[]).slice(0, 16) : [];
      const machines = list.flatMap((x): TabMachine[] => {
        if (typeof x !== "object" || x === null) return [];
        const r = x as Record<string, unknown>;
        const name = str(r["name"]);
        return name === undefined ? [] : [{ name, mac: str(r["mac"], 17), address: str(r["address"], 15) }];
      });
      return { kind: "hello", from, slot: typeof slot === "number" && Number.isInteger(slot) && slot >= 0 ? slot : undefined, machines, ask: m["ask"] === true };
    }
    case "frame": {
      const to = str(m["to"]);
      const frame = m["frame"];
      if (to === undefined || !(frame instanceof Uint8Array) || frame.length < ETH_HEADER || frame.length > MAX_FRAME) return undefined;
      return { kind: "frame", from, to, frame };
    }
    case "bye":
      return { kind: "bye", from };
    default:
      return undefined;
  }
}

interface Peer {
  readonly id: string;
  readonly port: SwitchPort;
  readonly frames: Emitter<Uint8Array>;
  slot: number | undefined;
  machines: readonly TabMachine[];
  lastHeard: number;
}

export interface TrunkCounters {
  /** Frames posted to other tabs, and taken from them. */
  readonly sent: number;
  readonly received: number;
  /** Frames kept in their tab (the page's hosts, DHCP requests) or refused off the channel. */
  readonly kept: number;
  readonly refused: number;
}

export class TabTrunk implements Disposable {
  private readonly peers = new Map<string, Peer>();
  private readonly store = new DisposableStore();
  private readonly changedEmitter = new Emitter<void>();
  private readonly slotEmitter = new Emitter<number | undefined>();
  private slotNow: number | undefined;
  private settled = false;
  private disposed = false;
  private readonly counts = { sent: 0, received: 0, kept: 0, refused: 0 };
  private tickTimer: Disposable | undefined;
  private readonly helloMs: number;
  private readonly timeoutMs: number;
  private readonly maxSlots: number;
  /** Remote tabs came, went, or announced new machines. */
  readonly onChanged: Event<void> = this.changedEmitter.event;
  /** This tab's slot was taken or changed (its DHCP pool follows: network.ts). */
  readonly onSlot: Event<number | undefined> = this.slotEmitter.event;

  constructor(private readonly options: TabTrunkOptions) {
    if (!ID.test(options.tabId)) throw new Error(`bad tab id ${options.tabId}`);
    this.helloMs = options.helloMs ?? TAB_HELLO_MS;
    this.timeoutMs = options.timeoutMs ?? TAB_TIMEOUT_MS;
    this.maxSlots = options.maxSlots ?? MAX_TAB_SLOTS;
    this.store.add(options.channel.onMessage((data) => this.receive(data)));
    this.hello(true);
    this.store.add(
      options.clock.after(options.settleMs ?? TAB_SETTLE_MS, () => {
        this.settled = true;
        this.pickSlot();
      }),
    );
    this.tick();
  }

  get tabId(): string {
    return this.options.tabId;
  }

  /** This tab's slice of the LAN's addresses (undefined while it listens, or when every slot is taken). */
  get slot(): number | undefined {
    return this.slotNow;
  }

  get counters(): TrunkCounters {
    return { ...this.counts };
  }

  get tabs(): readonly RemoteTab[] {
    const now = this.options.clock.now();
    return [...this.peers.values()].map((p) => ({ id: p.id, port: p.port.label, slot: p.slot, machines: p.machines, silentMs: now - p.lastHeard }));
  }

  /** Tell the others this tab's machines changed (also sent every `helloMs`). */
  announce(): void {
    this.hello(false);
  }

  private tick(): void {
    if (this.disposed) return;
    const now = this.options.clock.now();
    for (const peer of [...this.peers.values()]) if (now - peer.lastHeard > this.timeoutMs) this.drop(peer.id);
    // A hidden tab's timers may run only once a minute (Chromium's throttling), its message
    // handler at once: a tab not heard for a while is asked, and answers from its handler.
    this.hello([...this.peers.values()].some((p) => now - p.lastHeard > this.helloMs * 1.5));
    // One timer at a time (not one more in the store every tick).
    this.tickTimer = this.options.clock.after(this.helloMs, () => this.tick());
  }

  private post(message: Message): void {
    if (this.disposed) return;
    this.options.channel.post(message);
  }

  private hello(ask: boolean): void {
    const machines = this.options.machines().map((m) => ({ name: m.name, mac: m.mac, address: m.address }));
    this.post({ kind: "hello", from: this.tabId, slot: this.slotNow, machines, ask });
  }

  private receive(data: unknown): void {
    if (this.disposed) return;
    const message = parseMessage(data);
    if (message === undefined) {
      this.counts.refused++;
      return;
    }
    // BroadcastChannel does not deliver to the object that posted, but does to another of the same name in this tab.
    if (message.from === this.tabId) return;
    switch (message.kind) {
      case "hello": {
        const known = this.peers.has(message.from);
        const peer = this.peer(message.from);
        const machinesChanged = JSON.stringify(peer.machines) !== JSON.stringify(message.machines) || peer.slot !== message.slot;
        peer.slot = message.slot;
        peer.machines = message.machines;
        // A tab that just joined (or one we never heard) learns of this one at once.
        if (message.ask || !known) this.hello(false);
        if (this.settled && message.slot !== undefined && message.slot === this.slotNow && message.from < this.tabId) this.pickSlot();
        if (machinesChanged) this.changedEmitter.fire();
        return;
      }
      case "frame": {
        if (message.to !== this.tabId) return;
        if (staysInTab(message.frame)) {
          // Another tab's page keeps its hosts at home; a frame that claims to be one of them is a guest's forgery.
          this.counts.refused++;
          return;
        }
        this.counts.received++;
        this.peer(message.from).frames.fire(message.frame);
        return;
      }
      case "bye":
        this.drop(message.from);
        return;
    }
  }

  /** The peer `id`, made (with its port) when first heard; heard now. */
  private peer(id: string): Peer {
    let peer = this.peers.get(id);
    if (peer === undefined) {
      const frames = new Emitter<Uint8Array>();
      const bus = {
        onNetworkFrame: frames.event,
        sendNetworkFrame: (frame: Uint8Array) => this.send(id, frame),
      };
      const port = this.options.switch.attach(`tab-${id}`, bus, { kind: "tab", segment: this.options.segment, protected: true });
      peer = { id, port, frames, slot: undefined, machines: [], lastHeard: this.options.clock.now() };
      this.peers.set(id, peer);
      this.changedEmitter.fire();
    }
    peer.lastHeard = this.options.clock.now();
    return peer;
  }

  /** The switch hands a frame to tab `to`'s port. */
  private send(to: string, frame: Uint8Array): void {
    if (staysInTab(frame)) {
      this.counts.kept++;
      return;
    }
    this.counts.sent++;
    // Structured clone copies the whole buffer under a view: post just the frame's bytes.
    const bytes = frame.byteOffset === 0 && frame.byteLength === frame.buffer.byteLength ? frame : frame.slice();
    this.post({ kind: "frame", from: this.tabId, to, frame: bytes });
  }

  private drop(id: string): void {
    const peer = this.peers.get(id);
    if (peer === undefined) return;
    this.peers.delete(id);
    // Its port goes, and with it every MAC the switch learned behind it.
    peer.port.dispose();
    peer.frames.dispose();
    this.changedEmitter.fire();
  }

  private pickSlot(): void {
    const taken = new Set([...this.peers.values()].filter((p) => p.slot !== undefined && (p.slot !== this.slotNow || p.id < this.tabId)).map((p) => p.slot));
    let slot: number | undefined;
    for (let s = 0; s < this.maxSlots; s++) {
      if (!taken.has(s)) {
        slot = s;
        break;
      }
    }
    if (slot === this.slotNow) return;
    this.slotNow = slot;
    this.hello(false);
    this.slotEmitter.fire(slot);
  }

  /** Say goodbye (the others drop this tab's port at once) and leave. */
  dispose(): void {
    if (this.disposed) return;
    this.post({ kind: "bye", from: this.tabId });
    this.disposed = true;
    this.tickTimer?.dispose();
    this.store.dispose();
    for (const id of [...this.peers.keys()]) this.drop(id);
    this.options.channel.close();
    this.changedEmitter.dispose();
    this.slotEmitter.dispose();
  }
}

/** The page's BroadcastChannel as a TabChannel, where the host has one (browsers, Workers, Node 18+). */
export function broadcastTabChannel(name: string = TAB_CHANNEL_NAME): TabChannel | undefined {
  const Channel = host.BroadcastChannel;
  if (Channel === undefined) return undefined;
  const channel = new Channel(name);
  const listeners = new Emitter<unknown>();
  channel.onmessage = (event) => listeners.fire(event.data);
  return {
    post: (message) => channel.postMessage(message),
    onMessage: (listener) => listeners.event(listener),
    close: () => {
      channel.onmessage = null;
      channel.close();
      listeners.dispose();
    },
  };
}
