import { describe, expect, it, vi } from "vitest";
import { ManualClock } from "../clock.ts";
import { AppError, isAppError } from "../errors.ts";
import { Emitter } from "../events.ts";
import { host } from "../host.ts";
import type { MachineIdentity } from "../identity.ts";
import type { Machine } from "../machine.ts";
import type { MachineSession, RunBegin, SessionStatus, StartOptions, StartOutcome } from "../session/session.ts";
import type { MemoryDisks } from "../session/scratch.ts";
import { FakeEndpoint, ethFrame } from "../testing/fakeBus.ts";
import { decodeFrame } from "./decode.ts";
import { gratuitousArp, parseMac, type Mac } from "./frames.ts";
import { VirtualNetwork } from "./network.ts";
import { LAB_MACHINE_OFF, LAB_MACHINE_OFF_NOTICE, MAX_LAB_MACHINES, NetworkLab, labStoppedNotice } from "./networkLab.ts";
import { TAB_SETTLE_MS, type TabChannel } from "./tabTrunk.ts";

/** A session as the lab sees it: the test says when the start ends and whether the identity took. */
class FakeSession {
  readonly identity = new Emitter<MachineIdentity>();
  readonly identityFailed = new Emitter<string>();
  readonly crash = new Emitter<void>();
  readonly onIdentity = this.identity.event;
  readonly onIdentityFailed = this.identityFailed.event;
  readonly onCrash = this.crash.event;
  readonly status = new Emitter<SessionStatus>();
  readonly onStatus = this.status.event;
  readonly runs = new Emitter<RunBegin>();
  readonly onRun = this.runs.event;
  /** The identities asked for after the start (takeIdentity). */
  readonly identitiesAsked: MachineIdentity[] = [];
  machine: Machine | undefined;
  started: StartOptions | undefined;
  disposed = false;
  private finish: ((outcome: StartOutcome) => void) | undefined;

  start(options: StartOptions): Promise<StartOutcome> {
    this.started = options;
    return new Promise((resolve) => (this.finish = resolve));
  }

  /** The emulator runs (a NIC endpoint stands in for the machine's bus). */
  run(): void {
    this.machine = new FakeEndpoint() as unknown as Machine;
    this.finish?.({ kind: "started", from: "boot" });
  }

  takeIdentity(identity: MachineIdentity): void {
    this.identitiesAsked.push(identity);
  }

  fail(message: string): void {
    this.finish?.({ kind: "failed", error: new AppError("emulator-start-failed", message) });
  }

  dispose(): void {
    this.disposed = true;
  }
}

function lab(extra: { tabId?: string; tabChannel?: () => TabChannel | undefined } = {}) {
  const sessions: FakeSession[] = [];
  const clock = new ManualClock();
  const network = new VirtualNetwork({ clock, ownOrigin: "https://virtlab.example", fetch: () => Promise.reject(new Error("no outside")) });
  const netLab = new NetworkLab({
    network,
    ...extra,
    session: () => {
      const s = new FakeSession();
      sessions.push(s);
      return s as unknown as MachineSession;
    },
  });
  return { netLab, network, sessions, clock };
}

describe("NetworkLab", () => {
  it("names machines vm1, vm2…, gives each its own identity, and puts one on the network once it took it", async () => {
    const { netLab, network, sessions } = lab();
    const adding = netLab.add("virtio");
    expect(netLab.machines.map((m) => [m.name, m.state])).toEqual([["vm1", "starting"]]);
    await vi.waitFor(() => expect(sessions[0]?.started).toBeDefined());
    const s1 = sessions[0] as FakeSession;
    expect(s1.started?.identity?.hostname).toBe("vm1");
    expect(s1.started?.profile.nic).toBe("virtio");
    s1.run();
    await adding;
    // Running but without its own name and MAC yet: not on the network.
    expect(network.machines).toEqual([]);
    s1.identity.fire(s1.started?.identity as MachineIdentity);
    expect(netLab.machines[0]?.state).toBe("running");
    expect(network.machines.map((m) => [m.label, m.mac])).toEqual([["vm1", s1.started?.identity?.mac]]);
    netLab.dispose();
    expect(s1.disposed).toBe(true);
  });

  it("a machine whose guest powered itself off is listed as off, saying so, and can be removed", async () => {
    const { netLab, sessions, network } = lab();
    const adding = netLab.add("virtio");
    await vi.waitFor(() => expect(sessions[0]?.started).toBeDefined());
    sessions[0]?.run();
    sessions[0]?.identity.fire(sessions[0]?.started?.identity as MachineIdentity);
    await adding;
    expect(netLab.machines[0]?.state).toBe("running");
    sessions[0]?.status.fire({ machine: { stage: "off", running: false, mips: undefined } } as unknown as SessionStatus);
    expect(netLab.machines[0]).toMatchObject({ state: "off", problem: LAB_MACHINE_OFF });
    expect(labStoppedNotice({ stage: "off", running: false, mips: undefined, error: undefined, shell: "waiting" })).toBe(LAB_MACHINE_OFF_NOTICE);
    netLab.remove("vm1");
    expect(netLab.machines).toEqual([]);
    expect(network.switch.port("vm1")).toBeUndefined();
  });

  it("a machine whose kernel panicked is listed as off with the kernel's reason, its terminal told the same", async () => {
    const { netLab, sessions } = lab();
    const adding = netLab.add("ne2k");
    await vi.waitFor(() => expect(sessions[0]?.started).toBeDefined());
    sessions[0]?.run();
    sessions[0]?.identity.fire(sessions[0]?.started?.identity as MachineIdentity);
    await adding;
    const panicked = { stage: "panicked", running: false, mips: undefined, error: undefined, shell: "waiting", panic: "sysrq triggered crash" } as const;
    sessions[0]?.status.fire({ machine: panicked } as unknown as SessionStatus);
    expect(netLab.machines[0]).toMatchObject({ state: "off", problem: "its kernel panicked (sysrq triggered crash): Remove takes it off the switch and frees its name" });
    expect(labStoppedNotice(panicked)).toBe("The guest's kernel panicked (sysrq triggered crash): Remove takes this machine off the switch and frees its name.");
    netLab.dispose();
  });

  it("a machine whose guest rebooted takes its own name and MAC again; until then frames from another MAC stay off the switch", async () => {
    const { netLab, sessions, network } = lab();
    const adding = netLab.add("virtio");
    await vi.waitFor(() => expect(sessions[0]?.started).toBeDefined());
    const s1 = sessions[0] as FakeSession;
    s1.run();
    const identity = s1.started?.identity as MachineIdentity;
    s1.identity.fire(identity);
    await adding;
    const nic = s1.machine as unknown as FakeEndpoint;
    const own = parseMac(identity.mac) as Mac;
    const emulators: Mac = [0x00, 0x22, 0x15, 0x9a, 0x3c, 0x01];
    const seen = (): number[] => network.capture.packets({}).filter((p) => p.port === "vm1").map((p) => p.frame[14] as number);
    network.capture.resume();
    s1.runs.fire({ machineName: "vm1", runStart: { kind: "reboot" }, notice: undefined });
    expect(netLab.machines[0]?.state).toBe("rebooting");
    expect(s1.identitiesAsked).toEqual([identity]);
    // The boot's DHCP from the emulator's MAC is dropped; once the guest has its MAC again, it passes.
    nic.emit(ethFrame(emulators, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 1));
    nic.emit(ethFrame(own, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 2));
    await vi.waitFor(() => expect(seen()).toEqual([2]));
    s1.identity.fire(identity);
    expect(netLab.machines[0]).toMatchObject({ state: "running", problem: undefined });
    // Running, the lab leaves its frames alone (a student may change the MAC by hand).
    nic.emit(ethFrame(emulators, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 3));
    await vi.waitFor(() => expect(seen()).toEqual([2, 3]));
    // A reboot whose identity fails: failed, saying why.
    s1.runs.fire({ machineName: "vm1", runStart: { kind: "reboot" }, notice: undefined });
    s1.identityFailed.fire("the agent did not answer");
    expect(netLab.machines[0]).toMatchObject({ state: "failed", problem: expect.stringContaining("the agent did not answer") });
    netLab.dispose();
  });

  it("starts one machine of a NIC model at a time, so the second restores the first one's kept boot", async () => {
    const { netLab, sessions } = lab();
    const first = netLab.add("ne2k");
    const second = netLab.add("ne2k");
    const other = netLab.add("virtio");
    await vi.waitFor(() => expect(sessions.filter((s) => s.started !== undefined)).toHaveLength(2));
    // vm1 (ne2k) and vm3 (virtio) start; vm2 waits for vm1.
    expect(sessions.map((s) => s.started?.identity?.hostname)).toEqual(["vm1", undefined, "vm3"]);
    const [s1, s2, s3] = sessions as [FakeSession, FakeSession, FakeSession];
    s1.run();
    await first;
    await Promise.resolve();
    expect(s2.started).toBeUndefined();
    s1.identityFailed.fire("the agent did not answer");
    expect(netLab.machines[0]).toMatchObject({ state: "failed", problem: expect.stringContaining("the agent did not answer") });
    await vi.waitFor(() => expect(s2.started?.identity?.hostname).toBe("vm2"));
    s2.fail("bzImage: the server answered 404.");
    await expect(second).rejects.toMatchObject({ code: "emulator-start-failed" });
    expect(netLab.machines[1]).toMatchObject({ name: "vm2", state: "failed" });
    s3.run();
    await other;
    netLab.dispose();
  });

  it(`refuses a machine past ${MAX_LAB_MACHINES}; a removed one's name is free again and its port gone`, async () => {
    const { netLab, network, sessions } = lab();
    const adds = Array.from({ length: MAX_LAB_MACHINES }, (_, i) => netLab.add(i % 2 === 0 ? "virtio" : "ne2k"));
    let refused: unknown;
    await netLab.add("virtio").catch((e: unknown) => (refused = e));
    expect(isAppError(refused, "bad-network")).toBe(true);
    await vi.waitFor(() => expect(sessions.filter((s) => s.started !== undefined)).toHaveLength(2));
    const s1 = sessions[0] as FakeSession;
    s1.run();
    await adds[0];
    s1.identity.fire(s1.started?.identity as MachineIdentity);
    expect(network.switch.port("vm1")).toBeDefined();
    netLab.remove("vm1");
    expect(network.switch.port("vm1")).toBeUndefined();
    expect(s1.disposed).toBe(true);
    const again = netLab.add("virtio");
    expect(netLab.machines.map((m) => m.name)).toContain("vm1");
    // Starts still waiting when the lab goes are refused, never left to run.
    const waiting = adds[3]?.catch((e: unknown) => e);
    for (const add of [...adds, again]) add.catch(() => undefined);
    netLab.dispose();
    expect(isAppError(await waiting, "disposed")).toBe(true);
  });

  it("gives machines of the same name in two tabs different MACs (the tab id is in them), the same hostname", async () => {
    const one = lab({ tabId: "aaaa" });
    const two = lab({ tabId: "bbbb" });
    void one.netLab.add("virtio");
    void two.netLab.add("virtio");
    await vi.waitFor(() => expect(one.sessions[0]?.started && two.sessions[0]?.started).toBeDefined());
    const [a, b] = [one.sessions[0]?.started?.identity, two.sessions[0]?.started?.identity];
    expect(a?.hostname).toBe("vm1");
    expect(b?.hostname).toBe("vm1");
    expect(a?.mac).not.toBe(b?.mac);
    one.netLab.dispose();
    two.netLab.dispose();
  });

  it("joins other tabs only when asked, and each running machine asks for a lease from the tab's slice", async () => {
    const posted: unknown[] = [];
    let closed = false;
    const channel: TabChannel = { post: (m) => posted.push(m), onMessage: () => ({ dispose: () => undefined }), close: () => (closed = true) };
    const { netLab, network, sessions, clock } = lab({ tabId: "aaaa", tabChannel: () => channel });
    const adding = netLab.add("virtio");
    await vi.waitFor(() => expect(sessions[0]?.started).toBeDefined());
    const s1 = sessions[0] as FakeSession;
    s1.run();
    const housekeep = vi.fn(() => Promise.resolve({ exitCode: 0, output: "" }));
    (s1.machine as unknown as { housekeep: typeof housekeep }).housekeep = housekeep;
    await adding;
    s1.identity.fire(s1.started?.identity as MachineIdentity);
    expect(posted).toEqual([]);
    expect(netLab.joinedTabs).toBe(false);

    netLab.joinTabs();
    expect(netLab.joinedTabs).toBe(true);
    expect(posted[0]).toMatchObject({ kind: "hello", from: "aaaa", ask: true });
    clock.advance(TAB_SETTLE_MS);
    expect(network.tabs?.slot).toBe(0);
    await vi.waitFor(() => expect(housekeep).toHaveBeenCalledTimes(1));

    netLab.leaveTabs();
    expect(posted.at(-1)).toEqual({ kind: "bye", from: "aaaa" });
    expect(closed).toBe(true);
    await vi.waitFor(() => expect(housekeep).toHaveBeenCalledTimes(2));
    netLab.dispose();
  });

  it("refuses to join other tabs without a channel between them, with a typed error", () => {
    const { netLab } = lab({ tabChannel: () => undefined });
    expect(() => netLab.joinTabs()).toThrow(expect.objectContaining({ code: "bad-network" }));
    expect(netLab.joinedTabs).toBe(false);
    netLab.dispose();
  });
});

describe("NetworkLab, a machine moved in from another tab (issue 15)", () => {
  const clone = (globalThis as unknown as { structuredClone<T>(value: T): T }).structuredClone;

  /** Channels that hear each other's posts (a clone, on a later turn), never their own. */
  function hub() {
    const all = new Set<Set<(m: unknown) => void>>();
    return (): TabChannel => {
      const mine = new Set<(m: unknown) => void>();
      all.add(mine);
      return {
        post: (m) => {
          for (const other of all) if (other !== mine) host.queueMicrotask(() => other.forEach((l) => l(clone(m))));
        },
        onMessage: (l) => {
          mine.add(l);
          return { dispose: () => mine.delete(l) };
        },
        close: () => all.delete(mine),
      };
    };
  }

  function movableLab(tabId: string, channel: () => TabChannel, clock: ManualClock) {
    const sessions: FakeSession[] = [];
    const network = new VirtualNetwork({ clock, ownOrigin: "https://virtlab.example", fetch: () => Promise.reject(new Error("no outside")) });
    const netLab = new NetworkLab({
      network,
      tabId,
      tabChannel: channel,
      session: () => {
        const s = new FakeSession();
        sessions.push(s);
        return { session: s as unknown as MachineSession, disks: {} as MemoryDisks };
      },
    });
    return { netLab, network, sessions };
  }

  const flush = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => host.setTimeout(resolve, 0));
  };

  async function running(l: ReturnType<typeof movableLab>): Promise<FakeSession> {
    const adding = l.netLab.add("virtio");
    await vi.waitFor(() => expect(l.sessions.at(-1)?.started).toBeDefined());
    const s = l.sessions.at(-1) as FakeSession;
    s.run();
    // Asked for a new lease when the tabs' slices change: nothing to renew in a fake.
    (s.machine as unknown as { housekeep: () => Promise<unknown> }).housekeep = () => Promise.resolve({ exitCode: 0, output: "" });
    await adding;
    s.identity.fire(s.started?.identity as MachineIdentity);
    return s;
  }

  it("lands with the name, MAC and address it had, is announced by gratuitous ARP, and both tabs' switches learn it behind the new port", async () => {
    const clock = new ManualClock();
    const channel = hub();
    const a = movableLab("aaaa", channel, clock);
    const b = movableLab("bbbb", channel, clock);
    const vm1 = (await running(a)).machine as unknown as FakeEndpoint;
    await running(a);
    a.netLab.joinTabs();
    b.netLab.joinTabs();
    await flush();
    clock.advance(TAB_SETTLE_MS);
    await flush();
    expect(b.netLab.lanOffer()).toEqual({ tab: "bbbb", mode: "bridged", joined: true, peers: ["aaaa"] });
    const moving = a.netLab.movable("vm2");
    expect(moving?.arrival).toMatchObject({ name: "vm2", nic: "virtio" });
    const arrival = { ...(moving?.arrival as NonNullable<typeof moving>["arrival"]), address: "192.168.86.117" };
    const mac = parseMac(arrival.mac) as Mac;

    // B's landing machine: started off the switch, then it runs the arrived guest.
    const landing = b.netLab.landing("virtio");
    await vi.waitFor(() => expect(b.sessions[0]?.started).toBeDefined());
    expect(b.sessions[0]?.started?.identity).toBeUndefined();
    b.sessions[0]?.run();
    const { name } = await landing;
    expect(b.netLab.machines.map((m) => [m.name, m.state])).toEqual([[name, "arriving"]]);
    expect(b.network.machines).toEqual([]);
    const landed = b.sessions[0]?.machine as unknown as FakeEndpoint;

    expect(b.netLab.arrived(name, arrival)).toBe("vm2");
    expect(b.netLab.machines.map((m) => [m.name, m.state, m.identity.mac])).toEqual([["vm2", "running", arrival.mac]]);
    expect(b.network.machines).toEqual([{ label: "vm2", segment: "lan", mac: arrival.mac, address: "192.168.86.117" }]);
    // B's router took the lease over (A's router gave it, from A's slice): the guest's renewals are answered here.
    expect(b.network.leases.filter((l) => l.state === "bound").map((l) => [l.mac, l.ip])).toEqual([[arrival.mac, "192.168.86.117"]]);
    await flush();
    expect(b.network.switch.lookup(arrival.mac, "lan")?.label).toBe("vm2");
    // Over the trunk: A's switch moved the MAC from its vm2 port to B's, and vm1 heard the announcement.
    expect(a.network.switch.lookup(arrival.mac, "lan")?.label).toBe("tab-bbbb");
    const garp = gratuitousArp(mac, [192, 168, 86, 117]);
    expect(vm1.received.some((f) => f.length === garp.length && f.every((byte, i) => byte === garp[i]))).toBe(true);
    // Three rounds, as announce.ts says; the source hands over (its port goes); vm1's echo reaches B.
    clock.advance(1000);
    await flush();
    expect(b.network.capture.packets({ protocols: ["arp"] }).filter((p) => p.port === "vm2" && decodeFrame(p.frame).summary === "Gratuitous ARP for 192.168.86.117 (Request)")).toHaveLength(3);
    a.netLab.remove("vm2");
    landed.received.length = 0;
    vm1.emit(ethFrame(vm1.mac, mac, 7));
    await flush();
    expect(landed.received.map((f) => f[14])).toEqual([7]);
    a.netLab.dispose();
    b.netLab.dispose();
  });

  it("starts one landing machine per NIC model, however often it is asked while it starts", async () => {
    const clock = new ManualClock();
    const b = movableLab("bbbb", hub(), clock);
    const first = b.netLab.landing("virtio");
    const second = b.netLab.landing("virtio");
    await vi.waitFor(() => expect(b.sessions[0]?.started).toBeDefined());
    b.sessions[0]?.run();
    expect((await first).name).toBe("vm1");
    expect((await second).name).toBe("vm1");
    expect((await b.netLab.landing("virtio")).name).toBe("vm1");
    expect(b.sessions).toHaveLength(1);
    b.netLab.dispose();
  });

  it("refuses to move or land a machine whose disks a move cannot copy, and keeps no landing machine", async () => {
    const { netLab, sessions } = lab();
    const adding = netLab.add("virtio");
    await vi.waitFor(() => expect(sessions[0]?.started).toBeDefined());
    sessions[0]?.run();
    await adding;
    sessions[0]?.identity.fire(sessions[0].started?.identity as MachineIdentity);
    expect(netLab.movable("vm1")).toBeUndefined();
    await expect(netLab.landing("virtio")).rejects.toMatchObject({ code: "bad-network" });
    expect(netLab.machines.map((m) => m.name)).toEqual(["vm1"]);
    netLab.dispose();
  });
});
