/**
 * What the Microscope panel shows, computed here (pure, unit-tested on fakes): per-device trap
 * rates per second, JIT activity per second beside MIPS, and the hypercall log. The panel calls
 * `sample` about once a second and renders what comes back; `dispose` removes every wrapper, so
 * the meter costs nothing while nobody looks.
 */
import type { Disposable } from "../events.ts";
import type { HypercallRecord, JitCounts, MicroscopeHooks } from "../backend.ts";
import { HYPERCALLS } from "./hypercall.ts";
import { TrapMeter, portCount, trapDelta, type DeviceTraps, type TrapSnapshot } from "./traps.ts";

/** One device's traps per second over the last sample. */
export interface DeviceRate {
  readonly device: string;
  readonly portReads: { readonly 8: number; readonly 16: number; readonly 32: number };
  readonly portWrites: { readonly 8: number; readonly 16: number; readonly 32: number };
  readonly mmio: number;
  readonly irqs: number;
  readonly notifications: number;
  /** All of the above, for sorting. */
  readonly total: number;
}

export interface JitRate {
  readonly blocksPerSecond: number;
  readonly wasmBytesPerSecond: number;
  readonly invalidationsPerSecond: number;
}

export interface MicroscopeSample {
  readonly seconds: number;
  /** Devices with any trap in the interval, busiest first. */
  readonly devices: readonly DeviceRate[];
  /** Undefined when the JIT counters are not installed. */
  readonly jit: JitRate | undefined;
  /** Totals since the meter was switched on (per device, unscaled). */
  readonly sinceOn: TrapSnapshot;
}

/** Per-second rates of one interval's trap counts, busiest device first; idle devices left out. */
export function deviceRates(delta: TrapSnapshot, seconds: number): DeviceRate[] {
  const per = (n: number): number => (seconds > 0 ? n / seconds : 0);
  const rows: DeviceRate[] = [];
  for (const [device, d] of Object.entries(delta.devices) as [string, Readonly<DeviceTraps>][]) {
    const total = portCount(d) + d.mmioReads + d.mmioWrites + d.irqs;
    if (total === 0 && d.notifications === 0) continue;
    rows.push({
      device,
      portReads: { 8: per(d.portReads[8]), 16: per(d.portReads[16]), 32: per(d.portReads[32]) },
      portWrites: { 8: per(d.portWrites[8]), 16: per(d.portWrites[16]), 32: per(d.portWrites[32]) },
      mmio: per(d.mmioReads + d.mmioWrites),
      irqs: per(d.irqs),
      notifications: per(d.notifications),
      total: per(total),
    });
  }
  return rows.sort((a, b) => b.total - a.total || a.device.localeCompare(b.device));
}

export function jitRate(before: JitCounts, after: JitCounts, seconds: number): JitRate {
  const per = (n: number): number => (seconds > 0 ? n / seconds : 0);
  return {
    blocksPerSecond: per(after.blocks - before.blocks),
    wasmBytesPerSecond: per(after.wasmBytes - before.wasmBytes),
    invalidationsPerSecond: per(after.invalidations - before.invalidations),
  };
}

/** A hypercall as the log shows it: number and name, arguments and reply in hex. */
export function describeHypercall(record: HypercallRecord): { readonly call: string; readonly args: string; readonly reply: string } {
  const hex = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, "0")}`;
  const name = HYPERCALLS.find((c) => c.nr === record.nr)?.name ?? "unknown";
  return { call: `${record.nr} (${name})`, args: `${hex(record.args[0])}, ${hex(record.args[1])}`, reply: hex(record.reply) };
}

/** A rate as a short figure: 0, 12, 3.4k, 1.2M. */
export function shortRate(n: number): string {
  if (n === 0) return "0";
  if (n < 10) return n.toFixed(1);
  if (n < 1000) return Math.round(n).toString();
  if (n < 1e6) return `${(n / 1000).toFixed(1)}k`;
  return `${(n / 1e6).toFixed(1)}M`;
}

/**
 * The trap meter and JIT counters, installed for as long as this lives. `sample(nowMs)` gives the
 * rates since the previous sample (the first call only starts the interval).
 */
export class MicroscopeSampler implements Disposable {
  private readonly meter = new TrapMeter();
  private readonly traps: Disposable;
  private readonly jit: (Disposable & { read(): JitCounts }) | undefined;
  private last: { at: number; traps: TrapSnapshot; jit: JitCounts | undefined } | undefined;
  private disposed = false;

  constructor(hooks: MicroscopeHooks, withJit = true) {
    this.traps = hooks.watchTraps(this.meter);
    this.jit = withJit ? hooks.watchJit() : undefined;
  }

  sample(nowMs: number): MicroscopeSample | undefined {
    const traps = this.meter.snapshot();
    const jit = this.jit?.read();
    const last = this.last;
    this.last = { at: nowMs, traps, jit };
    if (last === undefined) return undefined;
    const seconds = (nowMs - last.at) / 1000;
    return {
      seconds,
      devices: deviceRates(trapDelta(last.traps, traps), seconds),
      jit: jit === undefined || last.jit === undefined ? undefined : jitRate(last.jit, jit, seconds),
      sinceOn: traps,
    };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.traps.dispose();
    this.jit?.dispose();
  }
}
