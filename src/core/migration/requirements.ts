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
  /** Who holds each machine's disk lock now (machine id to holder), as far as the target can tell. */
  readonly diskHolder: (machineId: string) => string | undefined;
  /** The name the source knows itself by, for the lock check. */
  readonly sourceName: string;
  readonly networkAvailable: boolean;
  /** Host wall-clock time now (ms since 1970). */
  readonly wallTime: number;
  /** Largest clock difference that still lets the guest's time run on (default 2 s). */
  readonly clockToleranceMs?: number;
}

export interface Refusal {
  readonly requirement: MigrationRequirement;
  readonly differences: readonly string[];
}

const DEFAULT_CLOCK_TOLERANCE_MS = 2000;

/** The first requirement that fails, in the order a user would fix them; undefined when the move may go ahead. */
export function checkRequirements(source: Requirements, target: TargetOffer): Refusal | undefined {
  if (source.v86 !== target.v86 || source.stateVersion !== target.stateVersion) {
    return { requirement: "v86-version", differences: [`emulator: source runs v86 ${source.v86} (state format ${source.stateVersion}), target v86 ${target.v86} (state format ${target.stateVersion})`] };
  }
  const hardware = fingerprintDifferences(source.fingerprint, target.fingerprint);
  if (hardware.length > 0) return { requirement: "hardware", differences: hardware.map((d) => d.replace("saved with", "source has").replace("this machine has", "target has")) };
  if (source.disks !== undefined) {
    if (!target.diskStores.includes(source.disks.store)) {
      return { requirement: "disks", differences: [`disks: the source's disks live in ${source.disks.store}, which the target cannot open (it reaches ${target.diskStores.join(", ") || "no disk store"})`] };
    }
    const holder = target.diskHolder(source.disks.machineId);
    if (holder !== undefined && holder !== target.sourceName) {
      return { requirement: "disk-lock", differences: [`disk lock: ${holder} writes this machine's disks, not the source`] };
    }
  }
  if (source.network === "on" && !target.networkAvailable) return { requirement: "network", differences: ["network: the source's network card is plugged in; the target has no network to plug it into"] };
  const skew = target.wallTime - source.wallTime;
  const tolerance = target.clockToleranceMs ?? DEFAULT_CLOCK_TOLERANCE_MS;
  // Behind: the guest's clock would jump back. Far ahead: further than a message takes.
  if (skew < -tolerance || skew > tolerance * 30) {
    return { requirement: "clock", differences: [`clock: the target's clock is ${(Math.abs(skew) / 1000).toFixed(1)} s ${skew < 0 ? "behind" : "ahead of"} the source's; the guest's time would not run on`] };
  }
  return undefined;
}

export function refusalError(refusal: Refusal): AppError<"migration-refused"> {
  return new AppError("migration-refused", `The machine cannot move: ${refusal.differences.join("; ")}.`, { details: { requirement: refusal.requirement, differences: refusal.differences } });
}
