/**
 * The trap meter ("VM exits"): counts what a guest's driver makes the emulator do, per device.
 * Pure counting and attribution; v86.ts feeds it from wrappers it installs only while a meter is
 * active (see MicroscopeHooks in backend.ts). Unit-tested on fakes.
 */
export type Width = 8 | 16 | 32;

/** What the backend reports, one call per trapped access. */
export interface TrapSink {
  /** A port access; `owner` as the backend knows it (undefined: no device claimed the entry). */
  port(port: number, width: Width, write: boolean, owner: string | undefined, notify: boolean): void;
  mmio(address: number, width: Width, write: boolean, owner: string | undefined): void;
  irq(line: number, owner: string | undefined): void;
  /**
   * Add counts gathered elsewhere (a meter in the emulator's Worker), device by device. Optional:
   * a sink without it misses what a remote emulator counted.
   */
  merge?(delta: TrapSnapshot): void;
}

export interface DeviceTraps {
  readonly portReads: Record<Width, number>;
  readonly portWrites: Record<Width, number>;
  mmioReads: number;
  mmioWrites: number;
  irqs: number;
  /** Writes to a virtqueue's notify register (virtio devices only). */
  notifications: number;
}

export interface TrapTotals {
  readonly portIo: number;
  readonly mmio: number;
  readonly irq: number;
  readonly notifications: number;
}

export interface TrapSnapshot {
  readonly devices: Readonly<Record<string, Readonly<DeviceTraps>>>;
  readonly totals: TrapTotals;
}

/** Legacy ISA ports v86 devices own, for entries whose device object has no name. */
const PORT_RANGES: readonly [number, number, string][] = [
  [0x3f8, 0x3ff, "uart0"],
  [0x2f8, 0x2ff, "uart1"],
  [0x20, 0x21, "pic"],
  [0xa0, 0xa1, "pic"],
  [0x4d0, 0x4d1, "pic"],
  [0x40, 0x43, "pit"],
  [0x61, 0x61, "pit"],
  [0x60, 0x60, "ps2"],
  [0x64, 0x64, "ps2"],
  [0x70, 0x71, "rtc"],
  [0x80, 0x80, "post/delay port"],
  [0x1f0, 0x1f7, "ide"],
  [0x3f6, 0x3f6, "ide"],
  [0x170, 0x177, "ide"],
  [0x376, 0x376, "ide"],
  [0xcf8, 0xcff, "pci"],
  [0x3b0, 0x3df, "vga"],
  [0x1ce, 0x1cf, "vga"],
  [0x00, 0x1f, "dma"],
  [0x81, 0x9f, "dma"],
  [0xc0, 0xdf, "dma"],
  [0xb000, 0xb03f, "acpi"],
];

/** ISA interrupt lines of v86's fixed devices. */
const IRQ_LINES: Readonly<Record<number, string>> = { 0: "pit", 1: "ps2", 4: "uart0", 3: "uart1", 8: "rtc", 12: "ps2", 14: "ide", 15: "ide" };

export function portOwner(port: number, owner: string | undefined): string {
  if (owner !== undefined) return owner;
  for (const [from, to, name] of PORT_RANGES) if (port >= from && port <= to) return name;
  return `unclaimed ports`;
}

export function irqOwner(line: number, owner: string | undefined): string {
  return owner ?? IRQ_LINES[line] ?? `irq ${line}`;
}

function emptyDevice(): DeviceTraps {
  return { portReads: { 8: 0, 16: 0, 32: 0 }, portWrites: { 8: 0, 16: 0, 32: 0 }, mmioReads: 0, mmioWrites: 0, irqs: 0, notifications: 0 };
}

/** Aggregates trapped accesses per device. */
export class TrapMeter implements TrapSink {
  private devices = new Map<string, DeviceTraps>();

  private device(name: string): DeviceTraps {
    let d = this.devices.get(name);
    if (d === undefined) {
      d = emptyDevice();
      this.devices.set(name, d);
    }
    return d;
  }

  port(port: number, width: Width, write: boolean, owner: string | undefined, notify: boolean): void {
    const d = this.device(portOwner(port, owner));
    (write ? d.portWrites : d.portReads)[width]++;
    if (write && notify) d.notifications++;
  }

  mmio(address: number, _width: Width, write: boolean, owner: string | undefined): void {
    const d = this.device(owner ?? `mmio 0x${(address >>> 17 << 17 >>> 0).toString(16)}`);
    if (write) d.mmioWrites++;
    else d.mmioReads++;
  }

  irq(line: number, owner: string | undefined): void {
    this.device(irqOwner(line, owner)).irqs++;
  }

  merge(delta: TrapSnapshot): void {
    for (const [name, add] of Object.entries(delta.devices)) {
      const d = this.device(name);
      for (const w of [8, 16, 32] as const) {
        d.portReads[w] += add.portReads[w];
        d.portWrites[w] += add.portWrites[w];
      }
      d.mmioReads += add.mmioReads;
      d.mmioWrites += add.mmioWrites;
      d.irqs += add.irqs;
      d.notifications += add.notifications;
    }
  }

  reset(): void {
    this.devices = new Map();
  }

  snapshot(): TrapSnapshot {
    const devices: Record<string, DeviceTraps> = {};
    for (const [name, d] of this.devices) devices[name] = { ...d, portReads: { ...d.portReads }, portWrites: { ...d.portWrites } };
    return { devices, totals: totalsOf(devices) };
  }
}

export function portCount(d: Readonly<DeviceTraps>): number {
  return d.portReads[8] + d.portReads[16] + d.portReads[32] + d.portWrites[8] + d.portWrites[16] + d.portWrites[32];
}

export function totalsOf(devices: Readonly<Record<string, Readonly<DeviceTraps>>>): TrapTotals {
  let portIo = 0;
  let mmio = 0;
  let irq = 0;
  let notifications = 0;
  for (const d of Object.values(devices)) {
    portIo += portCount(d);
    mmio += d.mmioReads + d.mmioWrites;
    irq += d.irqs;
    notifications += d.notifications;
  }
  return { portIo, mmio, irq, notifications };
}

/** The difference b − a, device by device (devices only in b count from zero). */
export function trapDelta(a: TrapSnapshot, b: TrapSnapshot): TrapSnapshot {
  const devices: Record<string, DeviceTraps> = {};
  for (const [name, after] of Object.entries(b.devices)) {
    const before = a.devices[name] ?? emptyDevice();
    const w = (k: "portReads" | "portWrites"): Record<Width, number> => ({ 8: after[k][8] - before[k][8], 16: after[k][16] - before[k][16], 32: after[k][32] - before[k][32] });
    devices[name] = {
      portReads: w("portReads"),
      portWrites: w("portWrites"),
      mmioReads: after.mmioReads - before.mmioReads,
      mmioWrites: after.mmioWrites - before.mmioWrites,
      irqs: after.irqs - before.irqs,
      notifications: after.notifications - before.notifications,
    };
  }
  return { devices, totals: totalsOf(devices) };
}

/** Per-second (or per-MB, per-packet) rates of a snapshot: each count divided by `per`. */
export function perUnit(totals: TrapTotals, per: number): TrapTotals {
  const f = (n: number): number => (per > 0 ? n / per : 0);
  return { portIo: f(totals.portIo), mmio: f(totals.mmio), irq: f(totals.irq), notifications: f(totals.notifications) };
}

/** The guest's own view: `/proc/interrupts` as a map from line label to its count over all CPUs. */
export function parseProcInterrupts(text: string): Map<string, { count: number; name: string }> {
  const result = new Map<string, { count: number; name: string }>();
  const lines = text.split("\n");
  const cpus = (lines[0]?.match(/CPU\d+/g) ?? ["CPU0"]).length;
  for (const line of lines.slice(1)) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (m === null) continue;
    const fields = (m[2] ?? "").trim().split(/\s+/);
    let count = 0;
    let i = 0;
    for (; i < cpus && i < fields.length && /^\d+$/.test(fields[i] ?? ""); i++) count += Number(fields[i]);
    if (i === 0) continue;
    result.set(m[1] ?? "", { count, name: fields.slice(i).join(" ") });
  }
  return result;
}

/** Lines whose count changed between two `/proc/interrupts` readings, with the increase. */
export function interruptsDelta(before: string, after: string): { line: string; name: string; delta: number }[] {
  const a = parseProcInterrupts(before);
  const out: { line: string; name: string; delta: number }[] = [];
  for (const [line, { count, name }] of parseProcInterrupts(after)) {
    const delta = count - (a.get(line)?.count ?? 0);
    if (delta !== 0) out.push({ line, name, delta });
  }
  return out;
}
