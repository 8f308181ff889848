/**
 * The page's composition root: it makes the machine session (choosing the emulator backend in one
 * place), the views (status bar, terminal, messages, controls) and the panels, and wires them to
 * the session's events. What the machine does and which state a start uses is decided in the
 * core's MachineSession; this file only connects and draws.
 */
import {
  DEFAULT_MACHINE,
  DEFAULT_PROFILE,
  MachineSession,
  SnapshotStore,
  chooseMachine,
  createNetworkLab,
  labPrebooted,
  fetchGuestManifest,
  fetchPrebooted,
  openIndexedDbStore,
  parseSetupUrl,
  scratchSession,
  toAppError,
  type DeviceProfile,
  type GuestManifest,
  type MachineRecord,
  type NetworkLab,
  type SessionOptions,
  type StartOutcome,
  type StartRequest,
} from "../core/index.ts";
import { installComfort, type Comfort } from "./comfort/pageComfort.ts";
import { keepControlKeys } from "./comfort/controlKeys.ts";
import { typingInField } from "./kit/dom.ts";
import { Controls } from "./controls.ts";
import { CrashOffer } from "./crashOffer.ts";
import { byId, installPanels, type Panels } from "./panels.ts";
import { MessageArea } from "./messageArea.ts";
import { OfflineSupport } from "./offline.ts";
import type { Shell } from "./shell.ts";
import { StatusBar } from "./statusBar.ts";
import { StorageController, browserLocks, openBrowserStores } from "./storage/StorageController.ts";
import { TerminalView } from "./terminal.ts";
import { isCursorPositionReport } from "./terminalReplies.ts";
import { installTestProxy } from "./pageProxy.ts";
import { VgaView } from "./vgaView.ts";
import { pageActions } from "./pageActions.ts";
import { runOnSecondMachine } from "./secondMachine.ts";
import { pageSessionOptions } from "./pageSession.ts";
import { pageGuestBase } from "./earlyDecoder.ts";
import type { AppEntry } from "./appGlobal.ts";
import { installMigration } from "./migration/installMigration.ts";
import { pageClock } from "./pageClock.ts";

/** Which saved machine the page boots (localStorage: a UI preference, not user data). */
const SELECTED_MACHINE_KEY = "virtlab.machine";

export class App implements Shell {
  readonly storage = new StorageController(openBrowserStores(), browserLocks());
  readonly snapshots = new SnapshotStore(openIndexedDbStore("virtlab-snapshots", "kv"));
  readonly guestBase = pageGuestBase();
  readonly session: MachineSession;
  current: MachineRecord = DEFAULT_MACHINE;
  profile: DeviceProfile = DEFAULT_PROFILE;
  private readonly terminal = new TerminalView(byId("terminal"));
  readonly offline: OfflineSupport;
  private readonly messages: MessageArea;
  private readonly statusBar: StatusBar;
  private readonly controls: Controls;
  private readonly comfort: Comfort;
  private readonly panels: Panels;
  private guestSize: number | undefined;
  private storageReady: Promise<void> | undefined;
  /** The start in progress, so a link's machine waits for it before taking over. */
  private lastStart: Promise<StartOutcome | undefined> | undefined;
  private readonly sessionOptions: SessionOptions;

  /** What the page's entry started, and the offline worker's registration (appGlobal.ts). */
  constructor({ early, keptBoot, registerOffline }: AppEntry) {
    const stage = (): string | undefined => this.session.machine?.status.stage;
    this.offline = new OfflineSupport(byId("offline"), byId("update"), { machineRunning: () => stage() === "ready" || stage() === "booting", register: registerOffline });
    this.sessionOptions = pageSessionOptions(this.storage, this.guestBase, { early, keptBoot }, () => this.loadGuestManifest());
    this.session = new MachineSession(this.sessionOptions);
    this.messages = new MessageArea({
      toTerminal: (line) => this.terminal.notice(line),
      missingImageActions: () => this.panels.missingImageActions(),
    });
    const crashOffer = new CrashOffer(byId("crash-offer"), byId("error"), {
      machines: () => this.storage.stores.machines.list(),
      boot: (record) => this.selectMachine(record),
      report: (error) => this.report(error),
    });
    this.comfort = installComfort(this.terminal, () => this.redraw());
    this.panels = installPanels(this, {
      terminal: this.terminal,
      builtInSize: () => this.guestSize,
      redraw: () => this.redraw(),
    });
    this.controls = new Controls({
      context: () => pageActions(this, this.panels, this.comfort),
      status: () => this.statusBar.render(),
      report: (error) => this.report(error),
      changed: () => this.redraw(),
      focusTerminal: () => this.terminal.focus(),
    });
    this.statusBar = new StatusBar(this.session, (status) => {
      this.panels.statusChanged();
      this.controls.render(status);
    });
    this.wireSession(crashOffer);
    this.terminal.onInput((data) => {
      // The terminal's answer to the guest's cursor query must not land in a command virtlab runs.
      if (isCursorPositionReport(data) && (this.session.settling || this.session.machine?.runningCommand === true)) return;
      // Held by the session while a restored machine settles; paused or not, keys go to the machine.
      this.session.write(data);
    });
    new VgaView(byId("vga"));
    keepControlKeys(document);
    installTestProxy({
      session: this.session,
      machineId: () => this.current.id,
      flushDisks: () => this.storage.flush(),
      pageErrors: () => [...this.messages.errors],
      terminalBuffer: (flushFirst) => this.terminal.allLines(flushFirst),
      terminalSize: () => this.terminal.size,
      runOnSecondMachine: (command) => runOnSecondMachine(this.scratchSession(), command),
    });
    installMigration(this, document.getElementById("migration"), this.terminal);
    this.panels.openLessonFromUrl();
    this.redraw();
  }

  /** The terminal, the crash offer and the disk bar follow the session's events. */
  private wireSession(crashOffer: CrashOffer): void {
    const session = this.session;
    // Each run starts on a clear terminal whose first line names the machine and how it started.
    this.terminal.follow(session);
    session.onRun(() => this.panels.diskBar.hideBanner());
    session.onError((error) => this.report(error));
    session.onMachine((machine) => {
      if (machine === undefined) return;
      crashOffer.started(this.current.id);
      void this.panels.snapshots.link.showOrigin(this.current.id);
    });
    session.onShellReady(() => {
      // Where the user types next (after a click on a device or a machine's button too), unless
      // they are typing in a field (a snapshot's name while the machine restarts): a shell coming
      // up took their keys away mid-word.
      if (!typingInField(document)) this.terminal.focus();
      crashOffer.shellReady(this.current.id);
    });
    session.onCrash(() => void crashOffer.crashed(this.current.id));
    // Another tab took this machine over: stop it here, say so, write nothing more.
    this.storage.onLost(() => {
      session.halt();
      this.heldElsewhere(true);
    });
    // A closing or hidden tab writes pending disk pages now, not 200 ms later.
    window.addEventListener("pagehide", () => {
      void this.storage.flush();
      // The lab's other tabs drop this one's port at once (not after the silence timeout).
      this.lab?.leaveTabs();
    });
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") void this.storage.flush();
    });
    // While the bar says "not saved" (storage refused the guest's writes), closing or reloading
    // the tab would lose them: the browser asks first.
    window.addEventListener("beforeunload", (event) => {
      if (this.storage.view.indicator.state === "not-saved") event.preventDefault();
    });
  }

  /** (Re)start the page's machine with the current device profile. */
  async start(request: StartRequest = { kind: "auto" }): Promise<void> {
    await this.startFor(request);
  }

  /** As `start`; how it ended (undefined: storage could not be read, which the page says). */
  private startFor(request: StartRequest): Promise<StartOutcome | undefined> {
    this.lastStart = this.startNow(request);
    return this.lastStart;
  }

  private async startNow(request: StartRequest): Promise<StartOutcome | undefined> {
    this.messages.clearError();
    try {
      this.storageReady ??= this.initStorage();
      await this.storageReady;
    } catch (error) {
      this.storageReady = undefined;
      this.session.fail(toAppError(error, "storage-failed", "This browser's storage could not be read."));
      return undefined;
    }
    const outcome = await this.session.start({
      record: this.current,
      profile: this.profile,
      request,
      network: (await this.panels.snapshots.link.networkFor(this.current.id)) ?? "on",
    });
    if (outcome.kind === "busy") this.heldElsewhere(false);
    return outcome;
  }

  /** Another tab has the machine (`lost`: it took it over): offer the choices, and say when it lets go. */
  private heldElsewhere(lost: boolean): void {
    this.panels.diskBar.showBusy(lost);
    const machine = this.current;
    void this.storage.whenMachineFree().then((free) => {
      if (!free || this.current.id !== machine.id) return;
      this.session.say(`${machine.name} is no longer open in another tab.`);
      this.panels.diskBar.showFree();
    });
  }

  /** The network lab, made when first opened: machines of its own on a virtual switch, started from a pre-booted state of their hardware (a NIC). */
  networkLab(): NetworkLab {
    this.lab ??= createNetworkLab(this.sessionOptions, { clock: pageClock(), ownOrigin: location.origin, prebooted: labPrebooted((name) => fetchPrebooted(this.guestBase, name)) });
    return this.lab;
  }
  lab: NetworkLab | undefined;

  /** A session like the page's for a machine that keeps nothing (the lab's, a second machine). */
  scratchSession(): MachineSession {
    return scratchSession(this.sessionOptions);
  }

  restartWith(profile: DeviceProfile): Promise<StartOutcome | undefined> {
    this.profile = profile;
    return this.startFor({ kind: "auto" });
  }

  /** Boot another saved machine (its own device profile) and remember it for the next visit. */
  async selectMachine(record: MachineRecord, request: StartRequest = { kind: "auto" }): Promise<void> {
    // A snapshot opened on a machine waits for the start in progress (a link's machine takes over).
    if (request.kind === "snapshot") await this.lastStart?.catch(() => undefined);
    const previous = { current: this.current, profile: this.profile };
    this.current = record;
    this.profile = record.profile;
    try {
      await this.start(request);
    } catch (error) {
      // Nothing stopped (a snapshot that does not fit, disk pages that could not be saved).
      if (this.session.machine !== undefined) Object.assign(this, previous);
      throw error;
    } finally {
      try {
        localStorage.setItem(SELECTED_MACHINE_KEY, this.current.id);
      } catch {
        // Storage blocked: the choice lasts for this page only.
      }
      this.panels.machineChanged();
    }
  }

  /** Once per page: pick the saved machine; what interrupted imports, resets and saves left is collected beside the start (each store's writes wait for it). */
  private async initStorage(): Promise<void> {
    void this.storage.collectGarbage().catch((error: unknown) => this.report(error));
    void this.snapshots.collectGarbage().catch((error: unknown) => this.report(error));
    let lastUsed: string | undefined;
    try {
      lastUsed = localStorage.getItem(SELECTED_MACHINE_KEY) ?? undefined;
    } catch {
      lastUsed = undefined;
    }
    // A link may name a machine saved in this browser; otherwise the one used last time.
    const setup = parseSetupUrl(location.search);
    const choice = await chooseMachine(this.storage.stores.machines, { fromLink: setup.machine, lastUsed });
    if (choice.notice !== undefined) this.notice(choice.notice);
    this.current = choice.record;
    // A shared link's devices and memory apply to this visit (the saved machine is unchanged).
    this.profile = { ...choice.record.profile, ...setup.profile };
    if (setup.notices.length > 0) this.notice(`Some of the link's settings were ignored: ${setup.notices.join("; ")}. The machine starts with the defaults for those.`);
    await this.panels.storageReady();
    if (setup.snapshot !== undefined) void this.panels.snapshots.link.open(setup.snapshot);
  }

  private async loadGuestManifest(): Promise<GuestManifest> {
    const manifest = await fetchGuestManifest(this.guestBase);
    this.guestSize = Object.values(manifest.files).reduce((sum, f) => sum + f.size, 0);
    return manifest;
  }

  private redraw(): void {
    this.statusBar.render();
  }

  report(error: unknown): void {
    this.messages.showError(error);
  }

  notice(text: string): void {
    this.messages.showNotice(text);
  }

  showLink(text: string, url: string): void {
    this.messages.showLink(text, url);
  }

  clearError(): void {
    this.messages.clearError();
  }
}
