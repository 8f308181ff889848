/**
 * npm run bench: headless benchmarks on the real guest in Node. Prints a table and writes JSON
 * (bench/results/latest.json, or --json PATH). Figures, not pass/fail: targets live here, not
 * in timed tests.
 *
 *   npm run bench                      # boot cases and the device lab, 3 runs each
 *   npm run bench -- --runs 5 --case boot-jit
 *   npm run bench -- --suite lab --preset quick --pair console
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { formatTable, summarize, type Summary } from "../src/core/bench/stats.ts";
import { V86_PACKAGE_VERSION, type DeviceProfile } from "../src/core/index.ts";
import { REPO_ROOT, guestIsBuilt, headlessMachine, readGuestManifest } from "../src/node/guest.ts";
import type { PairId } from "../src/core/lab/index.ts";
import { runLabBench } from "./lab.ts";

interface BootCase {
  readonly id: string;
  readonly label: string;
  readonly profile: Partial<DeviceProfile>;
  readonly cmdline?: string;
}

const CASES: readonly BootCase[] = [
  { id: "boot-jit", label: "cold boot to prompt, JIT", profile: { cpu: "jit" } },
  { id: "boot-interpreter", label: "cold boot to prompt, interpreter", profile: { cpu: "interpreter" } },
];

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    case: { type: "string", multiple: true },
    json: { type: "string" },
    // Device lab (bench/lab.ts): "boot", "lab" or "all".
    suite: { type: "string", default: "all" },
    preset: { type: "string", default: "standard" },
    pair: { type: "string", multiple: true },
  },
});
const suite = values.suite;
if (suite !== "all" && suite !== "boot" && suite !== "lab") throw new Error("--suite must be boot, lab or all");
// A lab-only run does not overwrite the boot figures.
const jsonPath = values.json ?? resolve(REPO_ROOT, suite === "lab" ? "bench/results/lab-latest.json" : "bench/results/latest.json");

const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs must be a positive whole number");
if (!guestIsBuilt()) {
  console.error("The default guest is not built: run `npm run guest` (or `npm start`) first.");
  process.exit(1);
}
const selected = suite === "lab" ? [] : values.case === undefined ? CASES : CASES.filter((c) => values.case?.includes(c.id));
if (selected.length === 0 && suite !== "lab") {
  console.error(`No such case. Cases: ${CASES.map((c) => c.id).join(", ")}`);
  process.exit(1);
}

interface BootSample {
  /** From creating the machine to the prompt: what a user waits for. */
  readonly totalS: number;
  /** Reading files and instantiating the emulator. */
  readonly startS: number;
  /** From the emulator running to the shell prompt. */
  readonly bootS: number;
}

async function bootOnce(c: BootCase): Promise<BootSample> {
  const guest = readGuestManifest();
  const machine = headlessMachine({ profile: c.profile });
  try {
    const t0 = performance.now();
    await machine.start();
    const t1 = performance.now();
    await machine.waitForShell({ timeoutMs: 240_000 });
    const t2 = performance.now();
    const { output } = await machine.run("uname -r");
    if (output !== guest.kernelRelease) throw new Error(`unexpected kernel release ${output}`);
    return { totalS: (t2 - t0) / 1000, startS: (t1 - t0) / 1000, bootS: (t2 - t1) / 1000 };
  } finally {
    machine.dispose();
  }
}

const results: { id: string; label: string; samples: BootSample[]; total: Summary; boot: Summary }[] = [];
for (const c of selected) {
  const samples: BootSample[] = [];
  for (let i = 0; i < runs; i++) {
    const sample = await bootOnce(c);
    samples.push(sample);
    process.stderr.write(`${c.id} run ${i + 1}/${runs}: ${sample.totalS.toFixed(2)} s\n`);
  }
  results.push({ id: c.id, label: c.label, samples, total: summarize(samples.map((s) => s.totalS)), boot: summarize(samples.map((s) => s.bootS)) });
}

const manifest = readGuestManifest();
console.log(`\nvirtlab bench — v86 ${V86_PACKAGE_VERSION}, kernel ${manifest.kernelRelease}, Node ${process.versions.node}`);
console.log(`cmdline: ${manifest.cmdline}\n`);
if (results.length > 0) console.log(
  formatTable(
    ["case", "runs", "median s", "min s", "max s", "spread", "of which boot s"],
    results.map((r) => [
      r.label,
      String(r.total.runs),
      r.total.median.toFixed(2),
      r.total.min.toFixed(2),
      r.total.max.toFixed(2),
      `${(r.total.spread * 100).toFixed(0)}%`,
      r.boot.median.toFixed(2),
    ]),
  ),
);

const lab =
  suite === "boot"
    ? undefined
    : await runLabBench({
        preset: values.preset === "quick" ? "quick" : "standard",
        repetitions: runs,
        ...(values.pair === undefined ? {} : { pairs: values.pair as PairId[] }),
      });

const report = {
  date: new Date().toISOString(),
  v86: V86_PACKAGE_VERSION,
  node: process.versions.node,
  kernelRelease: manifest.kernelRelease,
  cmdline: manifest.cmdline,
  cases: results,
  ...(lab === undefined ? {} : { lab }),
};
mkdirSync(dirname(jsonPath), { recursive: true });
writeFileSync(jsonPath, JSON.stringify(report, null, 2) + "\n");
console.log(`\nJSON: ${jsonPath}`);
