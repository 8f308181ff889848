/**
 * The network lab: several machines at once on one VirtualNetwork. Each machine is the built-in
 * guest in a session of its own (its own Worker in the browser) that keeps nothing: its disks
 * live in memory only, never in the user's storage. Each gets its own name (vm1, vm2…) and MAC
 * (identity.ts), joins the network under its name, and gets an address by DHCP from the mode's
 * hosts. A mode change renews every machine's lease.
 */
import { DisposableStore, Emitter, type Disposable, type Event } from "../events.ts";
import { AppError, describeCause, toAppError } from "../errors.ts";
import { assertHasNic, dhcpCommand, machineIdentity, type MachineIdentity } from "../identity.ts";
import { stoppedByGuest, type Machine, type MachineStatus } from "../machine.ts";
import { DEFAULT_PROFILE, type DeviceProfile, type NicModel } from "../profile.ts";
import type { Clock } from "../clock.ts";
import type { PrebootedSource } from "../session/prebooted.ts";
import { movableLabSession, type MemoryDisks } from "../session/scratch.ts";
import type { StartedFrom } from "../session/request.ts";
import type { MachineSession, SessionOptions } from "../session/session.ts";
import { DEFAULT_MACHINE, type MachineRecord } from "../storage/machines.ts";
import { macKey, parseMac } from "./frames.ts";
import { parseIpv4 } from "./hosts/ip.ts";
import { announceSelf } from "./announce.ts";
import type { NetworkBus } from "./bus.ts";
import type { SourceLan, TargetLan } from "../migration/requirements.ts";
import type { LabArrival } from "../migration/tabs.ts";
import { hostNatFetch, type NatFetch } from "./hosts/nat.ts";
import { VirtualNetwork, type NetworkMode } from "./network.ts";
import { broadcastTabChannel, type TabChannel } from "./tabTrunk.ts";
import { randomId } from "../host.ts";

/** Each machine is a whole PC in this tab: a classroom laptop runs four well. */
export const MAX_LAB_MACHINES = 4;

/** The lab machines' hardware: the default guest's, with a NIC and less memory (busybox needs little). */
export function labProfile(nic: LabNic): DeviceProfile {
  return { ...DEFAULT_PROFILE, nic, memoryMiB: 128 };
}

/** A lab machine's NIC: every lab machine has one. */
export type LabNic = Exclude<NicModel, "none">;

/**
 * The pre-booted state of a lab machine per NIC model, as set-up makes them (images/prebooted.ts)
 * and the page serves them (`guest/<name>.vlsnap`): a second machine of either model is up in
 * seconds, never a boot.
 */
export const LAB_PREBOOTED_NAMES: Readonly<Record<LabNic, string>> = { virtio: "prebooted-lab", ne2k: "prebooted-lab-ne2k" };

/** The saved machine a lab machine runs: the built-in guest under its name (its disks in memory). */
export function labRecord(name: string): MachineRecord {
  return { ...DEFAULT_MACHINE, name };
}

/** The lab's pre-booted states, each opened by name (fetchPrebooted in the page, filePrebooted in Node). */
export function labPrebooted(open: (name: string) => PrebootedSource): Record<LabNic, PrebootedSource> {
  return { virtio: open(LAB_PREBOOTED_NAMES.virtio), ne2k: open(LAB_PREBOOTED_NAMES.ne2k) };
}

/**
 * "arriving": a machine started to land one moved here from another tab (off the network until it
 * lands); "off": its guest stopped itself (`poweroff` or `halt` in its shell, or a kernel panic);
 * "rebooting": its guest rebooted (`reboot` in its shell) and has not yet taken its name and MAC
 * again.
 */
export type LabMachineState = "starting" | "running" | "failed" | "off" | "arriving" | "rebooting";

/** What a lab machine that powered itself off says in the table, and under its prompt (a lab machine has no Reset). */
export const LAB_MACHINE_OFF = "it powered itself off (poweroff or halt): Remove takes it off the switch and frees its name";
export const LAB_MACHINE_OFF_NOTICE = "The guest powered itself off (poweroff or halt): Remove takes this machine off the switch and frees its name.";

/** A lab machine whose guest stopped itself (off, or its kernel panicked): why, for its table row. */
export function labStoppedProblem(status: MachineStatus): string {
  return status.stage === "panicked" ? `its kernel panicked (${status.panic ?? "no reason given"}): Remove takes it off the switch and frees its name` : LAB_MACHINE_OFF;
}

/** The same under the prompt of its terminal. */
export function labStoppedNotice(status: MachineStatus): string {
  return status.stage === "panicked" ? `The guest's kernel panicked (${status.panic ?? "no reason given"}): Remove takes this machine off the switch and frees its name.` : LAB_MACHINE_OFF_NOTICE;
}

export interface LabMachine {
  readonly name: string;
  readonly nic: LabNic;
  readonly identity: MachineIdentity;
  readonly session: MachineSession;
  readonly state: LabMachineState;
  /** Why it failed, in words. */
  readonly problem: string | undefined;
  /** How it started (the lab's pre-booted state, a kept boot, a boot), once it runs. */
  readonly startedFrom: StartedFrom | undefined;
}

interface Entry {
  name: string;
  nic: LabNic;
  identity: MachineIdentity;
  session: MachineSession;
  /** Its memory disks, when the session lets a move copy them. */
  disks: MemoryDisks | undefined;
  /** The address it brought from another tab (else its lease here). */
  address: string | undefined;
  /** Frames sent on its behalf through its port (the announcement after a move). */
  announce: Emitter<Uint8Array>;
  state: LabMachineState;
  problem: string | undefined;
  store: DisposableStore;
  joined: boolean;
  /** Call once it runs, failed or left: the next machine of its NIC model may start. */
  settled: () => void;
}

export interface NetworkLabOptions {
  readonly network: VirtualNetwork;
  /**
   * A new session for one lab machine (session/scratch.ts: labSession); with its memory disks in
   * hand (movableLabSession), the machine can move to another tab's lab.
   */
  readonly session: (nic: LabNic) => MachineSession | { readonly session: MachineSession; readonly disks: MemoryDisks };
  /**
   * This tab's id (letters and digits): in its machines' MACs, so that machines of the same name
   * in two tabs of a browser differ on a shared LAN. A random one when left out.
   */
  readonly tabId?: string;
  /** The channel to the lab in the other tabs (BroadcastChannel in a page), for `joinTabs`. */
  readonly tabChannel?: () => TabChannel | undefined;
}

export class NetworkLab implements Disposable {
  private readonly entries = new Map<string, Entry>();
  private readonly startsByNic = new Map<NicModel, Promise<void>>();
  private readonly landings = new Map<LabNic, Promise<{ readonly name: string; readonly session: MachineSession; readonly disks: MemoryDisks }>>();
  private readonly changed = new Emitter<void>();
  private readonly subscription: Disposable;
  /** A machine was added, started, failed or left; the network's own changes are `network.onChanged`. */
  readonly onChanged: Event<void> = this.changed.event;

  /** This tab's id, in its machines' MACs and its port's name in the other tabs ("tab-<id>"). */
  readonly tabId: string;

  constructor(private readonly options: NetworkLabOptions) {
    this.tabId = options.tabId ?? randomId().replace(/-/g, "").slice(0, 6);
    const subscriptions = new DisposableStore();
    subscriptions.add(options.network.onChanged(() => this.changed.fire()));
    // A new slice of the LAN's addresses (tabs joined or left): every machine asks for a lease from it.
    subscriptions.add(options.network.onTabSlotChanged(() => void this.renewLeases()));
    this.subscription = subscriptions;
  }

  /** Whether this tab's LAN is joined to the other tabs'. */
  get joinedTabs(): boolean {
    return this.options.network.tabs !== undefined;
  }

  /**
   * Join the lab in this browser's other tabs (their machines and these on one bridged LAN; each
   * tab still runs only its own). Off until the user turns it on. Throws `bad-network` when the
   * host has no channel between tabs.
   */
  joinTabs(): void {
    if (this.joinedTabs) return;
    const channel = (this.options.tabChannel ?? (() => broadcastTabChannel()))();
    if (channel === undefined) throw new AppError("bad-network", "This browser cannot connect its tabs (no BroadcastChannel).", { details: { subject: "tabs", problems: ["no channel between tabs"] } });
    this.options.network.joinTabs(channel, this.tabId);
  }

  /** Leave the other tabs (they drop this one at once): the LAN is this tab's alone again. */
  leaveTabs(): void {
    this.options.network.leaveTabs();
  }

  get network(): VirtualNetwork {
    return this.options.network;
  }

  get machines(): readonly LabMachine[] {
    return [...this.entries.values()].map(({ store: _store, joined: _joined, settled: _settled, disks: _disks, address: _address, announce: _announce, ...machine }) => ({
      ...machine,
      startedFrom: machine.state === "running" ? machine.session.startedFrom : undefined,
    }));
  }

  machine(name: string): Machine | undefined {
    return this.entries.get(name)?.session.machine;
  }

  /**
   * Start one more machine (the next free name) with `nic`. Resolves once it started; it joins
   * the network and turns "running" when it has taken its own name and MAC (a boot from scratch
   * does at its first prompt); rejects with the reason when it cannot start (the lab
   * keeps it listed as failed until removed).
   */
  async add(nic: LabNic = "virtio"): Promise<LabMachine> {
    if (this.entries.size >= MAX_LAB_MACHINES) {
      throw new AppError("bad-network", `The lab runs at most ${MAX_LAB_MACHINES} machines at once: remove one first.`, { details: { subject: "network lab", problems: ["too many machines"] } });
    }
    const name = this.nextName();
    const profile = labProfile(nic);
    assertHasNic(name, profile);
    const identity = machineIdentity(`netlab-${this.tabId}-${name}`, name);
    const entry = this.newEntry(name, nic, identity, "starting");
    // One start per NIC model at a time: the first boots and keeps its boot, the next restore it
    // (two started together would both boot from scratch).
    const previous = this.startsByNic.get(nic) ?? Promise.resolve();
    const settled = new Promise<void>((resolve) => (entry.settled = resolve));
    this.startsByNic.set(nic, settled);
    this.entries.set(name, entry);
    this.changed.fire();
    // "running", and on the network, once the machine has its own name and MAC (after a restore:
    // while it settles; after a boot: at its first prompt). Not before: what a boot sends with
    // the emulator's random MAC would only muddle the capture and the DHCP leases.
    let identityTaken = false;
    const join = (): void => {
      const machine = entry.session.machine;
      if (!identityTaken || machine === undefined || entry.joined || this.entries.get(name) !== entry) return;
      this.joinNetwork(entry, machine);
      this.setState(entry, "running", undefined);
    };
    entry.store.add(
      entry.session.onIdentity(() => {
        identityTaken = true;
        join();
      }),
    );
    try {
      await previous;
      if (this.entries.get(name) !== entry) throw new AppError("disposed", `${name} was removed before it started.`);
      const outcome = await entry.session.start({ record: labRecord(name), profile, request: { kind: "auto" }, identity, network: "on" });
      if (outcome.kind === "failed") throw outcome.error;
      const machine = entry.session.machine;
      if (outcome.kind !== "started" || machine === undefined) throw new AppError("emulator-start-failed", `${name} did not start (${outcome.kind}).`);
      if (this.entries.get(name) !== entry) throw new AppError("disposed", `${name} was removed while it started.`);
      entry.store.add(entry.session.onCrash(() => this.setState(entry, "failed", "its emulator stopped")));
      entry.store.add(
        entry.session.onStatus((status) => {
          if (stoppedByGuest(status.machine.stage) && entry.state !== "off") this.setState(entry, "off", labStoppedProblem(status.machine));
        }),
      );
      join();
      this.changed.fire();
      return this.machines.find((m) => m.name === name) ?? { ...entry, startedFrom: undefined };
    } catch (error) {
      if (this.entries.get(name) === entry) this.setState(entry, "failed", describeCause(error));
      throw toAppError(error, "emulator-start-failed", `${name} did not start.`);
    }
  }

  // --- moves between tabs (issue 15): a machine on the bridged switch keeps its LAN ---

  /** Where this lab's machines are on the LAN, for a move's requirements (migration/requirements.ts). */
  lanPlace(): SourceLan {
    return { tab: this.tabId, mode: this.options.network.mode, joined: this.joinedTabs };
  }

  /** This lab as a move's target: its place and the tabs its trunk reaches now. */
  lanOffer(): TargetLan {
    return { ...this.lanPlace(), peers: (this.options.network.tabs?.tabs ?? []).map((t) => t.id) };
  }

  /** What a move needs of machine `name`: its session, its memory disks, its place on the LAN. */
  movable(name: string): { readonly session: MachineSession; readonly disks: MemoryDisks; readonly arrival: LabArrival } | undefined {
    const entry = this.entries.get(name);
    if (entry === undefined || entry.state !== "running" || entry.disks === undefined) return undefined;
    const address = this.options.network.machines.find((m) => m.label === name)?.address;
    return { session: entry.session, disks: entry.disks, arrival: { name, nic: entry.nic, hostname: entry.identity.hostname, mac: entry.identity.mac, address } };
  }

  /**
   * A machine to land one moved here from another tab: started from the lab's pre-booted state of
   * `nic`, off the network ("arriving") until `arrived`. The one already waiting is reused.
   */
  landing(nic: LabNic): Promise<{ readonly name: string; readonly session: MachineSession; readonly disks: MemoryDisks }> {
    const waiting = [...this.entries.values()].find((e) => e.state === "arriving" && e.nic === nic && e.session.machine !== undefined);
    if (waiting?.disks !== undefined) return Promise.resolve({ name: waiting.name, session: waiting.session, disks: waiting.disks });
    // One landing machine per NIC model: a second ask while it starts waits for the same one.
    const starting = this.landings.get(nic) ?? this.startLanding(nic).finally(() => this.landings.delete(nic));
    this.landings.set(nic, starting);
    return starting;
  }

  private async startLanding(nic: LabNic): Promise<{ readonly name: string; readonly session: MachineSession; readonly disks: MemoryDisks }> {
    if (this.entries.size >= MAX_LAB_MACHINES) throw new AppError("bad-network", `The lab runs at most ${MAX_LAB_MACHINES} machines at once: remove one to receive a machine.`, { details: { subject: "network lab", problems: ["too many machines"] } });
    const name = this.nextName();
    // Its own identity until it lands (the guest that arrives brings its own name and MAC).
    const entry = this.newEntry(name, nic, machineIdentity(`netlab-${this.tabId}-${name}-landing`, name), "arriving");
    this.entries.set(name, entry);
    this.changed.fire();
    try {
      if (entry.disks === undefined) throw new AppError("bad-network", "This lab's machines keep their disks where a move cannot copy them.", { details: { subject: "network lab", problems: ["disks not movable"] } });
      const outcome = await entry.session.start({ record: labRecord(name), profile: labProfile(nic), request: { kind: "auto" }, network: "on" });
      if (outcome.kind === "failed") throw outcome.error;
      if (outcome.kind !== "started" || entry.session.machine === undefined) throw new AppError("emulator-start-failed", `The landing machine did not start (${outcome.kind}).`);
      return { name, session: entry.session, disks: entry.disks };
    } catch (error) {
      this.remove(name);
      throw toAppError(error, "emulator-start-failed", "The landing machine did not start.");
    }
  }

  /**
   * The moved machine runs in landing machine `name`: it takes the name, MAC and address it had
   * (its old name when free here), joins this tab's switch, and is announced on its behalf
   * (gratuitous ARP, as QEMU's announce-self), so every switch learns at once where it is now.
   */
  arrived(name: string, arrival: LabArrival): string {
    const entry = this.entries.get(name);
    const machine = entry?.session.machine;
    if (entry === undefined || machine === undefined) throw new AppError("not-running", `${name} is not here to land the machine.`);
    if (arrival.name !== name && !this.entries.has(arrival.name)) {
      this.entries.delete(name);
      entry.name = arrival.name;
      this.entries.set(arrival.name, entry);
    }
    entry.identity = { hostname: arrival.hostname, mac: arrival.mac };
    entry.address = arrival.address;
    this.joinNetwork(entry, machine);
    this.setState(entry, "running", undefined);
    this.announce(entry.name);
    return entry.name;
  }

  /**
   * Announce machine `name` on its behalf through its port: a gratuitous ARP with its address,
   * or QEMU's RARP when it has none (net/announce.ts). Returns the first frame sent.
   */
  announce(name: string): Uint8Array | undefined {
    const entry = this.entries.get(name);
    const mac = entry === undefined ? undefined : parseMac(entry.identity.mac);
    if (entry === undefined || mac === undefined || !entry.joined) return undefined;
    const address = this.options.network.machines.find((m) => m.label === entry.name)?.address;
    const ip = address === undefined ? undefined : parseIpv4(address);
    let first: Uint8Array | undefined;
    entry.store.add(
      announceSelf(
        (frame) => {
          first ??= frame;
          entry.announce.fire(frame);
        },
        mac,
        ip,
        this.options.network.clock,
      ),
    );
    return first;
  }

  /** Stop a machine and take it off the network; nothing of it is kept. */
  remove(name: string): void {
    const entry = this.entries.get(name);
    if (entry === undefined) return;
    this.entries.delete(name);
    entry.settled();
    entry.store.dispose();
    entry.session.dispose();
    this.changed.fire();
  }

  /**
   * Change the network's mode; every running machine asks for a new lease on its new segment.
   * Resolves when all have been asked (what each got shows in `network.machines`).
   */
  async setMode(mode: NetworkMode): Promise<void> {
    this.options.network.setMode(mode);
    await this.renewLeases();
  }

  /** Every running machine asks for a new lease; resolves when all have been asked. */
  private async renewLeases(): Promise<void> {
    await Promise.all(
      [...this.entries.values()]
        .filter((e) => e.state === "running")
        .map(async (e) => {
          const machine = e.session.machine;
          if (machine === undefined) return;
          const renewed = await machine.housekeep(dhcpCommand(), { timeoutMs: 30_000 }).catch((error: unknown) => ({ exitCode: -1, output: describeCause(error) }));
          if (renewed.exitCode !== 0) this.setState(e, e.state, `could not ask for a new address (${renewed.output || `exit ${renewed.exitCode}`})`);
        }),
    );
  }

  /** Every machine stops; the network goes with the lab. */
  dispose(): void {
    for (const name of [...this.entries.keys()]) this.remove(name);
    this.subscription.dispose();
    this.changed.dispose();
    this.options.network.dispose();
  }

  private newEntry(name: string, nic: LabNic, identity: MachineIdentity, state: LabMachineState): Entry {
    const made = this.options.session(nic);
    const { session, disks } = "disks" in made ? made : { session: made, disks: undefined };
    const store = new DisposableStore();
    const entry: Entry = { name, nic, identity, session, disks, address: undefined, announce: store.add(new Emitter<Uint8Array>()), state, problem: undefined, store, joined: false, settled: () => undefined };
    store.add(
      session.onRun(({ runStart }) => {
        if ((runStart.kind === "reboot" || runStart.kind === "reset") && (entry.state === "running" || entry.state === "rebooting")) this.rebooted(entry);
      }),
    );
    store.add(
      session.onIdentity(() => {
        if (entry.state === "rebooting") this.setState(entry, "running", undefined);
      }),
    );
    store.add(session.onIdentityFailed((reason) => this.setState(entry, "failed", `it could not take its own name and address (${reason})`)));
    return entry;
  }

  /**
   * Its guest rebooted: a boot from scratch, with the guest's own name and a MAC of the emulator's
   * (the name and MAC came through the agent, after the start). It takes its own again at its
   * prompt; until then what it sends from another MAC stays off the switch (its DHCP lease, the
   * capture and the other machines' ARP tables keep the machine's own), as a rebooted PC's
   * address does not change.
   */
  private rebooted(entry: Entry): void {
    this.setState(entry, "rebooting", undefined);
    entry.session.takeIdentity(entry.identity);
  }

  /** Put the entry's machine on the switch under its name and MAC; what the lab sends on its behalf goes through the same port. */
  private joinNetwork(entry: Entry, machine: Machine): void {
    entry.joined = true;
    const bus: NetworkBus = {
      onNetworkFrame: (listener) => {
        const own = machine.onNetworkFrame((frame) => {
          if (entry.state === "rebooting" && (frame.length < 12 || macKey(frame, 6) !== entry.identity.mac.replaceAll(":", "").toLowerCase())) return;
          listener(frame);
        });
        const ours = entry.announce.event(listener);
        return {
          dispose: () => {
            own.dispose();
            ours.dispose();
          },
        };
      },
      sendNetworkFrame: (frame) => machine.sendNetworkFrame(frame),
    };
    entry.store.add(this.options.network.join(entry.name, bus, parseMac(entry.identity.mac), entry.address));
  }

  private nextName(): string {
    for (let n = 1; ; n++) if (!this.entries.has(`vm${n}`)) return `vm${n}`;
  }

  private setState(entry: Entry, state: LabMachineState, problem: string | undefined): void {
    if (state !== "starting") entry.settled();
    entry.state = state;
    entry.problem = problem;
    this.changed.fire();
  }
}

/**
 * The lab the page opens: machines in sessions like `options`' (their own Workers), a bridged
 * network, the outside off. Its routers fetch a guest's http:// requests as https:// (but for
 * loopback): the page's CSP lets fetch reach http only on loopback, and a page served over https
 * may not fetch http at all.
 */
export function createNetworkLab(options: SessionOptions, net: { readonly clock: Clock; readonly ownOrigin: string; readonly fetch?: NatFetch; readonly prebooted?: Readonly<Partial<Record<LabNic, PrebootedSource>>> }): NetworkLab {
  const network = new VirtualNetwork({ clock: net.clock, fetch: net.fetch ?? hostNatFetch, ownOrigin: net.ownOrigin, upgradeToHttps: true });
  return new NetworkLab({ network, session: (nic) => movableLabSession(options, net.prebooted?.[nic]), tabChannel: () => broadcastTabChannel() });
}
