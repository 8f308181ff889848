/**
 * A network lab machine's move between tabs, up to the point the Workers take over: what is
 * checked (the network among the requirements) and what is refused, with a typed reason, before
 * anything moves. The move itself runs on the Worker engine tested in remote/migration.test.ts;
 * the arrival on the switch in net/networkLab.test.ts; the whole in e2e/networkTabs.spec.ts.
 */
import { describe, expect, it, vi } from "vitest";
import { ManualClock, systemClock, type Clock } from "../clock.ts";
import { isAppError } from "../errors.ts";
import { Emitter } from "../events.ts";
import type { MachineIdentity } from "../identity.ts";
import type { Machine } from "../machine.ts";
import { VirtualNetwork } from "../net/network.ts";
import { NetworkLab, labProfile } from "../net/networkLab.ts";
import type { TabChannel } from "../net/tabTrunk.ts";
import type { MemoryDisks } from "../session/scratch.ts";
import type { MachineSession, StartOptions, StartOutcome } from "../session/session.ts";
import { machineFingerprint } from "../snapshot/fingerprint.ts";
import { FakeEndpoint } from "../testing/fakeBus.ts";
import { testGuest } from "../testing/guest.ts";
import type { ChannelLike } from "./channelPort.ts";
import { LANDING_IDLE_MS, LabMover, labHardware } from "./labMove.ts";

const copy = (globalThis as unknown as { structuredClone<T>(value: T): T }).structuredClone;
const later = (fn: () => void): void => void systemClock.after(0, fn);

/** Both kinds of channel between tabs (the trunk's and the movers'): each end hears the others', copied, a task later. */
function channels() {
  const trunk = new Set<Set<(m: unknown) => void>>();
  const movers = new Set<ChannelLike>();
  return {
    trunk: (): TabChannel => {
      const mine = new Set<(m: unknown) => void>();
      trunk.add(mine);
      return {
        post: (m) => trunk.forEach((other) => other !== mine && later(() => other.forEach((l) => l(copy(m))))),
        onMessage: (l) => {
          mine.add(l);
          return { dispose: () => mine.delete(l) };
        },
        close: () => trunk.delete(mine),
      };
    },
    mover: (): ChannelLike => {
      const me: ChannelLike = {
        onmessage: null,
        postMessage: (m) => movers.forEach((other) => other !== me && later(() => other.onmessage?.({ data: copy(m) }))),
        close: () => movers.delete(me),
      };
      movers.add(me);
      return me;
    },
  };
}

/** A lab machine's session that starts at once; its machine a NIC endpoint with Worker move hooks that must not be used here. */
class FakeSession {
  readonly identity = new Emitter<MachineIdentity>();
  readonly onIdentity = this.identity.event;
  readonly onIdentityFailed = new Emitter<string>().event;
  readonly onCrash = new Emitter<void>().event;
  readonly onStatus = new Emitter<unknown>().event;
  readonly onRun = new Emitter<unknown>().event;
  readonly migrateOut = vi.fn(() => Promise.reject(new Error("not in this test")));
  machine: Machine | undefined;
  started: StartOptions | undefined;

  start(options: StartOptions): Promise<StartOutcome> {
    this.started = options;
    const endpoint = Object.assign(new FakeEndpoint(), {
      shellReady: true,
      housekeep: () => Promise.resolve({ exitCode: 0, output: "" }),
      workerMigration: { migrateOut: this.migrateOut, migrateIn: vi.fn(), samePageKeys: vi.fn() },
    });
    this.machine = endpoint as unknown as Machine;
    return Promise.resolve({ kind: "started", from: "pre-booted" });
  }

  /** The lab guest's fingerprint: its identity in the command line, as guest.ts puts it there. */
  fingerprint() {
    const identity = this.started?.identity;
    const guest = testGuest();
    const cmdline = identity === undefined ? guest.cmdline : `${guest.cmdline} virtlab.hostname=${identity.hostname} virtlab.mac=${identity.mac}`;
    return Promise.resolve(machineFingerprint(labProfile("virtio"), { ...guest, cmdline }));
  }

  dispose(): void {}
}

function tab(id: string, net: ReturnType<typeof channels>, clock: Clock) {
  const sessions: FakeSession[] = [];
  const lab = new NetworkLab({
    network: new VirtualNetwork({ clock, ownOrigin: "https://virtlab.example", fetch: () => Promise.reject(new Error("no outside")) }),
    tabId: id,
    tabChannel: net.trunk,
    session: () => {
      const s = new FakeSession();
      sessions.push(s);
      return { session: s as unknown as MachineSession, disks: {} as MemoryDisks };
    },
  });
  const mover = new LabMover({ lab: () => lab, label: () => `tab ${id}`, clock, wallTime: () => Date.now(), tabId: id }, net.mover());
  return { lab, mover, sessions };
}

/** A running lab machine: started, and its guest took its name and MAC (so it is on the switch). */
async function vm(t: ReturnType<typeof tab>, name: string): Promise<FakeSession> {
  await t.lab.add("virtio");
  const s = t.sessions.at(-1) as FakeSession;
  s.identity.fire(s.started?.identity as MachineIdentity);
  expect(t.lab.machines.find((m) => m.name === name)?.state).toBe("running");
  return s;
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => systemClock.after(1, resolve));
};

describe("LabMover: the network requirement before a lab machine moves", () => {
  it("leaves the identity out of the hardware, and nothing else", async () => {
    const s = new FakeSession();
    await s.start({ identity: { hostname: "vm2", mac: "52:54:00:12:34:56" } } as StartOptions);
    const withIdentity = await s.fingerprint();
    const without = await new FakeSession().fingerprint();
    expect(withIdentity.cmdline).toContain("virtlab.mac=");
    expect(labHardware(withIdentity)).toEqual(without);
  });

  it("holds when both labs are bridged and joined over the trunk; refused with the reason, nothing moved, when the target's lab has not joined", async () => {
    const net = channels();
    const a = tab("aaaa", net, systemClock);
    const b = tab("bbbb", net, systemClock);
    const entry = await vm(a, "vm1");
    a.lab.joinTabs();

    const refused = await a.mover.moveTo("bbbb", "vm1", "pre-copy").catch((error: unknown) => error);
    expect(isAppError(refused, "migration-refused") && refused.details).toEqual({
      requirement: "network",
      differences: ["network: the target tab's lab has not joined the other tabs (turn on Join other tabs there)"],
    });
    expect(entry.migrateOut).not.toHaveBeenCalled();
    expect(a.lab.machines.map((m) => [m.name, m.state])).toEqual([["vm1", "running"]]);
    expect(a.mover.state).toEqual({ role: "idle" });

    b.lab.joinTabs();
    await settle();
    const check = await a.mover.check("bbbb", "vm1");
    expect(check.ok).toBe(true);
    expect(check.checks.find((c) => c.requirement === "network")?.holds).toBe("on the bridged switch of tab aaaa; the target tab bbbb is on the same trunk, so the machine keeps its MAC, address and LAN");
    expect(check.checks.find((c) => c.requirement === "hardware")?.refusal).toBeUndefined();
    // B's landing machine waits off the switch, with the source's NIC model.
    expect(b.lab.machines.map((m) => [m.name, m.state, m.nic])).toEqual([["vm1", "arriving", "virtio"]]);
    expect(b.lab.network.machines).toEqual([]);
    a.mover.dispose();
    b.mover.dispose();
    a.lab.dispose();
    b.lab.dispose();
  });

  it("is refused when the other tab has no network lab: the source keeps its machine", async () => {
    const net = channels();
    const a = tab("aaaa", net, systemClock);
    const other = new LabMover({ lab: () => undefined, label: () => "tab cccc", clock: systemClock, wallTime: () => Date.now(), tabId: "cccc" }, net.mover());
    await vm(a, "vm1");
    a.lab.joinTabs();
    const refused = await a.mover.moveTo("cccc", "vm1", "stop-and-copy").catch((error: unknown) => error);
    expect(isAppError(refused, "migration-refused") && refused.message).toBe("Tab cccc cannot take the machine: this tab has no network lab open.");
    expect(a.lab.machines.map((m) => [m.name, m.state])).toEqual([["vm1", "running"]]);
    other.dispose();
    a.mover.dispose();
    a.lab.dispose();
  });

  it("stops a landing machine that no move came for, after a while", async () => {
    const net = channels();
    const clock = new ManualClock();
    const a = tab("aaaa", net, clock);
    const b = tab("bbbb", net, clock);
    await vm(a, "vm1");
    a.lab.joinTabs();
    b.lab.joinTabs();
    await settle();
    expect((await a.mover.check("bbbb", "vm1")).ok).toBe(true);
    expect(b.lab.machines.map((m) => m.state)).toEqual(["arriving"]);
    clock.advance(LANDING_IDLE_MS - 1);
    expect(b.lab.machines.map((m) => m.state)).toEqual(["arriving"]);
    clock.advance(1);
    expect(b.lab.machines).toEqual([]);
    for (const t of [a, b]) {
      t.mover.dispose();
      t.lab.dispose();
    }
  });
});
