/**
 * The status bar and the start-up progress: the only writer of the stage word, run state, MIPS,
 * the progress strip and the progress line. It renders the session's status (describeStatus is
 * the one function from a status to words) and its download progress.
 */
import { describeSessionStatus, type Disposable, type MachineSession, type MachineStatus, type SessionStatus } from "../core/index.ts";

function byId(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`The page is missing #${id}.`);
  return el;
}

const STEPS = ["downloading", "booting", "ready"];

export class StatusBar implements Disposable {
  private readonly listeners: Disposable[];
  private readonly stage = byId("status-stage");
  private readonly run = byId("status-run");
  private readonly mips = byId("status-mips");
  private readonly progress = byId("progress");
  private readonly text = byId("progress-text");
  private readonly fill = byId("progress-fill");

  constructor(
    private readonly session: MachineSession,
    /** Called after each render with the status as the user sees it (buttons follow it). */
    private readonly rendered: (status: MachineStatus) => void,
  ) {
    this.listeners = [
      session.onStatus((status) => this.render(status)),
      session.onProgress(({ fraction }) => {
        this.fill.style.width = `${Math.round(fraction * 100)}%`;
      }),
    ];
  }

  /** Draw `status` (default: the session's now); returns it with the stage as the user sees it. */
  render(status: SessionStatus = this.session.status): MachineStatus {
    // One truth: the stage word and the progress line both come from the core's status.
    // A restored machine is "ready" for the core at once; for the user once it has settled.
    const view = describeSessionStatus(status);
    const shown: MachineStatus = { ...status.machine, stage: view.stage };
    this.stage.textContent = view.stageText;
    this.stage.dataset["stage"] = shown.stage;
    const live = shown.stage === "booting" || shown.stage === "ready";
    this.run.textContent = live ? (shown.running ? "running" : "paused") : "–";
    this.mips.textContent = shown.mips === undefined ? "– MIPS" : `${shown.mips.toFixed(1)} MIPS`;
    const current = view.step === undefined ? -1 : STEPS.indexOf(view.step);
    for (const step of this.progress.querySelectorAll<HTMLElement>("[data-step]")) {
      const mine = STEPS.indexOf(step.dataset["step"] ?? "");
      step.className = mine < current ? "done" : mine === current ? "current" : "";
    }
    this.text.textContent = view.progressText;
    if (view.complete) this.fill.style.width = "100%";
    this.progress.dataset["stage"] = shown.stage;
    this.rendered(shown);
    return shown;
  }

  dispose(): void {
    for (const l of this.listeners) l.dispose();
  }
}
