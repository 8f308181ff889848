/**
 * What the page says about the machine, derived from one MachineStatus (stage + shell presence)
 * and nothing else the page could get out of step with: the stage word and the progress line
 * always tell the same story ("Shell ready." only with a shell, never after a crash).
 */
import type { MachineStage, MachineStatus } from "./machine.ts";
import type { GuestSpec } from "./profile.ts";
import type { SessionStatus } from "./session/session.ts";

export interface StatusContext {
  /** A machine started from a saved state runs its set-up command: not ready for the user yet. */
  readonly settling?: boolean;
  /** The settling is a boot being kept for the next start of this hardware (bootCache.ts). */
  readonly keepingBoot?: boolean;
  /** How the shell came to be ready, e.g. "started from the pre-booted state in 1.2 s". */
  readonly readyDetail?: string;
  /** While idle or downloading: the latest line about it ("Downloading bzImage: 1.0 of 5.4 MiB"). */
  readonly detail?: string;
  /** No emulator yet, but the start is downloading what it needs (the pre-booted state): shown as downloading. */
  readonly downloading?: boolean;
  /** What boots: a kernel + initrd ("linux") or the BIOS from a drive ("disk"). */
  readonly guestKind?: GuestSpec["kind"];
}

export type ProgressStep = "downloading" | "booting" | "ready";

export interface StatusView {
  /** The stage as the user sees it (a settling machine is still booting). */
  readonly stage: MachineStage;
  /** The word(s) of the status bar. */
  readonly stageText: string;
  /** The progress line. */
  readonly progressText: string;
  /** The step of the progress strip that is current, if any. */
  readonly step: ProgressStep | undefined;
  /** The progress bar is full. */
  readonly complete: boolean;
  /** The machine is on its way (starting, downloading, booting or settling): what is said will change. */
  readonly underway: boolean;
}

const STAGE_WORDS: Readonly<Record<MachineStage, string>> = {
  idle: "starting",
  downloading: "downloading",
  booting: "booting",
  ready: "ready",
  off: "powered off",
  panicked: "kernel panic",
  failed: "failed",
  crashed: "crashed",
  disposed: "stopped",
};

export function describeStatus(status: MachineStatus, context: StatusContext = {}): StatusView {
  const stage: MachineStage = context.settling === true && status.stage === "ready" ? "booting" : context.downloading === true && status.stage === "idle" ? "downloading" : status.stage;
  const step: ProgressStep | undefined = stage === "downloading" || stage === "booting" || stage === "ready" ? stage : undefined;
  const view = (stageText: string, progressText: string): StatusView => ({ stage, stageText, progressText, step, complete: stage === "ready", underway: stage === "idle" || stage === "downloading" || stage === "booting" });
  switch (stage) {
    case "idle":
      return view(STAGE_WORDS.idle, context.detail ?? "Preparing…");
    case "downloading":
      return view(STAGE_WORDS.downloading, context.detail ?? "Downloading…");
    case "booting":
      if (context.settling === true && context.keepingBoot === true) return view(STAGE_WORDS.booting, "Booted; keeping this boot so the next start of this hardware takes a second…");
      if (context.settling === true) return view(STAGE_WORDS.booting, "Starting from the saved state…");
      return view(STAGE_WORDS.booting, context.guestKind === "disk" ? "Booting…" : "Booting Linux…");
    case "ready":
      if (status.shell === "ready") return view(STAGE_WORDS.ready, context.readyDetail === undefined ? "Shell ready." : `Shell ready: ${context.readyDetail}.`);
      if (status.shell === "not-detected") {
        return view("running (no shell)", "Running (no shell detected): the guest's own program has the console. Type to it in the terminal.");
      }
      if (status.shell === "none") return view("running (no shell)", "Running (no shell detected): this guest has no serial shell virtlab knows. Show screen shows its screen.");
      // A known prompt not seen yet cannot be "ready"; say what is true.
      return view(STAGE_WORDS.booting, "Booting…");
    case "off":
      return view(STAGE_WORDS.off, "The guest powered itself off (poweroff or halt): Reset starts it again, with what it wrote to its disks.");
    case "panicked":
      return view(STAGE_WORDS.panicked, `The guest's kernel panicked (${status.panic ?? "no reason given"}): the guest has stopped, the emulator did not crash. Reset starts it again, with what it wrote to its disks.`);
    case "failed":
      return view(STAGE_WORDS.failed, "The machine could not start (the message says why).");
    case "crashed":
      return view(STAGE_WORDS.crashed, "The emulator crashed: the machine has stopped (the message says why).");
    case "disposed":
      return view(STAGE_WORDS.disposed, "Stopped.");
  }
}

/** describeStatus of a session's status: its machine's, as the session sees it (settling, how it came to be ready). */
export function describeSessionStatus(status: SessionStatus): StatusView {
  return describeStatus(status.machine, {
    settling: status.settling,
    keepingBoot: status.keepingBoot,
    downloading: status.downloading,
    ...(status.readyDetail === undefined ? {} : { readyDetail: status.readyDetail }),
    ...(status.detail === undefined ? {} : { detail: status.detail }),
    ...(status.guestKind === undefined ? {} : { guestKind: status.guestKind }),
  });
}

/** How a run of a machine began, for the line that starts its terminal. */
export type RunStart =
  | { readonly kind: "boot" | "cold-boot" | "pre-booted" | "boot-cache" | "reset" | "reboot" }
  | { readonly kind: "snapshot"; readonly name: string }
  /** A running machine moved here from another tab (its console's past stayed there). */
  | { readonly kind: "arrived"; readonly fromTab: string };

const RUN_START_WORDS: Readonly<Record<Exclude<RunStart["kind"], "snapshot" | "arrived">, string>> = {
  boot: "boot",
  "cold-boot": "cold boot",
  "pre-booted": "pre-booted state",
  "boot-cache": "saved boot",
  reset: "reset",
  reboot: "reboot",
};

/**
 * The line a cleared terminal starts with, so what follows is never taken for the previous
 * run's (another machine's, or before a reboot): "── <machine> · cold boot ──".
 */
export function runDivider(machineName: string, start: RunStart): string {
  const how = start.kind === "snapshot" ? `snapshot "${start.name}"` : start.kind === "arrived" ? `moved here from tab ${start.fromTab}, running` : RUN_START_WORDS[start.kind];
  return `── ${machineName.trim() || "machine"} · ${how} ──`;
}
