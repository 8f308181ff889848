/**
 * The device lab, headless in Node: the same runner and workloads as the panel. Used by
 * bench/run.ts (`npm run bench`), or alone: `npx tsx bench/lab.ts --preset quick --pair console`.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { V86_PACKAGE_VERSION, systemClock } from "../src/core/index.ts";
import { LabRunner, MAX_EXTRA_WARMUPS, PAIRS, comparison, formatReport, type LabReport, type PairId, type SizePreset } from "../src/core/lab/index.ts";
import { startNodeScratch } from "../src/node/session.ts";

export interface LabBenchOptions {
  readonly pairs?: readonly PairId[];
  readonly preset?: SizePreset;
  readonly repetitions?: number;
  readonly json?: string;
}

export async function runLabBench(options: LabBenchOptions = {}): Promise<LabReport> {
  const runner = new LabRunner({
    // Each lab machine through a session of its own, as in the page (session/scratch.ts).
    startMachine: (profile) => startNodeScratch(profile),
    clock: systemClock,
    host: `Node ${process.versions.node}`,
    v86: V86_PACKAGE_VERSION,
  });
  runner.onProgress((p) => process.stderr.write(`lab [${p.machine}/${p.machines}] ${p.text}\n`));
  const report = await runner.run({
    pairs: options.pairs ?? PAIRS.map((p) => p.id),
    preset: options.preset ?? "standard",
    repetitions: options.repetitions ?? 3,
  });
  console.log(`\nvirtlab device lab — ${report.host}, v86 ${report.v86}, ${report.preset} sizes, warm-up ${report.warmups} (up to ${report.warmups + MAX_EXTRA_WARMUPS} while the runs still get faster) + ${report.repetitions} runs per model\n`);
  console.log(formatReport(report));
  console.log("");
  for (const result of report.results) {
    const words = comparison(result);
    if (words !== undefined) console.log(`${result.workload}: ${words}`);
  }
  if (options.json !== undefined) {
    mkdirSync(dirname(options.json), { recursive: true });
    writeFileSync(options.json, JSON.stringify(report, null, 2) + "\n");
    console.log(`\nJSON: ${options.json}`);
  }
  return report;
}

const isMain = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, "/"));
if (isMain) {
  const { parseArgs } = await import("node:util");
  const { values } = parseArgs({
    options: {
      preset: { type: "string", default: "standard" },
      pair: { type: "string", multiple: true },
      runs: { type: "string", default: "3" },
      json: { type: "string" },
    },
  });
  await runLabBench({
    preset: values.preset === "quick" ? "quick" : "standard",
    ...(values.pair === undefined ? {} : { pairs: values.pair as PairId[] }),
    repetitions: Number(values.runs),
    ...(values.json === undefined ? {} : { json: values.json }),
  });
  process.exit(0);
}
