/**
 * What the trap meter costs (issue 13): UART console write throughput with the meter installed
 * and without, alternating runs on one machine started from the pre-booted state. Used by
 * bench/run.ts (`npm run bench -- --suite microscope`), or alone: `npx tsx bench/microscope.ts`.
 */
import { TrapMeter, type Machine, type MachineSession } from "../src/core/index.ts";
import { summarize, type Summary } from "../src/core/bench/stats.ts";
import { nodeSession, startSession } from "../src/node/session.ts";

export interface MeterOverhead {
  readonly bytes: number;
  readonly off: Summary;
  readonly on: Summary;
  /** 1 − on/off, from the medians. */
  readonly slowdown: number;
  /** Traps counted during one metered run, per MB written. */
  readonly portIoPerMB: number;
  readonly irqPerMB: number;
}

const BYTES = 256 * 1024;
const FILE = "/tmp/meter-bench.txt";

/** The page's session on the default machine, from the pre-booted state. */
async function start(): Promise<{ session: MachineSession; machine: Machine }> {
  const session = nodeSession();
  await startSession(session, { kind: "auto" });
  const machine = session.machine;
  if (machine === undefined || session.startedFrom !== "pre-booted") {
    session.dispose();
    throw new Error("the machine did not start from the pre-booted state: run `npx tsx images/prebooted.ts`");
  }
  await machine.run("true", { timeoutMs: 60_000 });
  return { session, machine };
}

export async function runMicroscopeBench(runs: number, log: (line: string) => void): Promise<MeterOverhead> {
  const { session, machine } = await start();
  try {
    const hooks = machine.microscope();
    if (hooks === undefined) throw new Error("the v86 backend has no microscope hooks");
    // Printable text with no newlines, so the terminal line discipline adds nothing.
    await machine.run(`head -c ${(BYTES * 3) / 4} /dev/urandom | base64 | tr -d '\\n' | head -c ${BYTES} > ${FILE}`, { timeoutMs: 120_000 });
    const write = async (): Promise<number> => {
      const t0 = performance.now();
      const r = await machine.run(`cat ${FILE}`, { timeoutMs: 300_000 });
      const s = (performance.now() - t0) / 1000;
      if (r.output.length < BYTES) throw new Error(`console write returned ${r.output.length} of ${BYTES} bytes`);
      return BYTES / 1e6 / s;
    };
    await write(); // warm-up
    const off: number[] = [];
    const on: number[] = [];
    let portIo = 0;
    let irq = 0;
    for (let i = 0; i < runs; i++) {
      off.push(await write());
      const meter = new TrapMeter();
      const watch = hooks.watchTraps(meter);
      try {
        on.push(await write());
      } finally {
        watch.dispose();
      }
      ({ portIo, irq } = meter.snapshot().totals);
      log(`microscope run ${i + 1}: meter off ${off[i]?.toFixed(3)} MB/s, on ${on[i]?.toFixed(3)} MB/s`);
    }
    const offS = summarize(off);
    const onS = summarize(on);
    const mb = BYTES / 1e6;
    return { bytes: BYTES, off: offS, on: onS, slowdown: 1 - onS.median / offS.median, portIoPerMB: portIo / mb, irqPerMB: irq / mb };
  } finally {
    await session.stop().catch(() => undefined);
    session.dispose();
  }
}

export function formatOverhead(o: MeterOverhead): string {
  const f = (s: Summary): string => `median ${s.median.toFixed(3)} MB/s (min ${s.min.toFixed(3)}, max ${s.max.toFixed(3)}, ${s.runs} runs)`;
  return [
    `trap meter overhead, UART console write of ${o.bytes / 1024} KiB (host wall clock, command round trip included):`,
    `  meter off: ${f(o.off)}`,
    `  meter on:  ${f(o.on)}`,
    `  slowdown with the meter on: ${(o.slowdown * 100).toFixed(1)}%; counted ${Math.round(o.portIoPerMB)} port accesses/MB, ${Math.round(o.irqPerMB)} interrupts/MB`,
  ].join("\n");
}

const isMain = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, "/"));
if (isMain) {
  const runs = Number(process.argv[2] ?? "3");
  console.log(formatOverhead(await runMicroscopeBench(runs, (l) => void process.stderr.write(`${l}\n`))));
  process.exit(0);
}
