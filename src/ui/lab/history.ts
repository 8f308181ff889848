/** The lab's kept reports: listed newest first, shown again, exported as JSON or CSV, cleared. */
import { openIndexedDbStore } from "../../core/index.ts";
import { LAB_DATABASE, LAB_STORE, LabHistory, formatRatio, reportsToCsv, type LabReport } from "../../core/lab/index.ts";
import { actionButton, h } from "../kit/dom.ts";
import { download } from "../kit/download.ts";

export class LabHistoryView {
  private readonly history = new LabHistory(openIndexedDbStore(LAB_DATABASE, LAB_STORE));
  private readonly list = h("ul", { class: "lab-history", "data-testid": "lab-history" });

  constructor(
    /** Show a kept report in the results. */
    private readonly show: (report: LabReport) => void,
    private readonly report: (error: unknown) => void,
  ) {}

  /** The heading, the export and clear buttons, and the list. */
  elements(): HTMLElement[] {
    return [
      h("h3", {}, "History"),
      h(
        "div",
        { class: "lab-run" },
        actionButton("Export JSON", "lab-export-json", () => this.export("json"), this.report),
        actionButton("Export CSV", "lab-export-csv", () => this.export("csv"), this.report),
        actionButton("Clear history", undefined, () => this.clear(), this.report),
      ),
      this.list,
    ];
  }

  /** Keep a new report (a refusal is reported; the report is still shown). */
  async add(report: LabReport): Promise<void> {
    try {
      await this.history.add(report);
    } catch (error) {
      this.report(error);
    }
    await this.render();
  }

  async render(): Promise<void> {
    try {
      const reports = await this.history.list();
      this.list.replaceChildren(
        ...reports.map((report) => {
          const ratios = report.results.map((r) => `${r.workload} ${formatRatio(r.ratio)}`).join(", ");
          return h("li", {}, `${new Date(report.finishedAt).toLocaleString()} · ${report.preset} · ${ratios} `, h("button", { type: "button", onClick: () => this.show(report) }, "show"));
        }),
      );
    } catch (error) {
      this.list.replaceChildren(h("li", {}, "History unavailable (the browser refused storage)."));
      this.report(error);
    }
  }

  private async export(format: "json" | "csv"): Promise<void> {
    const reports = await this.history.list();
    const text = format === "json" ? JSON.stringify(reports, null, 2) : reportsToCsv(reports);
    download(new Blob([text], { type: format === "json" ? "application/json" : "text/csv" }), `virtlab-lab.${format}`);
  }

  private async clear(): Promise<void> {
    try {
      await this.history.clear();
    } catch (error) {
      this.report(error);
    }
    await this.render();
  }
}
