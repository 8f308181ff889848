import { afterEach, describe, expect, it } from "vitest";
import { systemClock, type Clock } from "../clock.ts";
import { isAppError } from "../errors.ts";
import type { Disposable } from "../events.ts";
import { DEFAULT_PROFILE } from "../profile.ts";
import { machineFingerprint } from "../snapshot/fingerprint.ts";
import { MemoryDiskLocks } from "./diskLock.ts";
import { samePageStats, samePageWords } from "./ksm.ts";
import { PAGE_BYTES } from "./pages.ts";
import { inProcessPair, type GuestAtPause } from "./protocol.ts";
import { requirementChecks, type Requirements, type TargetOffer } from "./requirements.ts";
import { migrateOut, type SourceMachine } from "./source.ts";
import { migrateIn, type TargetMachine } from "./target.ts";
import { testGuest } from "../testing/guest.ts";
import { sameBytes } from "../testing/bytes.ts";

const guest = testGuest();
const PAGES = 256;
const fingerprint = machineFingerprint({ ...DEFAULT_PROFILE, memoryMiB: 1 }, guest, { hda: { size: 1 << 20, base: "blank" } });

function requirements(over: Partial<Requirements> = {}): Requirements {
  return { v86: "0.5.462", stateVersion: 6, fingerprint, disks: { store: "idb:virtlab", machineId: "m1" }, network: "off", wallTime: Date.now(), ...over };
}
function offer(locks: MemoryDiskLocks, over: Partial<TargetOffer> = {}): TargetOffer {
  return { v86: "0.5.462", stateVersion: 6, fingerprint, diskStores: ["idb:virtlab"], diskHolder: (id) => locks.holder(id), sourceName: "tab-A", networkAvailable: true, wallTime: Date.now(), ...over };
}

/**
 * A guest that, while "running", writes a counter into `busyPages` pages every few ms (and a
 * tick count into page 0), with a device state of its own: what a real one would lose if any
 * page or the state went missing.
 */
class FakeGuest implements SourceMachine {
  readonly ram = new Uint8Array(PAGES * PAGE_BYTES);
  running = true;
  ticks = 0;
  flushed = 0;
  private timer: Disposable | undefined;
  constructor(
    private readonly busyPages: number,
    private readonly clock: Clock = systemClock,
  ) {
    for (let p = 0; p < PAGES; p += 3) this.ram.fill(p & 0xff, p * PAGE_BYTES, p * PAGE_BYTES + 64);
    this.schedule();
  }
  private schedule(): void {
    this.timer = this.clock.after(2, () => {
      if (!this.running) return;
      this.ticks++;
      new Uint32Array(this.ram.buffer, 0, 1)[0] = this.ticks;
      for (let i = 0; i < this.busyPages; i++) {
        const page = 1 + ((this.ticks * 7 + i) % (PAGES - 1));
        new Uint32Array(this.ram.buffer, page * PAGE_BYTES, 1)[0] = this.ticks;
      }
      this.schedule();
    });
  }
  memory(): Uint8Array {
    return this.ram;
  }
  async pause(): Promise<void> {
    this.running = false;
    this.timer?.dispose();
  }
  async resume(): Promise<void> {
    this.running = true;
    this.schedule();
  }
  async saveFullState(): Promise<Uint8Array> {
    const state = new Uint8Array(4 + this.ram.length);
    new Uint32Array(state.buffer, 0, 1)[0] = this.ticks;
    state.set(this.ram, 4);
    return state;
  }
  async saveDeviceState(): Promise<Uint8Array> {
    return Uint8Array.from([this.ticks & 0xff, 0xde, 0xad]);
  }
  shellReady(): boolean {
    return true;
  }
  async flushDisks(): Promise<void> {
    this.flushed++;
  }
  stop(): void {
    this.running = false;
    this.timer?.dispose();
  }
}

/** A stopped landing machine whose RAM holds its own guest's leftovers (0xee) until the move overwrites it. */
class FakeTarget implements TargetMachine {
  readonly memoryBytes = PAGES * PAGE_BYTES;
  private readonly live = new Uint8Array(PAGES * PAGE_BYTES).fill(0xee);
  /** The RAM once a guest runs here (undefined until then). */
  ram_: Uint8Array | undefined;
  device: Uint8Array | undefined;
  guest: GuestAtPause | undefined;
  get running(): boolean {
    return this.ram_ !== undefined;
  }
  ram(): Uint8Array {
    return this.live;
  }
  async restoreFull(state: Uint8Array, guest: GuestAtPause): Promise<void> {
    this.live.set(state.subarray(4));
    this.ram_ = this.live;
    this.guest = guest;
  }
  async restoreWithRam(deviceState: Uint8Array, guest: GuestAtPause): Promise<void> {
    this.ram_ = this.live;
    this.device = deviceState;
    this.guest = guest;
  }
}

/** Resolves once the guest has ticked past `before` (it runs); the test's deadline fails it otherwise. */
async function ticksPast(guest: FakeGuest, before: number): Promise<void> {
  while (guest.ticks <= before) await new Promise<void>((resolve) => systemClock.after(2, resolve));
}

const guests: FakeGuest[] = [];
afterEach(() => guests.splice(0).forEach((g) => g.stop()));
function fakeGuest(busyPages: number): FakeGuest {
  const g = new FakeGuest(busyPages);
  guests.push(g);
  return g;
}

function move(source: FakeGuest, method: "pre-copy" | "stop-and-copy", options: { locks?: MemoryDiskLocks; handOver?: boolean; offer?: Partial<TargetOffer>; req?: Partial<Requirements>; policy?: { maxRounds: number; convergedPages: number; shrinkFactor: number } } = {}) {
  const locks = options.locks ?? new MemoryDiskLocks();
  if (options.locks === undefined) locks.take("m1", "tab-A");
  const pair = inProcessPair();
  const target = new FakeTarget();
  const out = migrateOut(source, {
    method,
    requirements: requirements(options.req),
    port: pair.source,
    clock: systemClock,
    wallTime: () => Date.now(),
    roundGapMs: 10,
    answerTimeoutMs: 2000,
    ...(options.policy === undefined ? {} : { policy: options.policy }),
    ...(options.handOver === false ? {} : { locks: { locks, machineId: "m1", source: "tab-A", target: "tab-B" } }),
  });
  const inn = migrateIn({ port: pair.target, clock: systemClock, offer: offer(locks, options.offer), machine: async () => target, answerTimeoutMs: 2000, locks: { locks, machineId: "m1", target: "tab-B" } });
  return { out, inn, target, locks, pair };
}

describe("moving a running machine between two sides in one process", () => {
  it("pre-copy: sends memory in rounds while the guest writes, and the target's memory equals the source's at the pause", async () => {
    const source = fakeGuest(8);
    const { out, inn, target, locks } = move(source, "pre-copy", { policy: { maxRounds: 6, convergedPages: 4, shrinkFactor: 0.95 } });
    const report = await out;
    await inn;
    expect(source.running).toBe(false);
    expect(sameBytes(target.ram_, source.ram)).toBe(true);
    expect(target.device).toEqual(Uint8Array.from([source.ticks & 0xff, 0xde, 0xad]));
    expect(report.rounds[0]?.pagesSent).toBe(PAGES);
    expect(report.rounds.length).toBeGreaterThanOrEqual(1);
    expect(report.rounds.slice(1).every((r) => r.pagesSent < PAGES)).toBe(true);
    expect(report.stopReason).toBeDefined();
    const final = report.totalBytes - report.rounds.reduce((s, r) => s + r.bytesSent, 0) - report.stateBytes;
    expect(final).toBeGreaterThanOrEqual(report.finalPages * 4);
    expect(source.flushed).toBe(1);
    expect(locks.holder("m1")).toBe("tab-B");
    expect(target.guest?.shellReady).toBe(true);
  });

  it("pre-copy of an idle guest: converges after the first round and sends few pages in the pause", async () => {
    const source = fakeGuest(0);
    const { out, inn, target } = move(source, "pre-copy");
    const report = await out;
    await inn;
    expect(report.stopReason).toBe("converged");
    expect(report.rounds).toHaveLength(1);
    // The tick counter in page 0 changes; nothing else does.
    expect(report.finalPages).toBeLessThanOrEqual(1);
    expect(sameBytes(target.ram_, source.ram)).toBe(true);
  });

  it("stop-and-copy: pauses and sends the whole state once", async () => {
    const source = fakeGuest(8);
    const { out, inn, target } = move(source, "stop-and-copy");
    const report = await out;
    await inn;
    expect(report.rounds).toEqual([]);
    expect(report.stateBytes).toBe(4 + PAGES * PAGE_BYTES);
    expect(sameBytes(target.ram_, source.ram)).toBe(true);
    expect(report.downtimeMs).toBeGreaterThanOrEqual(0);
  });
});

describe("a move refused before anything moves: the source runs on", () => {
  const refusedBy = async (partial: { offer?: Partial<TargetOffer>; req?: Partial<Requirements>; locks?: MemoryDiskLocks }, requirement: string) => {
    const source = fakeGuest(2);
    const before = source.ticks;
    const { out, inn } = move(source, "pre-copy", partial);
    const [o, i] = await Promise.allSettled([out, inn]);
    for (const r of [o, i]) {
      expect(r.status).toBe("rejected");
      const error = (r as PromiseRejectedResult).reason as unknown;
      expect(isAppError(error, "migration-refused") && error.details.requirement).toBe(requirement);
    }
    expect(source.running).toBe(true);
    await ticksPast(source, before);
  };

  it("another v86", () => refusedBy({ offer: { v86: "0.5.500" } }, "v86-version"));
  it("other hardware (memory size in the fingerprint)", () => refusedBy({ offer: { fingerprint: { ...fingerprint, memoryMiB: 2 } } }, "hardware"));
  it("disks the target cannot open", () => refusedBy({ offer: { diskStores: ["idb:elsewhere"] } }, "disks"));
  it("the source's network on, none on the target", () => refusedBy({ req: { network: "on" }, offer: { networkAvailable: false } }, "network"));
  it("a machine on the lab's bridged switch, the target tab not on the same trunk", () =>
    refusedBy({ req: { network: "on", lan: { tab: "aaa111", mode: "bridged", joined: true } }, offer: { lan: { tab: "bbb222", mode: "bridged", joined: true, peers: ["ccc333"] } } }, "network"));
  it("a target clock far behind (the guest's time would jump back)", () => refusedBy({ offer: { wallTime: Date.now() - 60_000 } }, "clock"));
  it("not an offer that grew old while the source got ready: the target checks its clock as the hello arrives", async () => {
    const locks = new MemoryDiskLocks();
    locks.take("m1", "tab-A");
    const pair = inProcessPair();
    const source = fakeGuest(2);
    const out = migrateOut(source, { method: "stop-and-copy", requirements: requirements(), port: pair.source, clock: systemClock, wallTime: () => Date.now(), answerTimeoutMs: 2000, locks: { locks, machineId: "m1", source: "tab-A", target: "tab-B" } });
    // Made 5 s before the hello (a loaded machine), the offer alone would say the target's clock is behind.
    const stale = offer(locks, { wallTime: Date.now() - 5000 });
    const inn = migrateIn({ port: pair.target, clock: systemClock, offer: stale, wallTime: () => Date.now(), machine: async () => new FakeTarget(), answerTimeoutMs: 2000, locks: { locks, machineId: "m1", target: "tab-B" } });
    await expect(Promise.all([out, inn])).resolves.toHaveLength(2);
  });
  it("disks locked by a third tab", () => {
    const locks = new MemoryDiskLocks();
    locks.take("m1", "tab-C");
    return refusedBy({ locks }, "disk-lock");
  });
});

describe("a move that fails half-way leaves the source running with everything", () => {
  it("the disk lock not handed over: the target refuses to run the guest, the source resumes", async () => {
    const source = fakeGuest(2);
    const locks = new MemoryDiskLocks();
    locks.take("m1", "tab-A");
    const { out, inn, target } = move(source, "pre-copy", { locks, handOver: false });
    const [o, i] = await Promise.allSettled([out, inn]);
    expect(o.status).toBe("rejected");
    expect(i.status).toBe("rejected");
    expect(isAppError((o as PromiseRejectedResult).reason, "migration-refused") && (o as PromiseRejectedResult).reason.details.requirement).toBe("disk-lock");
    expect(target.running).toBe(false);
    expect(source.running).toBe(true);
    expect(locks.holder("m1")).toBe("tab-A");
  });

  // A target that accepts, then vanishes (its tab closed) at the message named: the source goes on.
  it.each([
    { when: "pages", method: "pre-copy", pages: 8, what: "after a round: the source resumes and keeps its lock" },
    { when: "final", method: "stop-and-copy", pages: 2, what: "after the final message, before taking the lock: the source takes its lock back and resumes" },
  ] as const)("the target goes away $what", async ({ when, method, pages }) => {
    const source = fakeGuest(pages);
    const locks = new MemoryDiskLocks();
    locks.take("m1", "tab-A");
    const pair = inProcessPair();
    const out = migrateOut(source, { method, requirements: requirements(), port: pair.source, clock: systemClock, wallTime: () => Date.now(), roundGapMs: 10, answerTimeoutMs: 2000, locks: { locks, machineId: "m1", source: "tab-A", target: "tab-B" } });
    pair.target.onMessage((m) => {
      if (m.type === "hello") pair.target.send({ type: "ready" });
      if (m.type === when) pair.closeTarget();
    });
    const result = await out.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isAppError(result, "migration-failed")).toBe(true);
    expect(source.running).toBe(true);
    expect(locks.holder("m1")).toBe("tab-A");
    expect(locks.state("m1")).toEqual({ kind: "held", by: "tab-A" });
    // It runs on: its guest counter moves again.
    await ticksPast(source, source.ticks);
  });
});

describe("the same-page meter (what KSM would merge)", () => {
  it("counts zero pages, repeats within a machine and pages shared across machines", () => {
    const page = (fill: number): Uint8Array => new Uint8Array(PAGE_BYTES).fill(fill);
    const machine = (...pages: Uint8Array[]): Uint8Array => {
      const m = new Uint8Array(pages.length * PAGE_BYTES);
      pages.forEach((p, i) => m.set(p, i * PAGE_BYTES));
      return m;
    };
    // A: 1 1 2 0   B: 1 3 0 0   -> zero 3; within: A has 1 twice (1); across: 1 in both (1)
    const stats = samePageStats([machine(page(1), page(1), page(2), page(0)), machine(page(1), page(3), page(0), page(0))]);
    expect(stats).toEqual({ machines: 2, pages: 8, zeroPages: 3, duplicateWithin: 1, duplicateAcross: 1, distinct: 3, savableBytes: 5 * PAGE_BYTES });
    expect(samePageWords(stats)).toMatch(/^Merging would save 0\.0 MiB .*\(measured, not merged\)/);
  });

  it("one machine alone shares nothing across", () => {
    const stats = samePageStats([new Uint8Array(4 * PAGE_BYTES).fill(9)]);
    expect(stats.duplicateWithin).toBe(3);
    expect(stats.duplicateAcross).toBe(0);
    expect(stats.zeroPages).toBe(0);
  });
});

describe("the requirements as shown before a move", () => {
  it("lists every requirement in order, each with what differs; another machine's disks fail the disks requirement", () => {
    const locks = new MemoryDiskLocks();
    locks.take("m1", "tab-A");
    const all = requirementChecks(requirements(), offer(locks));
    expect(all.map((c) => c.requirement)).toEqual(["v86-version", "hardware", "disks", "disk-lock", "network", "clock"]);
    expect(all.every((c) => c.refusal === undefined)).toBe(true);
    const other = requirementChecks(requirements({ network: "on" }), offer(locks, { machineId: "m2", networkAvailable: false }));
    expect(other.filter((c) => c.refusal !== undefined).map((c) => c.requirement)).toEqual(["disks", "network"]);
    expect(other.find((c) => c.requirement === "disks")?.refusal?.differences.join()).toContain('the target "m2"');
  });
});

describe("the network requirement of a machine on the lab's switch", () => {
  const lan = { tab: "aaa111", mode: "bridged", joined: true } as const;
  const target = { tab: "bbb222", mode: "bridged", joined: true, peers: ["aaa111"] } as const;
  const network = (req: Partial<Requirements>, over: Partial<TargetOffer>) => {
    const locks = new MemoryDiskLocks();
    locks.take("m1", "tab-A");
    const found = requirementChecks(requirements({ network: "on", ...req }), offer(locks, over)).find((c) => c.requirement === "network");
    if (found === undefined) throw new Error("no network check");
    return found;
  };

  it("holds when both labs are bridged and the target's trunk reaches the source's tab, and says so", () => {
    const check = network({ lan }, { lan: target });
    expect(check.refusal).toBeUndefined();
    expect(check.holds).toBe("on the bridged switch of tab aaa111; the target tab bbb222 is on the same trunk, so the machine keeps its MAC, address and LAN");
  });

  it("is refused with the reason for each way the LAN would be lost", () => {
    const reasons = [
      network({ lan }, {}),
      network({ lan }, { lan: { ...target, joined: false } }),
      network({ lan }, { lan: { ...target, mode: "nat" } }),
      network({ lan }, { lan: { ...target, peers: [] } }),
      network({ lan: { ...lan, joined: false } }, { lan: target }),
      network({ lan: { ...lan, mode: "routed" } }, { lan: target }),
      network({ lan, fingerprint: { ...fingerprint, nic: "ne2k" } }, { lan: target }),
    ].map((c) => c.refusal?.differences.join("; "));
    expect(reasons).toEqual([
      "network: the machine is on the bridged switch; the target tab has no network lab to attach it to",
      "network: the target tab's lab has not joined the other tabs (turn on Join other tabs there)",
      "network: the target tab's lab is in nat mode, not bridged",
      "network: the target tab's switch does not reach tab aaa111's over the trunk (not on the same trunk)",
      "network: the machine's lab has not joined the other tabs (turn on Join other tabs here)",
      "network: the machine's lab is in routed mode; only the bridged LAN reaches other tabs",
      "network: an NE2000 lands with the target emulator's own MAC (v86 does not restore an NE2000's address from a state), so frames to the machine would stop; only virtio-net machines keep their LAN across a move",
    ]);
  });

  it("says the disks are copied with the move when they live in the source tab's memory", () => {
    const locks = new MemoryDiskLocks();
    const disks = requirementChecks(requirements({ disks: undefined, disksInMove: true }), offer(locks)).find((c) => c.requirement === "disks");
    expect(disks?.refusal).toBeUndefined();
    expect(disks?.holds).toBe("in the source tab's memory, copied to the target at the pause");
  });
});
