/** A tiny element builder for the storage panels. */
type Props = Record<string, string | boolean | number | undefined | ((event: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: (Node | string | undefined)[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === false) continue;
    if (typeof value === "function") el.addEventListener(key.slice(2).toLowerCase(), value);
    else if (key === "testid") el.dataset["testid"] = String(value);
    else if (key.startsWith("data-")) el.setAttribute(key, String(value));
    else if (key in el) (el as unknown as Record<string, unknown>)[key] = value;
    else el.setAttribute(key, String(value));
  }
  for (const child of children) if (child !== undefined) el.append(child);
  return el;
}

/** A button that runs an async job, reporting its error instead of dropping it. */
export function actionButton(label: string, testid: string, job: () => Promise<void> | void, report: (error: unknown) => void, title?: string): HTMLButtonElement {
  const button = h("button", { type: "button", testid, title });
  button.textContent = label;
  button.addEventListener("click", () => {
    void (async () => {
      try {
        await job();
      } catch (error) {
        report(error);
      }
    })();
  });
  return button;
}
