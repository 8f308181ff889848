/** What a lesson step can do on the page: each host call goes to the session's machine or a panel. */
import {
  AppError,
  addressWalk,
  balloonOutcome,
  jitSwitchStep,
  pageTableWorkload,
  runNetworkStep,
  trapsStep,
  type Machine,
} from "../../core/index.ts";
import { describeProfile } from "../../core/lab/index.ts";
import type { LabPanel } from "../lab/panel.ts";
import type { NetworkPanel } from "../network/NetworkPanel.ts";
import type { AddressWalkView } from "../microscope/AddressWalkView.ts";
import type { SnapshotPanel } from "../snapshots/SnapshotPanel.ts";
import type { Shell } from "../shell.ts";
import { formatBytes } from "../storage/guests.ts";
import type { LessonHost } from "./LessonPanel.ts";
import { pageClock } from "../pageClock.ts";

export interface LessonPanels {
  readonly lab: LabPanel | undefined;
  readonly snapshots: SnapshotPanel | undefined;
  readonly addressWalk: AddressWalkView | undefined;
  readonly network: NetworkPanel | undefined;
  changed(at: { readonly id: string; readonly step: number } | undefined): void;
}

/** How long a devices step waits for a boot from scratch (a first switch takes 10-13 s on two cores). */
const DEVICES_STEP_DEADLINE_MS = 240_000;

export function lessonHost(shell: Shell, panels: () => LessonPanels): LessonHost {
  const machine = (): Machine => {
    const running = shell.session.machine;
    if (running === undefined) throw new AppError("not-running", "There is no running machine for this step.");
    return running;
  };
  return {
    run: async (command, timeoutMs) => machine().run(command, { timeoutMs }),
    setDevices: async (devices) => {
      const outcome = await shell.restartWith({ ...shell.profile, ...devices });
      // Hardware used before here restores in a second; the first time it boots, which goes on
      // after the start: the step ends when the machine is the student's, and says how it came to be.
      const settled = outcome?.kind === "started" ? await shell.session.whenSettled(DEVICES_STEP_DEADLINE_MS) : undefined;
      const status = shell.session.machine?.status;
      if (status === undefined || status.error !== undefined) throw new AppError("lesson-failed", "The machine did not start with the new hardware (the message above says why).");
      panels().lab?.showProfile();
      return `The machine restarted with ${describeProfile(shell.profile)}, ${shell.profile.memoryMiB} MiB of memory${settled?.readyDetail === undefined ? "" : ` (${settled.readyDetail})`}.`;
    },
    benchmark: async (pairs, size) => {
      const lab = panels().lab;
      if (lab === undefined) throw new AppError("lesson-failed", "This page has no device lab.");
      return lab.runPairs(pairs, size);
    },
    saveSnapshot: async (name) => {
      const record = await panels().snapshots?.save(name);
      if (record === undefined) throw new AppError("lesson-failed", "Another snapshot is being saved: try again when it is done.");
      return `Saved the snapshot "${record.name}" (${formatBytes(record.size)}): memory, devices and disks at this instant.`;
    },
    restoreSnapshot: async (name) => {
      const snapshots = panels().snapshots;
      if (snapshots === undefined) throw new AppError("lesson-failed", "This page has no snapshots.");
      const started = performance.now();
      await snapshots.restoreByName(name);
      return `Restored "${name}" in ${Math.round(performance.now() - started)} ms: the machine is back at the instant it was saved.`;
    },
    balloon: async (mib) => {
      const running = machine();
      if (shell.profile.balloon !== true) throw new AppError("lesson-failed", "This machine has no balloon device: the lesson's earlier step that adds one turns it on.");
      const outcome = balloonOutcome(await running.setBalloon(mib), shell.profile.memoryMiB);
      panels().lab?.showProfile();
      return outcome;
    },
    addressWalk: async (target) => {
      const result = await addressWalk(machine(), target, pageClock(), 120_000);
      panels().addressWalk?.show(result);
      return result.outcome;
    },
    pageTables: async (command, timeoutMs) => (await pageTableWorkload(machine(), command, pageClock(), timeoutMs)).outcome,
    traps: async (command, timeoutMs, bytes) => (await trapsStep(machine(), command, timeoutMs, bytes)).outcome,
    jitSwitch: async (command, timeoutMs) => (await jitSwitchStep(machine(), command, pageClock(), timeoutMs)).outcome,
    network: async (step) => {
      // The lesson acts on the lab the page shows: its panel opens so the machines and packets are in view.
      const panel = panels().network;
      if (panel !== undefined && !panel.open) panel.setOpen(true);
      return runNetworkStep(shell.networkLab(), step, pageClock());
    },
    changed: (at) => panels().changed(at),
    notice: (text) => shell.notice(text),
    report: (error) => shell.report(error),
  };
}
