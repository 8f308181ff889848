/**
 * The network lab's virtual network: one switch, its capture and monitor, and the in-page hosts a
 * mode needs, composed per mode (the course notes' Xen/VirtualBox models):
 *
 * - bridged: every machine on one segment, as if plugged into the same LAN; the LAN's router
 *   (DHCP, DNS, and the outside through the page when outside access is on) is on it too;
 * - host-only: one isolated segment with a DHCP server and nothing beyond it (no gateway);
 * - NAT: each machine alone behind its own router (its own segment and NAT gateway), as
 *   VirtualBox's NAT does: the outside when access is on, never the other machines;
 * - routed: two subnets joined by a router in the page; machines alternate between them, and
 *   `traceroute` shows the hop.
 *
 * Machines join with a label ("vm1") and their NIC's NetworkBus; a mode change moves the ports
 * to the new mode's segments and replaces the hosts (the guests renew their leases).
 */
import type { Clock } from "../clock.ts";
import { DisposableStore, Emitter, type Disposable, type Event } from "../events.ts";
import { AppError } from "../errors.ts";
import type { NetworkBus } from "./bus.ts";
import { PacketCapture } from "./capture.ts";
import { formatMac, parseMac, type Ipv4, type Mac } from "./frames.ts";
import type { DhcpLease } from "./hosts/dhcp.ts";
import { parseIpv4 } from "./hosts/ip.ts";
import { NatGateway, type NatConnection, type NatFetch } from "./hosts/nat.ts";
import { Router } from "./hosts/router.ts";
import { SegmentHost } from "./hosts/segmentHost.ts";
import type { HostCounters } from "./hosts/station.ts";
import { NetworkMonitor, type NetworkSummary } from "./summary.ts";
import { VirtualSwitch, type SwitchPort } from "./switch.ts";
import { TabTrunk, type TabChannel } from "./tabTrunk.ts";

export type NetworkMode = "bridged" | "host-only" | "nat" | "routed";

/** The modes as data, for a mode picker and the lessons: what each one is and what it shows. */
export const NETWORK_MODES: readonly { readonly mode: NetworkMode; readonly label: string; readonly explains: string }[] = [
  { mode: "bridged", label: "Bridged", explains: "All machines on one segment, as if plugged into the same LAN: they reach each other, and the LAN's router (192.168.86.1) gives addresses and, with outside access on, the web through this page." },
  { mode: "host-only", label: "Host-only", explains: "One isolated segment (10.0.56.0/24) with a DHCP server and nothing beyond it: machines reach each other, never the outside (no default route)." },
  { mode: "nat", label: "NAT", explains: "Each machine alone behind its own router (10.0.2.2), as in VirtualBox's NAT: the web through this page with outside access on, but the machines cannot see each other." },
  { mode: "routed", label: "Routed", explains: "Two subnets (10.0.1.0/24, 10.0.2.0/24) joined by a router in the page; machines alternate between them, and traceroute shows the hop through 10.0.1.1 or 10.0.2.1." },
];

/** The page's own hosts' MAC addresses: locally administered, 52:54:00:86:ff:xx. */
const hostMac = (n: number): Mac => [0x52, 0x54, 0x00, 0x86, 0xff, n & 0xff];

export interface VirtualNetworkOptions {
  readonly clock: Clock;
  readonly mode?: NetworkMode;
  /** How the NAT reaches the outside (the page's fetch, credentials omitted). */
  readonly fetch: NatFetch;
  /** virtlab's own origin: never fetched for a guest. */
  readonly ownOrigin: string;
  /** A guest's http:// requests fetched as https:// (see NatGatewayOptions.upgradeToHttps). */
  readonly upgradeToHttps?: boolean;
  /** Outside access through the page (default off: a guest reaches nothing the user did not turn on). */
  readonly outside?: boolean;
  /** Ring size of the capture (packets). */
  readonly captureLimit?: number;
}

/** The bridged LAN's DHCP pool, last octets: the whole of it alone, a tab's slot of it when tabs share the LAN. */
export function lanPool(slot: number | undefined): readonly [number, number] {
  return slot === undefined ? [15, 99] : [100 + 16 * slot, 115 + 16 * slot];
}

/** A machine's name while tabs share the LAN: its label and its tab's id (every tab has its own vm1). */
const joinedHostname = (label: string, tabId: string): string => `${label}-${tabId}`;

/** The segment other tabs join (bridged mode's). */
export const LAN_SEGMENT = "lan";

/** A guest's web request through a router of the network's, as the lab lists it. */
export interface WebRequest extends NatConnection {
  /** The router that took it ("lan-router", "nat-vm1"). */
  readonly router: string;
}

/** How many web requests `webRequests` keeps at most, newest last. */
const WEB_REQUESTS_LISTED = 20;

/** A machine on the network, as the lab shows it. */
export interface NetworkMember {
  readonly label: string;
  readonly segment: string;
  /** The MAC it joined with, else the first the switch learned from it (none until it sent something). */
  readonly mac: string | undefined;
  /** Its DHCP lease, once it has one. */
  readonly address: string | undefined;
}

interface Member {
  readonly label: string;
  readonly port: SwitchPort;
  readonly index: number;
  /** The MAC it was given (aa:bb:…), when known at joining. */
  readonly mac: string | undefined;
  /** The address it brought (a machine moved from another tab keeps its lease from there). */
  readonly address: string | undefined;
}

/** Hosts a mode put on the switch, with their ports. */
interface ModeHosts extends Disposable {
  readonly segmentFor: (index: number, label: string) => string;
  readonly leases: () => readonly DhcpLease[];
  readonly counters: () => readonly { readonly label: string; readonly counters: HostCounters }[];
  /** The routers that reach the outside (none in host-only and routed). */
  readonly gateways: () => readonly { readonly label: string; readonly gateway: NatGateway }[];
  readonly onLeasesChanged: Event<unknown>;
  /** A machine joined (NAT gives each its own router). */
  readonly joined: (member: Member) => void;
  readonly left: (member: Member) => void;
  readonly setOutside: (on: boolean) => void;
}

export class VirtualNetwork implements Disposable {
  readonly switch: VirtualSwitch;
  readonly capture: PacketCapture;
  readonly monitor: NetworkMonitor;
  private readonly store = new DisposableStore();
  private readonly members = new Map<string, Member>();
  private readonly names = new Map<string, string>();
  private hosts: ModeHosts;
  private modeNow: NetworkMode;
  private outsideNow: boolean;
  private joinedCount = 0;
  private trunk: TabTrunk | undefined;
  private trunkStore: DisposableStore | undefined;
  private announced = "";
  private readonly slotChanged = this.store.add(new Emitter<void>());
  /** This tab's slice of the LAN changed (joined or left other tabs): its machines should ask for new leases. */
  readonly onTabSlotChanged: Event<void> = this.slotChanged.event;
  private readonly changed = this.store.add(new Emitter<void>());
  /** Mode, members, leases or outside access changed (traffic: see `monitor.onChanged`). */
  readonly onChanged: Event<void> = this.changed.event;

  constructor(private readonly options: VirtualNetworkOptions) {
    this.switch = this.store.add(new VirtualSwitch({ clock: options.clock }));
    this.capture = this.store.add(new PacketCapture(this.switch.onTap, options.captureLimit === undefined ? {} : { limit: options.captureLimit }));
    this.monitor = this.store.add(new NetworkMonitor(this.switch, options.clock));
    this.modeNow = options.mode ?? "bridged";
    this.outsideNow = options.outside ?? false;
    this.hosts = this.makeHosts(this.modeNow);
  }

  /** The network's clock (timers of the hosts, the trunk, announcements). */
  get clock(): Clock {
    return this.options.clock;
  }

  get mode(): NetworkMode {
    return this.modeNow;
  }

  get outside(): boolean {
    return this.outsideNow;
  }

  /** Outside access through the page for the modes that have a router to it (bridged, NAT). */
  setOutside(on: boolean): void {
    this.outsideNow = on;
    this.hosts.setOutside(on);
    this.changed.fire();
  }

  /** Switch mode: the hosts are replaced and every machine moves to its segment in the new mode. */
  setMode(mode: NetworkMode): void {
    if (mode === this.modeNow) return;
    this.modeNow = mode;
    this.rebuildHosts();
  }

  /** The other tabs on the LAN, once this one joined them. */
  get tabs(): TabTrunk | undefined {
    return this.trunk;
  }

  /**
   * Join the lab's LAN in the other tabs of this browser over `channel` (tabTrunk.ts): their
   * machines and this tab's share the bridged segment, each tab's router answering its own.
   * Off until asked: a guest reaches no network the user did not turn on.
   */
  joinTabs(channel: TabChannel, tabId: string): TabTrunk {
    this.leaveTabs();
    const store = new DisposableStore();
    const trunk = new TabTrunk({
      switch: this.switch,
      segment: LAN_SEGMENT,
      channel,
      clock: this.options.clock,
      tabId,
      machines: () => this.machines.filter((m) => m.segment === LAN_SEGMENT).map((m) => ({ name: m.label, mac: m.mac, address: m.address })),
    });
    store.add(trunk);
    store.add(trunk.onChanged(() => this.changed.fire()));
    store.add(trunk.onSlot(() => this.slotMoved()));
    // The others hear of a machine (its address, its leaving) when it changes, not only at the next hello.
    store.add(
      this.changed.event(() => {
        const now = JSON.stringify(this.machines);
        if (now === this.announced) return;
        this.announced = now;
        trunk.announce();
      }),
    );
    this.trunk = trunk;
    this.trunkStore = store;
    this.changed.fire();
    return trunk;
  }

  /** Leave the other tabs (they drop this tab's port at once); this tab's LAN is its own again. */
  leaveTabs(): void {
    if (this.trunk === undefined) return;
    const hadSlot = this.trunk.slot !== undefined;
    this.trunk = undefined;
    this.trunkStore?.dispose();
    this.trunkStore = undefined;
    if (hadSlot) this.slotMoved();
    this.changed.fire();
  }

  private slotMoved(): void {
    if (this.modeNow === "bridged") this.rebuildHosts();
    this.slotChanged.fire();
  }

  /** The mode's hosts made again (a new mode, a new pool): every machine moves to its segment. */
  private rebuildHosts(): void {
    const mode = this.modeNow;
    this.hosts.dispose();
    this.hosts = this.makeHosts(mode);
    for (const member of this.members.values()) {
      member.port.setSegment(this.hosts.segmentFor(member.index, member.label));
      this.hosts.joined(member);
    }
    this.changed.fire();
  }

  /**
   * Put a machine's NIC on the switch as `label`; `mac` (when known) names it in DHCP answers.
   * Disposing the result takes it off again (its learned addresses and, in NAT, its router go).
   */
  join(label: string, bus: NetworkBus, mac?: Mac, address?: string): Disposable {
    if (this.members.has(label)) throw new AppError("bad-network", `A machine named ${label} is already on this network.`, { details: { subject: label, problems: ["the name is taken"] } });
    const index = this.joinedCount++;
    const port = this.switch.attach(label, bus, { kind: "machine", segment: this.hosts.segmentFor(index, label) });
    const member: Member = { label, port, index, mac: mac === undefined ? undefined : formatMac(mac), address };
    this.members.set(label, member);
    if (mac !== undefined) this.names.set(formatMac(mac), label);
    this.hosts.joined(member);
    this.changed.fire();
    return {
      dispose: () => {
        if (this.members.get(label) !== member) return;
        this.members.delete(label);
        if (mac !== undefined) this.names.delete(formatMac(mac));
        this.hosts.left(member);
        port.dispose();
        this.changed.fire();
      },
    };
  }

  /** The machines on the network with their segment, MAC and leased address. */
  get machines(): readonly NetworkMember[] {
    const leases = this.hosts.leases();
    return [...this.members.values()].map((m) => {
      const mac = m.mac ?? m.port.learnedMacs()[0];
      const lease = leases.find((l) => l.mac === mac && l.state === "bound");
      return { label: m.label, segment: m.port.segment, mac, address: lease?.ip ?? m.address };
    });
  }

  /** The DHCP leases of this mode's hosts (a moved machine's taken-over one among them). */
  get leases(): readonly DhcpLease[] {
    return this.hosts.leases();
  }

  /** What the in-page hosts did (DHCP leases, DNS, HTTP fetched and refused, forwarded…). */
  hostCounters(): readonly { readonly label: string; readonly counters: HostCounters }[] {
    return this.hosts.counters();
  }

  /** The guests' latest web requests through the page, every router's, oldest first. */
  webRequests(): readonly WebRequest[] {
    const all = this.hosts.gateways().flatMap(({ label, gateway }) => gateway.connections.map((c) => ({ ...c, router: label })));
    return all.sort((a, b) => a.at - b.at).slice(-WEB_REQUESTS_LISTED);
  }

  summary(): NetworkSummary {
    return this.monitor.summary;
  }

  dispose(): void {
    this.trunkStore?.dispose();
    this.trunk = undefined;
    this.hosts.dispose();
    for (const member of this.members.values()) member.port.dispose();
    this.members.clear();
    this.store.dispose();
  }

  /**
   * The name DHCP gives a machine (option 12: the guest takes it, its prompt shows it): its label,
   * with the tab's id once tabs share the LAN, since every tab has its own vm1.
   */
  private hostnameFor = (mac: Mac): string | undefined => {
    const label = this.names.get(formatMac(mac));
    return label === undefined || this.trunk === undefined ? label : joinedHostname(label, this.trunk.tabId);
  };

  /**
   * A machine of another tab on the joined LAN by the name its tab's DHCP gave it (`vm1-3f9a2c`,
   * as its prompt shows): each tab's router leases only its own machines, the trunk knows the rest.
   */
  private otherTabsHost = (name: string): Ipv4 | undefined => {
    for (const tab of this.trunk?.tabs ?? []) {
      for (const m of tab.machines) {
        if (joinedHostname(m.name, tab.id).toLowerCase() === name && m.address !== undefined) return parseIpv4(m.address);
      }
    }
    return undefined;
  };

  private makeHosts(mode: NetworkMode): ModeHosts {
    const clock = this.options.clock;
    const store = new DisposableStore();
    const leasesChanged = store.add(new Emitter<unknown>());
    const relay = (event: Event<readonly DhcpLease[]>): void => {
      store.add(event(() => {
        leasesChanged.fire(undefined);
        this.changed.fire();
      }));
    };
    const attachHost = (label: string, bus: NetworkBus, segment: string): void => {
      store.add(this.switch.attach(label, bus, { kind: "host", segment }));
    };
    const nat = (label: string, ip: Ipv4, segment: string, mac: Mac, pool: readonly [number, number] = lanPool(undefined), knownHost?: (name: string) => Ipv4 | undefined): NatGateway => {
      const gateway = store.add(new NatGateway({ mac, ip, prefix: 24, clock, fetch: this.options.fetch, ownOrigin: this.options.ownOrigin, upgradeToHttps: this.options.upgradeToHttps ?? false, enabled: this.outsideNow, hostnameFor: this.hostnameFor, ...(knownHost === undefined ? {} : { knownHost }), dhcp: { poolFirst: [ip[0], ip[1], ip[2], pool[0]], poolLast: [ip[0], ip[1], ip[2], pool[1]] } }));
      relay(gateway.onLeasesChanged);
      attachHost(label, gateway, segment);
      return gateway;
    };
    const base = {
      onLeasesChanged: leasesChanged.event,
      joined: (_member: Member): void => undefined,
      left: (_member: Member): void => undefined,
      setOutside: (_on: boolean): void => undefined,
      gateways: () => [],
      dispose: (): void => store.dispose(),
    };
    switch (mode) {
      case "bridged": {
        const router = nat("lan-router", [192, 168, 86, 1], LAN_SEGMENT, hostMac(1), lanPool(this.trunk?.slot), this.otherTabsHost);
        return {
          ...base,
          segmentFor: () => LAN_SEGMENT,
          leases: () => router.leases,
          counters: () => [{ label: "lan-router", counters: router.counters }],
          gateways: () => [{ label: "lan-router", gateway: router }],
          setOutside: (on) => router.setEnabled(on),
          // A machine that moved here keeps the lease another tab's router gave it: this one renews it.
          joined: (member) => {
            const mac = member.mac === undefined ? undefined : parseMac(member.mac);
            const ip = member.address === undefined ? undefined : parseIpv4(member.address);
            if (mac !== undefined && ip !== undefined) router.dhcp?.adopt(mac, ip);
          },
        };
      }
      case "host-only": {
        const dhcp = store.add(new SegmentHost({ mac: hostMac(2), ip: [10, 0, 56, 2], prefix: 24, clock, hostnameFor: this.hostnameFor, dhcp: { poolFirst: [10, 0, 56, 101], poolLast: [10, 0, 56, 199] } }));
        relay(dhcp.onLeasesChanged);
        attachHost("dhcp-server", dhcp, "host-only");
        return { ...base, segmentFor: () => "host-only", leases: () => dhcp.leases, counters: () => [{ label: "dhcp-server", counters: dhcp.counters }] };
      }
      case "nat": {
        const routers = new Map<string, NatGateway>();
        const forget = (label: string): void => {
          const router = routers.get(label);
          routers.delete(label);
          router?.dispose();
          this.switch.port(`nat-${label}`)?.dispose();
        };
        store.add({ dispose: () => [...routers.keys()].forEach(forget) });
        return {
          ...base,
          segmentFor: (_index, label) => `nat-${label}`,
          leases: () => [...routers.values()].flatMap((r) => r.leases),
          counters: () => [...routers].map(([label, r]) => ({ label: `nat-${label}`, counters: r.counters })),
          gateways: () => [...routers].map(([label, gateway]) => ({ label: `nat-${label}`, gateway })),
          joined: (member) => {
            if (!routers.has(member.label)) routers.set(member.label, nat(`nat-${member.label}`, [10, 0, 2, 2], `nat-${member.label}`, hostMac(0x10 + (member.index % 0xe0))));
          },
          left: (member) => forget(member.label),
          setOutside: (on) => routers.forEach((r) => r.setEnabled(on)),
        };
      }
      case "routed": {
        const router = store.add(
          new Router({
            clock,
            hostnameFor: this.hostnameFor,
            interfaces: [
              { name: "net1", mac: hostMac(3), ip: [10, 0, 1, 1], prefix: 24, dhcp: { poolFirst: [10, 0, 1, 101], poolLast: [10, 0, 1, 199] } },
              { name: "net2", mac: hostMac(4), ip: [10, 0, 2, 1], prefix: 24, dhcp: { poolFirst: [10, 0, 2, 101], poolLast: [10, 0, 2, 199] } },
            ],
          }),
        );
        relay(router.onLeasesChanged);
        router.interfaces.forEach((iface, i) => attachHost(`router-${iface.name}`, iface, i === 0 ? "net1" : "net2"));
        return { ...base, segmentFor: (index) => (index % 2 === 0 ? "net1" : "net2"), leases: () => router.leases, counters: () => [{ label: "router", counters: router.counters }] };
      }
    }
  }
}
