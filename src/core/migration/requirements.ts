/**
 * What must hold before a machine moves, checked on the target against what the source says of
 * itself. Each failure is one requirement with what differs in words (a migration-refused error).
 */
import { AppError, type MigrationRequirement } from "../errors.ts";
import { fingerprintDifferences, type MachineFingerprint } from "../snapshot/fingerprint.ts";

/** The source's side: sent in the hello. */
export interface Requirements {
  readonly v86: string;
  readonly stateVersion: number;
  readonly fingerprint: MachineFingerprint;
  /** Where the machine's writable disks live (an IndexedDB overlay store by name), or none. */
  readonly disks: { readonly store: string; readonly machineId: string } | undefined;
  /** The source's NIC is plugged in: the target must have a network to plug it into. */
  readonly network: "on" | "off";
  /**
   * The machine is on a network lab's switch (net/networkLab.ts): the target must attach it to a
   * switch joined to this one over the tab trunk, so it stays on the same LAN.
   */
  readonly lan?: SourceLan;
  /** The disks live in the source tab's memory (a lab machine's) and are copied at the pause. */
  readonly disksInMove?: boolean;
  /** Host wall-clock time when the hello was sent (ms since 1970). */
  readonly wallTime: number;
}

/** The target's side: what it is and what it reaches. */
export interface TargetOffer {
  readonly v86: string;
  readonly stateVersion: number;
  readonly fingerprint: MachineFingerprint;
  /** The overlay stores this side can open (by name). */
  readonly diskStores: readonly string[];
  /** The saved machine the landing machine is (its disks are the ones it would open), when known. */
  readonly machineId?: string;
  /** Who holds each machine's disk lock now (machine id to holder), as far as the target can tell. */
  readonly diskHolder: (machineId: string) => string | undefined;
  /** The name the source knows itself by, for the lock check. */
  readonly sourceName: string;
  readonly networkAvailable: boolean;
  /** The target tab's network lab, when it has one. */
  readonly lan?: TargetLan;
  /** Host wall-clock time now (ms since 1970). */
  readonly wallTime: number;
  /** Largest clock difference that still lets the guest's time run on (default 2 s). */
  readonly clockToleranceMs?: number;
}

/** Where a lab machine is on the LAN: its tab's trunk id, the lab's mode, whether it joined the other tabs. */
export interface SourceLan {
  readonly tab: string;
  readonly mode: string;
  readonly joined: boolean;
}

/** The target's lab: its trunk id, mode, whether it joined, and the tabs its trunk reaches now. */
export interface TargetLan extends SourceLan {
  readonly peers: readonly string[];
}

export interface Refusal {
  readonly requirement: MigrationRequirement;
  readonly differences: readonly string[];
}

const DEFAULT_CLOCK_TOLERANCE_MS = 2000;

/** One requirement as checked: what it is, and what differs (none when it holds). */
export interface RequirementCheck {
  readonly requirement: MigrationRequirement;
  readonly refusal: Refusal | undefined;
  /** What holds, when there is more to say than the requirement's name (the LAN, disks copied). */
  readonly holds?: string;
}

/** Every requirement, in the order a user would fix them, each with its outcome (shown before a move). */
export function requirementChecks(source: Requirements, target: TargetOffer): readonly RequirementCheck[] {
  const check = (requirement: MigrationRequirement, differences: readonly string[], holds?: string): RequirementCheck => ({
    requirement,
    refusal: differences.length === 0 ? undefined : { requirement, differences },
    ...(holds === undefined || differences.length > 0 ? {} : { holds }),
  });
  const v86 =
    source.v86 !== target.v86 || source.stateVersion !== target.stateVersion
      ? [`emulator: source runs v86 ${source.v86} (state format ${source.stateVersion}), target v86 ${target.v86} (state format ${target.stateVersion})`]
      : [];
  const hardware = fingerprintDifferences(source.fingerprint, target.fingerprint).map((d) => d.replace("saved with", "source has").replace("this machine has", "target has"));
  const disks: string[] = [];
  const lock: string[] = [];
  if (source.disks !== undefined) {
    if (!target.diskStores.includes(source.disks.store)) {
      disks.push(`disks: the source's disks live in ${source.disks.store}, which the target cannot open (it reaches ${target.diskStores.join(", ") || "no disk store"})`);
    }
    if (target.machineId !== undefined && target.machineId !== source.disks.machineId) disks.push(`disks: the source runs machine "${source.disks.machineId}", the target "${target.machineId}" (it would open that machine's disks)`);
    const holder = target.diskHolder(source.disks.machineId);
    if (holder !== undefined && holder !== target.sourceName) lock.push(`disk lock: ${holder} writes this machine's disks, not the source`);
  }
  const network = source.lan !== undefined ? lanDifferences(source.lan, target.lan, source.fingerprint.nic) : source.network === "on" && !target.networkAvailable ? ["network: the source's network card is plugged in; the target has no network to plug it into"] : [];
  const networkHolds = source.lan !== undefined && target.lan !== undefined ? `on the bridged switch of tab ${source.lan.tab}; the target tab ${target.lan.tab} is on the same trunk, so the machine keeps its MAC, address and LAN` : undefined;
  const disksHolds = source.disksInMove === true ? "in the source tab's memory, copied to the target at the pause" : undefined;
  const skew = target.wallTime - source.wallTime;
  const tolerance = target.clockToleranceMs ?? DEFAULT_CLOCK_TOLERANCE_MS;
  // Behind: the guest's clock would jump back. Far ahead: further than a message takes.
  const clock =
    skew < -tolerance || skew > tolerance * 30 ? [`clock: the target's clock is ${(Math.abs(skew) / 1000).toFixed(1)} s ${skew < 0 ? "behind" : "ahead of"} the source's; the guest's time would not run on`] : [];
  return [check("v86-version", v86), check("hardware", hardware), check("disks", disks, disksHolds), check("disk-lock", lock), check("network", network, networkHolds), check("clock", clock)];
}

/** A lab machine stays on its LAN only if both tabs' labs are bridged and joined to each other. */
function lanDifferences(source: SourceLan, target: TargetLan | undefined, nic: string): string[] {
  // v86 restores an NE2000's address from a state only with preserve_mac_from_state_image: the landing NE2000 would
  // filter out every frame to the guest's MAC until the guest's driver wrote it again.
  if (nic === "ne2k") return ["network: an NE2000 lands with the target emulator's own MAC (v86 does not restore an NE2000's address from a state), so frames to the machine would stop; only virtio-net machines keep their LAN across a move"];
  if (source.mode !== "bridged") return [`network: the machine's lab is in ${source.mode} mode; only the bridged LAN reaches other tabs`];
  if (!source.joined) return ["network: the machine's lab has not joined the other tabs (turn on Join other tabs here)"];
  if (target === undefined) return ["network: the machine is on the bridged switch; the target tab has no network lab to attach it to"];
  if (target.mode !== "bridged") return [`network: the target tab's lab is in ${target.mode} mode, not bridged`];
  if (!target.joined) return ["network: the target tab's lab has not joined the other tabs (turn on Join other tabs there)"];
  if (!target.peers.includes(source.tab)) return [`network: the target tab's switch does not reach tab ${source.tab}'s over the trunk (not on the same trunk)`];
  return [];
}

/** The first requirement that fails, in the order a user would fix them; undefined when the move may go ahead. */
export function checkRequirements(source: Requirements, target: TargetOffer): Refusal | undefined {
  return requirementChecks(source, target).find((c) => c.refusal !== undefined)?.refusal;
}

/** A TargetOffer as it crosses between threads and tabs (no functions): the lock holders as a table. */
export type WireOffer = Omit<TargetOffer, "diskHolder" | "sourceName"> & { readonly diskHolders: Readonly<Record<string, string>> };

export function offerFromWire(wire: WireOffer, sourceName: string): TargetOffer {
  const { diskHolders, ...rest } = wire;
  return { ...rest, sourceName, diskHolder: (machineId) => diskHolders[machineId] };
}

export function refusalError(refusal: Refusal): AppError<"migration-refused"> {
  return new AppError("migration-refused", `The machine cannot move: ${refusal.differences.join("; ")}.`, { details: { requirement: refusal.requirement, differences: refusal.differences } });
}
