/**
 * npm run bench: benchmarks on the real guest, headless in Node (and in Chromium: bench/browser.ts). Prints tables and writes JSON
 * (bench/results/latest.json, or --json PATH). Figures, not pass/fail: targets live here, not
 * in timed tests.
 *
 *   npm run bench                                  # the Node suites, 3 runs each
 *   npm run bench -- --suite browser               # Chromium, the production build (npm run build first)
 *   npm run bench -- --suite boot --runs 5
 *   npm run bench -- --suite storage --suite snapshot
 *   npm run bench -- --suite lab --preset quick --pair console
 *   npm run bench -- --suite microscope            # the trap meter's cost: UART writes, meter on vs off
 *   npm run bench -- --suite network               # the network lab: ping RTT, TCP per NIC pair, frames/s, a .pcap
 *   npm run bench -- --suite network-browser       # the network lab in Chromium: two busy machines' MIPS vs one (build first)
 *   npm run bench -- --suite lab-browser           # the device lab's Run all in Chromium, standard sizes (build first)
 *   npm run bench -- --suite disk-browser          # big disks in Chromium: 2 GiB data disk start, guest write/read MB/s, memory (build first)
 *   npm run bench -- --suite migration             # moving a running machine between two sessions: stop-and-copy vs pre-copy, idle and busy
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { formatTable, summarize, type Summary } from "../src/core/bench/stats.ts";
import { V86_PACKAGE_VERSION, type DeviceProfile } from "../src/core/index.ts";
import type { LabReport, PairId } from "../src/core/lab/index.ts";
import { REPO_ROOT, guestIsBuilt, readGuestManifest } from "../src/node/guest.ts";
import { bootOnce, type BootSample } from "./boot.ts";
import { chromiumJsFlags, runBrowserBench, type BrowserCase } from "./browser.ts";
import { runBrowserGuestDiskBench } from "./browserGuestDisk.ts";
import { runBrowserNetworkBench } from "./browserNetwork.ts";
import { runBrowserLabBench } from "./browserLab.ts";
import { runLabBench } from "./lab.ts";
import { formatOverhead, runMicroscopeBench, type MeterOverhead } from "./microscope.ts";
import { formatMigrationBench, runMigrationBench, type MigrationBench } from "./migration.ts";
import { formatNetworkReport, runNetworkBench, type NetworkReport } from "./network.ts";
import { runSnapshotBench, type SnapshotCase } from "./snapshot.ts";
import { runStorageBench, type StorageCase } from "./storage.ts";

const SUITES = ["boot", "storage", "snapshot", "lab", "microscope", "network", "browser", "network-browser", "lab-browser", "disk-browser", "migration"] as const;
type Suite = (typeof SUITES)[number];
/** What runs without --suite: the browser suites need a build and Chromium, so it is asked for by name. */
const DEFAULT_SUITES: readonly Suite[] = ["boot", "storage", "snapshot", "lab", "microscope"];

interface BootCase {
  readonly id: string;
  readonly label: string;
  readonly profile: Partial<DeviceProfile>;
}

const BOOT_CASES: readonly BootCase[] = [
  { id: "boot-jit", label: "cold boot to prompt, JIT", profile: { cpu: "jit" } },
  { id: "boot-interpreter", label: "cold boot to prompt, interpreter", profile: { cpu: "interpreter" } },
];

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    suite: { type: "string", multiple: true },
    json: { type: "string", default: resolve(REPO_ROOT, "bench/results/latest.json") },
    // Device lab (bench/lab.ts).
    preset: { type: "string", default: "standard" },
    pair: { type: "string", multiple: true },
  },
});

const suites = new Set<Suite>();
for (const name of values.suite ?? DEFAULT_SUITES) {
  if (!(SUITES as readonly string[]).includes(name)) {
    console.error(`No such suite "${name}". Suites: ${SUITES.join(", ")}`);
    process.exit(1);
  }
  suites.add(name as Suite);
}
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs must be a positive whole number");
if (!guestIsBuilt()) {
  console.error("The default guest is not built: run `npm run guest` (or `npm start`) first.");
  process.exit(1);
}
const log = (line: string): void => void process.stderr.write(`${line}\n`);

interface BootResult {
  readonly id: string;
  readonly label: string;
  readonly samples: BootSample[];
  readonly total: Summary;
  readonly boot: Summary;
}

async function bootSuite(): Promise<BootResult[]> {
  const results: BootResult[] = [];
  for (const c of BOOT_CASES) {
    const samples: BootSample[] = [];
    for (let i = 0; i < runs; i++) {
      samples.push(await bootOnce(c.profile));
      log(`${c.id} run ${i + 1}/${runs}: ${samples.at(-1)?.totalS.toFixed(2)} s`);
    }
    results.push({ id: c.id, label: c.label, samples, total: summarize(samples.map((s) => s.totalS)), boot: summarize(samples.map((s) => s.bootS)) });
  }
  return results;
}

/** One table for the storage and snapshot cases: each row a figure with its unit. */
function caseTable(cases: readonly (StorageCase | SnapshotCase | BrowserCase)[]): string {
  const fmt = (n: number): string => (n >= 100 ? n.toFixed(0) : n.toFixed(2));
  return formatTable(
    ["case", "unit", "runs", "median", "min", "max", "spread"],
    cases.map((c) => [c.label, c.unit, String(c.summary.runs), fmt(c.summary.median), fmt(c.summary.min), fmt(c.summary.max), `${(c.summary.spread * 100).toFixed(0)}%`]),
  );
}

const manifest = readGuestManifest();
const v8Flags = [...process.execArgv.filter((a) => a.startsWith("--") && !a.startsWith("--import") && !a.startsWith("--require")), ...chromiumJsFlags()];
const header = `virtlab bench — v86 ${V86_PACKAGE_VERSION}, kernel ${manifest.kernelRelease}, Node ${process.versions.node}\ncmdline: ${manifest.cmdline}${v8Flags.length > 0 ? `\nV8 flags (not the defaults): ${v8Flags.join(" ")}` : ""}`;
const report: {
  date: string;
  v86: string;
  node: string;
  kernelRelease: string;
  cmdline: string;
  v8Flags: string[];
  boot?: BootResult[];
  storage?: StorageCase[];
  snapshot?: SnapshotCase[];
  lab?: LabReport;
  microscope?: MeterOverhead;
  browser?: BrowserCase[];
  network?: NetworkReport;
  migration?: MigrationBench;
} = { date: new Date().toISOString(), v86: V86_PACKAGE_VERSION, node: process.versions.node, kernelRelease: manifest.kernelRelease, cmdline: manifest.cmdline, v8Flags };

if (suites.has("boot")) report.boot = await bootSuite();
if (suites.has("storage")) report.storage = await runStorageBench(runs, log);
if (suites.has("snapshot")) report.snapshot = await runSnapshotBench(runs, log);
if (suites.has("browser")) report.browser = await runBrowserBench(runs, log);
if (suites.has("network-browser")) report.browser = [...(report.browser ?? []), ...(await runBrowserNetworkBench(runs, log))];
if (suites.has("lab-browser")) report.browser = [...(report.browser ?? []), ...(await runBrowserLabBench(runs, log))];
if (suites.has("disk-browser")) report.browser = [...(report.browser ?? []), ...(await runBrowserGuestDiskBench(runs, log))];
if (suites.has("microscope")) report.microscope = await runMicroscopeBench(runs, log);
if (suites.has("migration")) report.migration = await runMigrationBench(runs, log);
if (suites.has("network")) {
  // The capture goes beside the JSON (bench/results/ is not committed).
  mkdirSync(dirname(values.json), { recursive: true });
  const pcap = resolve(dirname(values.json), `network-${report.date.replace(/[:.]/g, "-")}.pcap`);
  report.network = await runNetworkBench(runs, pcap, log);
}

console.log(`\n${header}\n`);
if (report.boot !== undefined) {
  console.log(
    formatTable(
      ["case", "runs", "median s", "min s", "max s", "spread", "of which boot s"],
      report.boot.map((r) => [
        r.label,
        String(r.total.runs),
        r.total.median.toFixed(2),
        r.total.min.toFixed(2),
        r.total.max.toFixed(2),
        `${(r.total.spread * 100).toFixed(0)}%`,
        r.boot.median.toFixed(2),
      ]),
    ) + "\n",
  );
}
const figures = [...(report.storage ?? []), ...(report.snapshot ?? []), ...(report.browser ?? [])];
if (figures.length > 0) console.log(caseTable(figures) + "\n");
if (report.microscope !== undefined) console.log(formatOverhead(report.microscope) + "\n");
if (report.network !== undefined) console.log(formatNetworkReport(report.network, formatTable) + "\n");
if (report.migration !== undefined) console.log(formatMigrationBench(report.migration, formatTable) + "\n");

// The lab prints its own table (bench/lab.ts) as it finishes.
if (suites.has("lab")) {
  report.lab = await runLabBench({
    preset: values.preset === "quick" ? "quick" : "standard",
    repetitions: runs,
    ...(values.pair === undefined ? {} : { pairs: values.pair as PairId[] }),
  });
}

mkdirSync(dirname(values.json), { recursive: true });
writeFileSync(values.json, JSON.stringify(report, null, 2) + "\n");
console.log(`\nJSON: ${values.json}`);
process.exit(0);
