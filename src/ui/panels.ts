/**
 * The page's panels (device lab, disks, machines, library, snapshots, lessons, microscope, VGA
 * screen), made and wired to the shell: they ask the session for its machine and start it
 * through the shell, never decide about it themselves.
 */
import { describeSessionStatus, parseSetupUrl, shareQuery, type ImageRecord } from "../core/index.ts";
import { LabPanel } from "./lab/panel.ts";
import { lessonHost } from "./lessons/lessonHost.ts";
import { LessonPanel } from "./lessons/LessonPanel.ts";
import { AddressWalkView } from "./microscope/AddressWalkView.ts";
import { MicroscopePanel } from "./microscope/MicroscopePanel.ts";
import { NetworkPanel } from "./network/NetworkPanel.ts";
import type { Shell } from "./shell.ts";
import { SnapshotFlows } from "./snapshots/snapshotFlows.ts";
import { DiskBar } from "./storage/DiskBar.ts";
import { LibraryPanel } from "./storage/LibraryPanel.ts";
import { MachinesPanel } from "./storage/MachinesPanel.ts";
import type { TerminalView } from "./terminal.ts";

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`The page is missing #${id}.`);
  return el as T;
}

export interface PanelsHost {
  readonly terminal: TerminalView;
  /** Size of the built-in guest's files, once known. */
  builtInSize(): number | undefined;
  redraw(): void;
}

export class Panels {
  readonly diskBar: DiskBar;
  readonly snapshots: SnapshotFlows;
  private readonly machines: MachinesPanel;
  private readonly library: LibraryPanel;
  private readonly lab: LabPanel | undefined;
  private readonly lessons: LessonPanel | undefined;
  private readonly microscope: MicroscopePanel;
  readonly network: NetworkPanel;
  private addressWalk: AddressWalkView | undefined;
  vgaVisible = false;
  lessonsVisible = false;

  constructor(
    private readonly shell: Shell,
    private readonly host: PanelsHost,
  ) {
    const report = (error: unknown): void => shell.report(error);
    const machine = () => shell.session.machine;
    const labContainer = document.getElementById("lab");
    this.lab =
      labContainer === null
        ? undefined
        : new LabPanel(labContainer, {
            profile: () => shell.profile,
            restartWith: (profile) => shell.restartWith(profile),
            status: () => describeSessionStatus(shell.session.status),
            onStatus: (listener) => shell.session.onStatus(listener),
            machine,
            scratchSession: () => shell.scratchSession(),
            report,
          });
    const stores = shell.storage.stores;
    this.diskBar = new DiskBar(byId("disks"), {
      controller: shell.storage,
      current: () => shell.current,
      restart: () => shell.start(),
      report,
      resetDisks: async () => {
        await shell.session.eraseDisks(shell.current);
        await shell.start();
      },
    });
    this.machines = new MachinesPanel(byId("machines"), {
      stores,
      current: () => shell.current,
      boot: (record) => shell.selectMachine(record),
      report,
      changed: (machines) => this.library.setMachines(machines),
    });
    this.library = new LibraryPanel(byId("library"), {
      stores,
      report,
      builtInSize: () => host.builtInSize(),
      willStore: () => this.diskBar.askPersistence(),
      claimDrop: async (file) => (await this.snapshots.panel?.claimDrop(file)) === true,
      changed: (images: readonly ImageRecord[]) => {
        this.machines.setImages(images);
        void this.diskBar.refreshMeter();
      },
    });
    this.snapshots = new SnapshotFlows(
      shell,
      { preview: () => host.terminal.lastLines(8).join("\n"), askPersistence: () => this.diskBar.askPersistence(), machinesChanged: () => this.machines.refresh() },
      { panel: document.getElementById("snapshots"), link: byId("disks") },
    );
    const walkContainer = document.getElementById("address-walk");
    if (walkContainer !== null) this.addressWalk = new AddressWalkView(walkContainer, { machine, report });
    this.microscope = new MicroscopePanel(byId("microscope"), { machine, report });
    this.network = new NetworkPanel(byId("network"), { lab: () => shell.networkLab(), report });
    const lessonsContainer = document.getElementById("lessons");
    if (lessonsContainer !== null) {
      this.lessons = new LessonPanel(
        lessonsContainer,
        lessonHost(shell, () => ({ lab: this.lab, snapshots: this.snapshots.panel, addressWalk: this.addressWalk, network: this.network, changed: (at) => this.lessonChanged(at) })),
        new URL("lessons/", document.baseURI).href,
      );
    }
  }

  /** A link's lesson (`?lesson=`) opens at its step. */
  openLessonFromUrl(): void {
    const setup = parseSetupUrl(location.search);
    if (this.lessons === undefined || setup.lesson === undefined) return;
    this.setLessonsVisible(true);
    void this.lessons.show(setup.lesson, setup.step);
  }

  /** Buttons under an image-missing error: edit the machine, or add the image again. */
  missingImageActions(): HTMLElement {
    const row = document.createElement("p");
    const button = (label: string, testid: string, run: () => void): HTMLButtonElement => {
      const b = Object.assign(document.createElement("button"), { type: "button", textContent: label });
      b.dataset["testid"] = testid;
      b.addEventListener("click", run);
      return b;
    };
    const record = this.shell.current;
    row.append(button(`Edit ${record.name}`, "missing-image-edit", () => this.machines.editMachine(record)), " ", button("Add image…", "missing-image-add", () => this.library.chooseFiles()));
    return row;
  }

  statusChanged(): void {
    this.microscope.refresh();
  }

  /** The page runs another machine: lists and the lab follow. */
  machineChanged(): void {
    this.machines.render();
    this.lab?.showProfile();
    void this.snapshots.refresh();
  }

  /** Storage is open: the panels read it. */
  async storageReady(): Promise<void> {
    this.lab?.showProfile();
    await this.library.refresh();
    await this.machines.refresh();
    // Beside the start, not before it (a list of keys and records; it reports its own errors).
    void this.snapshots.refresh();
  }

  setVgaVisible(visible: boolean): void {
    this.vgaVisible = visible;
    byId("vga").hidden = !visible;
    this.host.redraw();
  }

  setLessonsVisible(visible: boolean): void {
    this.lessonsVisible = visible;
    byId("lessons").hidden = !visible;
    if (visible) void this.lessons?.load();
    this.host.redraw();
  }

  get microscopeVisible(): boolean {
    return !byId("microscope").hidden;
  }

  setMicroscopeVisible(visible: boolean): void {
    this.microscope.setOpen(visible);
  }

  /** The link that reproduces this set-up; on the clipboard where the browser allows it, and shown. */
  async copyLink(show: (text: string, url: string) => void): Promise<void> {
    const lesson = this.lessonsVisible ? this.lessons?.current : undefined;
    const query = shareQuery(this.shell.current, this.shell.profile, lesson);
    const url = new URL(query, new URL(location.pathname, location.origin)).href;
    let copied = false;
    try {
      await navigator.clipboard.writeText(url);
      copied = true;
    } catch {
      // No clipboard access (an insecure page, a denied permission): the link is shown instead.
    }
    show(`${copied ? "Link copied" : "Copy this link"}: ${url}`, url);
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
}

export function installPanels(shell: Shell, host: PanelsHost): Panels {
  return new Panels(shell, host);
}
