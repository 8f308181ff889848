/**
 * What this process's Chromium uses, read from /proc (Linux): CPU time and renderer memory. Only
 * the Chromium processes this script started count (other Chromiums may share the machine).
 */
import { readFileSync, readdirSync } from "node:fs";

function parentOf(pid: string): string | undefined {
  try {
    return /^\d+ \(.*\) \S (\d+)/.exec(readFileSync(`/proc/${pid}/stat`, "utf8"))?.[1];
  } catch {
    return undefined;
  }
}

const mine = (pid: string): boolean => {
  for (let p: string | undefined = pid, depth = 0; p !== undefined && p !== "0" && depth < 10; p = parentOf(p), depth++) if (p === String(process.pid)) return true;
  return false;
};

/**
 * Calls `visit` for each of this script's Chromium processes (`type`: browser, renderer,
 * gpu-process, utility), or only those of `only`; a process that ends meanwhile is skipped.
 */
function eachOfMine(visit: (pid: string, type: string) => void, only?: string): void {
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const type = /--type=([a-z-]+)/.exec(readFileSync(`/proc/${pid}/cmdline`, "utf8"))?.[1] ?? "browser";
      if ((only === undefined || type === only) && mine(pid)) visit(pid, type);
    } catch {
      // The process ended.
    }
  }
}

/** User + system CPU ticks (1/100 s) in a /proc stat file, and the name in it. */
function statTicks(path: string): { ticks: number; name: string } {
  const stat = readFileSync(path, "utf8");
  const fields = stat.replace(/^.*\) /, "").split(" ");
  return { ticks: Number(fields[11]) + Number(fields[12]), name: /\((.*)\)/.exec(stat)?.[1] ?? "?" };
}

/**
 * CPU seconds (user + system) used so far by this script's Chromium processes: a cost per MiB that
 * other work on the machine does not change, where MB/s on a shared machine varies with its load.
 */
export function chromiumCpuS(): number {
  let ticks = 0;
  eachOfMine((pid) => (ticks += statTicks(`/proc/${pid}/stat`).ticks));
  return ticks / 100;
}

/** Resident bytes of the renderers this script's Chromium started (other Chromiums share the machine). */
export function rendererRss(): number {
  let total = 0;
  eachOfMine((pid) => {
    const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    if (rss !== null) total += Number(rss[1]) * 1024;
  }, "renderer");
  return total;
}

/**
 * CPU ticks (1/100 s) so far of every thread of this script's Chromium, keyed by the process's
 * type and the thread's name: where a phase's CPU went.
 */
export function chromiumThreadTicks(): Map<string, number> {
  const out = new Map<string, number>();
  eachOfMine((pid, type) => {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const { ticks, name } = statTicks(`/proc/${pid}/task/${tid}/stat`);
        const key = `${type}/${name}`;
        out.set(key, (out.get(key) ?? 0) + ticks);
      } catch {
        // The thread ended.
      }
    }
  });
  return out;
}

/** The threads that used most CPU between two chromiumThreadTicks readings, as "name 1.2 s" parts. */
export function topThreads(before: Map<string, number>, after: Map<string, number>, count = 8): string {
  return [...after]
    .map(([key, ticks]) => [key, ticks - (before.get(key) ?? 0)] as const)
    .filter(([, ticks]) => ticks > 0)
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([key, ticks]) => `${key} ${(ticks / 100).toFixed(1)} s`)
    .join(", ");
}

/** Resident bytes and size of each mapping of this script's renderers, keyed by "pid:start". */
export function rendererMappings(): Map<string, { readonly rss: number; readonly size: number }> {
  const out = new Map<string, { rss: number; size: number }>();
  eachOfMine((pid) => {
    let current: { rss: number; size: number } | undefined;
    for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
      const head = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
      if (head !== null) {
        current = { rss: 0, size: parseInt(head[2] as string, 16) - parseInt(head[1] as string, 16) };
        out.set(`${pid}:${head[1]}`, current);
      } else if (current !== undefined && line.startsWith("Rss:")) current.rss = Number(/(\d+) kB/.exec(line)?.[1] ?? 0) * 1024;
    }
  }, "renderer");
  return out;
}

/**
 * Where resident memory grew between two rendererMappings readings, by the size of the mappings
 * (rounded MiB), largest change first: "8 MiB mappings +39 MiB, …". The allocators map big
 * buffers one by one, so a size that grows points at its buffers (an 8 MiB read-ahead window, a
 * write of 1 MiB), and the machine's RAM is one mapping of its own (a little more than its size).
 */
export function mappingGrowth(before: ReturnType<typeof rendererMappings>, after: ReturnType<typeof rendererMappings>, count = 4): string {
  const bySize = new Map<number, number>();
  const add = (size: number, rss: number): void => {
    const mib = Math.round(size / MIB);
    bySize.set(mib, (bySize.get(mib) ?? 0) + rss);
  };
  for (const [key, m] of after) add(m.size, m.rss - (before.get(key)?.rss ?? 0));
  for (const [key, m] of before) if (!after.has(key)) add(m.size, -m.rss);
  return [...bySize]
    .sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]))
    .slice(0, count)
    .map(([mib, rss]) => `${mib} MiB mappings ${rss >= 0 ? "+" : ""}${(rss / MIB).toFixed(0)} MiB`)
    .join(", ");
}

const MIB = 1024 * 1024;

/**
 * Wait until this script's Chromium is quiet: under `idleShare` of a core over `windowMs`, or
 * `maxMs` at most. A new browser window (each `newPage`) loads Chromium's own WebUI (the
 * omnibox popup, chrome://omnibox-popup.top-chrome: about 1 s of a core in Chromium 156), which a
 * user meets when the window opens, not when they enter virtlab's address in it. Returns the
 * seconds waited and the CPU seconds Chromium used meanwhile, for the log.
 */
export async function browserQuiet(options: { windowMs?: number; idleShare?: number; maxMs?: number } = {}): Promise<{ seconds: number; cpuS: number }> {
  const windowMs = options.windowMs ?? 500;
  const idleShare = options.idleShare ?? 0.1;
  const maxMs = options.maxMs ?? 15_000;
  const started = performance.now();
  const cpuAtStart = chromiumCpuS();
  let before = cpuAtStart;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    const now = chromiumCpuS();
    const quiet = now - before < (idleShare * windowMs) / 1000;
    before = now;
    if (quiet || performance.now() - started >= maxMs) return { seconds: (performance.now() - started) / 1000, cpuS: now - cpuAtStart };
  }
}
