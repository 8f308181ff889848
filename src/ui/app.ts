/**
 * The page: one machine, its terminal, status bar, start-up progress and controls. Renders core
 * state and calls the core; all decisions about the machine live in src/core.
 */
import {
  AppError,
  DEFAULT_MACHINE,
  DEFAULT_MACHINE_ID,
  DEFAULT_PROFILE,
  DisposableStore,
  Machine,
  MarkerFilter,
  lastLineToShow,
  SnapshotStore,
  V86_PACKAGE_VERSION,
  V86_STATE_VERSION,
  addressWalk,
  jitSwitchStep,
  trapsStep,
  balloonOutcome,
  pageTableWorkload,
  systemClock,
  captureSnapshot,
  checkMachineImages,
  DATA_DISK_SLOT,
  decodeSnapshot,
  afterRestoreCommand,
  describeStatus,
  fetchAssetLoader,
  fingerprintDifferences,
  isAppError,
  machineDiskIdentities,
  machineFingerprint,
  openIndexedDbStore,
  parseSetupUrl,
  readSnapshotHeader,
  runDivider,
  restoreSnapshotDisks,
  setupQuery,
  toAppError,
  type DeviceProfile,
  type DownloadProgress,
  type GuestManifest,
  type GuestSpec,
  type ImageRecord,
  type MachineFingerprint,
  type MachineRecord,
  type MachineStatus,
  type SnapshotHeader,
  type RunStart,
  type SnapshotRecord,
} from "../core/index.ts";
import { createWorkerBackendFactory } from "./workerBackend.ts";
import { runOnSecondMachine } from "./secondMachine.ts";
import { ACTIONS, type ActionContext } from "./actions.ts";
import { CrashOffer } from "./crashOffer.ts";
import { LabPanel } from "./lab/panel.ts";
import { describeProfile } from "../core/lab/index.ts";
import { LessonPanel } from "./lessons/LessonPanel.ts";
import { AddressWalkView } from "./microscope/AddressWalkView.ts";
import { MicroscopePanel } from "./microscope/MicroscopePanel.ts";
import { OfflineSupport } from "./offline.ts";
import { browserPreferences, initialFontSize, initialTheme, stepFontSize, type Theme } from "./comfort/preferences.ts";
import { CLIPBOARD_KEYS, formatShortcut, matchShortcut } from "./comfort/shortcuts.ts";
import { keepControlKeys } from "./comfort/controlKeys.ts";
import { toUserMessage } from "./messages.ts";
import { isCursorPositionReport } from "./terminalReplies.ts";
import { DiskBar } from "./storage/DiskBar.ts";
import { formatBytes, guestFor, libraryAssetLoader } from "./storage/guests.ts";
import { LibraryPanel } from "./storage/LibraryPanel.ts";
import { MachinesPanel } from "./storage/MachinesPanel.ts";
import { StorageController, browserEstimate, browserLocks, openBrowserStores } from "./storage/StorageController.ts";
import { machineForSnapshot } from "./snapshots/match.ts";
import { SnapshotPanel, notForThisEmulator } from "./snapshots/SnapshotPanel.ts";
import { SnapshotLinkFlow } from "./snapshots/SnapshotLinkFlow.ts";
import { fetchPrebooted, type StartState } from "./snapshots/prebooted.ts";
import { TerminalView } from "./terminal.ts";
import { VgaView } from "./vgaView.ts";
import type { VirtlabTestProxy } from "./testProxy.ts";

/** Written into snapshots (the header's "app"). */
const APP_VERSION = "0.1.0";

/** Which saved machine the page boots (localStorage: a UI preference, not user data). */
const SELECTED_MACHINE_KEY = "virtlab.machine";

const IDLE: MachineStatus = { stage: "idle", running: false, mips: undefined, error: undefined, shell: "waiting" };

function element<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`The page is missing #${id}.`);
  return el as T;
}

export class App {
  private machine: Machine | undefined;
  private machineStore = new DisposableStore();
  private readonly terminal: TerminalView;
  private readonly buttons = new Map<string, HTMLButtonElement>();
  private vgaVisible = false;
  private readonly errors: string[] = [];
  // --- device lab (issue 5): the hardware the user's machine runs with ---
  private profile: DeviceProfile = DEFAULT_PROFILE;
  private labPanel: LabPanel | undefined;
  private addressWalkView: AddressWalkView | undefined;
  private microscopePanel: MicroscopePanel | undefined;
  // --- end device lab ---
  // --- storage (issue 3): the machine that runs, its disks, the library ---
  private readonly storage = new StorageController(openBrowserStores(), browserLocks());
  private current: MachineRecord = DEFAULT_MACHINE;
  private storageReady: Promise<void> | undefined;
  private diskBar: DiskBar | undefined;
  private library: LibraryPanel | undefined;
  private machinesPanel: MachinesPanel | undefined;
  private guestSize: number | undefined;
  // --- end storage ---
  // --- snapshots (issue 4) ---
  private readonly snapshots = new SnapshotStore(openIndexedDbStore("virtlab-snapshots", "kv"));
  private snapshotPanel: SnapshotPanel | undefined;
  /** The guest the running machine boots (for fingerprints). */
  private guest: GuestSpec | undefined;
  /** A state the next start begins from (a restore), instead of booting. */
  private pendingState: StartState | undefined;
  /** The next start boots from scratch even where a pre-booted state exists. */
  private coldBootNext = false;
  /** How the running machine started: "boot", "pre-booted" or "snapshot". */
  private startedFrom: "boot" | "pre-booted" | "snapshot" = "boot";
  /** A machine started from a saved state runs its set-up command (mount, clock): not ready yet. */
  private settling = false;
  private typedWhileSettling: string[] = [];
  /** A teacher's machine by link (`?snapshot=`). */
  private snapshotLink: SnapshotLinkFlow | undefined;
  /** The start in progress, so a link's machine waits for it before taking over. */
  private lastStart: Promise<void> | undefined;
  /** Why the machine could not start (no emulator runs): the stage stays "failed". */
  private failedStart: MachineStatus | undefined;
  /** Another tab took this machine over: this tab stopped it (stage "stopped", not "failed"). */
  private takenOver = false;
  private shownError: unknown;
  /** How the shell came to be ready, for the progress line (a start from a saved state). */
  private readyDetail: string | undefined;
  /** The latest line about downloading (or why nothing starts), for the progress line. */
  private progressDetail: string | undefined;
  /** How the next run starts (the terminal's first line), and what to say under it. */
  private runStart: RunStart = { kind: "boot" };
  private startNotice: string | undefined;
  // --- end snapshots ---
  // --- classroom (issue 6) ---
  private lessonPanel: LessonPanel | undefined;
  private lessonsVisible = false;
  private readonly notices: string[] = [];
  private theme: Theme = "dark";
  // --- end classroom ---
  /** After a crash: a reset that crashes again at once gets the machines that last ran fine (issue 16). */
  private readonly crashOffer = new CrashOffer(element("crash-offer"), element("error"), {
    machines: () => this.storage.stores.machines.list(),
    boot: (record) => this.selectMachine(record),
    report: (error) => this.showError(error),
  });

  constructor() {
    this.terminal = new TerminalView(element("terminal"));
    this.terminal.onInput((data) => {
      // The terminal's answer to the guest's cursor query must not land in a command virtlab runs.
      if (isCursorPositionReport(data) && (this.settling || this.machine?.runningCommand === true)) return;
      // While a restored machine settles, keys wait here: they must not mix with its set-up command.
      if (this.settling) this.typedWhileSettling.push(data);
      // Paused or not, keys go to the machine: the UART holds them until it runs again.
      else if (this.machine?.status.stage === "booting" || this.machine?.status.stage === "ready") this.machine.write(data);
    });
    this.renderActions();
    this.installComfort();
    this.installTestProxy();
    this.installLabPanel();
    this.installStorage();
    this.installSnapshots();
    this.installLessons();
    this.installAddressWalk();
    new VgaView(element("vga"));
    keepControlKeys(document);
    new OfflineSupport(element("offline"), element("update"), {
      machineRunning: () => this.machine?.status.stage === "ready" || this.machine?.status.stage === "booting",
    }).start();
  }

  // --- classroom (issue 6) ---
  /** Theme and zoom as remembered, the page's Alt+Shift shortcuts, the help overlay, fullscreen. */
  private installComfort(): void {
    this.applyTheme(initialTheme(browserPreferences.get("virtlab.theme"), matchMedia("(prefers-color-scheme: light)").matches));
    this.applyFontSize(initialFontSize(browserPreferences.get("virtlab.zoom")));
    // Capture phase: the page's keys are taken before xterm would send them to the guest.
    window.addEventListener(
      "keydown",
      (event) => {
        const action = matchShortcut(event, ACTIONS);
        if (action === undefined) return;
        event.preventDefault();
        event.stopPropagation();
        if (event.repeat || !action.enabled(this.machine?.status ?? this.failedStart ?? IDLE, this.context)) return;
        void this.runAction(action);
      },
      { capture: true },
    );
    document.addEventListener("fullscreenchange", () => {
      this.terminal.refit();
      this.render(this.machine?.status ?? this.failedStart ?? IDLE);
    });
    const help = element<HTMLDialogElement>("help");
    help.addEventListener("close", () => this.terminal.focus());
    // Esc closes it wherever the focus is inside (a dialog's own Esc handling can be withheld).
    help.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        help.close();
      }
    });
    const rows = [
      ...ACTIONS.filter((a) => a.shortcut !== undefined).map((a) => [formatShortcut(a.shortcut ?? ""), a.label(IDLE, this.context).replace(/^\?$/, "This help"), a.title] as const),
      ...CLIPBOARD_KEYS.map(([keys, what]) => [keys, what, ""] as const),
    ];
    const table = document.createElement("table");
    for (const [keys, label, title] of rows) {
      const tr = table.insertRow();
      const key = document.createElement("kbd");
      key.textContent = keys;
      tr.insertCell().append(key);
      tr.insertCell().textContent = label;
      tr.insertCell().textContent = title;
    }
    element("help-keys").replaceChildren(table);
  }

  private applyTheme(theme: Theme): void {
    this.theme = theme;
    document.documentElement.dataset["theme"] = theme;
    this.terminal.setTheme(theme);
  }

  private applyFontSize(size: number): void {
    this.terminal.setFontSize(size);
    // The rest of the page scales with the terminal, for a projector.
    document.documentElement.style.fontSize = `${(size / 15) * 100}%`;
  }

  private installLessons(): void {
    const container = document.getElementById("lessons");
    if (container === null) return;
    const panel = new LessonPanel(
      container,
      {
        run: (command, timeoutMs) => {
          if (this.machine === undefined) return Promise.reject(new AppError("not-running", "There is no running machine for this step."));
          return this.machine.run(command, { timeoutMs });
        },
        setDevices: async (devices) => {
          await this.restartWith({ ...this.profile, ...devices });
          const status = this.machine?.status;
          if (status === undefined || status.error !== undefined) throw new AppError("lesson-failed", "The machine did not start with the new hardware (the message above says why).");
          this.labPanel?.showProfile();
          return `The machine restarted with ${describeProfile(this.profile)}, ${this.profile.memoryMiB} MiB of memory.`;
        },
        benchmark: (pairs, size) => {
          if (this.labPanel === undefined) return Promise.reject(new AppError("lesson-failed", "This page has no device lab."));
          return this.labPanel.runPairs(pairs, size);
        },
        saveSnapshot: async (name) => {
          const record = await this.snapshotPanel?.save(name);
          if (record === undefined) throw new AppError("lesson-failed", "Another snapshot is being saved: try again when it is done.");
          return `Saved the snapshot "${record.name}" (${formatBytes(record.size)}): memory, devices and disks at this instant.`;
        },
        restoreSnapshot: async (name) => {
          if (this.snapshotPanel === undefined) throw new AppError("lesson-failed", "This page has no snapshots.");
          const started = performance.now();
          await this.snapshotPanel.restoreByName(name);
          return `Restored "${name}" in ${Math.round(performance.now() - started)} ms: the machine is back at the instant it was saved.`;
        },
        balloon: async (mib) => {
          if (this.machine === undefined) throw new AppError("not-running", "There is no running machine for this step.");
          if (this.profile.balloon !== true) throw new AppError("lesson-failed", "This machine has no balloon device: the lesson's earlier step that adds one turns it on.");
          const outcome = balloonOutcome(await this.machine.setBalloon(mib), this.profile.memoryMiB);
          this.labPanel?.showProfile();
          return outcome;
        },
        // --- microscope, memory (issue 13) ---
        addressWalk: async (target) => {
          if (this.machine === undefined) throw new AppError("not-running", "There is no running machine for this step.");
          const result = await addressWalk(this.machine, target, systemClock, 120_000);
          this.addressWalkView?.show(result);
          return result.outcome;
        },
        pageTables: async (command, timeoutMs) => {
          if (this.machine === undefined) throw new AppError("not-running", "There is no running machine for this step.");
          return (await pageTableWorkload(this.machine, command, systemClock, timeoutMs)).outcome;
        },
        traps: async (command, timeoutMs, bytes) => (await trapsStep(this.requireMachine(), command, timeoutMs, bytes)).outcome,
        jitSwitch: async (command, timeoutMs) => (await jitSwitchStep(this.requireMachine(), command, systemClock, timeoutMs)).outcome,
        // --- end microscope, memory ---
        changed: (at) => this.lessonChanged(at),
        notice: (text) => this.showNotice(text),
        report: (error) => this.showError(error),
      },
      new URL("lessons/", document.baseURI).href,
    );
    this.lessonPanel = panel;
    const setup = parseSetupUrl(location.search);
    if (setup.lesson !== undefined) {
      this.setLessonsVisible(true);
      void panel.show(setup.lesson, setup.step);
    }
  }

  private setLessonsVisible(visible: boolean): void {
    this.lessonsVisible = visible;
    element("lessons").hidden = !visible;
    if (visible) void this.lessonPanel?.load();
    this.render(this.machine?.status ?? this.failedStart ?? IDLE);
  }

  /** The address bar follows the open lesson and step, so a reload (or a bookmark) comes back to it. */
  private lessonChanged(at: { readonly id: string; readonly step: number } | undefined): void {
    const url = new URL(location.href);
    if (at === undefined) {
      url.searchParams.delete("lesson");
      url.searchParams.delete("step");
    } else {
      url.searchParams.set("lesson", at.id);
      url.searchParams.set("step", String(at.step));
    }
    if (url.href !== location.href) history.replaceState(history.state, "", url.href);
  }
  // --- end classroom ---

  // --- device lab (issue 5) ---
  /** New hardware means a new machine: a running state cannot move to other devices. */
  async restartWith(profile: DeviceProfile): Promise<void> {
    this.profile = profile;
    await this.start();
  }

  // --- microscope, memory (issue 13) ---
  private requireMachine(): Machine {
    if (this.machine === undefined) throw new AppError("not-running", "There is no running machine for this step.");
    return this.machine;
  }

  private installAddressWalk(): void {
    const container = document.getElementById("address-walk");
    if (container === null) return;
    this.addressWalkView = new AddressWalkView(container, { machine: () => this.machine, report: (error) => this.showError(error) });
    this.microscopePanel = new MicroscopePanel(element("microscope"), { machine: () => this.machine, report: (error) => this.showError(error) });
  }
  // --- end microscope, memory ---

  private installLabPanel(): void {
    const container = document.getElementById("lab");
    if (container === null) return;
    this.labPanel = new LabPanel(container, {
      profile: () => this.profile,
      restartWith: (profile) => this.restartWith(profile),
      machine: () => this.machine,
      guestBase: () => new URL("guest/", document.baseURI).href,
      loadGuestManifest: (base) => this.loadGuestManifest(base),
      wasmUrl: () => new URL("v86/v86.wasm", document.baseURI).href,
      report: (error) => this.showError(error),
    });
  }
  // --- end device lab ---

  /** (Re)start the selected machine with the current device profile. */
  start(): Promise<void> {
    this.lastStart = this.startNow();
    return this.lastStart;
  }

  private async startNow(): Promise<void> {
    this.clearError();
    this.failedStart = undefined;
    this.takenOver = false;
    await this.stopMachine();
    this.progressDetail = undefined;
    this.render(IDLE);
    try {
      this.storageReady ??= this.initStorage();
      await this.storageReady;
      await this.bootMachine(this.current);
    } catch (error) {
      // Another tab took the machine over mid-start: it stopped here, it did not fail.
      if (this.takenOver) return;
      // Nothing runs: the stage says so ("failed", not "starting"), with the reason.
      if (this.machine === undefined) {
        this.failedStart = { ...IDLE, stage: "failed", error: toAppError(error, "emulator-start-failed", "The machine could not start.") };
        this.render(this.failedStart);
      } else this.showError(error);
    }
  }

  // --- storage (issue 3) ---
  /** Boot another saved machine (its own device profile) and remember it for the next visit. */
  async selectMachine(record: MachineRecord): Promise<void> {
    this.current = record;
    this.profile = record.profile;
    try {
      localStorage.setItem(SELECTED_MACHINE_KEY, record.id);
    } catch {
      // Storage blocked: the choice lasts for this page only.
    }
    this.machinesPanel?.render();
    this.labPanel?.showProfile();
    await this.start();
    await this.snapshotPanel?.refresh();
  }

  private async stopMachine(): Promise<void> {
    this.machineStore.dispose();
    this.machineStore = new DisposableStore();
    this.machine?.dispose();
    this.machine = undefined;
    // Pending writes go to IndexedDB before the disks are let go.
    await this.storage.close();
  }

  /** Once per page: collect what interrupted imports and resets left, pick the saved machine. */
  private async initStorage(): Promise<void> {
    await this.storage.collectGarbage().catch((error: unknown) => this.showError(error));
    await this.snapshots.collectGarbage().catch((error: unknown) => this.showError(error));
    let selected: string | null;
    try {
      selected = localStorage.getItem(SELECTED_MACHINE_KEY);
    } catch {
      selected = null;
    }
    // A link may name a machine saved in this browser; otherwise the one used last time.
    const setup = parseSetupUrl(location.search);
    const wanted = setup.machine ?? selected;
    const record = wanted === null ? undefined : await this.storage.stores.machines.get(wanted).catch(() => undefined);
    if (setup.machine !== undefined && record === undefined) this.showNotice(`This browser has no saved machine "${setup.machine}" (machines live in the browser that made them); the default machine starts instead.`);
    // The built-in machine as saved (its disk size may have been edited).
    const chosen = record ?? (await this.storage.stores.machines.get(DEFAULT_MACHINE.id).catch(() => undefined)) ?? DEFAULT_MACHINE;
    this.current = chosen;
    // A shared link's devices and memory apply to this visit (the saved machine is unchanged).
    this.profile = { ...chosen.profile, ...setup.profile };
    if (setup.notices.length > 0) this.showNotice(`Some of the link's settings were ignored: ${setup.notices.join("; ")}. The machine starts with the defaults for those.`);
    this.labPanel?.showProfile();
    await this.library?.refresh();
    await this.machinesPanel?.refresh();
    if (setup.snapshot !== undefined) void this.snapshotLink?.open(setup.snapshot);
  }

  private async bootMachine(record: MachineRecord): Promise<void> {
    const guestBase = new URL("guest/", document.baseURI).href;
    const manifest = await this.loadGuestManifest(guestBase);
    this.guestSize = Object.values(manifest.files).reduce((sum, f) => sum + f.size, 0);
    await checkMachineImages(record, this.storage.stores.images);
    const images = await this.storage.stores.images.list();
    const guest = guestFor(record, manifest, guestBase, images);
    this.guest = guest;
    const prepared = await this.storage.prepare(record);
    if (prepared.kind === "busy") {
      this.diskBar?.showBusy(false);
      this.progressDetail = `${record.name} is open in another tab.`;
      this.render(IDLE);
      return;
    }
    this.diskBar?.hideBanner();
    const initial = await this.startState(record, guestBase, this.fingerprintOf(record, guest, images));
    // Each run starts on a clear terminal whose first line names the machine and how it started.
    this.terminal.startRun(runDivider(record.name, this.runStart));
    if (this.startNotice !== undefined) this.terminal.notice(this.startNotice);
    {
      const machine = new Machine({
        profile: this.profile,
        guest,
        // Served by the app next to the guest (see vite.config.ts), never guessed by v86.
        wasm: { name: "v86.wasm", url: new URL("v86/v86.wasm", document.baseURI).href },
        loader: libraryAssetLoader(this.storage.stores.images, fetchAssetLoader),
        // Each machine's emulator runs in its own Worker (issue 11).
        backend: createWorkerBackendFactory(),
        screenContainer: element("vga"),
        disks: prepared.disks,
        ...(initial === undefined ? {} : { initialState: { state: initial.state, shellReady: initial.shellReady, ...(initial.screen === undefined ? {} : { screen: initial.screen }) } }),
        network: (await this.snapshotLink?.networkFor(record.id)) ?? "on",
      });
      void this.snapshotLink?.showOrigin(record.id);
      this.machine = machine;
      const store = this.machineStore;
      const markers = new MarkerFilter();
      store.add(machine);
      store.add(
        machine.onStatus((status) => {
          if (status.shell !== "ready") this.readyDetail = undefined;
          this.render(status);
        }),
      );
      store.add(machine.onPowerCycle((why) => this.terminal.startRun(runDivider(record.name, { kind: why }))));
      store.add(machine.onDownloadProgress((progress) => this.renderProgress(progress)));
      store.add(
        machine.onOutput((chunk) => {
          if (chunk.port === machine.consolePort) this.terminal.write(markers.filter(chunk.bytes));
        }),
      );
      store.add(
        machine.onShellReady(() => {
          this.terminal.focus();
          this.crashOffer.shellReady(record.id);
        }),
      );
      this.crashOffer.started(record.id);
      store.add(
        machine.onStatus((status) => {
          if (status.stage === "crashed") void this.crashOffer.crashed(record.id);
        }),
      );
      const started = performance.now();
      this.settling = initial !== undefined;
      try {
        await machine.start();
        if (initial !== undefined) await this.afterRestore(machine, initial, started);
      } finally {
        this.settling = false;
        const typed = this.typedWhileSettling.splice(0);
        if (this.machine === machine && machine.status.error === undefined) for (const data of typed) machine.write(data);
        this.render(machine.status);
      }
    }
  }

  private installStorage(): void {
    const report = (error: unknown): void => this.showError(error);
    const stores = this.storage.stores;
    this.diskBar = new DiskBar(element("disks"), {
      controller: this.storage,
      current: () => this.current,
      restart: () => this.start(),
      report,
      resetDisks: async () => {
        this.clearError();
        await this.stopMachine();
        await this.storage.resetDisks(this.current);
        await this.start();
      },
    });
    this.machinesPanel = new MachinesPanel(element("machines"), {
      stores,
      current: () => this.current,
      boot: (record) => this.selectMachine(record),
      report,
      changed: (machines) => this.library?.setMachines(machines),
    });
    this.library = new LibraryPanel(element("library"), {
      stores,
      report,
      builtInSize: () => this.guestSize,
      willStore: () => this.diskBar?.askPersistence(),
      claimDrop: async (file) => (await this.snapshotPanel?.claimDrop(file)) === true,
      changed: (images: readonly ImageRecord[]) => {
        this.machinesPanel?.setImages(images);
        void this.diskBar?.refreshMeter();
      },
    });
    // Another tab took this machine over: stop it here, say so, write nothing more.
    this.storage.onLost(() => {
      this.takenOver = true;
      this.machineStore.dispose();
      this.machineStore = new DisposableStore();
      this.machine?.dispose();
      this.machine = undefined;
      this.render({ ...IDLE, stage: "disposed" });
      this.diskBar?.showBusy(true);
    });
    // A closing or hidden tab writes pending disk pages now, not 200 ms later.
    window.addEventListener("pagehide", () => void this.storage.flush());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") void this.storage.flush();
    });
  }
  // --- end storage ---

  // --- snapshots (issue 4) ---
  private installSnapshots(): void {
    const container = document.getElementById("snapshots");
    if (container === null) return;
    this.snapshotPanel = new SnapshotPanel(container, {
      store: this.snapshots,
      machineId: () => this.current.id,
      save: (name, onProgress) => this.saveSnapshot(name, onProgress),
      import: (file, fileName) => this.importSnapshot(file, fileName),
      restore: (file) => this.restoreSnapshot(file),
      restoreOnMatchingMachine: (file) => this.restoreOnMatchingMachine(file),
      report: (error) => this.showError(error),
    });
    void this.snapshotPanel.refresh();
    this.snapshotLink = new SnapshotLinkFlow(element("disks"), {
      store: this.snapshots,
      estimate: browserEstimate,
      refuse: (header) => notForThisEmulator(header.v86, header.stateVersion, V86_PACKAGE_VERSION, V86_STATE_VERSION),
      check: async (file) => void (await this.checkSnapshot(file)),
      matchingMachine: (header, name) => this.matchingMachine(header, name),
      machine: (id) => this.storage.stores.machines.get(id).catch(() => undefined),
      saveMachine: async (record) => {
        const saved = await this.storage.stores.machines.save(record, await this.storage.stores.images.list());
        await this.machinesPanel?.refresh();
        return saved;
      },
      openOn: (record, file) => this.openSnapshotOn(record, file),
      running: () => this.machine,
      report: (error) => this.showError(error),
    });
  }

  /** Make `record` the page's machine and start it from the snapshot `file` (checked as a restore is). */
  private async openSnapshotOn(record: MachineRecord, file: Uint8Array): Promise<void> {
    await this.lastStart?.catch(() => undefined);
    await this.stopMachine();
    const guestBase = new URL("guest/", document.baseURI).href;
    const manifest = await this.loadGuestManifest(guestBase);
    this.current = record;
    this.profile = record.profile;
    this.guest = guestFor(record, manifest, guestBase, await this.storage.stores.images.list());
    try {
      localStorage.setItem(SELECTED_MACHINE_KEY, record.id);
    } catch {
      // Storage blocked: the choice lasts for this page only.
    }
    this.machinesPanel?.render();
    this.labPanel?.showProfile();
    await this.restoreSnapshot(file);
    await this.snapshotPanel?.refresh();
  }

  private fingerprintOf(record: MachineRecord, guest: GuestSpec, images: readonly ImageRecord[]): MachineFingerprint {
    return machineFingerprint(this.profile, guest, machineDiskIdentities(record, images));
  }

  /** What the next start begins from: a restore in progress, else the pre-booted state, else nothing. */
  private async startState(record: MachineRecord, guestBase: string, fingerprint: MachineFingerprint): Promise<StartState | undefined> {
    const pending = this.pendingState;
    this.pendingState = undefined;
    const cold = this.coldBootNext;
    this.coldBootNext = false;
    this.startedFrom = pending?.from ?? "boot";
    this.readyDetail = undefined;
    this.startNotice = undefined;
    this.runStart = pending !== undefined ? { kind: "snapshot", name: pending.name ?? pending.label } : cold ? { kind: "cold-boot" } : { kind: "boot" };
    if (pending !== undefined || cold || record.id !== DEFAULT_MACHINE_ID) return pending;
    const prebooted = await fetchPrebooted(guestBase, fingerprint, V86_PACKAGE_VERSION, (loaded, total) => {
      this.progressDetail = `Downloading the pre-booted machine: ${(loaded / 1048576).toFixed(1)} of ${(total / 1048576).toFixed(1)} MiB`;
      element("progress-fill").style.width = `${Math.round((loaded / total) * 100)}%`;
      this.render(this.machine?.status ?? IDLE);
    });
    if (prebooted.kind === "none") {
      this.startNotice = `Booting from scratch: ${prebooted.reason}.`;
      return undefined;
    }
    this.startedFrom = "pre-booted";
    this.runStart = { kind: "pre-booted" };
    return prebooted.start;
  }

  /**
   * After a start from a saved state: mount the data disk when the state did not carry it (the
   * pre-booted one), set the guest's clock from the host (it stood still while saved), and clear
   * the terminal (the run's divider, then the prompt) so the user finds a fresh prompt.
   */
  private async afterRestore(machine: Machine, initial: StartState, started: number): Promise<void> {
    if (!machine.shellReady) return;
    const diskBytes = this.storage.disk(DATA_DISK_SLOT)?.byteLength;
    const mountData = initial.mountData ? (diskBytes === undefined ? {} : { diskBytes }) : undefined;
    // Through the guest agent when the guest has one: nothing is typed into the user's shell.
    await machine.housekeep(afterRestoreCommand({ ...(mountData === undefined ? {} : { mountData }), epochSeconds: Date.now() / 1000 }), { timeoutMs: 30_000 });
    // A fresh screen: the run's divider, then the guest's prompt (not the set-up command's echo).
    this.terminal.startRun(runDivider(this.current.name, this.runStart));
    this.terminal.write(new TextEncoder().encode(lastLineToShow(machine.recentOutput())));
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    this.readyDetail = `started from ${initial.label} in ${seconds} s`;
  }

  private async saveSnapshot(name: string, onProgress: (saved: number, total: number) => void): Promise<SnapshotRecord> {
    const machine = this.machine;
    const guest = this.guest;
    if (machine === undefined || guest === undefined || (machine.status.stage !== "ready" && machine.status.stage !== "booting")) {
      throw new AppError("not-running", "There is no running machine to save.");
    }
    const images = await this.storage.stores.images.list();
    const identities = machineDiskIdentities(this.current, images);
    const disks = this.storage.view.slots.flatMap((slot) => {
      const disk = this.storage.disk(slot);
      return disk === undefined ? [] : [{ slot, disk, base: identities[slot]?.base ?? "blank" }];
    });
    this.diskBar?.askPersistence();
    const { parts } = await captureSnapshot(machine, {
      fingerprint: machineFingerprint(this.profile, guest, identities),
      disks,
      app: `virtlab ${APP_VERSION}`,
      v86: V86_PACKAGE_VERSION,
      name,
      createdAt: Date.now(),
      preview: this.terminal.lastLines(8).join("\n"),
    });
    this.render(machine.status);
    return this.snapshots.save(this.current.id, parts, onProgress);
  }

  /** Check a snapshot file completely (every checksum, the emulator version) before keeping it. */
  private async checkSnapshot(file: Uint8Array): Promise<SnapshotHeader> {
    const { header } = await decodeSnapshot(file);
    const refusal = notForThisEmulator(header.v86, header.stateVersion, V86_PACKAGE_VERSION, V86_STATE_VERSION);
    if (refusal !== undefined) throw refusal;
    this.diskBar?.askPersistence();
    return header;
  }

  private async importSnapshot(file: Uint8Array, fileName: string): Promise<SnapshotRecord> {
    const header = await this.checkSnapshot(file);
    const record = await this.snapshots.save(this.current.id, [file]);
    return header.name.trim() === "" ? this.snapshots.rename(record.id, fileName) : record;
  }

  /** Restore onto the running machine; a snapshot of other hardware is refused, naming what differs. */
  private async restoreSnapshot(file: Uint8Array): Promise<void> {
    const { header } = readSnapshotHeader(file);
    const refusal = notForThisEmulator(header.v86, header.stateVersion, V86_PACKAGE_VERSION, V86_STATE_VERSION);
    if (refusal !== undefined) throw refusal;
    const guest = this.guest;
    if (guest === undefined) throw new AppError("not-running", "Start a machine first, then restore onto it.");
    const images = await this.storage.stores.images.list();
    const differences = fingerprintDifferences(header.fingerprint, this.fingerprintOf(this.current, guest, images));
    if (differences.length > 0) {
      throw new AppError("snapshot-mismatch", `"${header.name}" does not fit ${this.current.name}: ${differences.join("; ")}.`, { details: { differences } });
    }
    const decoded = await decodeSnapshot(file);
    this.clearError();
    await this.stopMachine();
    await restoreSnapshotDisks(this.storage.stores.disks, this.current.id, decoded.disks);
    this.pendingState = {
      state: decoded.state,
      shellReady: decoded.header.shellReady,
      mountData: guest.kind === "linux" && guest.cmdline.includes("virtlab.data=") && !decoded.disks.some((d) => d.slot === "hda"),
      label: `the snapshot "${decoded.header.name}"`,
      name: decoded.header.name,
      from: "snapshot",
      screen: decoded.header.preview.split("\n").at(-1) ?? "",
    };
    await this.start();
  }

  /** A machine (not saved yet) with the snapshot's hardware and disks, named `name`. */
  private async matchingMachine(header: SnapshotHeader, name: string): Promise<MachineRecord> {
    const guestBase = new URL("guest/", document.baseURI).href;
    const manifest = await this.loadGuestManifest(guestBase);
    const images = await this.storage.stores.images.list();
    const draft = this.storage.stores.machines.draft(name);
    const builtIn = guestFor({ ...draft, boot: { kind: "default-guest" }, disks: { hda: { kind: "blank", sizeBytes: 1 } } }, manifest, guestBase, images);
    const match = machineForSnapshot(header.fingerprint, builtIn, images, draft);
    if (!match.ok) throw new AppError("snapshot-mismatch", `No machine here can take "${header.name}": ${match.reason}.`);
    return match.record;
  }

  private async restoreOnMatchingMachine(file: Uint8Array): Promise<void> {
    const { header } = readSnapshotHeader(file);
    const images = await this.storage.stores.images.list();
    const record = await this.storage.stores.machines.save(await this.matchingMachine(header, `For "${header.name}"`), images);
    await this.machinesPanel?.refresh();
    await this.selectMachine(record);
    await this.snapshots.save(record.id, [file]);
    await this.restoreSnapshot(file);
    await this.snapshotPanel?.refresh();
  }
  // --- end snapshots ---

  private async loadGuestManifest(base: string): Promise<GuestManifest> {
    const url = new URL("guest.json", base).href;
    let response: Response;
    try {
      response = await fetch(url, { cache: "no-cache" });
    } catch (error) {
      throw new AppError("asset-load-failed", "Could not download guest.json.", { cause: error, details: { subject: "guest.json" } });
    }
    if (!response.ok) {
      throw new AppError("asset-load-failed", `Could not download guest.json: the server answered ${response.status}.`, { details: { subject: "guest.json" } });
    }
    try {
      return (await response.json()) as GuestManifest;
    } catch (error) {
      throw new AppError("asset-load-failed", "guest.json is not valid JSON.", { cause: error, details: { subject: "guest.json" } });
    }
  }

  private get context(): ActionContext {
    return {
      machine: this.machine,
      vgaVisible: this.vgaVisible,
      setVgaVisible: (visible) => {
        this.vgaVisible = visible;
        element("vga").hidden = !visible;
        this.render(this.machine?.status ?? this.failedStart ?? IDLE);
      },
      restart: () => this.start(),
      copyLink: () => this.copyLink(),
      saveSnapshot: async () => {
        await this.snapshotPanel?.save();
      },
      fullscreen: document.fullscreenElement !== null,
      toggleFullscreen: async () => {
        if (document.fullscreenElement !== null) await document.exitFullscreen();
        else await element("screens").requestFullscreen();
        this.terminal.focus();
      },
      theme: this.theme,
      toggleTheme: () => {
        this.applyTheme(this.theme === "dark" ? "light" : "dark");
        browserPreferences.set("virtlab.theme", this.theme);
      },
      zoom: (direction) => {
        const size = stepFontSize(this.terminal.fontSize, direction);
        this.applyFontSize(size);
        browserPreferences.set("virtlab.zoom", String(size));
      },
      openHelp: () => element<HTMLDialogElement>("help").showModal(),
      lessonsVisible: this.lessonsVisible,
      setLessonsVisible: (visible) => this.setLessonsVisible(visible),
      microscopeVisible: !element("microscope").hidden,
      setMicroscopeVisible: (visible) => this.microscopePanel?.setOpen(visible),
      coldBoot: () => {
        this.coldBootNext = true;
        return this.start();
      },
      report: (error) => this.showError(error),
    };
  }

  private renderActions(): void {
    const nav = element("actions");
    for (const action of ACTIONS) {
      if (action.inBar === false) continue;
      const button = document.createElement("button");
      button.type = "button";
      button.dataset["action"] = action.id;
      button.title = action.shortcut === undefined ? action.title : `${action.title} (${formatShortcut(action.shortcut)})`;
      button.addEventListener("click", () => void this.runAction(action));
      nav.append(button);
      this.buttons.set(action.id, button);
    }
  }

  private async runAction(action: (typeof ACTIONS)[number]): Promise<void> {
    try {
      await action.run(this.context);
    } catch (error) {
      this.showError(error);
    }
    this.render(this.machine?.status ?? this.failedStart ?? IDLE);
  }

  private render(machineStatus: MachineStatus): void {
    // One truth: the stage word and the progress line both come from the core's status.
    // A restored machine is "ready" for the core at once; for the user once it has settled.
    const view = describeStatus(machineStatus, {
      settling: this.settling,
      ...(this.readyDetail === undefined ? {} : { readyDetail: this.readyDetail }),
      ...(this.progressDetail === undefined ? {} : { detail: this.progressDetail }),
      ...(this.guest === undefined ? {} : { guestKind: this.guest.kind }),
    });
    const status: MachineStatus = { ...machineStatus, stage: view.stage };
    this.microscopePanel?.refresh();
    const ctx = this.context;
    for (const action of ACTIONS) {
      const button = this.buttons.get(action.id);
      if (button === undefined) continue;
      button.textContent = action.label(status, ctx);
      button.disabled = !action.enabled(status, ctx);
    }
    element("status-stage").textContent = view.stageText;
    element("status-stage").dataset["stage"] = status.stage;
    const live = status.stage === "booting" || status.stage === "ready";
    element("status-run").textContent = live ? (status.running ? "running" : "paused") : "–";
    element("status-mips").textContent = status.mips === undefined ? "– MIPS" : `${status.mips.toFixed(1)} MIPS`;
    for (const step of element("progress").querySelectorAll<HTMLElement>("[data-step]")) {
      const order = ["downloading", "booting", "ready"];
      const current = view.step === undefined ? -1 : order.indexOf(view.step);
      const mine = order.indexOf(step.dataset["step"] ?? "");
      step.className = mine < current ? "done" : mine === current ? "current" : "";
    }
    element("progress-text").textContent = view.progressText;
    if (view.complete) element("progress-fill").style.width = "100%";
    element("progress").dataset["stage"] = status.stage;
    if (status.error !== undefined && (status.stage === "crashed" || status.stage === "failed") && status.error !== this.shownError) {
      this.shownError = status.error;
      this.showError(status.error);
    }
  }

  private renderProgress(progress: DownloadProgress): void {
    const fraction = progress.fraction ?? 0;
    element("progress-fill").style.width = `${Math.round(fraction * 100)}%`;
    const mib = (n: number): string => (n / 1048576).toFixed(1);
    const of = progress.total === undefined ? "" : ` of ${mib(progress.total)}`;
    this.progressDetail = `Downloading ${progress.file}: ${mib(progress.loaded)}${of} MiB`;
    this.render(this.machine?.status ?? IDLE);
  }

  private showError(error: unknown): void {
    const message = toUserMessage(error);
    const box = element("error");
    box.replaceChildren();
    const title = document.createElement("strong");
    title.textContent = message.title;
    const detail = document.createElement("p");
    detail.textContent = message.detail;
    const hint = document.createElement("p");
    hint.className = "hint";
    hint.textContent = message.hint;
    box.append(title, detail, hint);
    if (isAppError(error) && error.code === "image-missing") box.append(this.missingImageActions());
    box.hidden = false;
    this.errors.push(`${message.title}: ${message.detail}`);
    this.terminal.notice(`${message.title}: ${message.detail}`);
  }

  /** What the user can do about a deleted image: edit the machine, or add the image again. */
  private missingImageActions(): HTMLElement {
    const row = document.createElement("p");
    const button = (label: string, testid: string, run: () => void): HTMLButtonElement => {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = label;
      b.dataset["testid"] = testid;
      b.addEventListener("click", run);
      return b;
    };
    const record = this.current;
    row.append(
      button(`Edit ${record.name}`, "missing-image-edit", () => this.machinesPanel?.editMachine(record)),
      " ",
      button("Add image…", "missing-image-add", () => this.library?.chooseFiles()),
    );
    return row;
  }

  /** A line for the user that is not an error (ignored link settings, a copied link); lines add up. */
  private showNotice(text: string): void {
    if (!this.notices.includes(text)) this.notices.push(text);
    const notice = element("notice");
    notice.replaceChildren(...this.notices.map((line) => Object.assign(document.createElement("span"), { textContent: line })));
    notice.hidden = false;
  }

  /** The link that reproduces this set-up; on the clipboard where the browser allows it, and shown. */
  private async copyLink(): Promise<void> {
    const machine = this.current.id === DEFAULT_MACHINE_ID ? undefined : this.current.id;
    const lesson = this.lessonsVisible ? this.lessonPanel?.current : undefined;
    // Another browser starts the default machine from its defaults; a named machine from its own profile.
    const base = machine === undefined ? DEFAULT_PROFILE : this.current.profile;
    const query = setupQuery(this.profile, { base, ...(machine === undefined ? {} : { machine }), ...(lesson === undefined ? {} : { lesson }) });
    const url = new URL(query, new URL(location.pathname, location.origin)).href;
    let copied = false;
    try {
      await navigator.clipboard.writeText(url);
      copied = true;
    } catch {
      // No clipboard access (an insecure page, a denied permission): the link is shown instead.
    }
    this.notices.length = 0;
    this.showNotice(`${copied ? "Link copied" : "Copy this link"}: ${url}`);
    element("notice").dataset["link"] = url;
  }

  private clearError(): void {
    element("error").hidden = true;
  }

  /** Errors nobody caught still reach the user, never a silent blank page. */
  reportUncaught(error: unknown): void {
    this.showError(error);
  }

  private installTestProxy(): void {
    const proxy: VirtlabTestProxy = {
      status: () => this.machine?.status,
      shellReady: () => this.machine?.shellReady ?? false,
      recentOutput: () => this.machine?.recentOutput() ?? "",
      run: (command, timeoutMs) => {
        if (this.machine === undefined) return Promise.reject(new Error("no machine"));
        return this.machine.run(command, timeoutMs === undefined ? {} : { timeoutMs });
      },
      pageErrors: () => [...this.errors],
      textScreen: () => this.machine?.textScreen() ?? [],
      machineId: () => this.current.id,
      flushDisks: () => this.storage.flush(),
      startedFrom: () => this.startedFrom,
      terminalBuffer: () => this.terminal.allLines(),
      runOnSecondMachine: (command) => runOnSecondMachine(command, document.baseURI),
    };
    window.virtlab = proxy;
  }
}
