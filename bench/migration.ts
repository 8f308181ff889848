/**
 * Moving a running machine (issue 15), headless in Node: two of the page's sessions in one
 * process, both started from the pre-booted state; the first's guest moves into the second's
 * machine by stop-and-copy or pre-copy, idle or busy (a shell loop rewriting a 24 MiB tmpfs file).
 * Per move: downtime (source paused -> target runs), bytes sent, pre-copy's rounds; after it, the
 * guest answers on the target with its uptime grown and the same boot. Also the same-page meter
 * over the two running machines. Used by bench/run.ts (`npm run bench -- --suite migration`).
 */
import { summarize, type Summary } from "../src/core/bench/stats.ts";
import { samePageStats, type MachineSession, type MigrationMethod, type MigrationReport, type SamePageStats } from "../src/core/index.ts";
import { moveBetweenSessions } from "../src/node/migration.ts";
import { nodeSession, startSession } from "../src/node/session.ts";

export type Workload = "idle" | "busy";

export interface MigrationCase {
  readonly method: MigrationMethod;
  readonly workload: Workload;
  readonly reports: MigrationReport[];
  readonly downtimeMs: Summary;
  readonly totalMB: Summary;
  readonly totalS: Summary;
  /** Of the downtime, pre-copy's last hash of every page (0 for stop-and-copy). */
  readonly finalScanMs: Summary;
}

export interface MigrationBench {
  readonly cases: MigrationCase[];
  /** Pre-copy's median downtime over stop-and-copy's, per workload (target: idle <= 0.2). */
  readonly downtimeRatio: Record<Workload, number>;
  readonly samePages: SamePageStats | undefined;
}

/**
 * The busy guest: a 16 MiB random seed in tmpfs, then a loop that rewrites a 16 MiB tmpfs file
 * from it shifted by a different number of bytes each time (so every page's content changes),
 * counting iterations in /tmp/iter and naming its iteration in the file's first line. The kernel copies ~7 MB/s in this guest: ~2-3 s a file.
 */
export const BUSY_LOOP = "dd if=/dev/urandom of=/tmp/seed bs=1M count=16 2>/dev/null; (i=0; while :; do i=$((i+1)); { echo $i; tail -c +$((i % 4000 + 2)) /tmp/seed; } > /tmp/busy.new; mv /tmp/busy.new /tmp/busy; echo $i > /tmp/iter; done) >/dev/null 2>&1 & echo $! > /tmp/busy.pid";

async function started(): Promise<MachineSession> {
  const session = nodeSession();
  await startSession(session, { kind: "auto" });
  if (session.startedFrom !== "pre-booted") {
    session.dispose();
    throw new Error("the machine did not start from the pre-booted state: run `npx tsx images/prebooted.ts`");
  }
  await session.machine?.run("true", { timeoutMs: 60_000 });
  return session;
}

/**
 * What proves the guest is the same one, running on: its uptime, its boot id (both sides start
 * from the same pre-booted state, so that alone proves no reboot, not which guest), and a token
 * the source's guest was given before the move.
 */
async function guestClock(session: MachineSession): Promise<{ uptime: number; bootId: string; iter: number; token: string }> {
  const r = await session.machine?.run("cut -d' ' -f1 /proc/uptime; cat /proc/sys/kernel/random/boot_id; cat /tmp/iter 2>/dev/null || echo 0; cat /tmp/token 2>/dev/null || echo none", { timeoutMs: 60_000 });
  const [uptime, bootId, iter, token] = (r?.output ?? "").trim().split(/\s+/);
  return { uptime: Number(uptime), bootId: bootId ?? "", iter: Number(iter), token: token ?? "" };
}

async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs = 120_000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > end) throw new Error(`gave up waiting for ${what}`);
  }
}

export async function runMigrationBench(runs: number, log: (line: string) => void, workloads: readonly Workload[] = ["idle", "busy"]): Promise<MigrationBench> {
  const cases: MigrationCase[] = [];
  let samePages: SamePageStats | undefined;
  for (const workload of workloads) {
    for (const method of ["stop-and-copy", "pre-copy"] as const) {
      const reports: MigrationReport[] = [];
      for (let i = 0; i < runs; i++) {
        const source = await started();
        const target = await started();
        try {
          if (workload === "busy") {
            await source.machine?.run(BUSY_LOOP, { timeoutMs: 300_000 });
            await waitUntil(async () => (await guestClock(source)).iter >= 1, "the busy loop's first file");
          }
          if (samePages === undefined) {
            const rams = [source, target].map((s) => s.machine?.migrationSource(async () => undefined)?.memory().slice());
            if (rams.every((r) => r !== undefined)) samePages = samePageStats(rams as Uint8Array[]);
          }
          await source.machine?.run(`echo moved-${workload}-${method}-${i} > /tmp/token`, { timeoutMs: 60_000 });
          const t0 = performance.now();
          const before = await guestClock(source);
          const move = await moveBetweenSessions(source, target, { method });
          const after = await guestClock(target);
          const hostS = (performance.now() - t0) / 1000;
          if (after.token !== before.token) throw new Error(`the target runs another guest (token ${after.token}, the source's was ${before.token})`);
          if (after.bootId !== before.bootId) throw new Error(`the guest on the target has another boot id (${after.bootId}, was ${before.bootId})`);
          if (!(after.uptime > before.uptime)) throw new Error(`the guest's uptime did not run on (${before.uptime} -> ${after.uptime})`);
          if (workload === "busy") await waitUntil(async () => (await guestClock(target)).iter > after.iter, "the busy loop to go on on the target");
          reports.push(move.source);
          const r = move.source;
          log(
            `${method} ${workload} ${i + 1}/${runs}: downtime ${r.downtimeMs.toFixed(0)} ms, ${(r.totalBytes / 1e6).toFixed(1)} MB sent, ${r.rounds.length} rounds (${r.rounds.map((x) => `${x.pagesSent}/${x.pagesDirtied}`).join(" ")}) ${r.stopReason ?? ""}, final ${r.finalPages} pages + ${(r.stateBytes / 1e6).toFixed(2)} MB state, pause-to-sent ${r.pauseToSentMs.toFixed(0)} ms (final scan ${r.finalScanMs.toFixed(0)} ms), move ${(r.totalMs / 1000).toFixed(2)} s; uptime ${before.uptime} -> ${after.uptime} (host ${hostS.toFixed(1)} s between the two readings)`,
          );
        } finally {
          for (const s of [source, target]) {
            await s.stop().catch(() => undefined);
            s.dispose();
          }
        }
      }
      cases.push({
        method,
        workload,
        reports,
        downtimeMs: summarize(reports.map((r) => r.downtimeMs)),
        totalMB: summarize(reports.map((r) => r.totalBytes / 1e6)),
        totalS: summarize(reports.map((r) => r.totalMs / 1000)),
        finalScanMs: summarize(reports.map((r) => r.finalScanMs)),
      });
    }
  }
  const median = (method: MigrationMethod, workload: Workload): number => cases.find((c) => c.method === method && c.workload === workload)?.downtimeMs.median ?? Number.NaN;
  return {
    cases,
    downtimeRatio: { idle: median("pre-copy", "idle") / median("stop-and-copy", "idle"), busy: median("pre-copy", "busy") / median("stop-and-copy", "busy") },
    samePages,
  };
}

/** The printed table: one row per method and workload, then pre-copy's rounds. */
export function formatMigrationBench(bench: MigrationBench, formatTable: (head: string[], rows: string[][]) => string): string {
  const rows = bench.cases.map((c) => [
    c.method,
    c.workload,
    String(c.downtimeMs.runs),
    c.downtimeMs.median.toFixed(0),
    `${c.downtimeMs.min.toFixed(0)}-${c.downtimeMs.max.toFixed(0)}`,
    c.method === "pre-copy" ? c.finalScanMs.median.toFixed(0) : "-",
    c.totalMB.median.toFixed(1),
    c.totalS.median.toFixed(2),
    c.method === "pre-copy" ? (c.reports.map((r) => r.rounds.length).join("/") + " " + (c.reports[0]?.stopReason ?? "")) : "-",
  ]);
  const lines = [formatTable(["method", "guest", "runs", "downtime ms", "min-max", "of it, scan ms", "sent MB", "move s", "rounds"], rows)];
  for (const c of bench.cases.filter((x) => x.method === "pre-copy")) {
    const r = c.reports[0];
    if (r === undefined) continue;
    lines.push(`pre-copy ${c.workload}, first run, per round (pages sent / dirtied meanwhile / ms): ${r.rounds.map((x) => `${x.pagesSent}/${x.pagesDirtied}/${x.ms.toFixed(0)}`).join(", ")}; in the pause ${r.finalPages} pages + ${(r.stateBytes / 1e6).toFixed(2)} MB device state`);
  }
  lines.push(`downtime pre-copy / stop-and-copy: idle ${bench.downtimeRatio.idle.toFixed(2)} (target <= 0.20), busy ${bench.downtimeRatio.busy.toFixed(2)}`);
  const k = bench.samePages;
  if (k !== undefined) {
    const mib = (pages: number): string => ((pages * 4096) / 1048576).toFixed(1);
    lines.push(`same pages over the two running machines (measured, not merged): ${mib(k.pages)} MiB, zero ${mib(k.zeroPages)} MiB, repeated within ${mib(k.duplicateWithin)} MiB, shared across ${mib(k.duplicateAcross)} MiB: merging would save ${(k.savableBytes / 1048576).toFixed(1)} MiB`);
  }
  return lines.join("\n");
}
