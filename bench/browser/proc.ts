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
 * CPU seconds (user + system) used so far by this script's Chromium processes: a cost per MiB that
 * other work on the machine does not change, where MB/s on a shared machine varies with its load.
 */
export function chromiumCpuS(): number {
  let ticks = 0;
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      if (!mine(pid)) continue;
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // The process ended.
    }
  }
  return ticks / 100;
}

/** Resident bytes of the renderers this script's Chromium started (other Chromiums share the machine). */
export function rendererRss(): number {
  let total = 0;
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (!cmd.includes("--type=renderer") || !mine(pid)) continue;
      const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (rss !== null) total += Number(rss[1]) * 1024;
    } catch {
      // The process ended.
    }
  }
  return total;
}
