/** Machines: list, create, edit, boot, delete (with confirmation). The built-in one is always there. */
import { DISK_SLOTS, deleteMachine, slotChoices, type DiskSlot, type ImageRecord, type MachineRecord } from "../../core/index.ts";
import { inlineConfirm } from "../kit/confirm.ts";
import { actionButton, focusLost, h } from "../kit/dom.ts";
import { describeBoot, describeDisks } from "./guests.ts";
import { formFromRecord, memoryHint, recordFromForm, type BootChoice, type MachineFormValues } from "./machineForm.ts";
import type { Stores } from "./StorageController.ts";

export interface MachinesHost {
  readonly stores: Stores;
  current(): MachineRecord;
  boot(record: MachineRecord): Promise<void>;
  report(error: unknown): void;
  changed(machines: readonly MachineRecord[]): void;
}

const BOOT_LABELS: Readonly<Record<BootChoice, string>> = {
  "default-guest": "built-in Debian guest",
  cdrom: "CD-ROM (cdrom)",
  hda: "hard disk (hda)",
  fda: "floppy (fda)",
  linux: "kernel + initrd from the library",
};

export class MachinesPanel {
  private readonly list = h("ul", { testid: "machine-list", className: "rows" });
  private readonly editor = h("form", { testid: "machine-form", className: "machine-form", hidden: true });
  private readonly newButton = actionButton("New machine", "machine-new", () => this.edit(this.host.stores.machines.draft("")), (e) => this.host.report(e));
  /** The control that opened the editor, where the keys go back when it closes. */
  private opener: HTMLElement | undefined;
  private machines: readonly MachineRecord[] = [];
  private images: readonly ImageRecord[] = [];

  constructor(
    container: HTMLElement,
    private readonly host: MachinesHost,
  ) {
    container.append(
      h("h2", {}, "Machines"),
      this.newButton,
      this.editor,
      this.list,
    );
  }

  setImages(images: readonly ImageRecord[]): void {
    this.images = images;
    this.render();
  }

  async refresh(): Promise<void> {
    try {
      this.machines = await this.host.stores.machines.list();
    } catch (error) {
      this.host.report(error);
    }
    this.render();
    this.host.changed(this.machines);
  }

  render(): void {
    const current = this.host.current().id;
    this.list.replaceChildren(
      ...this.machines.map((m) => {
        const li = h(
          "li",
          { testid: "machine-row", "data-machine-id": m.id, "data-current": m.id === current },
          h("span", { className: "name", testid: "machine-name" }, m.name),
          h("span", { className: "muted" }, ` · ${m.profile.memoryMiB} MiB · ${describeBoot(m, this.images)} · ${describeDisks(m, this.images)}${m.id === current ? " · running here" : ""}`),
        );
        const actions = h(
          "span",
          { className: "row-actions" },
          actionButton(m.id === current ? "Restart" : "Boot", "machine-boot", () => this.host.boot(m), this.host.report),
          actionButton("Edit", "machine-edit", () => this.edit(m), this.host.report),
        );
        if (!m.builtIn) actions.append(actionButton("Delete…", "machine-delete", () => this.confirmDelete(li, m), this.host.report));
        li.append(actions);
        return li;
      }),
    );
  }

  private confirmDelete(li: HTMLLIElement, machine: MachineRecord): void {
    li.replaceChildren(
      ...inlineConfirm({
        testid: "machine-delete",
        question: `Delete ${machine.name} and everything its guest wrote to its disks? Library images stay.`,
        confirm: "Yes, delete",
        onConfirm: async () => {
          // The core decides what happens to the running machine (session/deleteMachine.ts).
          await deleteMachine(this.host.stores.machines, machine.id, { id: this.host.current().id, switchTo: (record) => this.host.boot(record) });
          await this.refresh();
        },
        onCancel: () => this.render(),
        report: this.host.report,
      }),
    );
  }

  /** Open the editor on a machine (e.g. one whose image was deleted). */
  editMachine(record: MachineRecord): void {
    this.edit(record);
    this.editor.scrollIntoView({ block: "nearest" });
  }

  private edit(base: MachineRecord): void {
    const values = formFromRecord(base);
    const name = h("input", { type: "text", value: values.name, testid: "machine-name-input", required: true, placeholder: "e.g. GRUB rescue CD" });
    const memory = h("input", { type: "number", value: values.memoryMiB, min: 16, max: 2048, step: 1, testid: "machine-memory" });
    const boot = h("select", { testid: "machine-boot-source", disabled: base.builtIn });
    const choices: BootChoice[] = base.builtIn ? ["default-guest"] : ["cdrom", "hda", "fda", "linux"];
    for (const choice of choices) boot.append(h("option", { value: choice, selected: choice === values.boot }, BOOT_LABELS[choice]));
    const imageSelect = (kind: ImageRecord["kind"], value: string, testid: string, none = "(choose)"): HTMLSelectElement => {
      const select = h("select", { testid });
      select.append(h("option", { value: "" }, none));
      for (const image of this.images.filter((i) => i.kind === kind)) select.append(h("option", { value: image.id, selected: image.id === value }, image.name));
      return select;
    };
    const kernel = imageSelect("kernel", values.kernelImageId, "machine-kernel");
    // Optional: without one the kernel mounts its root itself (root= on the command line).
    const initrd = imageSelect("initrd", values.initrdImageId, "machine-initrd", "(none: root= on the command line)");
    const cmdline = h("input", { type: "text", value: values.cmdline, testid: "machine-cmdline", size: 40 });
    const cmdlineHint = h(
      "p",
      { className: "form-hint", testid: "machine-cmdline-hint" },
      "console=ttyS0 puts the kernel's console on virtlab's terminal; cryptomgr.notests skips the crypto self-tests, which keep a distribution kernel silent for ~25 s of its boot under emulation; nowatchdog and rcupdate.rcu_cpu_stall_suppress=1 keep it from reporting a stuck CPU after the machine was paused.",
    );
    const linuxFields = h("fieldset", {}, h("legend", {}, "Kernel + initrd"), label("Kernel ", kernel), label("Initrd ", initrd), label("Command line ", cmdline), cmdlineHint);
    const showLinux = (): void => {
      linuxFields.hidden = boot.value !== "linux";
    };
    boot.addEventListener("change", showLinux);
    showLinux();

    const slotFields = {} as Record<DiskSlot, { source: HTMLSelectElement; size: HTMLInputElement }>;
    const disks = h("fieldset", {}, h("legend", {}, "Disks"));
    for (const slot of DISK_SLOTS) {
      const source = h("select", { testid: `machine-slot-${slot}` });
      source.append(h("option", { value: "" }, "(none)"));
      if (slot !== "cdrom") source.append(h("option", { value: "blank", selected: values.slots[slot] === "blank" }, "blank disk"));
      // Every image whose bytes fit the drive; the detected kind is the suggestion (listed first).
      for (const choice of slotChoices(this.images, slot)) source.append(h("option", { value: choice.imageId, selected: choice.imageId === values.slots[slot] }, choice.label));
      const size = h("input", { type: "number", value: values.blankMiB[slot], min: 1, max: 2048, testid: `machine-size-${slot}`, "aria-label": `${slot} blank disk size in MiB` });
      const sizeLabel = label(" size (MiB) ", size);
      const sync = (): void => {
        sizeLabel.hidden = source.value !== "blank";
      };
      source.addEventListener("change", sync);
      sync();
      slotFields[slot] = { source, size };
      disks.append(h("div", {}, label(`${slot} `, source), sizeLabel));
    }
    const save = h("button", { type: "submit", testid: "machine-save" }, "Save");
    const saveAndBoot = h("button", { type: "button", testid: "machine-save-boot" }, "Save and boot");
    const cancel = actionButton("Cancel", "machine-cancel", () => this.closeEditor(), this.host.report);
    const collect = (): MachineFormValues => ({
      name: name.value,
      memoryMiB: memory.value,
      boot: boot.value as BootChoice,
      kernelImageId: kernel.value,
      initrdImageId: initrd.value,
      cmdline: cmdline.value,
      slots: Object.fromEntries(DISK_SLOTS.map((s) => [s, slotFields[s].source.value])) as Record<DiskSlot, string>,
      blankMiB: Object.fromEntries(DISK_SLOTS.map((s) => [s, slotFields[s].size.value])) as Record<DiskSlot, string>,
    });
    const submit = async (thenBoot: boolean): Promise<void> => {
      try {
        const record = recordFromForm(collect(), base);
        const saved = await this.host.stores.machines.save(record, this.images);
        await this.refresh();
        this.closeEditor();
        if (thenBoot || this.host.current().id === saved.id) await this.host.boot(saved);
      } catch (error) {
        this.host.report(error);
      }
    };
    // The memory next to the images' sizes, with a suggestion when a kernel + initrd is large.
    const hint = h("p", { testid: "machine-memory-hint", className: "form-hint", "aria-live": "polite" });
    const showHint = (): void => {
      const { facts, suggestion } = memoryHint(collect(), this.images);
      hint.replaceChildren(facts);
      if (suggestion === undefined) return;
      const use = actionButton(`Use ${suggestion.memoryMiB} MiB`, "machine-memory-use", () => {
        memory.value = String(suggestion.memoryMiB);
        showHint();
        memory.focus();
      }, this.host.report);
      hint.append(" ", h("strong", { testid: "machine-memory-suggestion" }, suggestion.text), " ", use);
    };
    this.editor.oninput = showHint;
    this.editor.onchange = showHint;
    // Esc cancels, as in the inline rename.
    this.editor.onkeydown = (event) => {
      if (event.key !== "Escape") return;
      event.preventDefault();
      cancel.click();
    };
    this.editor.onsubmit = (event) => {
      event.preventDefault();
      void submit(false);
    };
    saveAndBoot.onclick = () => void submit(true);
    this.editor.replaceChildren(
      h("h3", {}, base.createdAt === 0 && base.builtIn ? `Edit ${base.name}` : base.name === "" ? "New machine" : `Edit ${base.name}`),
      label("Name ", name),
      label(" Memory (MiB) ", memory),
      label(" Boots from ", boot),
      hint,
      linuxFields,
      disks,
      h("p", { className: "muted" }, "Changing a disk's source erases what the guest wrote to it."),
      h("div", {}, save, saveAndBoot, cancel),
    );
    showHint();
    this.opener = document.activeElement instanceof HTMLElement ? document.activeElement : undefined;
    this.editor.hidden = false;
    name.focus();
  }

  /** Closed (saved or cancelled): the keys go back to the control that opened it, or near it. */
  private closeEditor(): void {
    this.editor.hidden = true;
    this.editor.replaceChildren();
    if (!focusLost(document)) return;
    (this.opener?.isConnected === true ? this.opener : this.newButton).focus();
  }
}

function label(text: string, control: HTMLElement): HTMLLabelElement {
  return h("label", {}, text, control);
}
