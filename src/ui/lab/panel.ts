/**
 * The device panel: flip the machine's devices (a restart), run the lab's benchmarks on both
 * models, show MB/s or MIPS with spread, the paravirtual/emulated ratio, a chart and seed 004's
 * KVM figures, and keep the history. All measuring and shaping is in src/core/lab.
 */
import {
  AppError,
  Machine,
  V86_PACKAGE_VERSION,
  defaultGuest,
  fetchAssetLoader,
  maxBalloonMiB,
  openIndexedDbStore,
  systemClock,
  type DeviceProfile,
  type GuestManifest,
} from "../../core/index.ts";
import { createWorkerBackendFactory } from "../workerBackend.ts";
import {
  LAB_DATABASE,
  LAB_STORE,
  LabHistory,
  LabRunner,
  PAIRS,
  comparison,
  formatRatio,
  formatSize,
  formatValue,
  pairById,
  reportsToCsv,
  type LabReport,
  type PairId,
  type SizePreset,
  type WorkloadResult,
} from "../../core/lab/index.ts";
import { barChart } from "./chart.ts";

export interface LabHost {
  profile(): DeviceProfile;
  restartWith(profile: DeviceProfile): Promise<void>;
  machine(): Machine | undefined;
  guestBase(): string;
  loadGuestManifest(base: string): Promise<GuestManifest>;
  wasmUrl(): string;
  report(error: unknown): void;
}

/** A change to the profile; `undefined` removes an optional device. */
type ProfilePatch = { readonly [K in keyof DeviceProfile]?: DeviceProfile[K] | undefined };

interface Toggle {
  readonly id: string;
  readonly title: string;
  readonly options: readonly { readonly value: string; readonly label: string; readonly driver: string; readonly patch: ProfilePatch }[];
  current(profile: DeviceProfile): string;
}

const NO_STORAGE: ProfilePatch = { scratchDiskMiB: undefined, share9p: undefined };

/** The user's machine's toggles, built from the lab's pairs (same words as the benchmarks). */
const TOGGLES: readonly Toggle[] = [
  {
    id: "nic",
    title: "Network card",
    options: [
      { value: "none", label: "none", driver: "No network card: the guest has no network at all.", patch: { nic: "none" } },
      { value: "ne2k", label: pairById("network").emulated.label, driver: pairById("network").emulated.driver, patch: { nic: "ne2k" } },
      { value: "virtio", label: pairById("network").paravirtual.label, driver: pairById("network").paravirtual.driver, patch: { nic: "virtio" } },
    ],
    current: (p) => p.nic,
  },
  {
    id: "console",
    title: "Console",
    options: [
      { value: "uart", label: pairById("console").emulated.label, driver: pairById("console").emulated.driver, patch: { console: "uart" } },
      { value: "virtio", label: pairById("console").paravirtual.label, driver: pairById("console").paravirtual.driver, patch: { console: "virtio" } },
    ],
    current: (p) => p.console,
  },
  {
    id: "storage",
    title: "Lab storage",
    options: [
      { value: "none", label: "none", driver: "No lab storage device.", patch: NO_STORAGE },
      { value: "ide", label: "IDE scratch disk (blank, 64 MiB)", driver: pairById("storage").emulated.driver, patch: { ...NO_STORAGE, scratchDiskMiB: 64 } },
      { value: "9p", label: "virtio-9p share (mount -t 9p host9p /mnt)", driver: pairById("storage").paravirtual.driver, patch: { ...NO_STORAGE, share9p: true } },
    ],
    current: (p) => (p.share9p === true ? "9p" : p.scratchDiskMiB !== undefined ? "ide" : "none"),
  },
  {
    id: "cpu",
    title: "CPU",
    options: [
      { value: "jit", label: pairById("cpu").paravirtual.label, driver: pairById("cpu").paravirtual.driver, patch: { cpu: "jit" } },
      { value: "interpreter", label: pairById("cpu").emulated.label, driver: pairById("cpu").emulated.driver, patch: { cpu: "interpreter" } },
    ],
    current: (p) => p.cpu,
  },
  {
    id: "balloon",
    title: "Memory balloon",
    options: [
      { value: "off", label: "none", driver: "The guest keeps all the memory it booted with until it is switched off.", patch: { balloon: undefined } },
      {
        value: "on",
        label: "virtio-balloon",
        driver: "The guest's virtio_balloon driver hands pages to the host when asked and takes them back later: memory changes while the machine runs.",
        patch: { balloon: true },
      },
    ],
    current: (p) => (p.balloon === true ? "on" : "off"),
  },
];

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<Record<string, string>> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) if (value !== undefined) node.setAttribute(key, value);
  node.append(...children);
  return node;
}

/** Remove undefined fields, so "no storage" really leaves the profile without the optional devices. */
function cleanProfile(profile: ProfilePatch & DeviceProfile): DeviceProfile {
  return Object.fromEntries(Object.entries(profile).filter(([, v]) => v !== undefined)) as unknown as DeviceProfile;
}

export class LabPanel {
  private readonly history = new LabHistory(openIndexedDbStore(LAB_DATABASE, LAB_STORE));
  private running = false;
  private readonly toggles: HTMLElement;
  private readonly runButtons: HTMLButtonElement[] = [];
  private readonly progress: HTMLElement;
  private readonly results: HTMLElement;
  private readonly historyList: HTMLElement;
  private readonly preset: HTMLSelectElement;
  private readonly balloonRow = el("div", { class: "lab-run", "data-testid": "balloon" });

  constructor(
    private readonly container: HTMLElement,
    private readonly host: LabHost,
  ) {
    this.toggles = el("div", { class: "lab-toggles" });
    this.preset = el(
      "select",
      { "data-testid": "lab-preset", "aria-label": "Workload size" },
      el("option", { value: "standard" }, "standard sizes (1–16 MiB)"),
      el("option", { value: "quick" }, "quick sizes (64 KiB–1 MiB)"),
    );
    this.progress = el("p", { class: "lab-progress", "data-testid": "lab-progress", "aria-live": "polite" });
    this.results = el("div", { class: "lab-results", "data-testid": "lab-results" });
    this.historyList = el("ul", { class: "lab-history", "data-testid": "lab-history" });
    const runRow = el("div", { class: "lab-run" });
    for (const pair of PAIRS) runRow.append(this.runButton(`${pair.title}: ${pair.sideNames.emulated} vs ${pair.sideNames.paravirtual}`, [pair.id], `lab-run-${pair.id}`));
    runRow.append(this.runButton("Run all", PAIRS.map((p) => p.id), "lab-run-all"), this.preset);
    const exportJson = el("button", { type: "button", "data-testid": "lab-export-json" }, "Export JSON");
    exportJson.addEventListener("click", () => void this.exportHistory("json"));
    const exportCsv = el("button", { type: "button", "data-testid": "lab-export-csv" }, "Export CSV");
    exportCsv.addEventListener("click", () => void this.exportHistory("csv"));
    const clear = el("button", { type: "button" }, "Clear history");
    clear.addEventListener("click", () => void this.clearHistory());
    container.replaceChildren(
      el("h2", {}, "Device lab"),
      el("p", { class: "lab-note" }, "Changing hardware restarts the machine: a running machine's state cannot move to other devices. After the restart the guest's init finds the devices on the PCI bus and loads their drivers."),
      this.toggles,
      this.balloonRow,
      el("h3", {}, "Benchmarks"),
      el("p", { class: "lab-note" }, "Each benchmark boots a machine per model in the background (your machine pauses meanwhile), runs the same workload after a warm-up 3 times, and checks byte counts and checksums."),
      runRow,
      this.progress,
      this.results,
      el("h3", {}, "History"),
      el("div", { class: "lab-run" }, exportJson, exportCsv, clear),
      this.historyList,
    );
    this.renderToggles();
    void this.renderHistory();
  }

  /** Show the machine's hardware again (another machine, or a shared link's devices). */
  showProfile(): void {
    this.renderToggles();
  }

  /** With a balloon: a size to ask for and what the guest has handed over. */
  private renderBalloon(profile: DeviceProfile): void {
    this.balloonRow.hidden = profile.balloon !== true;
    if (profile.balloon !== true) return;
    const size = el("input", { type: "number", min: "0", max: String(maxBalloonMiB(profile)), step: "16", value: "64", "data-testid": "balloon-mib", "aria-label": "Balloon size in MiB" });
    const reading = el("span", { "data-testid": "balloon-reading", "aria-live": "polite" });
    const show = (): void => {
      const now = this.host.machine()?.balloon();
      reading.textContent = now === undefined ? "" : `The guest has handed ${now.actualMiB} MiB of its ${profile.memoryMiB} MiB to the host.`;
    };
    const set = el("button", { type: "button", "data-testid": "balloon-set" }, "Set balloon size");
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
    this.balloonRow.replaceChildren(el("label", {}, "Balloon ", size, " MiB"), set, reading);
    show();
  }

  private renderToggles(): void {
    const profile = this.host.profile();
    this.renderBalloon(profile);
    this.toggles.replaceChildren();
    for (const toggle of TOGGLES) {
      const fieldset = el("fieldset", { "data-toggle": toggle.id }, el("legend", {}, toggle.title));
      const current = toggle.current(profile);
      for (const option of toggle.options) {
        const input = el("input", { type: "radio", name: `lab-${toggle.id}`, value: option.value, "data-testid": `lab-${toggle.id}-${option.value}` });
        input.checked = option.value === current;
        input.addEventListener("change", () => void this.changeHardware(toggle, option.patch));
        fieldset.append(el("label", {}, input, ` ${option.label}`, el("small", {}, option.driver)));
      }
      this.toggles.append(fieldset);
    }
  }

  private async changeHardware(toggle: Toggle, patch: ProfilePatch): Promise<void> {
    const profile = cleanProfile({ ...this.host.profile(), ...patch } as ProfilePatch & DeviceProfile);
    this.progress.textContent = `${toggle.title} changed: restarting the machine with new hardware…`;
    try {
      await this.host.restartWith(profile);
    } catch (error) {
      this.host.report(error);
    }
    this.renderToggles();
  }

  private runButton(label: string, pairs: PairId[], testId: string): HTMLButtonElement {
    const button = el("button", { type: "button", "data-testid": testId }, label);
    button.addEventListener("click", () => void this.run(pairs));
    this.runButtons.push(button);
    return button;
  }

  private async run(pairs: PairId[]): Promise<void> {
    try {
      await this.runPairs(pairs, this.preset.value as SizePreset);
    } catch (error) {
      this.host.report(error);
    }
  }

  /** Measure these pairs (the buttons, and lessons' benchmark steps): shown, kept in history, returned. */
  async runPairs(pairs: readonly PairId[], preset: SizePreset): Promise<LabReport> {
    if (this.running) throw new AppError("lab-failed", "A benchmark is already running: wait for it to finish.");
    this.running = true;
    for (const b of this.runButtons) b.disabled = true;
    const own = this.host.machine();
    const resume = own !== undefined && own.status.running && (own.status.stage === "ready" || own.status.stage === "booting");
    try {
      if (resume) await own.pause();
      const base = this.host.guestBase();
      const guest = defaultGuest(await this.host.loadGuestManifest(base), base);
      const runner = new LabRunner({
        createMachine: (profile) => new Machine({ profile, guest, wasm: { name: "v86.wasm", url: this.host.wasmUrl() }, loader: fetchAssetLoader, backend: createWorkerBackendFactory() }),
        clock: systemClock,
        host: navigator.userAgent,
        v86: V86_PACKAGE_VERSION,
      });
      runner.onProgress((p) => {
        this.progress.textContent = `Machine ${p.machine} of ${p.machines}: ${p.text}…`;
      });
      let report: LabReport;
      try {
        report = await runner.run({ pairs, preset });
      } finally {
        runner.dispose();
      }
      this.progress.textContent = `Done: ${report.results.length} workload(s), ${report.preset} sizes.`;
      this.renderReport(report);
      try {
        await this.history.add(report);
      } catch (error) {
        this.host.report(error);
      }
      await this.renderHistory();
      return report;
    } catch (error) {
      this.progress.textContent = "The benchmark failed.";
      throw error;
    } finally {
      if (resume) await own.resume().catch((error: unknown) => this.host.report(error));
      this.running = false;
      for (const b of this.runButtons) b.disabled = false;
    }
  }

  private renderReport(report: LabReport): void {
    this.results.replaceChildren(...report.results.map((r) => this.renderResult(r)));
  }

  private renderResult(result: WorkloadResult): HTMLElement {
    const pair = pairById(result.pair);
    const runs = [result.emulated, result.paravirtual, ...result.variants];
    const table = el(
      "table",
      {},
      el("tr", {}, ...["model", "median", "spread (min–max)", "runs", `ratio (${pair.sideNames.paravirtual}/${pair.sideNames.emulated})`, "KVM (% of native)", "data"].map((h) => el("th", {}, h))),
      ...runs.map((run) => {
        const isEmulated = run.side === "emulated";
        const kvm = pair.kvm === undefined ? "–" : isEmulated ? `${pair.kvm.emulated}% ${pair.kvm.emulatedLabel}` : run.variant === undefined ? `${pair.kvm.paravirtual}% ${pair.kvm.paravirtualLabel}` : "";
        return el(
          "tr",
          { "data-side": run.side },
          el("td", {}, run.variant ?? run.label),
          el("td", {}, formatValue(run.summary.median, result.unit)),
          el("td", {}, `${(run.summary.spread * 100).toFixed(0)}% (${formatValue(run.summary.min, result.unit)}–${formatValue(run.summary.max, result.unit)})`),
          el("td", {}, String(run.summary.runs)),
          el("td", { "data-testid": isEmulated ? undefined : run.variant === undefined ? "lab-ratio" : undefined }, isEmulated ? "1×" : formatRatio(run.summary.median / result.emulated.summary.median)),
          el("td", {}, kvm),
          el("td", { title: run.integrity.filter((c) => !c.ok).map((c) => `${c.what}: expected ${c.expected}, got ${c.actual}`).join("\n") }, run.ok ? `✓ ${run.integrity.length} checks` : "✗ failed"),
        );
      }),
    );
    const kvmRatio = result.kvmRatio === undefined ? "" : ` KVM: ${formatRatio(result.kvmRatio)}.`;
    const words = comparison(result);
    return el(
      "section",
      { class: "lab-result", "data-workload": result.workload },
      el("h4", {}, `${pair.title}: ${result.title} (${formatSize(result)}) — ratio ${formatRatio(result.ratio)}.${kvmRatio}`),
      barChart(runs.map((run) => ({ label: run.variant ?? run.label, value: run.summary.median, min: run.summary.min, max: run.summary.max, emulated: run.side === "emulated" })), result.unit),
      table,
      ...(words === undefined ? [] : [el("p", { class: "lab-note" }, words)]),
      ...(pair.kvm === undefined ? [] : [el("p", { class: "lab-note" }, `Seed 004 (KVM, % of native): ${pair.kvm.emulatedLabel} ${pair.kvm.emulated}%, ${pair.kvm.paravirtualLabel} ${pair.kvm.paravirtual}%. ${pair.kvm.note}`)]),
    );
  }

  private async renderHistory(): Promise<void> {
    try {
      const reports = await this.history.list();
      this.historyList.replaceChildren(
        ...reports.map((report) => {
          const button = el("button", { type: "button" }, "show");
          button.addEventListener("click", () => this.renderReport(report));
          const ratios = report.results.map((r) => `${r.workload} ${formatRatio(r.ratio)}`).join(", ");
          return el("li", {}, `${new Date(report.finishedAt).toLocaleString()} · ${report.preset} · ${ratios} `, button);
        }),
      );
    } catch (error) {
      this.historyList.replaceChildren(el("li", {}, "History unavailable (the browser refused storage)."));
      this.host.report(error);
    }
  }

  private async exportHistory(format: "json" | "csv"): Promise<void> {
    try {
      const reports = await this.history.list();
      const text = format === "json" ? JSON.stringify(reports, null, 2) : reportsToCsv(reports);
      const url = URL.createObjectURL(new Blob([text], { type: format === "json" ? "application/json" : "text/csv" }));
      const link = el("a", { href: url, download: `virtlab-lab.${format}` });
      link.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (error) {
      this.host.report(error);
    }
  }

  private async clearHistory(): Promise<void> {
    try {
      await this.history.clear();
    } catch (error) {
      this.host.report(error);
    }
    await this.renderHistory();
  }
}
