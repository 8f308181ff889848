/**
 * The image library: the built-in guest and the user's images (added by file picker or by
 * dropping a file on the page), with kind, size and date; rename; delete with confirmation.
 */
import { DisposableStore, IMAGE_KIND_LABELS, machinesUsingImage, type ImageRecord, type ImageUser, type MachineRecord } from "../../core/index.ts";
import { inlineConfirm } from "../kit/confirm.ts";
import { actionButton, h, listen } from "../kit/dom.ts";
import { inlineRename } from "../kit/rename.ts";
import { fileSource } from "./fileSource.ts";
import { formatBytes } from "./guests.ts";
import { IMAGE_IMPORT_LOCK, withSharedLock } from "./MachineLock.ts";
import { browserLocks, type Stores } from "./StorageController.ts";

export interface LibraryHost {
  readonly stores: Stores;
  report(error: unknown): void;
  /** Size of the built-in guest's files, once known. */
  builtInSize(): number | undefined;
  /** An import is about to write: ask for persistent storage. */
  willStore(): void;
  /** The library changed (machines' editors list images). */
  changed(images: readonly ImageRecord[]): void;
  /** A dropped file that another panel takes (a snapshot file): true when it took it. */
  claimDrop?(file: File): Promise<boolean>;
}

export class LibraryPanel {
  private readonly list = h("ul", { testid: "image-list", className: "rows" });
  private readonly progress = h("p", { testid: "image-progress", className: "muted", "aria-live": "polite" });
  private readonly input = h("input", { type: "file", testid: "image-file", multiple: true, className: "visually-hidden", tabIndex: -1, "aria-label": "Image files to add" });
  private images: readonly ImageRecord[] = [];
  private machines: readonly MachineRecord[] = [];
  private readonly listeners = new DisposableStore();

  constructor(
    container: HTMLElement,
    private readonly host: LibraryHost,
  ) {
    const add = actionButton("Add image…", "image-add", () => this.input.click(), host.report, "Add an ISO, hard-disk or floppy image, a kernel or an initrd");
    this.input.addEventListener("change", () => {
      const files = [...(this.input.files ?? [])];
      this.input.value = "";
      void this.importFiles(files);
    });
    container.append(
      h("h2", {}, "Image library"),
      h("p", { className: "muted" }, "Add an image with the button or drop a file anywhere on the page. Images stay unchanged; what a guest writes goes to its machine's disk."),
      h("div", {}, add, this.input),
      this.progress,
      this.list,
    );
    // Drop a file anywhere on the page.
    this.listeners.add(
      listen<DragEvent>(document, "dragover", (event) => {
        if (event.dataTransfer?.types.includes("Files") === true) event.preventDefault();
      }),
    );
    this.listeners.add(
      listen<DragEvent>(document, "drop", (event) => {
        const files = [...(event.dataTransfer?.files ?? [])];
        if (files.length === 0) return;
        event.preventDefault();
        void (async () => {
          const images: File[] = [];
          for (const file of files) if ((await this.host.claimDrop?.(file)) !== true) images.push(file);
          if (images.length > 0) await this.importFiles(images);
        })();
      }),
    );
  }

  /** Stop taking dropped files (the page's listeners go). */
  dispose(): void {
    this.listeners.dispose();
  }

  /** Ask for files to add (the same as the "Add image…" button). */
  chooseFiles(): void {
    this.input.click();
  }

  setMachines(machines: readonly MachineRecord[]): void {
    this.machines = machines;
  }

  async refresh(): Promise<void> {
    try {
      this.images = await this.host.stores.images.list();
    } catch (error) {
      this.host.report(error);
    }
    this.render();
    this.host.changed(this.images);
  }

  /** Import files one after the other; a bad one is reported and the others still go in. */
  async importFiles(files: readonly File[]): Promise<void> {
    for (const file of files) {
      this.progress.textContent = `Adding ${file.name}…`;
      this.progress.dataset["state"] = "importing";
      try {
        this.host.willStore();
        const record = await withSharedLock(browserLocks(), IMAGE_IMPORT_LOCK, () =>
          this.host.stores.images.import(fileSource(file), {
            onProgress: (loaded, total) => {
              this.progress.textContent = `Adding ${file.name}: ${formatBytes(loaded)} of ${formatBytes(total)}`;
            },
          }),
        );
        this.progress.textContent = `Added ${record.name} (${IMAGE_KIND_LABELS[record.kind]}, ${formatBytes(record.size)}).`;
        this.progress.dataset["state"] = "done";
      } catch (error) {
        this.progress.textContent = `${file.name} was not added.`;
        this.progress.dataset["state"] = "failed";
        this.host.report(error);
      }
      await this.refresh();
    }
  }

  private render(): void {
    const size = this.host.builtInSize();
    const builtIn = h(
      "li",
      { testid: "image-row", "data-image-id": "built-in" },
      h("span", { className: "name" }, "Debian 6.1 + busybox"),
      h("span", { className: "muted" }, ` · kernel + initrd · ${size === undefined ? "" : `${formatBytes(size)} · `}built in`),
    );
    this.list.replaceChildren(builtIn, ...this.images.map((image) => this.row(image)));
  }

  private row(image: ImageRecord): HTMLLIElement {
    const li = h("li", { testid: "image-row", "data-image-id": image.id, "data-kind": image.kind });
    const name = h("span", { className: "name", testid: "image-name" }, image.name);
    const facts = h("span", { className: "muted" }, ` · ${IMAGE_KIND_LABELS[image.kind]} · ${formatBytes(image.size)} · added ${new Date(image.addedAt).toLocaleString()}`);
    facts.title = `${image.evidence}; sha256 ${image.sha256}`;
    const buttons = h(
      "span",
      { className: "row-actions" },
      actionButton("Rename", "image-rename", () => this.rename(li, image), this.host.report),
      actionButton("Delete…", "image-delete", () => this.confirmDelete(li, image), this.host.report),
    );
    li.append(name, facts, buttons);
    return li;
  }

  private rename(li: HTMLLIElement, image: ImageRecord): void {
    const rename = inlineRename({
      testid: "image-rename",
      value: image.name,
      onSave: async (name) => {
        await this.host.stores.images.rename(image.id, name);
        await this.refresh();
      },
      onCancel: () => this.render(),
      report: this.host.report,
    });
    li.replaceChildren(...rename.nodes);
    rename.focus();
  }

  private confirmDelete(li: HTMLLIElement, image: ImageRecord): void {
    const users = usersInWords(machinesUsingImage(this.machines, image.id));
    li.replaceChildren(
      ...inlineConfirm({
        testid: "image-delete",
        question: `Delete ${image.name} from the library?${users === undefined ? "" : ` ${users} and will not boot without it.`}`,
        confirm: "Yes, delete",
        onConfirm: async () => {
          await this.host.stores.images.delete(image.id);
          await this.refresh();
        },
        onCancel: () => this.render(),
        report: this.host.report,
      }),
    );
  }
}

/** "GRUB uses it as its cdrom", "GRUB (its cdrom) and Tools (its hda and hdb) use it"; undefined for none. */
function usersInWords(users: readonly ImageUser[]): string | undefined {
  const and = (words: readonly string[]): string => (words.length < 2 ? words.join("") : `${words.slice(0, -1).join(", ")} and ${words.at(-1) ?? ""}`);
  const [only] = users;
  if (only === undefined) return undefined;
  if (users.length === 1) return `${only.machineName} uses it as its ${and(only.as)}`;
  return `${and(users.map((u) => `${u.machineName} (its ${and(u.as)})`))} use it`;
}
