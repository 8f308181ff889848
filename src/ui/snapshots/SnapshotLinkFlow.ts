/**
 * A teacher's machine by link (`?snapshot=<url>`): the page side. The core reads the header,
 * downloads, resumes and decides (src/core/snapshot/link.ts); this file asks once in a dialog,
 * shows progress, and says where the running machine came from, with its network off until the
 * student turns it on.
 */
import {
  checkRoom,
  downloadSnapshotLink,
  linkedMachineName,
  networkAtStart,
  planSnapshotLink,
  resolveSnapshotLink,
  sourceHost,
  type AppError,
  type LinkFetch,
  type LinkResponse,
  type Machine,
  type MachineRecord,
  type SnapshotChunks,
  type SnapshotHeader,
  type SnapshotLinkPlan,
  type SnapshotRecord,
  type SnapshotStore,
  type StorageEstimate,
} from "../../core/index.ts";
import { actionButton, h } from "../kit/dom.ts";
import { formatBytes } from "../storage/guests.ts";
import { pageClock } from "../pageClock.ts";

export interface SnapshotLinkHost {
  readonly store: SnapshotStore;
  estimate(): Promise<StorageEstimate | undefined>;
  /** The import path's refusal of another emulator's snapshot (from the header alone). */
  refuse(header: SnapshotHeader): AppError | undefined;
  /** Every check of the import path on the whole file. */
  check(file: Uint8Array): Promise<void>;
  /** A new machine (not saved yet) that fits the snapshot, named `name`. */
  matchingMachine(header: SnapshotHeader, name: string): Promise<MachineRecord>;
  machine(id: string): Promise<MachineRecord | undefined>;
  saveMachine(record: MachineRecord): Promise<MachineRecord>;
  /** Make `record` the page's machine and start it from `file` (the import path's restore). */
  openOn(record: MachineRecord, file: Uint8Array | SnapshotChunks): Promise<void>;
  /** The running machine, to turn its network on. */
  running(): Machine | undefined;
  report(error: unknown): void;
}

/** The page's fetch, as the core asks for it (credentials omitted by the core's request). */
const browserFetch: LinkFetch = (url, init) => fetch(url, init) as Promise<unknown> as Promise<LinkResponse>;

export class SnapshotLinkFlow {
  private readonly dialog = h("dialog", { className: "help", testid: "snapshot-link-dialog", "aria-labelledby": "snapshot-link-title" });
  private readonly banner = h("div", { className: "notice", testid: "link-origin", role: "status", "aria-live": "polite", hidden: true });
  /** Machines whose network the student turned on in this visit. */
  private readonly networkOn = new Set<string>();

  constructor(
    before: HTMLElement,
    private readonly host: SnapshotLinkHost,
  ) {
    before.before(this.banner);
    document.body.append(this.dialog);
  }

  /** Open a link: read its header, ask once, download (or take the stored copy), store, restore. */
  async open(raw: string): Promise<void> {
    let plan: SnapshotLinkPlan;
    try {
      const link = resolveSnapshotLink(raw, location.href);
      this.say(`Reading the snapshot at ${link.url}…`, "reading");
      plan = await planSnapshotLink(link, browserFetch, this.host.store, { refuse: (header) => this.host.refuse(header) });
    } catch (error) {
      this.say("The machine from the link was not loaded. Your own machines and snapshots are unchanged.", "failed");
      this.host.report(error);
      return;
    }
    if (!(await this.confirm(plan))) {
      this.say("The machine from the link was not loaded.", "declined");
      return;
    }
    try {
      await this.load(plan);
    } catch (error) {
      this.say("The machine from the link was not loaded. Your own machines and snapshots are unchanged.", "failed");
      this.host.report(error);
    }
  }

  private async load(plan: SnapshotLinkPlan): Promise<void> {
    if (plan.kind === "stored") {
      const record = plan.record;
      const file = await this.host.store.open(record.id);
      const machine = (await this.host.machine(record.machineId)) ?? (await this.recreate(record, file.header));
      this.say(`Starting "${record.name}" from this browser's copy…`, "restoring");
      await this.host.openOn(machine, file);
      return;
    }
    const { info } = plan;
    const { link, header } = info;
    checkRoom(info, await this.host.estimate());
    const what = `"${header.name}" from ${link.host}`;
    const file = await downloadSnapshotLink(info, {
      fetch: browserFetch,
      clock: pageClock(),
      onProgress: (loaded, total) => this.say(`Downloading ${what}: ${formatBytes(loaded)} of ${formatBytes(total)}`, "downloading"),
    });
    this.say(`Checking ${what}…`, "checking");
    await this.host.check(file);
    const machine = await this.host.matchingMachine(header, linkedMachineName(link.host, header.name));
    // The snapshot first, then the machine: a failure leaves nothing behind.
    const record = await this.host.store.save(machine.id, [file], (saved, total) => this.say(`Storing ${what}: ${formatBytes(saved)} of ${formatBytes(total)}`, "storing"), {
      url: link.url,
      headerSha256: info.headerSha256,
    });
    let saved: MachineRecord;
    try {
      saved = await this.host.saveMachine(machine);
    } catch (error) {
      await this.host.store.delete(record.id).catch(() => undefined);
      throw error;
    }
    this.say(`Starting ${what}…`, "restoring");
    await this.host.openOn(saved, file);
  }

  /** The stored snapshot's machine was deleted: make a matching one again under the same id. */
  private async recreate(record: SnapshotRecord, header: SnapshotHeader): Promise<MachineRecord> {
    const machine = await this.host.matchingMachine(header, linkedMachineName(sourceHost(record.source?.url ?? ""), header.name));
    return this.host.saveMachine({ ...machine, id: record.machineId });
  }

  /** One question: what will be loaded, how large, from where. */
  private confirm(plan: SnapshotLinkPlan): Promise<boolean> {
    const info = plan.info;
    const url = info?.link.url ?? (plan.kind === "stored" ? (plan.record.source?.url ?? "") : "");
    const hostName = info?.link.host ?? sourceHost(url);
    const name = info?.header.name ?? (plan.kind === "stored" ? plan.record.name : "");
    const size = info?.size ?? (plan.kind === "stored" ? plan.record.size : 0);
    const created = info?.header.createdAt ?? (plan.kind === "stored" ? plan.record.createdAt : 0);
    const where =
      plan.kind === "download"
        ? `It will be downloaded (${formatBytes(size)}) and kept in this browser, so it works offline afterwards.`
        : plan.offline
          ? `The server cannot be reached; this browser already has a copy, which will be used.`
          : `This browser already has it: nothing to download.`;
    const again = plan.kind === "stored" ? " It starts as it was given: what was changed in it since is replaced." : "";
    return new Promise((resolve) => {
      const answer = (yes: boolean): void => {
        this.dialog.close();
        resolve(yes);
      };
      const load = actionButton("Load this machine", "snapshot-link-load", () => answer(true), this.host.report);
      const cancel = actionButton("Not now", "snapshot-link-cancel", () => answer(false), this.host.report);
      this.dialog.replaceChildren(
        h("h2", { id: "snapshot-link-title" }, "Load a machine from a link?"),
        h(
          "dl",
          { testid: "snapshot-link-info" },
          h("dt", {}, "Name"),
          h("dd", { testid: "snapshot-link-name" }, name),
          h("dt", {}, "Size"),
          h("dd", { testid: "snapshot-link-size" }, formatBytes(size)),
          h("dt", {}, "From"),
          h("dd", { testid: "snapshot-link-from" }, url),
          h("dt", {}, "Saved"),
          h("dd", {}, new Date(created).toLocaleString()),
        ),
        h("p", { testid: "snapshot-link-where" }, where + again),
        h(
          "p",
          {},
          `It becomes a machine of its own, "${linkedMachineName(hostName, name)}": your machines and snapshots are not changed. It is somebody else's machine, so it starts with its network off.`,
        ),
        h("div", { className: "row-actions" }, load, cancel),
      );
      this.dialog.addEventListener("cancel", () => resolve(false), { once: true });
      this.dialog.showModal();
      load.focus();
    });
  }

  /** Whether the machine came from a link (a snapshot of it has a source), and its label. */
  private async origin(machineId: string): Promise<string | undefined> {
    const records = await this.host.store.list(machineId).catch(() => [] as SnapshotRecord[]);
    const linked = records.find((r) => r.source !== undefined);
    return linked?.source === undefined ? undefined : linkedMachineName(sourceHost(linked.source.url), linked.name);
  }

  /** The network a machine starts with: off for a machine from a link, until the student turns it on. */
  async networkFor(machineId: string): Promise<"on" | "off"> {
    return networkAtStart((await this.origin(machineId)) !== undefined, this.networkOn.has(machineId));
  }

  /** After a start: say where the running machine came from and whether its network is on. */
  async showOrigin(machineId: string): Promise<void> {
    const label = await this.origin(machineId);
    if (label === undefined) {
      // A line of the link's own (reading, failed) stays; only an origin line goes with its machine.
      if (this.banner.dataset["state"] !== "origin") return;
      this.banner.hidden = true;
      this.banner.replaceChildren();
      return;
    }
    const machine = this.host.running();
    const on = machine?.network === "on";
    const text = h("span", { testid: "link-origin-text" }, `${label} · network ${on ? "on" : "off"}`);
    const turnOn = actionButton(
      "Turn network on",
      "link-network-on",
      () => {
        this.networkOn.add(machineId);
        this.host.running()?.setNetwork("on");
        void this.showOrigin(machineId);
      },
      this.host.report,
      "This machine came from a link: give it the network only if you trust who made it",
    );
    this.banner.replaceChildren(text, ...(on ? [] : [turnOn]));
    this.banner.dataset["state"] = "origin";
    this.banner.hidden = false;
  }

  private say(text: string, state: string): void {
    this.banner.replaceChildren(h("span", { testid: "link-origin-text" }, text));
    this.banner.dataset["state"] = state;
    this.banner.hidden = false;
  }
}
