/**
 * Machines that keep nothing: the device lab's benchmark machines and a second machine beside the
 * page's. Each is the built-in guest without a data disk, booted from scratch through a session of
 * its own, with the same backend, loader and clock as the page's session but no stores, no lock
 * and no pre-booted state (a lab machine's devices are not the pre-booted machine's). The network
 * lab's machines (labSession) do use the pre-booted state and kept boots, with disks in memory.
 */
import { AppError } from "../errors.ts";
import type { Disposable } from "../events.ts";
import type { Machine } from "../machine.ts";
import type { AttachedDisks, DeviceProfile, DiskSlot } from "../profile.ts";
import { DiskStore } from "../storage/disk.ts";
import { memoryStore } from "../storage/kv.ts";
import { DEFAULT_MACHINE, type MachineRecord } from "../storage/machines.ts";
import { MachineSession, type SessionDisks, type SessionOptions } from "./session.ts";
import type { PrebootedSource } from "./prebooted.ts";
import { StoreDisks } from "./storeDisks.ts";

/** The built-in guest with no disks: nothing it writes outlives it. */
export const SCRATCH_MACHINE: MachineRecord = { ...DEFAULT_MACHINE, id: "scratch", name: "Scratch machine (keeps nothing)", builtIn: false, disks: {} };

/** No disks to open, lock, save or let go. */
export const NO_DISKS: SessionDisks = {
  prepare: async () => ({ kind: "ready", disks: {} }),
  disk: () => undefined,
  view: { slots: [] },
  save: async () => undefined,
  erase: async () => undefined,
  close: async () => undefined,
};

/**
 * `options` without what belongs to the page's own machine: its pre-booted state's first choice,
 * its screen, its link's kept boot, its boots kept unpacked.
 */
function withoutPagesOwn(options: SessionOptions): Omit<SessionOptions, "prebooted" | "screenContainer" | "unpackedBoot" | "keptBootsUnpacked"> {
  const { prebooted: _prebooted, screenContainer: _screen, unpackedBoot: _link, keptBootsUnpacked: _kept, ...rest } = options;
  return rest;
}

/** A session like `options`' (backend, loader, clock, guest) for machines that keep nothing. */
export function scratchSession(options: SessionOptions): MachineSession {
  return new MachineSession({ ...withoutPagesOwn(options), disks: NO_DISKS });
}

/**
 * A session for one machine of the network lab: the built-in guest with the page's pre-booted
 * state (`prebooted`: the lab's own, with a NIC) and kept boots (so a machine is up in seconds), but disks in memory only: nothing it
 * writes reaches the user's storage, and nothing outlives it.
 */
export function labSession(options: SessionOptions, prebooted: PrebootedSource | undefined = options.prebooted): MachineSession {
  return movableLabSession(options, prebooted).session;
}

/** A lab machine's session with its memory disks in hand, so a move can copy them to another tab (MemoryDisks). */
export function movableLabSession(options: SessionOptions, prebooted: PrebootedSource | undefined = options.prebooted): { readonly session: MachineSession; readonly disks: MemoryDisks } {
  const disks = new MemoryDisks(options.images, options.clock);
  return { session: new MachineSession({ ...withoutPagesOwn(options), ...(prebooted === undefined ? {} : { prebooted }), diskStore: disks.store, disks }), disks };
}

/** What a machine's memory disks hold, as entries of their key-value store (structured-clone safe). */
export type DiskDump = readonly (readonly [string, unknown])[];

/**
 * Disks that live in this tab's memory only (a lab machine's), which a move copies whole: `dump`
 * writes the pending pages and returns every entry; `replace` drops these disks unwritten and
 * opens the machine's disks anew from another tab's dump.
 */
export class MemoryDisks implements SessionDisks {
  private kv = memoryStore();
  private current: StoreDisks;
  store: DiskStore;

  constructor(
    private readonly images: SessionOptions["images"],
    private readonly clock: SessionOptions["clock"],
  ) {
    this.store = new DiskStore(this.kv);
    this.current = new StoreDisks({ images, disks: this.store }, clock);
  }

  prepare(record: MachineRecord) {
    return this.current.prepare(record);
  }

  disk(slot: DiskSlot) {
    return this.current.disk(slot);
  }

  get view(): { readonly slots: readonly DiskSlot[] } {
    return this.current.view;
  }

  save(): Promise<void> {
    return this.current.save();
  }

  erase(record: MachineRecord): Promise<void> {
    return this.current.erase(record);
  }

  close(): Promise<void> {
    return this.current.close();
  }

  /** Every page written so far, with the overlays' indexes (pending pages are written first). */
  async dump(): Promise<DiskDump> {
    await this.current.save();
    const keys = await this.kv.keys();
    const values = await this.kv.getMany(keys);
    return keys.map((k, i) => [k, values[i]] as const);
  }

  /** Let these disks go unwritten and open `record`'s from `dump` (a store and page cache of their own). */
  async replace(record: MachineRecord, dump: DiskDump): Promise<AttachedDisks> {
    await this.current.erase(record);
    this.kv = memoryStore();
    await this.kv.setMany(dump);
    this.store = new DiskStore(this.kv);
    this.current = new StoreDisks({ images: this.images, disks: this.store }, this.clock);
    return (await this.current.prepare(record)).disks;
  }
}

/** A started machine of its own; disposing it ends the machine and its session. */
export interface ScratchMachine extends Disposable {
  readonly machine: Machine;
}

/** How startScratch starts a machine. */
export interface ScratchStartOptions {
  /**
   * Use the session's boot cache (the page's: session/bootCache.ts): restore this hardware's kept
   * boot, else boot and keep it. The start then resolves once the keeping has ended, so what the
   * caller does next does not share the CPU with saving it. Default: boot from scratch, keep nothing.
   */
  readonly keptBoots?: boolean;
}

/**
 * Start SCRATCH_MACHINE with `profile` in `session` (one made by scratchSession): from scratch, or
 * with `keptBoots` from the boot cache. Resolves once the emulator runs (wait for its shell with
 * `machine.waitForShell`); a start that fails rejects with the reason and disposes the session.
 */
export async function startScratch(session: MachineSession, profile: DeviceProfile, options: ScratchStartOptions = {}): Promise<ScratchMachine> {
  try {
    const outcome = await session.start({ record: SCRATCH_MACHINE, profile, request: { kind: options.keptBoots === true ? "auto" : "cold" } });
    if (outcome.kind === "failed") throw outcome.error;
    const machine = session.machine;
    if (outcome.kind !== "started" || machine === undefined) throw new AppError("emulator-start-failed", `The machine did not start (${outcome.kind}).`);
    // A boot that cannot be kept is only not kept: the machine is used either way.
    if (options.keptBoots === true) await session.bootKept();
    return { machine, dispose: () => session.dispose() };
  } catch (error) {
    session.dispose();
    throw error;
  }
}
