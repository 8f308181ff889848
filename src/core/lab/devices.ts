/**
 * The device lab as data: which device pairs a class can flip, what each guest driver does
 * differently, the workloads measured on both models, and the KVM figures from the course notes
 * (seed 004) shown beside virtlab's own measurements.
 */
import type { DeviceProfile } from "../profile.ts";

export type PairId = "console" | "storage" | "network" | "cpu";
export type Side = "emulated" | "paravirtual";
export const SIDES: readonly Side[] = ["emulated", "paravirtual"];

export interface DeviceChoice {
  readonly label: string;
  /** What this choice changes in the machine's profile. */
  readonly profile: Partial<DeviceProfile>;
  /** One line: what the guest's driver does with this device. */
  readonly driver: string;
}

export interface KvmFigure {
  /** Percent of native performance under KVM, for the emulated and the paravirtual model. */
  readonly emulated: number;
  readonly paravirtual: number;
  readonly emulatedLabel: string;
  readonly paravirtualLabel: string;
  /** Why KVM's question is (or is not) the same as virtlab's. */
  readonly note: string;
}

export interface DevicePair {
  readonly id: PairId;
  readonly title: string;
  /** For CPU the two sides are not emulated/paravirtual but interpreter/JIT: named here. */
  readonly sideNames: Readonly<Record<Side, string>>;
  readonly emulated: DeviceChoice;
  readonly paravirtual: DeviceChoice;
  readonly kvm: KvmFigure | undefined;
  /** Shown when virtlab's ratio is well below KVM's (or inverted). */
  readonly whyLower: string;
  /** Shown when virtlab's ratio is well above KVM's (or there is no KVM figure). */
  readonly whyHigher: string;
}

export const PAIRS: readonly DevicePair[] = [
  {
    id: "console",
    title: "Console",
    sideNames: { emulated: "emulated", paravirtual: "paravirtual" },
    emulated: {
      label: "8250 UART (ttyS0)",
      profile: { console: "uart" },
      driver: "The 8250 driver writes each byte to an I/O port: every byte is a trap into the emulator, and the 16-byte FIFO refills on an interrupt.",
    },
    paravirtual: {
      label: "virtio-console (hvc0)",
      profile: { console: "virtio" },
      driver: "virtio_console puts whole buffers on a shared-memory virtqueue and rings a doorbell once: one exit per buffer, not per byte.",
    },
    kvm: undefined,
    whyLower: "The course's KVM figures have no console row. A small gap means the per-byte cost is hidden by other work, e.g. the host handling the output.",
    whyHigher: "The course's KVM figures have no console row. The UART costs one emulated port write per byte; virtio-console one notification per buffer.",
  },
  {
    id: "storage",
    title: "Storage",
    sideNames: { emulated: "emulated", paravirtual: "paravirtual" },
    emulated: {
      label: "IDE disk (ext2)",
      profile: { scratchDiskMiB: 64 },
      driver: "ata_piix programs the IDE controller through I/O ports (task-file registers, bus-master DMA): about 30 traps and one interrupt per request, whether it moves 4 KiB or 512 KiB.",
    },
    paravirtual: {
      label: "virtio-9p share",
      profile: { share9p: true },
      driver: "9pnet_virtio sends file-system messages (Tread/Twrite of up to msize bytes) on a virtqueue; the host answers from its own files.",
    },
    kvm: {
      emulated: 40,
      paravirtual: 85,
      emulatedLabel: "IDE emulation",
      paravirtualLabel: "virtio-blk",
      note: "KVM compares two block devices; virtlab has no virtio-blk, so its paravirtual side is a 9p file share, which pays per message and per file operation.",
    },
    whyLower:
      "The two sides are different kinds of device: IDE is a block device the guest's page cache and block layer batch into large requests, while 9p is a file protocol in which every chunk of up to msize bytes is a request and a reply through the emulator's JavaScript file server. Neither side has a real disk behind it, so KVM's cost model does not carry over; the msize rows show how much the message size alone changes.",
    whyHigher:
      "The two sides are different kinds of device: IDE writes go through the guest's ext2, block layer and the emulated controller's registers and DMA, in an emulator where nothing runs natively, while 9p hands whole msize chunks to the emulator's file server. Neither side has a real disk behind it, so KVM's cost model does not carry over; the msize rows show how much the message size alone changes.",
  },
  {
    id: "network",
    title: "Network",
    sideNames: { emulated: "emulated", paravirtual: "paravirtual" },
    emulated: {
      label: "NE2000 (ne2k-pci)",
      profile: { nic: "ne2k" },
      driver: "ne2k-pci copies every frame through the card's data port (remote DMA), one 16/32-bit port access at a time, and handles one interrupt per frame.",
    },
    paravirtual: {
      label: "virtio-net",
      profile: { nic: "virtio" },
      driver: "virtio_net hands frame buffers to the device on shared rings: the emulator copies each frame in one go, with a notification per batch.",
    },
    kvm: {
      emulated: 60,
      paravirtual: 75,
      emulatedLabel: "e1000 emulated NIC",
      paravirtualLabel: "virtio-net",
      note: "KVM's figures are bulk TCP on a 1 Gb LAN. virtlab moves bulk TCP both ways between the guest and a small TCP endpoint inside the page, on the emulator's network bus (no host network stack), and also times ICMP echo round trips of full 1500-byte frames, where per-packet guest work (interrupts, the ping process waking up) is part of both sides.",
    },
    whyLower:
      "The card's share of the time is small: the guest's TCP/IP stack and the processes moving the data do the same work whichever card carries the frames, and in v86 the NE2000's port copy of a 1500-byte frame is cheap. What is left of the gap is the card's own cost.",
    whyHigher:
      "Here the frames never leave the emulator, so there is no wire and no host network stack to share the cost with: what differs is only how the guest moves each frame (port I/O vs shared memory), which weighs more than on a 1 Gb LAN.",
  },
  {
    id: "cpu",
    title: "CPU",
    sideNames: { emulated: "interpreter", paravirtual: "JIT" },
    emulated: {
      label: "interpreter",
      profile: { cpu: "interpreter" },
      driver: "Every guest instruction is decoded and executed one by one by the emulator's interpreter.",
    },
    paravirtual: {
      label: "JIT (dynamic translation)",
      profile: { cpu: "jit" },
      driver: "Hot guest code is translated into WebAssembly blocks once and then runs as compiled code; the guest is unchanged.",
    },
    kvm: {
      emulated: 85,
      paravirtual: 97,
      emulatedLabel: "shadow page tables",
      paravirtualLabel: "EPT / NPT",
      note: "KVM runs guest code natively in both cases and compares two ways of virtualizing the MMU; virtlab compares interpreting with translating every instruction, so its ratio answers a different question.",
    },
    whyLower:
      "With hardware virtualization the CPU runs guest instructions itself and only page-table handling differs (97% vs 85%); in virtlab nothing runs natively. A small JIT gain means the workload spent its time where translation does not help (e.g. in emulated devices).",
    whyHigher:
      "With hardware virtualization the CPU runs guest instructions itself and only page-table handling differs (97% vs 85%); in virtlab nothing runs natively, so translating instead of interpreting changes the cost of every instruction and the ratio is far larger.",
  },
];

export function pairById(id: PairId): DevicePair {
  const pair = PAIRS.find((p) => p.id === id);
  if (pair === undefined) throw new RangeError(`no device pair ${id}`);
  return pair;
}

/** KVM's paravirtual/emulated ratio for a pair, when the notes have one. */
export function kvmRatio(pair: DevicePair): number | undefined {
  return pair.kvm === undefined ? undefined : pair.kvm.paravirtual / pair.kvm.emulated;
}

export type WorkloadKind = "console-write" | "storage-write" | "storage-read" | "net-tcp-up" | "net-tcp-down" | "net-echo" | "cpu-hash";
export type Unit = "MB/s" | "MIPS";
export type SizePreset = "quick" | "standard";

export interface Workload {
  readonly id: string;
  readonly pair: PairId;
  readonly kind: WorkloadKind;
  readonly title: string;
  readonly unit: Unit;
  /** Bytes (console, storage, CPU) or echo round trips (network), per preset. */
  readonly size: Readonly<Record<SizePreset, number>>;
  /** Extra paravirtual settings measured against the same emulated run (9p msize). */
  readonly variants?: readonly WorkloadVariant[];
  /** Explanations for this workload, in place of its pair's (see DevicePair). */
  readonly whyLower?: string;
  readonly whyHigher?: string;
}

/**
 * An extra setting of the paravirtual side, measured against the same emulated run: a 9p
 * `msize` (a mount option, same machine) or a virtio-net MTU (device hardware: its own machine).
 */
export type WorkloadVariant =
  | { readonly id: string; readonly label: string; readonly msize: number }
  | { readonly id: string; readonly label: string; readonly nicMtu: number };

const KIB = 1024;
const MIB = 1024 * 1024;

/** The kernel's default 9p msize since Linux 5.19 (128 KiB): the main paravirtual run. */
export const DEFAULT_9P_MSIZE = 128 * KIB;
/** virtio-net MTUs measured besides 1500 (jumbo frames; the largest an IPv4 packet can be). */
const MTU_VARIANTS: readonly WorkloadVariant[] = [
  { id: "mtu-9000", label: "virtio-net MTU 9000", nicMtu: 9000 },
  { id: "mtu-65520", label: "virtio-net MTU 65520", nicMtu: 65520 },
];
const MSIZE_VARIANTS: readonly WorkloadVariant[] = [
  { id: "msize-8k", label: "9p msize 8 KiB", msize: 8 * KIB },
  { id: "msize-500k", label: "9p msize 500 KB", msize: 512_000 },
];

const ECHO_WHY_LOWER =
  "Each echo is a round trip through the guest's kernel and the ping process, the same work on both cards, so the card's share of the time is small. With one frame in flight there is nothing to batch: virtio-net still pays for its rings, notification and interrupt per frame, while the NE2000's port copy of 1500 bytes is cheap in v86. This lab does not break the per-frame cost down further, so treat an inversion as measured, not explained.";

export const WORKLOADS: readonly Workload[] = [
  { id: "console-write", pair: "console", kind: "console-write", title: "guest writes to its console", unit: "MB/s", size: { quick: 64 * KIB, standard: 1 * MIB } },
  { id: "storage-write", pair: "storage", kind: "storage-write", title: "write a file (fsync)", unit: "MB/s", size: { quick: 1 * MIB, standard: 16 * MIB }, variants: MSIZE_VARIANTS },
  { id: "storage-read", pair: "storage", kind: "storage-read", title: "read a file (caches dropped)", unit: "MB/s", size: { quick: 1 * MIB, standard: 16 * MIB }, variants: MSIZE_VARIANTS },
  {
    id: "net-tcp-up",
    pair: "network",
    kind: "net-tcp-up",
    title: "bulk TCP, guest → peer",
    unit: "MB/s",
    size: { quick: 256 * KIB, standard: 4 * MIB },
    variants: MTU_VARIANTS,
    whyLower:
      "Sending, the guest's TCP stack paces itself by the ACKs that come back, one frame at a time through either card, and most of the time goes to the same per-segment work in the guest's kernel. Transmitting is also where the NE2000 is at its best in v86 (one port copy per frame, no ring to fill), so the paravirtual card has little to win.",
  },
  {
    id: "net-tcp-down",
    pair: "network",
    kind: "net-tcp-down",
    title: "bulk TCP, peer → guest",
    unit: "MB/s",
    size: { quick: 256 * KIB, standard: 4 * MIB },
    variants: MTU_VARIANTS,
    whyHigher:
      "Receiving is where the cards differ most: the NE2000 has a receive ring of about eight full frames that the driver empties one frame and one interrupt at a time, so a burst of segments overflows it and the lost ones are sent again, while virtio-net has hundreds of receive buffers posted in advance and takes a whole window at once. There is no wire and no host network stack to hide that difference, as there is in KVM's LAN figures.",
  },
  { id: "net-echo", pair: "network", kind: "net-echo", title: "ICMP echo, 1500-byte frames", unit: "MB/s", size: { quick: 32, standard: 400 }, whyLower: ECHO_WHY_LOWER },
  { id: "cpu-hash", pair: "cpu", kind: "cpu-hash", title: "sha256sum in the guest", unit: "MIPS", size: { quick: 256 * KIB, standard: 2 * MIB } },
];

export function workloadsOf(pair: PairId): readonly Workload[] {
  return WORKLOADS.filter((w) => w.pair === pair);
}

/** The base every lab machine starts from: what the guest needs, with no optional device. */
export const LAB_BASE_PROFILE: Partial<DeviceProfile> = { nic: "none", console: "uart", cpu: "jit" };

export interface MachinePlan {
  /** The profile patch this machine boots with (merged from the sides it serves). */
  readonly profile: Partial<DeviceProfile>;
  readonly runs: readonly { readonly pair: PairId; readonly side: Side }[];
}

export interface PlanOptions {
  /**
   * For machines that run at once (labMachinesAtOnce): each side that needs a device gets a
   * machine of its own, so the work spreads over as many machines as there are sides. A side that
   * sets only the CPU mode still joins the first machine it fits.
   */
  readonly spread?: boolean;
}

/**
 * Which machines to boot for the chosen pairs: each pair side needs its device; sides whose
 * devices do not conflict share one machine (a machine can have an IDE disk, a 9p share, a UART
 * console and an NE2000 at once), so "run all" boots three machines, not eight. Every plan starts
 * from LAB_BASE_PROFILE, so a side that wants another CPU, console or NIC gets its own machine.
 * With `spread`, see PlanOptions.
 */
export function planMachines(pairs: readonly PairId[], options: PlanOptions = {}): MachinePlan[] {
  // `set` holds what the sides asked for; the base fills in the rest and never conflicts.
  const plans: { set: Record<string, unknown>; runs: { pair: PairId; side: Side }[] }[] = [];
  for (const side of SIDES) {
    for (const id of pairs) {
      // The CPU mode changes every workload's speed: every side states it (JIT unless it is the
      // CPU pair's point), so the interpreter never slows another pair's measurement.
      const patch = { cpu: LAB_BASE_PROFILE.cpu, ...(pairById(id)[side].profile as Record<string, unknown>) };
      const ownMachine = options.spread === true && Object.keys(patch).some((k) => k !== "cpu");
      const fits = ownMachine ? undefined : plans.find((plan) => Object.entries(patch).every(([key, value]) => !(key in plan.set) || plan.set[key] === value));
      if (fits === undefined) plans.push({ set: { ...patch }, runs: [{ pair: id, side }] });
      else {
        Object.assign(fits.set, patch);
        fits.runs.push({ pair: id, side });
      }
    }
  }
  return plans.map((plan) => ({ profile: { ...LAB_BASE_PROFILE, ...plan.set } as Partial<DeviceProfile>, runs: plan.runs }));
}

export type MtuVariant = Extract<WorkloadVariant, { nicMtu: number }>;

/** The virtio-net MTU variants of the chosen pairs' workloads, each once: a machine each (device configuration). */
export function mtuVariants(pairs: readonly PairId[]): MtuVariant[] {
  const found = new Map<string, MtuVariant>();
  for (const pair of pairs) {
    for (const workload of workloadsOf(pair)) {
      for (const v of workload.variants ?? []) if ("nicMtu" in v) found.set(v.id, v);
    }
  }
  return [...found.values()];
}

/** The profile patch of an MTU variant's machine: the paravirtual network side with that MTU. */
export function mtuVariantProfile(nicMtu: number): Partial<DeviceProfile> {
  return { ...LAB_BASE_PROFILE, ...pairById("network").paravirtual.profile, nicMtu };
}

/** Lab machines at most at once, whatever the cores: each holds its guest's memory (128 MiB and more). */
export const MAX_LAB_MACHINES_AT_ONCE = 4;

/**
 * How many lab machines to run at once on a host with `cores` logical processors, when each
 * machine runs in a Worker of its own: one per two cores, at most MAX_LAB_MACHINES_AT_ONCE.
 * A lab machine keeps about two cores busy: its Worker runs the guest, and V8 compiles the code
 * v86's JIT makes for it on background threads, shared by every Worker of the page. On two cores
 * (2026-12-04, Chromium 156, standard sizes), two at once ran Run all in 350 s first and 232 s
 * again, one at a time in 293 and 238 s: no gain, and every step of a machine 2-4× slower.
 * Machines that share a thread (Node, a page without Workers) gain nothing: pass `undefined`.
 */
export function labMachinesAtOnce(cores: number | undefined): number {
  if (cores === undefined || !Number.isFinite(cores)) return 1;
  return Math.max(1, Math.min(MAX_LAB_MACHINES_AT_ONCE, Math.floor(cores / 2)));
}
