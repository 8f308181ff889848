/**
 * Inline rename: a text field with Save and Cancel in place of a name; Enter saves, Esc cancels.
 * Test ids: `<testid>-input`, `-save`, `-cancel`.
 */
import { actionButton, h, keepingFocusNear } from "./dom.ts";

export interface InlineRename {
  /** The prefix of the test ids, e.g. "image-rename". */
  readonly testid: string;
  readonly value: string;
  onSave(name: string): Promise<void> | void;
  onCancel(): Promise<void> | void;
  report(error: unknown): void;
}

export interface InlineRenameParts {
  readonly nodes: readonly [HTMLInputElement, HTMLButtonElement, HTMLButtonElement];
  /** Call once the nodes are in the page: focus the field with the old name selected. */
  focus(): void;
}

/** What a key press in the field means. */
export function renameKey(key: string): "save" | "cancel" | undefined {
  if (key === "Enter") return "save";
  if (key === "Escape") return "cancel";
  return undefined;
}

export function inlineRename(rename: InlineRename): InlineRenameParts {
  const input = h("input", { type: "text", value: rename.value, testid: `${rename.testid}-input`, "aria-label": "New name" });
  // The row is drawn again after either: the focus stays near (before: it fell to the page's body).
  const save = actionButton("Save", `${rename.testid}-save`, () => keepingFocusNear(input, () => rename.onSave(input.value)), rename.report);
  const cancel = actionButton("Cancel", `${rename.testid}-cancel`, () => keepingFocusNear(input, () => rename.onCancel()), rename.report);
  input.addEventListener("keydown", (event) => {
    const what = renameKey(event.key);
    if (what === undefined) return;
    event.preventDefault();
    (what === "save" ? save : cancel).click();
  });
  return {
    nodes: [input, save, cancel],
    focus: () => {
      input.focus();
      input.select();
    },
  };
}
