/**
 * A move between two machines each behind a Worker port (issue 15): the engine runs on the
 * Worker's side (migrationServer.ts), the page answers its asks for the disks and the lock
 * (migrationClient.ts). Fake emulators with a RAM of their own, a fake BroadcastChannel hub.
 */
import { describe, expect, it } from "vitest";
import type { BackendFactory, ConsoleChunk, EmulatorBackend, MigrationHooks, MovePageSide } from "../backend.ts";
import { ManualClock, systemClock, type Clock } from "../clock.ts";
import { isAppError } from "../errors.ts";
import { Emitter, type Disposable } from "../events.ts";
import { host } from "../host.ts";
import type { ChannelLike } from "../migration/channelPort.ts";
import type { WireOffer } from "../migration/requirements.ts";
import { PAGE_BYTES } from "../migration/pages.ts";
import { MigrationTabs } from "../migration/tabs.ts";
import { TabMover } from "../migration/tabMove.ts";
import type { Machine } from "../machine.ts";
import { DEFAULT_PROFILE, type EmulatorConfig } from "../profile.ts";
import { machineFingerprint } from "../snapshot/fingerprint.ts";
import { testGuest } from "../testing/guest.ts";
import { connectRemoteBackend, type RemoteBackend } from "./client.ts";
import { portPair } from "./protocol.ts";
import { serveBackend } from "./server.ts";

const PAGES = 64;
const fingerprint = machineFingerprint({ ...DEFAULT_PROFILE, memoryMiB: 1 }, testGuest(), {});

/** An emulator whose guest, while running, bumps a counter in page 0 and in a few other pages. */
class RamEmulator implements EmulatorBackend {
  readonly onOutput = new Emitter<ConsoleChunk>().event;
  readonly onCrash = new Emitter<unknown>().event;
  readonly onRebootRequest = new Emitter<void>().event;
  readonly ram = new Uint8Array(PAGES * PAGE_BYTES);
  device = 0;
  running = false;
  private timer: Disposable | undefined;
  readonly migration: MigrationHooks = {
    ram: () => this.ram,
    saveDeviceState: async () => Uint8Array.of(this.device),
    restoreDeviceState: async (state) => {
      this.device = state[0] ?? 0;
    },
  };
  constructor(seed: number) {
    for (let p = 1; p < PAGES; p += 2) this.ram.fill(seed, p * PAGE_BYTES, p * PAGE_BYTES + 100);
  }
  private tick(): void {
    this.timer = systemClock.after(3, () => {
      if (!this.running) return;
      const words = new Uint32Array(this.ram.buffer);
      words[0] = (words[0] ?? 0) + 1;
      words[(1 + ((words[0] ?? 0) % (PAGES - 1))) * (PAGE_BYTES / 4)] = words[0] ?? 0;
      this.device = (words[0] ?? 0) & 0xff;
      this.tick();
    });
  }
  write(): void {}
  async run(): Promise<void> {
    this.running = true;
    this.tick();
  }
  async stop(): Promise<void> {
    this.running = false;
    this.timer?.dispose();
  }
  isRunning(): boolean {
    return this.running;
  }
  instructionCounter(): number {
    return 0;
  }
  async saveState(): Promise<Uint8Array> {
    const state = new Uint8Array(1 + this.ram.length);
    state[0] = this.device;
    state.set(this.ram, 1);
    return state;
  }
  async restoreState(state: Uint8Array): Promise<void> {
    this.device = state[0] ?? 0;
    this.ram.set(state.subarray(1));
  }
  sendCtrlAltDel(): void {}
  textScreen(): string[] {
    return [];
  }
  dispose(): void {
    void this.stop();
  }
}

/** A copy as structured clone makes it (typed arrays, arrays, plain objects). */
function copyDeep(value: unknown): unknown {
  if (value instanceof Uint8Array || value instanceof Uint32Array) return value.slice();
  if (Array.isArray(value)) return value.map(copyDeep);
  if (typeof value === "object" && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, copyDeep(v)]));
  return value;
}

/** Let the messages on their way arrive. */
const settle = (): Promise<void> => new Promise((resolve) => systemClock.after(5, resolve));

/** A BroadcastChannel stand-in: each end hears the others, a task later, copied; `cut` silences an end (its tab closed). */
function hub(): { open(name: string): ChannelLike; cut(index: number): void } {
  const ends: { name: string; alive: boolean; end: ChannelLike }[] = [];
  return {
    open(name) {
      const me = { name, alive: true, end: undefined as unknown as ChannelLike };
      me.end = {
        onmessage: null,
        postMessage(message: unknown) {
          if (!me.alive) return;
          const copy = copyDeep(message);
          for (const other of ends) if (other !== me && other.name === name) systemClock.after(0, () => other.alive && other.end.onmessage?.({ data: copy }));
        },
        close() {},
      };
      ends.push(me);
      return me.end;
    },
    cut(index) {
      const e = ends[index];
      if (e !== undefined) e.alive = false;
    },
  };
}

async function machine(seed: number, channels: ReturnType<typeof hub>): Promise<{ emulator: RamEmulator; backend: RemoteBackend }> {
  const emulator = new RamEmulator(seed);
  const pair = portPair((fn) => host.queueMicrotask(fn));
  const factory: BackendFactory = async () => emulator;
  serveBackend(pair.worker, factory, systemClock, { openChannel: (name) => channels.open(name), heartbeatMs: 50, silenceMs: 400 });
  const backend = (await connectRemoteBackend(pair.page, { memory_size: PAGES * PAGE_BYTES } as unknown as EmulatorConfig, { wasm: new ArrayBuffer(4) }, () => undefined)) as RemoteBackend;
  await backend.run();
  return { emulator, backend };
}

function pageSide(log: string[], over: Partial<MovePageSide> = {}): MovePageSide {
  return {
    releaseDisks: async () => void log.push("release"),
    reclaimDisks: async () => void log.push("reclaim"),
    takeDisks: async () => {
      log.push("take");
      return {};
    },
    landed: async (guest) => void log.push(`landed shell=${guest.shellReady}`),
    onPause: () => log.push("paused"),
    ...over,
  };
}

const requirements = { v86: "0.5.462", stateVersion: 6, fingerprint, disks: { store: "idb", machineId: "m" }, network: "off" as const, wallTime: Date.now() };
const offer = (): WireOffer => ({ v86: "0.5.462", stateVersion: 6, fingerprint, diskStores: ["idb"], machineId: "m", diskHolders: { m: "tab-A" }, networkAvailable: true, wallTime: Date.now() });

describe("a move between two Worker backends", () => {
  it.each(["pre-copy", "stop-and-copy"] as const)("%s: the target's RAM and device state end as the source's at the pause; the lock goes at the pause and is taken before the guest lands", async (method) => {
    const channels = hub();
    const a = await machine(1, channels);
    const b = await machine(2, channels);
    await b.backend.stop();
    const sourceLog: string[] = [];
    const targetLog: string[] = [];
    let listening!: () => void;
    const ready = new Promise<void>((resolve) => (listening = resolve));
    const arrival = b.backend.workerMigration?.migrateIn({ channel: "c", move: "m1", offer: offer(), sourceName: "tab-A" }, pageSide(targetLog, { onListening: () => listening() }));
    await ready;
    const rounds: number[] = [];
    const report = await a.backend.workerMigration?.migrateOut(
      { channel: "c", move: "m1", method, requirements: { ...requirements, wallTime: Date.now() }, shellReady: true },
      pageSide(sourceLog, { onRound: (r) => rounds.push(r.pagesSent) }),
    );
    await arrival;
    if (method === "pre-copy") {
      expect(report?.rounds.length).toBeGreaterThan(0);
      expect(rounds[0]).toBe(PAGES);
    } else {
      expect(rounds).toEqual([]);
    }
    expect(sourceLog).toEqual(["paused", "release"]);
    expect(targetLog).toEqual(["take", "landed shell=true"]);
    // The source stays paused; what the target holds is exactly the source at its pause.
    expect(a.emulator.running).toBe(false);
    expect(b.emulator.ram.findIndex((byte, i) => byte !== a.emulator.ram[i])).toBe(-1);
    expect(b.emulator.device).toBe(a.emulator.device);
    a.backend.dispose();
    b.backend.dispose();
  });

  it.each([
    ["during the live rounds", "round", []],
    ["after the pause, the lock let go", "pause", ["paused", "release", "reclaim"]],
  ] as const)("the target's tab closes %s: the source takes its lock back and runs on, nothing lost", async (_when, at, expected) => {
    const channels = hub();
    const a = await machine(1, channels);
    const b = await machine(2, channels);
    await b.backend.stop();
    const sourceLog: string[] = [];
    let listening!: () => void;
    const ready = new Promise<void>((resolve) => (listening = resolve));
    const arrival = b.backend.workerMigration?.migrateIn({ channel: "c", move: "m2", offer: offer(), sourceName: "tab-A" }, pageSide([], { onListening: () => listening() }));
    arrival?.catch(() => undefined);
    await ready;
    // The target's channel end goes silent (its tab closed) after the first round, or at the pause.
    const move = a.backend.workerMigration?.migrateOut(
      // A policy that never converges while the guest writes: a second live round is sure to come.
      { channel: "c", move: "m2", method: "pre-copy", requirements: { ...requirements, wallTime: Date.now() }, shellReady: true, policy: { maxRounds: 8, convergedPages: 0, shrinkFactor: 1 } },
      pageSide(sourceLog, {
        onRound: () => {
          if (at === "round") channels.cut(1);
        },
        onPause: () => {
          sourceLog.push("paused");
          if (at === "pause") channels.cut(1);
        },
      }),
    );
    const error = await move?.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isAppError(error) && error.code).toBe("migration-failed");
    expect(sourceLog).toEqual(expected);
    // Running again, and still counting from where it was.
    expect(a.emulator.running).toBe(true);
    const before = new Uint32Array(a.emulator.ram.buffer)[0] ?? 0;
    expect(before).toBeGreaterThan(0);
    await new Promise((resolve) => systemClock.after(30, () => resolve(undefined)));
    expect(new Uint32Array(a.emulator.ram.buffer)[0]).toBeGreaterThan(before);
    a.backend.dispose();
    b.backend.dispose();
  });
});

describe("the virtlab tabs of a browser", () => {
  function tabs(clock: Clock, channel: ChannelLike, id: string, offerFails = false): MigrationTabs {
    return new MigrationTabs(channel, () => ({ tab: id, label: `machine in ${id}`, machineId: "m", canReceive: true }), clock, {
      offer: async () => {
        if (offerFails) throw new Error("this tab runs no machine that can land one");
        return offer();
      },
      receive: async () => undefined,
      progress: () => undefined,
    });
  }

  it("find each other, ask for an offer, and refuse a tab that vanished", async () => {
    const clock = new ManualClock();
    const channels = hub();
    const a = tabs(clock, channels.open("t"), "A");
    const b = tabs(clock, channels.open("t"), "B");
    const c = tabs(clock, channels.open("t"), "C", true);
    await settle();
    expect(a.tabs().map((t) => t.tab).sort()).toEqual(["B", "C"]);
    const asked = a.askOffer("B");
    await settle();
    expect((await asked).diskHolders).toEqual({ m: "tab-A" });
    await expect(a.askOffer("C")).rejects.toThrow(/no machine that can land one/);
    // B's tab closes without a word: it drops from the list after the silence, and an ask times out.
    channels.cut(1);
    clock.advance(8000);
    await settle();
    expect(a.tabs().map((t) => t.tab)).toEqual(["C"]);
    const gone = a.askOffer("B");
    clock.advance(10_001);
    await expect(gone).rejects.toMatchObject({ code: "migration-refused" });
    a.dispose();
    b.dispose();
    c.dispose();
  });

  it("keep a tab left in the background on the list: its timers run once a minute, its handler answers a roll call", async () => {
    const clock = new ManualClock();
    // The hidden tab: the same time, but none of its timers comes within this test.
    const throttled: Clock = { now: () => clock.now(), after: () => ({ dispose() {} }) };
    const channels = hub();
    const a = tabs(clock, channels.open("t"), "A");
    const b = tabs(throttled, channels.open("t"), "B");
    await settle();
    const listed: boolean[] = [];
    for (let s = 0; s < 60; s += 2) {
      clock.advance(2000);
      await settle();
      listed.push(a.tabs().some((t) => t.tab === "B"));
    }
    expect(listed.every(Boolean)).toBe(true);
    const asked = a.askOffer("B");
    await settle();
    expect((await asked).diskHolders).toEqual({ m: "tab-A" });
    a.dispose();
    b.dispose();
  });
});

describe("a move between two tabs (TabMover) over Worker backends", () => {
  interface FakeTab {
    readonly mover: TabMover;
    readonly log: string[];
    readonly emulator: RamEmulator;
  }

  async function tab(id: string, machineId: string, channels: ReturnType<typeof hub>): Promise<FakeTab> {
    const { emulator, backend } = await machine(id === "A" ? 1 : 2, channels);
    const log: string[] = [];
    // The page's Machine as far as the mover uses it.
    const pageMachine = {
      workerMigration: backend.workerMigration,
      network: "off",
      shellReady: true,
      // The console as the page's Machine keeps it: the shell's last prompt, its cursor query after it.
      recentOutput: () => `uname -r\r\n6.1.0-50-686\r\nroot@${id}:/# \x1b[6n`,
      pause: () => backend.stop(),
      landed: async () => {
        log.push("landed");
        await backend.run();
      },
    } as unknown as Machine;
    let halted = false;
    const mover = new TabMover(
      {
        machine: () => (halted ? undefined : pageMachine),
        machineId: () => machineId,
        fingerprint: async () => fingerprint,
        diskStore: "idb",
        lockName: async () => `client-${id}`,
        lockHolder: async () => "client-A",
        releaseDisks: async () => void log.push("release"),
        reclaimDisks: async () => void log.push("reclaim"),
        takeDisks: async () => {
          log.push("take");
          return {};
        },
        handedOver: async () => {
          log.push("handed over");
          halted = true;
        },
        restart: async () => void log.push("restart"),
        arrived: (fromTab, screen) => void log.push(`arrived from ${fromTab}: ${JSON.stringify(screen)}`),
        label: () => `machine ${machineId}`,
        clock: systemClock,
        wallTime: () => Date.now(),
      },
      channels.open("tabs"),
    );
    return { mover, log, emulator };
  }

  it("the source checks, orders and moves; the target lands it and both show the report; the source stops", async () => {
    const channels = hub();
    const a = await tab("A", "m", channels);
    const b = await tab("B", "m", channels);
    await settle();
    const check = await a.mover.check(b.mover.tabId);
    expect(check.ok).toBe(true);
    const report = await a.mover.moveTo(b.mover.tabId, "pre-copy");
    await expect.poll(() => b.mover.state.role === "target" && b.mover.state.outcome?.kind).toBe("done");
    expect(a.log).toEqual(["release", "handed over"]);
    // Landed, then at once (before the guest's first output) a fresh screen with the line A's console ended with at the pause, without the shell's cursor query.
    expect(b.log).toEqual(["take", "landed", `arrived from ${a.mover.tabId}: "root@A:/# "`]);
    expect(b.emulator.running).toBe(true);
    expect(a.emulator.running).toBe(false);
    const shown = b.mover.state.role === "target" && b.mover.state.outcome?.kind === "done" ? b.mover.state.outcome.report : undefined;
    expect(shown?.downtimeMs).toBe(report.downtimeMs);
    a.mover.dispose();
    b.mover.dispose();
  });

  it("a target running another machine is refused before anything moves: both run on untouched", async () => {
    const channels = hub();
    const a = await tab("A", "m", channels);
    const b = await tab("B", "other", channels);
    await settle();
    const check = await a.mover.check(b.mover.tabId);
    expect(check.checks.filter((c) => c.refusal !== undefined).map((c) => c.requirement)).toEqual(["disks"]);
    await expect(a.mover.moveTo(b.mover.tabId, "stop-and-copy")).rejects.toMatchObject({ code: "migration-refused" });
    expect(b.mover.state.role).toBe("idle");
    expect(a.log).toEqual([]);
    expect(b.log).toEqual([]);
    expect(a.emulator.running && b.emulator.running).toBe(true);
    a.mover.dispose();
    b.mover.dispose();
  });
});
