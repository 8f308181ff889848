/**
 * Lab results kept between visits: every report under its id in a KeyValueStore (IndexedDB in
 * the browser, through storage/kv.ts), newest first when listed.
 */
import { AppError } from "../errors.ts";
import type { KeyValueStore } from "../storage/kv.ts";
import type { LabReport } from "./results.ts";

/** Database and store of the lab's history: a database of its own (idb-keyval creates stores only with it). */
export const LAB_DATABASE = "virtlab-lab";
export const LAB_STORE = "reports";
const PREFIX = "report:";

export class LabHistory {
  constructor(private readonly store: KeyValueStore) {}

  async add(report: LabReport): Promise<void> {
    await this.store.set(PREFIX + report.id, report);
  }

  /** All reports, newest first. Entries that are not lab reports are skipped, not fatal. */
  async list(): Promise<LabReport[]> {
    const keys = (await this.store.keys()).filter((k) => k.startsWith(PREFIX));
    const values = await this.store.getMany<unknown>(keys);
    return values.filter(isLabReport).sort((a, b) => b.finishedAt.localeCompare(a.finishedAt));
  }

  async remove(id: string): Promise<void> {
    await this.store.delete(PREFIX + id);
  }

  async clear(): Promise<void> {
    const keys = (await this.store.keys()).filter((k) => k.startsWith(PREFIX));
    await this.store.deleteMany(keys);
  }
}

export function isLabReport(value: unknown): value is LabReport {
  const v = value as Partial<LabReport> | null;
  return typeof v === "object" && v !== null && v.format === "virtlab-lab-report" && v.version === 1 && Array.isArray(v.results) && typeof v.finishedAt === "string";
}

/** Parse an exported JSON file back into reports (one report or a list). */
export function parseReports(text: string): LabReport[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new AppError("lab-failed", "That file is not JSON.", { cause: error });
  }
  const list = Array.isArray(value) ? value : [value];
  const reports = list.filter(isLabReport);
  if (reports.length !== list.length) throw new AppError("lab-failed", "That file holds something other than virtlab lab reports.");
  return reports;
}
