/**
 * What a UI shows of a network: each port with its label, kind, segment, the MACs learned
 * behind it, its counters and impairments; the segments and who is on them. `NetworkMonitor`
 * turns the switch's events into one coalesced "changed" event, at most every `intervalMs`
 * while frames flow, so a diagram and a counter table can follow without redrawing per frame.
 */
import type { Clock } from "../clock.ts";
import { DisposableStore, Emitter, type Disposable, type Event } from "../events.ts";
import type { Impairments } from "./link.ts";
import type { PortCounters, PortKind, VirtualSwitch } from "./switch.ts";

export interface PortSummary {
  readonly label: string;
  readonly kind: PortKind;
  readonly segment: string;
  /** aa:bb:cc:dd:ee:ff, learned behind this port. */
  readonly macs: readonly string[];
  readonly counters: PortCounters;
  readonly impairments: Impairments;
}

export interface SegmentSummary {
  readonly id: string;
  readonly ports: readonly string[];
}

export interface NetworkSummary {
  /** Clock milliseconds when taken. */
  readonly time: number;
  readonly ports: readonly PortSummary[];
  readonly segments: readonly SegmentSummary[];
}

/** The switch as plain data (ports in the order they were attached, segments in order of first port). */
export function switchSummary(sw: VirtualSwitch, time: number): NetworkSummary {
  const table = sw.macTable();
  const ports = sw.ports.map((p): PortSummary => ({
    label: p.label,
    kind: p.kind,
    segment: p.segment,
    macs: table.filter((e) => e.port === p.label && e.segment === p.segment).map((e) => e.mac),
    counters: p.counters,
    impairments: p.impairments,
  }));
  const segments: SegmentSummary[] = [];
  for (const port of ports) {
    const segment = segments.find((s) => s.id === port.segment);
    if (segment === undefined) segments.push({ id: port.segment, ports: [port.label] });
    else (segment.ports as string[]).push(port.label);
  }
  return { time, ports, segments };
}

export interface MonitorOptions {
  /** Coalescing window for changes caused by traffic; topology changes are told at once. */
  readonly intervalMs?: number;
}

export class NetworkMonitor implements Disposable {
  private readonly store = new DisposableStore();
  private readonly emitter = this.store.add(new Emitter<NetworkSummary>());
  private timer: Disposable | undefined;
  private readonly intervalMs: number;
  /** A fresh summary after any change: at once for topology, within `intervalMs` for traffic. */
  readonly onChanged: Event<NetworkSummary> = this.emitter.event;

  constructor(
    private readonly sw: VirtualSwitch,
    private readonly clock: Clock,
    options: MonitorOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 250;
    this.store.add(sw.onTopologyChanged(() => this.now()));
    this.store.add(sw.onChanged(() => this.soon()));
    this.store.add(sw.onTap(() => this.soon()));
  }

  get summary(): NetworkSummary {
    return this.sw.summary();
  }

  private now(): void {
    this.timer?.dispose();
    this.timer = undefined;
    this.emitter.fire(this.sw.summary());
  }

  private soon(): void {
    if (this.timer !== undefined) return;
    this.timer = this.clock.after(this.intervalMs, () => {
      this.timer = undefined;
      this.emitter.fire(this.sw.summary());
    });
  }

  dispose(): void {
    this.timer?.dispose();
    this.timer = undefined;
    this.store.dispose();
  }
}
