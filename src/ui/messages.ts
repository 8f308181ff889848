/** The one place where error codes become words a user can act on. */
import { describeCause, isAppError, samePageWords, savedOnOtherGuestBuild, type ErrorCode, type MigrationReport, type MoveState, type RequirementCheck, type RoundRecord, type SamePageStats } from "../core/index.ts";

interface Message {
  readonly title: string;
  readonly hint: string;
}

const MESSAGES: Record<ErrorCode, Message> = {
  "asset-load-failed": {
    title: "A file the machine needs could not be loaded",
    hint: "Check that the app was built with its guest (npm start does it), then reload the page.",
  },
  "wasm-load-failed": {
    title: "The emulator could not start in this browser",
    hint: "virtlab needs WebAssembly. A strict Content-Security-Policy must allow 'wasm-unsafe-eval'.",
  },
  "emulator-start-failed": {
    title: "The emulator could not start this machine",
    hint: "Reload the page. If it happens again, the machine's settings or images may not fit together.",
  },
  "emulator-crashed": {
    title: "The emulator crashed",
    hint: "Something in the guest hit a case the emulator cannot handle. Reset the machine to start it again.",
  },
  timeout: {
    title: "The machine did not answer in time",
    hint: "The guest may still be busy. Wait a little, or reset the machine.",
  },
  "not-running": {
    title: "The machine is not running",
    hint: "Start the machine first, then try again.",
  },
  disposed: {
    title: "The machine was shut down",
    hint: "Reload the page to start it again.",
  },
  "bad-profile": {
    title: "These machine settings cannot work",
    hint: "Change the settings named above and start again.",
  },
  "bad-image": {
    title: "That file cannot be used as an image",
    hint: "virtlab takes ISO 9660 CD-ROM images, hard-disk and floppy images, Linux kernels (bzImage) and initrds. Nothing was stored.",
  },
  "image-missing": {
    title: "This machine cannot start: an image it uses was deleted",
    hint: "Edit the machine to choose another image (or no image), or add the same image to the library again and start the machine. Nothing else was changed.",
  },
  "bad-snapshot": {
    title: "This snapshot cannot be used",
    hint: "The file is damaged, cut short, or not a virtlab snapshot. Nothing was changed; the running machine is as it was.",
  },
  "snapshot-mismatch": {
    title: "This snapshot was made for a different machine",
    hint: "A saved state only fits the hardware and emulator it was saved on. Create a machine that matches the fields listed, or boot normally.",
  },
  "download-failed": {
    title: "The snapshot from the link could not be downloaded",
    hint: "Check the network and the link, then open it again. Your own machines and snapshots are unchanged.",
  },
  "storage-full": {
    title: "The browser's storage for virtlab is full",
    hint: "Nothing already saved was lost. Delete images or snapshots you no longer need, or allow the site more storage, then try again.",
  },
  "storage-failed": {
    title: "The browser's storage did not work",
    hint: "Private windows and some browser settings block storage. Nothing already saved was changed.",
  },
  "lab-failed": {
    title: "A device-lab benchmark failed",
    hint: "The lab's machines were shut down; your own machine is untouched. Run the benchmark again; if it keeps failing, the details above name the command.",
  },
  "lesson-failed": {
    title: "A lesson step could not be done",
    hint: "The machine is as it was before the step. Do the lesson's earlier steps first, or pick another step.",
  },
  "bad-capture": {
    title: "That file is not a packet capture virtlab can read",
    hint: "virtlab reads classic .pcap files (tcpdump's format, or Wireshark's \"Wireshark/tcpdump - pcap\" save option), not pcapng. Nothing was changed.",
  },
  "bad-network": {
    title: "These network settings cannot work",
    hint: "Change the addresses named above so each fits its subnet, then apply them again. The machines and the other networks are unchanged.",
  },
  "no-nic": {
    title: "This machine has no network card",
    hint: "Give it one (NE2000 or virtio-net in the device lab, or in the machine's settings), then join it to the network again.",
  },
  "migration-refused": {
    title: "The machine cannot move there",
    hint: "Nothing moved: the machine runs on where it was. The details name what differs between the two sides.",
  },
  "migration-failed": {
    title: "The move stopped half-way",
    hint: "The machine runs on where it was, with everything it had. Try the move again once the other side is back.",
  },
};

/** `snapshot-mismatch` of a snapshot saved on an earlier build of the built-in guest: no machine here can take it. */
const OTHER_GUEST_BUILD: Message = {
  title: "This snapshot was saved with another build of the built-in guest",
  hint: "virtlab's built-in guest is built anew when virtlab is updated, and a saved machine restores only on the guest it was saved with. The machine and its disks are as they were: boot it normally.",
};

/** `not-running` while a start is under way: nothing is wrong, it is early. */
const STILL_STARTING: Message = {
  title: "The machine is still starting",
  hint: "Wait until it runs (the status bar says so), then try again.",
};

export interface UserMessage extends Message {
  /** The specific reason, e.g. which file failed and why. */
  readonly detail: string;
}

export function toUserMessage(error: unknown): UserMessage {
  if (isAppError(error)) {
    const cause = error.cause === undefined ? "" : describeCause(error.cause);
    const words =
      isAppError(error, "not-running") && error.details.starting === true
        ? STILL_STARTING
        : savedOnOtherGuestBuild(error)
          ? OTHER_GUEST_BUILD
          : MESSAGES[error.code];
    return { ...words, detail: cause === "" ? error.message : `${error.message} (${cause})` };
  }
  return {
    title: "Something went wrong",
    hint: "Reload the page. If it happens again, please report it with the text below.",
    detail: describeCause(error),
  };
}

/** After a reset that crashed again at once (see CrashWatch). */
export function repeatedCrashText(seconds: number, offers: boolean): string {
  const again = `It crashed again ${seconds.toFixed(1)} s after the reset: this guest crashes the emulator as it starts, so another reset will not help.`;
  return offers ? `${again} Boot a machine that last ran fine, or change this machine's images or memory:` : `${again} Change this machine's images or memory, or boot another machine.`;
}

// --- migration (issue 15): the Move panel's words ---
const REQUIREMENT_NAMES: Readonly<Record<RequirementCheck["requirement"], string>> = {
  "v86-version": "Same emulator (v86 and its state format)",
  hardware: "Same hardware (the machine's fingerprint)",
  disks: "Disks reachable from both tabs (this origin's IndexedDB)",
  "disk-lock": "Disk lock held by this tab, handed over at the pause",
  network: "The same network (the LAN the machine is on, or a network for its card)",
  clock: "Clocks close enough for the guest's time to run on",
  busy: "The other tab is free",
};

export const MIGRATION_WORDS = {
  title: "Move this machine to another tab",
  explains:
    "Open virtlab in a second tab of this browser: it is listed here. The machine moves while it runs (pre-copy sends memory in rounds first; stop-and-copy pauses and sends everything), with its disks and their lock. By file to another browser, a snapshot export is the cold version of this.",
  toTab: "To tab",
  noTabs: "no other virtlab tab with a running machine",
  tab: "tab",
  check: "Check requirements",
  method: "Method",
  preCopy: "pre-copy (rounds while it runs)",
  stopAndCopy: "stop-and-copy (pause, send all)",
  workload: "The guest meanwhile",
  move: "Move",
  roundHeads: ["round", "pages sent", "pages dirtied meanwhile", "MiB", "ms"],
  idle: (tab: string) => `This is tab ${tab}. No move yet.`,
  meterTitle: "Same pages (KSM)",
  meterIdle: "No machine runs in this page.",
  meterLive: "Measure every 3 s (each reading hashes every page of every machine's memory)",
  summary: (r: MigrationReport) => {
    const sent = `Downtime ${Math.round(r.downtimeMs)} ms (guest paused → running in the other tab); ${(r.totalBytes / 1048576).toFixed(1)} MiB sent in ${Math.round(r.totalMs)} ms`;
    if (r.method === "stop-and-copy") return `${sent}, all of it in the pause (the whole state).`;
    return `${sent}; ${r.rounds.length} live round(s)${r.stopReason === undefined ? "" : `, stopped: ${r.stopReason}`}; ${r.finalPages} pages and ${(r.stateBytes / 1048576).toFixed(1)} MiB of device state in the pause, which began with ${Math.round(r.finalScanMs)} ms hashing every page for the last writes.`;
  },
} as const;

export function requirementLine(check: RequirementCheck): string {
  const name = REQUIREMENT_NAMES[check.requirement];
  if (check.refusal !== undefined) return `✗ ${name}: ${check.refusal.differences.join("; ")}`;
  return check.holds === undefined ? `✓ ${name}` : `✓ ${name}: ${check.holds}`;
}

export function roundCells(r: RoundRecord): string[] {
  return [String(r.round), String(r.pagesSent), String(r.pagesDirtied), (r.bytesSent / 1048576).toFixed(1), String(Math.round(r.ms))];
}

/** The line the terminal of the tab a machine left gets: it runs elsewhere now. */
export function handedOverLine(toTab: string): string {
  return `This machine moved to tab ${toTab} and runs there now; it is stopped here.`;
}

export function moveOutcomeLine(state: Exclude<MoveState, { role: "idle" }>, note: string): string {
  const workload = note === "" ? "" : ` (workload: ${note})`;
  const o = state.outcome;
  if (state.role === "source") {
    if (o?.kind === "done") return `Handed over to tab ${state.tab}: the machine runs there now; it is stopped here and never writes its disks again${workload}.`;
    if (o?.kind === "failed") return `The move to tab ${state.tab} failed; the machine runs on here. ${o.message}`;
    return state.paused ? `Paused: sending the last pages and the device state to tab ${state.tab}…` : `Moving to tab ${state.tab} (${state.method})${workload}…`;
  }
  if (o?.kind === "done") return `Arrived from tab ${state.tab}: the machine runs here, with its disks and their lock.`;
  if (o?.kind === "failed") return `The machine from tab ${state.tab} did not arrive; it runs on there. ${o.message}`;
  return state.paused ? `Tab ${state.tab} paused its machine; taking over…` : `Receiving from tab ${state.tab} (${state.method})…`;
}

/** The network lab's move (a machine on the switch moves to another tab's lab and stays on the LAN). */
export const LAB_MOVE_WORDS = {
  title: "Move a machine to another tab (it stays on this LAN)",
  explains:
    "Both tabs' labs must be bridged and joined (Join other tabs): the machine lands on the other tab's switch with the same MAC and address, and virtlab announces it there with a gratuitous ARP (as QEMU does after a move), so both switches learn at once where it is. Its memory disks go with it at the pause. A ping to it loses only what falls in the pause.",
  machine: "Machine",
  toTab: "to tab",
  noTabs: "no other tab with the network lab open",
  noMachines: "no running machine",
  check: "Check requirements",
  move: "Move",
} as const;

export function labMoveLine(state: Exclude<MoveState, { role: "idle" }>, machine: string | undefined): string {
  const o = state.outcome;
  const summary = o?.kind === "done" && o.report !== undefined ? ` ${MIGRATION_WORDS.summary(o.report)}` : "";
  if (state.role === "source") {
    if (o?.kind === "done") return `Handed over to tab ${state.tab}: the machine runs there, on the same LAN; its port here is gone.${summary}`;
    if (o?.kind === "failed") return `The move to tab ${state.tab} failed; the machine runs on here, on this switch. ${o.message}`;
    return state.paused ? `Paused: sending the last pages, the device state and the disks to tab ${state.tab}…` : `Moving ${machine ?? "the machine"} to tab ${state.tab} (${state.method})…`;
  }
  if (o?.kind === "done") return `Arrived from tab ${state.tab}: the machine runs here on this tab's switch, announced by gratuitous ARP.${summary}`;
  if (o?.kind === "failed") return `The machine from tab ${state.tab} did not arrive; it runs on there. ${o.message}`;
  return state.paused ? `Tab ${state.tab} paused its machine; taking over…` : `Receiving a machine from tab ${state.tab} (${state.method})…`;
}

/** The meter's sentence, then its counts. */
export function samePageLines(stats: SamePageStats): string[] {
  const mib = (pages: number): string => `${((pages * 4096) / 1048576).toFixed(1)} MiB`;
  return [
    samePageWords(stats),
    `${stats.machines} machine(s), ${stats.pages} pages of 4 KiB`,
    `zero pages: ${stats.zeroPages} (${mib(stats.zeroPages)})`,
    `repeated within a machine: ${stats.duplicateWithin} (${mib(stats.duplicateWithin)})`,
    `shared across machines: ${stats.duplicateAcross} (${mib(stats.duplicateAcross)})`,
  ];
}
// --- end migration ---
