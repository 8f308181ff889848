/**
 * Whether a crash is a repeated one, and which machines last ran fine (issue 16). A guest that
 * crashes the emulator as it starts crashes again after every reset: once a restart after a
 * crash crashes again within seconds, the page stops suggesting a reset and offers the machines
 * that last ran fine instead. Pure decisions on an injected Clock; the page keeps the record.
 */
import type { Clock } from "./clock.ts";
import { toDisposable, type Disposable } from "./events.ts";
import { DEFAULT_MACHINE_ID } from "./storage/machines.ts";

/** A restart after a crash that crashes again within this time crashed "again at once". */
export const REPEATED_CRASH_WINDOW_MS = 15_000;
/** A machine that runs this long without crashing (or reaches its shell) ran fine. */
export const RAN_FINE_AFTER_MS = 15_000;
/** How many machines the offer names at most. */
export const RAN_FINE_OFFER_LIMIT = 3;

/** Per machine id, when it last ran fine (wall-clock ms; the page stores it). */
export type RanFineRecord = Readonly<Record<string, number>>;

export interface CrashVerdict {
  /** The run before this one crashed too, and this one crashed soon after it started. */
  readonly repeated: boolean;
  /** How long this run lasted before the crash. */
  readonly afterMs: number;
}

/**
 * Follows one page's runs. `started(id)` at each start (a reset, a restart, another machine),
 * `crashed(id)` when that run crashed, `shellReady(id)` when it reached its shell. `onRanFine`
 * fires once per run that reached its shell or ran RAN_FINE_AFTER_MS without crashing.
 */
export class CrashWatch implements Disposable {
  private run: { id: string; startedAt: number; afterCrash: boolean; fine: boolean; timer: Disposable } | undefined;
  /** The machine whose last run crashed, if the last run crashed. */
  private lastCrashed: string | undefined;
  private readonly listeners = new Set<(id: string) => void>();

  constructor(
    private readonly clock: Clock,
    private readonly windowMs = REPEATED_CRASH_WINDOW_MS,
    private readonly fineAfterMs = RAN_FINE_AFTER_MS,
  ) {}

  onRanFine(listener: (id: string) => void): Disposable {
    this.listeners.add(listener);
    return toDisposable(() => this.listeners.delete(listener));
  }

  started(id: string): void {
    this.run?.timer.dispose();
    const run = { id, startedAt: this.clock.now(), afterCrash: this.lastCrashed === id, fine: false, timer: toDisposable(() => undefined) };
    run.timer = this.clock.after(this.fineAfterMs, () => this.fine(run));
    this.run = run;
    this.lastCrashed = undefined;
  }

  shellReady(id: string): void {
    if (this.run?.id === id) this.fine(this.run);
  }

  crashed(id: string): CrashVerdict {
    const run = this.run?.id === id ? this.run : undefined;
    run?.timer.dispose();
    this.run = undefined;
    this.lastCrashed = id;
    const afterMs = run === undefined ? 0 : this.clock.now() - run.startedAt;
    return { repeated: run !== undefined && run.afterCrash && !run.fine && afterMs <= this.windowMs, afterMs };
  }

  private fine(run: NonNullable<CrashWatch["run"]>): void {
    if (run.fine || this.run !== run) return;
    run.fine = true;
    run.timer.dispose();
    for (const listener of this.listeners) listener(run.id);
  }

  dispose(): void {
    this.run?.timer.dispose();
    this.run = undefined;
    this.listeners.clear();
  }
}

/** The record with `id` marked as having run fine at `now`. */
export function noteRanFine(record: RanFineRecord, id: string, now: number): RanFineRecord {
  return { ...record, [id]: now };
}

/** A stored record as read back (anything malformed is dropped, never trusted). */
export function parseRanFine(text: string | null): RanFineRecord {
  if (text === null) return {};
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== "object" || value === null || Array.isArray(value)) return {};
    return Object.fromEntries(Object.entries(value).filter((e): e is [string, number] => typeof e[1] === "number" && Number.isFinite(e[1])));
  } catch {
    return {};
  }
}

/**
 * The machines to offer after a repeated crash: those that last ran fine, newest first, not the
 * one that crashed, among those that still exist; at most RAN_FINE_OFFER_LIMIT.
 */
export function machinesThatRanFine<M extends { readonly id: string }>(record: RanFineRecord, machines: readonly M[], crashedId: string): M[] {
  return machines
    .filter((m) => m.id !== crashedId && record[m.id] !== undefined)
    .sort((a, b) => (record[b.id] ?? 0) - (record[a.id] ?? 0))
    .slice(0, RAN_FINE_OFFER_LIMIT);
}

/**
 * What the page offers after a repeated crash: the machines that last ran fine, else the built-in
 * machine (always there to go back to) unless it is the one that crashed.
 */
export function machinesToOffer<M extends { readonly id: string }>(record: RanFineRecord, machines: readonly M[], crashedId: string): M[] {
  const offered = machinesThatRanFine(record, machines, crashedId);
  const builtIn = machines.find((m) => m.id === DEFAULT_MACHINE_ID);
  if (offered.length === 0 && builtIn !== undefined && crashedId !== DEFAULT_MACHINE_ID) offered.push(builtIn);
  return offered;
}
