/**
 * The device panel: flip the machine's devices (a restart), run the lab's benchmarks on both
 * models, show MB/s or MIPS with spread, the paravirtual/emulated ratio, a chart and seed 004's
 * KVM figures, and keep the history. All measuring, shaping and the hardware choices are in
 * src/core/lab; the results are drawn by report.ts, the history by history.ts.
 */
import { AppError, V86_PACKAGE_VERSION, maxBalloonMiB, startScratch, type DeviceProfile, type Machine, type Disposable, type MachineSession, type StartOutcome, type StatusView } from "../../core/index.ts";
import {
  HARDWARE_TOGGLES,
  LabRunner,
  labMachinesAtOnce,
  PAIRS,
  whilePaused,
  withHardware,
  type HardwareToggle,
  type LabReport,
  type PairId,
  type SizePreset,
} from "../../core/lab/index.ts";
import { h } from "../kit/dom.ts";
import { LabHistoryView } from "./history.ts";
import { renderReport } from "./report.ts";
import { pageClock } from "../pageClock.ts";

export interface LabHost {
  profile(): DeviceProfile;
  /** How the start ended (undefined: it did not begin; the page says why). */
  restartWith(profile: DeviceProfile): Promise<StartOutcome | undefined>;
  /** The page's machine as the status bar shows it, and when that changes. */
  status(): StatusView;
  onStatus(listener: () => void): Disposable;
  machine(): Machine | undefined;
  /** A session for a machine that keeps nothing, made like the page's (its backend, its guest). */
  scratchSession(): MachineSession;
  report(error: unknown): void;
}

export class LabPanel {
  private running = false;
  private readonly toggles = h("div", { class: "lab-toggles" });
  private readonly runButtons: HTMLButtonElement[] = [];
  private readonly progress = h("p", { class: "lab-progress", "data-testid": "lab-progress", "aria-live": "polite" });
  private readonly results = h("div", { class: "lab-results", "data-testid": "lab-results" });
  private readonly history: LabHistoryView;
  private readonly preset = h(
    "select",
    { "data-testid": "lab-preset", "aria-label": "Workload size" },
    h("option", { value: "standard" }, "standard sizes (1–16 MiB)"),
    h("option", { value: "quick" }, "quick sizes (64 KiB–1 MiB)"),
  );
  private readonly balloonRow = h("div", { class: "lab-run", "data-testid": "balloon" });

  constructor(
    container: HTMLElement,
    private readonly host: LabHost,
  ) {
    this.history = new LabHistoryView((report) => this.results.replaceChildren(...renderReport(report)), host.report);
    const runRow = h("div", { class: "lab-run" });
    for (const pair of PAIRS) runRow.append(this.runButton(`${pair.title}: ${pair.sideNames.emulated} vs ${pair.sideNames.paravirtual}`, [pair.id], `lab-run-${pair.id}`));
    runRow.append(this.runButton("Run all", PAIRS.map((p) => p.id), "lab-run-all"), this.preset);
    container.replaceChildren(
      h("h2", {}, "Device lab"),
      h("p", { class: "lab-note" }, "Changing hardware restarts the machine: a running machine's state cannot move to other devices. After the restart the guest's init finds the devices on the PCI bus and loads their drivers."),
      this.toggles,
      this.balloonRow,
      h("h3", {}, "Benchmarks"),
      h("p", { class: "lab-note" }, "Each benchmark starts a machine per model in the background (your machine pauses meanwhile; the first time it boots, and its boot is kept in this browser so the next run restores it), runs the same workload 3 times after a warm-up (longer while the runs still get faster, as the emulator's JIT warms up), and checks byte counts and checksums."),
      runRow,
      this.progress,
      this.results,
      ...this.history.elements(),
    );
    this.renderToggles();
    void this.history.render();
  }

  /** Show the machine's hardware again (another machine, or a shared link's devices). */
  showProfile(): void {
    this.renderToggles();
  }

  /** With a balloon: a size to ask for and what the guest has handed over. */
  private renderBalloon(profile: DeviceProfile): void {
    this.balloonRow.hidden = profile.balloon !== true;
    if (profile.balloon !== true) return;
    const size = h("input", { type: "number", min: "0", max: String(maxBalloonMiB(profile)), step: "16", value: "64", "data-testid": "balloon-mib", "aria-label": "Balloon size in MiB" });
    const reading = h("span", { "data-testid": "balloon-reading", "aria-live": "polite" });
    const show = (): void => {
      const now = this.host.machine()?.balloon();
      reading.textContent = now === undefined ? "" : `The guest has handed ${now.actualMiB} MiB of its ${profile.memoryMiB} MiB to the host.`;
    };
    const set = h("button", { type: "button", "data-testid": "balloon-set" }, "Set balloon size");
    set.addEventListener("click", () => {
      const machine = this.host.machine();
      if (machine === undefined) return;
      set.disabled = true;
      reading.textContent = "Asking the guest…";
      machine
        .setBalloon(Number(size.value))
        .then(({ ms }) => {
          show();
          reading.textContent += ` (${Math.round(ms)} ms)`;
        })
        .catch((error: unknown) => {
          show();
          this.host.report(error);
        })
        .finally(() => {
          set.disabled = false;
        });
    });
    this.balloonRow.replaceChildren(h("label", {}, "Balloon ", size, " MiB"), set, reading);
    show();
  }

  private renderToggles(): void {
    const profile = this.host.profile();
    this.renderBalloon(profile);
    this.toggles.replaceChildren(
      ...HARDWARE_TOGGLES.map((toggle) => {
        const current = toggle.current(profile);
        return h(
          "fieldset",
          { "data-toggle": toggle.id },
          h("legend", {}, toggle.title),
          ...toggle.options.map((option) => {
            const input = h("input", { type: "radio", name: `lab-${toggle.id}`, value: option.value, "data-testid": `lab-${toggle.id}-${option.value}`, checked: option.value === current });
            input.addEventListener("change", () => void this.changeHardware(toggle, option));
            return h("label", {}, input, ` ${option.label}`, h("small", {}, option.driver));
          }),
        );
      }),
    );
  }

  private async changeHardware(toggle: HardwareToggle, option: HardwareToggle["options"][number]): Promise<void> {
    this.stopFollowing();
    const change = ++this.changes;
    this.progress.textContent = `${toggle.title} changed to ${option.label}: restarting the machine…`;
    let outcome: StartOutcome | undefined;
    try {
      outcome = await this.host.restartWith(withHardware(this.host.profile(), option.patch));
    } catch (error) {
      this.host.report(error);
    }
    this.renderToggles();
    // A later change (or run) has the line now.
    if (change !== this.changes) return;
    // A start that did not happen has the page's own message.
    if (outcome?.kind !== "started") {
      this.progress.textContent = "";
      return;
    }
    // A boot from scratch goes on after its start: the line says what the status bar says (the
    // user is down here, not at the bar) until the machine is the user's, then how it came to be.
    const show = (): void => {
      const view = this.host.status();
      this.progress.textContent = view.underway ? `${toggle.title} changed to ${option.label}: ${view.progressText}` : `${toggle.title}: ${option.label}. ${view.progressText}`;
      if (!view.underway) this.stopFollowing();
    };
    this.following = this.host.onStatus(show);
    show();
  }

  /** The status the line follows after a hardware change; said until the next change or run. */
  private following: Disposable | undefined;
  /** Hardware changes and runs begun, so a change that ended late leaves a newer line alone. */
  private changes = 0;

  private stopFollowing(): void {
    this.following?.dispose();
    this.following = undefined;
  }

  private runButton(label: string, pairs: PairId[], testId: string): HTMLButtonElement {
    const button = h("button", { type: "button", "data-testid": testId }, label);
    button.addEventListener("click", () => void this.runPairs(pairs, this.preset.value as SizePreset).catch(this.host.report));
    this.runButtons.push(button);
    return button;
  }

  /** Measure these pairs (the buttons, and lessons' benchmark steps): shown, kept in history, returned. */
  async runPairs(pairs: readonly PairId[], preset: SizePreset): Promise<LabReport> {
    if (this.running) throw new AppError("lab-failed", "A benchmark is already running: wait for it to finish.");
    this.stopFollowing();
    this.changes++;
    this.setRunning(true);
    try {
      const report = await whilePaused(this.host.machine(), () => this.measure(pairs, preset), this.host.report);
      this.progress.textContent = `Done: ${report.results.length} workload(s), ${report.preset} sizes${atOnceText(report.machinesAtOnce)}.`;
      this.results.replaceChildren(...renderReport(report));
      await this.history.add(report);
      return report;
    } catch (error) {
      this.progress.textContent = "The benchmark failed.";
      throw error;
    } finally {
      this.setRunning(false);
    }
  }

  private setRunning(running: boolean): void {
    this.running = running;
    for (const b of this.runButtons) b.disabled = running;
  }

  private async measure(pairs: readonly PairId[], preset: SizePreset): Promise<LabReport> {
    const runner = new LabRunner({
      // Which machine the lab boots is the core's (session/scratch.ts): one session per machine.
      // Kept boots: the second Run all restores each machine instead of booting it.
      startMachine: (profile) => startScratch(this.host.scratchSession(), profile, { keptBoots: true }),
      clock: pageClock(),
      host: navigator.userAgent,
      v86: V86_PACKAGE_VERSION,
      // Each machine runs in a Worker of its own: the core decides how many at once from the cores.
      machinesAtOnce: labMachinesAtOnce(navigator.hardwareConcurrency),
    });
    runner.onProgress((p) => {
      this.progress.textContent = `Machine ${p.machine} of ${p.machines}: ${p.text}…`;
    });
    try {
      return await runner.run({ pairs, preset });
    } finally {
      runner.dispose();
    }
  }
}

/** ", 2 machines at once" for a report whose machines ran together. */
function atOnceText(machines: number | undefined): string {
  return machines !== undefined && machines > 1 ? `, ${machines} machines at once` : "";
}
