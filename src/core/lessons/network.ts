/**
 * Lesson steps on the network lab (issue 14): reset the lab, add a machine, change the mode, run
 * a command on one lab machine, read the capture. The decisions live here, against the small part
 * of NetworkLab a step needs, so the page only hands over its lab and Node tests run the same code.
 */
import type { Clock } from "../clock.ts";
import { AppError } from "../errors.ts";
import { addressAppliedCommand, dhcpCommand } from "../identity.ts";
import type { CommandResult } from "../console.ts";
import type { CapturedPacket } from "../net/capture.ts";
import type { DecodedFrame } from "../net/decode.ts";
import { NETWORK_MODES, type NetworkMember, type NetworkMode } from "../net/network.ts";
import type { LabMachineState } from "../net/networkLab.ts";
import type { NicModel } from "../profile.ts";
import { commandOutcome, type StepOutcome } from "./outcome.ts";

/** What network steps use of NetworkLab (the page's and Node's lab fit it; unit tests fake it). */
export interface LessonNetworkLab {
  readonly machines: readonly { readonly name: string; readonly state: LabMachineState; readonly problem: string | undefined }[];
  /** `run` types where the student sees it (teaching); `housekeep` goes through the guest agent, unseen. */
  machine(name: string): { run(command: string, options?: { readonly timeoutMs?: number }): Promise<CommandResult>; housekeep(command: string, options?: { readonly timeoutMs?: number }): Promise<CommandResult> } | undefined;
  add(nic: Exclude<NicModel, "none">): Promise<unknown>;
  remove(name: string): void;
  setMode(mode: NetworkMode): Promise<void>;
  readonly network: {
    readonly mode: NetworkMode;
    readonly machines: readonly NetworkMember[];
    readonly capture: { packets(): CapturedPacket[]; decode(packet: CapturedPacket): DecodedFrame; clear(): void };
  };
}

export type NetworkLessonAction =
  /** Stop every lab machine, empty the capture, back to bridged: the lesson starts from a clean lab. */
  | { readonly type: "network-reset" }
  /** Start `count` (default 1) more lab machines (vm1, vm2…) with this NIC, one after the other; done when each runs and has an address. */
  | { readonly type: "network-add"; readonly nic: Exclude<NicModel, "none">; readonly count?: number; readonly timeoutSeconds?: number }
  /** Switch the network's mode; done when every machine has an address on the new segment. */
  | { readonly type: "network-mode"; readonly mode: NetworkMode; readonly timeoutSeconds?: number }
  /** Run a command on a lab machine; `{{vm2}}` in it stands for vm2's address now. */
  | { readonly type: "network-run"; readonly machine: string; readonly command: string; readonly expect?: string; readonly timeoutSeconds?: number }
  /** Read the capture: each text must be in some packet's "protocol summary" line. */
  | { readonly type: "network-capture"; readonly expect: readonly string[] };

export const NETWORK_ACTION_TYPES = ["network-reset", "network-add", "network-mode", "network-run", "network-capture"] as const;
/** A lab machine's name in a step, and `{{vmN}}` for its address in a command. */
export const LAB_MACHINE_NAME = /^vm[1-4]$/;
export const ADDRESS_PLACEHOLDER = /\{\{\s*([^}\s]*)\s*\}\}/g;

const DEFAULT_WAIT_S = 180;
const DEFAULT_RUN_S = 60;
const POLL_MS = 250;
/** Packets a capture step lists under its verdict (the panel shows them all). */
const LISTED = 3;

const sleep = (clock: Clock, ms: number): Promise<void> => new Promise((resolve) => clock.after(ms, resolve));

async function waitFor<T>(clock: Clock, timeoutMs: number, check: () => T | undefined, fail: () => string): Promise<T> {
  const deadline = clock.now() + timeoutMs;
  for (;;) {
    const found = check();
    if (found !== undefined) return found;
    if (clock.now() >= deadline) throw new AppError("lesson-failed", fail(), { details: { subject: "network lab" } });
    await sleep(clock, POLL_MS);
  }
}

const addressOf = (lab: LessonNetworkLab, name: string): string | undefined => lab.network.machines.find((m) => m.label === name)?.address;

const addressList = (lab: LessonNetworkLab): string =>
  lab.network.machines.map((m) => `${m.label} ${m.address ?? "(no address)"}`).join(", ") || "no machines";

/** `{{vm2}}` → vm2's address; a machine with none yet is a clear failure, not a stray "{{vm2}}". */
export function substituteAddresses(lab: LessonNetworkLab, command: string): string {
  return command.replace(ADDRESS_PLACEHOLDER, (_whole, name: string) => {
    const address = addressOf(lab, name);
    if (address === undefined) {
      throw new AppError("lesson-failed", `The step needs ${name}'s address, and ${name} ${lab.machines.some((m) => m.name === name) ? "has none yet" : "is not in the network lab (an earlier step of the lesson adds it)"}.`, { details: { subject: name } });
    }
    return address;
  });
}

export function isNetworkAction(action: { readonly type: string }): action is NetworkLessonAction {
  return (NETWORK_ACTION_TYPES as readonly string[]).includes(action.type);
}

/** Do a network step on `lab`; waits use `clock`. */
export async function runNetworkStep(lab: LessonNetworkLab, action: NetworkLessonAction, clock: Clock): Promise<StepOutcome> {
  const waitMs = ("timeoutSeconds" in action && action.timeoutSeconds !== undefined ? action.timeoutSeconds : action.type === "network-run" ? DEFAULT_RUN_S : DEFAULT_WAIT_S) * 1000;
  switch (action.type) {
    case "network-reset": {
      const removed = lab.machines.map((m) => m.name);
      for (const name of removed) lab.remove(name);
      if (lab.network.mode !== "bridged") await lab.setMode("bridged");
      lab.network.capture.clear();
      return { ok: true, lines: [`The network lab is empty${removed.length > 0 ? ` (stopped ${removed.join(", ")})` : ""}, bridged, with an empty capture.`] };
    }
    case "network-add": {
      const lines: string[] = [];
      for (let i = 0; i < (action.count ?? 1); i++) lines.push(await addOne(lab, action.nic, clock, waitMs));
      return { ok: true, lines };
    }
    case "network-mode": {
      await lab.setMode(action.mode);
      const running = (): string[] => lab.machines.filter((m) => m.state === "running").map((m) => m.name);
      await waitFor(
        clock,
        waitMs,
        () => (running().every((name) => addressOf(lab, name) !== undefined) ? true : undefined),
        () => `Not every machine got an address on the ${action.mode} network within ${waitMs / 1000} s (${addressList(lab)}).`,
      );
      for (const name of running()) await addressApplied(lab, name);
      const explains = NETWORK_MODES.find((m) => m.mode === action.mode)?.explains;
      return { ok: true, lines: [...(explains === undefined ? [] : [explains]), `Addresses now: ${addressList(lab)}.`] };
    }
    case "network-run": {
      const machine = lab.machine(action.machine);
      if (machine === undefined) throw new AppError("lesson-failed", `${action.machine} is not running in the network lab (an earlier step of the lesson adds it).`, { details: { subject: action.machine } });
      const command = substituteAddresses(lab, action.command);
      const outcome = commandOutcome(await machine.run(command, { timeoutMs: waitMs }), action.expect);
      return { ...outcome, lines: [`On ${action.machine}: ${command}`, ...outcome.lines] };
    }
    case "network-capture":
      return captureOutcome(lab, action.expect);
  }
}

/** Start one machine; its line once it runs with an address. */
async function addOne(lab: LessonNetworkLab, nic: Exclude<NicModel, "none">, clock: Clock, waitMs: number): Promise<string> {
  const before = new Set(lab.machines.map((m) => m.name));
  const adding = lab.add(nic);
  const name = lab.machines.find((m) => !before.has(m.name))?.name;
  await adding;
  if (name === undefined) throw new AppError("lesson-failed", "The network lab did not list the new machine.", { details: { subject: "network lab" } });
  // A guest whose DHCP client gave up (a busy computer) is asked once more, as a mode change does.
  const askAgainAt = clock.now() + waitMs / 2;
  let askedAgain = false;
  const address = await waitFor(
    clock,
    waitMs,
    () => {
      const state = lab.machines.find((m) => m.name === name);
      if (state === undefined || state.state === "failed" || state.state === "off") {
        throw new AppError("lesson-failed", `${name} did not start${state?.problem === undefined ? "" : `: ${state.problem}`}.`, { details: { subject: name } });
      }
      const leased = state.state === "running" ? addressOf(lab, name) : undefined;
      if (leased === undefined && state.state === "running" && !askedAgain && clock.now() >= askAgainAt) {
        askedAgain = true;
        void lab.machine(name)?.run(dhcpCommand(), { timeoutMs: 30_000 }).catch(() => undefined);
      }
      return leased;
    },
    () => `${name} did not get an address within ${waitMs / 1000} s (it is ${lab.machines.find((m) => m.name === name)?.state ?? "gone"}; ${addressList(lab)}).`,
  );
  await addressApplied(lab, name);
  return `${name} (${nic === "ne2k" ? "NE2000" : "virtio-net"}) is on the ${lab.network.mode} network with the address ${address}.`;
}

/** Wait until the guest itself carries the address the server leased it (the next step may ping at once). */
async function addressApplied(lab: LessonNetworkLab, name: string): Promise<void> {
  const address = addressOf(lab, name);
  const machine = lab.machine(name);
  if (address === undefined || machine === undefined) return;
  const applied = await machine.housekeep(addressAppliedCommand(address), { timeoutMs: 40_000 });
  if (applied.exitCode !== 0) throw new AppError("lesson-failed", `${name} was leased ${address} but did not put it on eth0 within 20 s.`, { details: { subject: name } });
}

/** Each expected text found in some packet's line, with the first few such packets listed. */
function captureOutcome(lab: LessonNetworkLab, expected: readonly string[]): StepOutcome {
  const capture = lab.network.capture;
  const rows = capture.packets().map((p) => {
    const d = capture.decode(p);
    return `${p.number} ${p.port} ${p.direction} ${d.source} → ${d.destination} ${d.protocol} ${d.summary}`;
  });
  const lines: string[] = [`The capture holds ${rows.length} packets.`];
  let ok = true;
  for (const text of expected) {
    const found = rows.filter((r) => r.includes(text));
    if (found.length === 0) {
      ok = false;
      lines.push(`No packet shows "${text}".`);
    } else lines.push(`"${text}": ${found.length} packets, e.g. ${found.slice(0, LISTED).join(" | ")}`);
  }
  return { ok, lines };
}

/** One line for a network step's button. */
export function describeNetworkAction(action: NetworkLessonAction): string {
  switch (action.type) {
    case "network-reset":
      return "Empty the network lab";
    case "network-add":
      return (action.count ?? 1) === 1
        ? `Add a machine with ${action.nic === "ne2k" ? "an NE2000" : "a virtio-net"} card to the network lab`
        : `Add ${action.count} machines with ${action.nic === "ne2k" ? "NE2000" : "virtio-net"} cards to the network lab`;
    case "network-mode":
      return `Switch the network to ${NETWORK_MODES.find((m) => m.mode === action.mode)?.label ?? action.mode}`;
    case "network-run":
      return `Run on ${action.machine}: ${action.command}`;
    case "network-capture":
      return `Find ${action.expect.map((t) => `"${t}"`).join(", ")} in the capture`;
  }
}
