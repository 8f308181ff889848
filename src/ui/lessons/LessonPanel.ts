/**
 * The lessons panel: lessons are data files (public/lessons, format in docs/lessons.md) read at
 * run time. A broken file is listed with its problems; the others work. Each step can act on the
 * live machine through the host and shows what came of it.
 */
import { describeAction, parseLesson, parseLessonIndex, type Lesson, type LessonAction, type StepOutcome } from "../../core/index.ts";
import { runStep, type StepContext } from "../actions.ts";
import { h } from "../kit/dom.ts";

/** The page's side of lessons: what steps act on (through the action registry's step actions), and where the panel tells things. */
export interface LessonHost extends StepContext {
  /** The open lesson and step changed (for links); undefined when the list is shown. */
  changed(at: { readonly id: string; readonly step: number } | undefined): void;
  notice(text: string): void;
  report(error: unknown): void;
}

type Entry = { readonly id: string; readonly lesson: Lesson } | { readonly id: string; readonly problems: readonly string[] };

export class LessonPanel {
  private entries: Entry[] = [];
  private loaded: Promise<void> | undefined;
  private open: { lesson: Lesson; step: number } | undefined;
  private busy = false;
  private readonly outcomes = new Map<string, StepOutcome | Error>();

  constructor(
    private readonly container: HTMLElement,
    private readonly host: LessonHost,
    private readonly base: string,
  ) {
    container.replaceChildren(h("h2", {}, "Lessons"), h("p", { className: "muted" }, "Loading lessons…"));
  }

  get current(): { readonly id: string; readonly step: number } | undefined {
    return this.open === undefined ? undefined : { id: this.open.lesson.id, step: this.open.step + 1 };
  }

  /** Read the index and every lesson; problems are kept per lesson and shown, never thrown. */
  load(): Promise<void> {
    this.loaded ??= this.readAll().then(() => this.render());
    return this.loaded;
  }

  /** Open a lesson at a step (from 1), e.g. from a link; an unknown one says so. */
  async show(id: string, step = 1): Promise<void> {
    await this.load();
    const entry = this.entries.find((e) => e.id === id);
    if (entry === undefined || !("lesson" in entry)) {
      const known = this.entries.filter((e) => "lesson" in e).map((e) => e.id);
      this.host.notice(
        entry === undefined
          ? `The link names the lesson "${id}", which this virtlab does not have (it has: ${known.join(", ") || "none"}).`
          : `The lesson "${id}" could not be read: ${entry.problems.join("; ")}.`,
      );
      this.render();
      return;
    }
    const steps = entry.lesson.steps.length;
    if (step > steps) this.host.notice(`The lesson "${entry.lesson.title}" has ${steps} steps; it opens at the last one, not step ${step}.`);
    this.open = { lesson: entry.lesson, step: Math.min(step, steps) - 1 };
    this.render();
    // At its first step a lesson opens at its title and introduction; at a later one (a link), at that step.
    if (this.open.step === 0) this.container.scrollTop = 0;
    else this.reveal(this.open.step);
  }

  /**
   * Scroll the panel, not the page, so the step is whole below the sticky step bar (as far as
   * the panel's height allows). `scrollIntoView` scrolled the page too and put the lesson's title
   * under the bar.
   */
  private reveal(step: number): void {
    const item = this.container.querySelector<HTMLElement>(`[data-step="${step + 1}"]`);
    if (item === null) return;
    const bar = this.container.querySelector<HTMLElement>(".lesson-nav")?.offsetHeight ?? 0;
    const view = this.container.getBoundingClientRect();
    const box = item.getBoundingClientRect();
    const above = view.top + bar - box.top;
    const below = box.bottom - view.bottom;
    if (above > 0) this.container.scrollTop -= above;
    else if (below > 0) this.container.scrollTop += Math.min(below, -above);
  }

  private async readAll(): Promise<void> {
    let ids: readonly string[];
    try {
      const index = parseLessonIndex(await this.fetchText("index.json"));
      if (!index.ok) {
        this.entries = [{ id: "index.json", problems: index.problems }];
        return;
      }
      ids = index.value;
    } catch (error) {
      this.entries = [{ id: "index.json", problems: [error instanceof Error ? error.message : String(error)] }];
      return;
    }
    this.entries = await Promise.all(
      ids.map(async (id): Promise<Entry> => {
        try {
          const parsed = parseLesson(await this.fetchText(`${id}.json`), id);
          return parsed.ok ? { id, lesson: parsed.value } : { id, problems: parsed.problems };
        } catch (error) {
          return { id, problems: [error instanceof Error ? error.message : String(error)] };
        }
      }),
    );
  }

  private async fetchText(file: string): Promise<string> {
    const response = await fetch(new URL(file, this.base), { cache: "no-cache" });
    if (!response.ok) throw new Error(`lessons/${file}: the server answered ${response.status}`);
    return response.text();
  }

  private render(): void {
    if (this.open === undefined) this.renderList();
    else this.renderLesson(this.open.lesson, this.open.step);
  }

  private renderList(): void {
    this.host.changed(undefined);
    const list = h("ol", { className: "lesson-list" });
    for (const entry of this.entries) {
      if ("lesson" in entry) {
        const open = h("button", { type: "button", testid: `lesson-open-${entry.id}` }, entry.lesson.title);
        open.addEventListener("click", () => void this.show(entry.id));
        list.append(h("li", {}, open, h("p", { className: "muted" }, entry.lesson.summary)));
      } else {
        list.append(
          h("li", { testid: `lesson-problem-${entry.id}`, className: "lesson-problem" }, h("strong", {}, `${entry.id} could not be read`), h("ul", {}, ...entry.problems.map((p) => h("li", {}, p)))),
        );
      }
    }
    this.container.replaceChildren(
      h("h2", {}, "Lessons"),
      h("p", { className: "muted" }, "Each lesson explains a part of the course and acts on the machine beside it: press a step's button and read what it measured. Teachers add lessons as files (docs/lessons.md)."),
      list,
    );
  }

  private renderLesson(lesson: Lesson, current: number): void {
    this.host.changed({ id: lesson.id, step: current + 1 });
    const back = h("button", { type: "button", testid: "lesson-back" }, "All lessons");
    back.addEventListener("click", () => {
      this.open = undefined;
      this.render();
    });
    const steps = h("ol", { className: "lesson-steps" });
    lesson.steps.forEach((step, index) => {
      const item = h("li", { "data-step": String(index + 1), className: index === current ? "current" : "" }, h("h4", {}, step.title), ...step.text.map((p) => h("p", {}, p)));
      if (index === current) item.setAttribute("aria-current", "step");
      item.addEventListener("click", () => this.goTo(index));
      if (step.action !== undefined) {
        const action = step.action;
        const button = h("button", { type: "button", testid: "lesson-do", disabled: this.busy }, describeAction(action));
        button.addEventListener("click", (event) => {
          event.stopPropagation();
          void this.perform(lesson, index, action);
        });
        item.append(button);
      }
      const outcome = this.outcomes.get(`${lesson.id}/${index}`);
      if (outcome !== undefined) item.append(this.renderOutcome(outcome));
      steps.append(item);
    });
    const previous = h("button", { type: "button", testid: "lesson-previous", disabled: current === 0 }, "Previous step");
    previous.addEventListener("click", () => this.goTo(current - 1));
    const next = h("button", { type: "button", testid: "lesson-next", disabled: current === lesson.steps.length - 1 }, "Next step");
    next.addEventListener("click", () => this.goTo(current + 1));
    this.container.replaceChildren(
      h("div", { className: "lesson-nav" }, back, h("span", { className: "muted", testid: "lesson-position" }, `Step ${current + 1} of ${lesson.steps.length}`), previous, next),
      h("h2", { testid: "lesson-title" }, lesson.title),
      ...lesson.text.map((p) => h("p", {}, p)),
      steps,
      ...(lesson.sources === undefined ? [] : [h("p", { className: "muted" }, `Sources: ${lesson.sources.join("; ")}`)]),
    );
  }

  private goTo(step: number): void {
    if (this.open === undefined || step < 0 || step >= this.open.lesson.steps.length || step === this.open.step) return;
    this.open.step = step;
    this.render();
    this.reveal(step);
  }

  private renderOutcome(outcome: StepOutcome | Error): HTMLElement {
    if (outcome instanceof Error) return h("div", { className: "lesson-outcome failed", testid: "lesson-outcome", "data-ok": "false" }, h("p", {}, `This step did not work: ${outcome.message}`));
    return h(
      "div",
      { className: `lesson-outcome ${outcome.ok ? "ok" : "failed"}`, testid: "lesson-outcome", "data-ok": String(outcome.ok) },
      ...(outcome.output === undefined ? [] : [h("pre", {}, outcome.output === "" ? "(no output)" : outcome.output)]),
      ...outcome.lines.map((line) => h("p", {}, line)),
    );
  }

  private async perform(lesson: Lesson, index: number, action: LessonAction): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    const key = `${lesson.id}/${index}`;
    this.outcomes.delete(key);
    if (this.open !== undefined) this.open.step = index;
    this.render();
    this.container.querySelector(`[data-step="${index + 1}"]`)?.setAttribute("data-running", "true");
    try {
      this.outcomes.set(key, await runStep(this.host, action));
    } catch (error) {
      this.outcomes.set(key, error instanceof Error ? error : new Error(String(error)));
      this.host.report(error);
    } finally {
      this.busy = false;
      if (this.open?.lesson.id === lesson.id) this.render();
    }
  }
}
