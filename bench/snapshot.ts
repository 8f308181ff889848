/**
 * Snapshot benchmarks (issue 4), headless in Node through the page's session
 * (src/node/session.ts): the default machine started from the pre-booted state, its snapshot's
 * raw and compressed size, time to save (the session's capture: v86 save + disks + encode) and to
 * restore (the session's snapshot start, as the page restores: checks, decode, disks, a fresh
 * emulator from the state, the set-up after it, then a shell command answered); and the CPU that
 * restored machine uses while it waits at its prompt (a lab keeps several machines so). First, the
 * size of the pre-booted state as set-up made it (what a first visit fetches; issue 12: ≤ 8 MB).
 * Last, the same machine with data on its disk: how long a save takes, and when a shell command
 * typed as it begins is answered (the machine is paused for part of a save).
 */
import { statSync } from "node:fs";
import { join } from "node:path";
import { summarize, type Summary } from "../src/core/bench/stats.ts";
import type { MachineSession } from "../src/core/index.ts";
import { concatParts, readSnapshotHeader } from "../src/core/snapshot/format.ts";
import { GUEST_DIR } from "../src/node/guest.ts";
import { PREBOOTED_FILE, nodeSession, startSession } from "../src/node/session.ts";

export interface SnapshotCase {
  readonly id: string;
  readonly label: string;
  readonly unit: "MB" | "s" | "cores";
  readonly samples: number[];
  readonly summary: Summary;
}

export async function runSnapshotBench(runs: number, log: (line: string) => void): Promise<SnapshotCase[]> {
  const raw: number[] = [];
  const packed: number[] = [];
  const save: number[] = [];
  const restore: number[] = [];
  const idle: number[] = [];
  const shipped = statSync(join(GUEST_DIR, PREBOOTED_FILE)).size / 1e6;
  for (let i = 0; i < runs; i++) {
    await withPrebootedSession(async (session) => {
      const t0 = performance.now();
      const file = concatParts(await session.capture({ name: "bench", app: "bench", preview: "", createdAt: Date.now() }));
      save.push((performance.now() - t0) / 1000);
      raw.push(readSnapshotHeader(file).header.rawSize / 1e6);
      packed.push(file.length / 1e6);

      const t1 = performance.now();
      await startSession(session, { kind: "snapshot", file });
      const answer = await session.machine?.run("echo $((6*7))");
      if (answer?.output !== "42") throw new Error(`restored machine answered ${answer?.output}`);
      restore.push((performance.now() - t1) / 1000);
      idle.push(await idleCores());
    });
    log(`snapshot run ${i + 1}/${runs}: ${raw.at(-1)?.toFixed(1)} MB raw, ${packed.at(-1)?.toFixed(1)} MB gzip, save ${save.at(-1)?.toFixed(2)} s, restore ${restore.at(-1)?.toFixed(2)} s, idle ${idle.at(-1)?.toFixed(3)} cores`);
  }
  const busy = await busyDiskSaves(runs, log);
  const make = (id: string, label: string, unit: SnapshotCase["unit"], samples: number[]): SnapshotCase => ({ id, label, unit, samples, summary: summarize(samples) });
  return [
    make("prebooted-file", "pre-booted state as shipped (images/out/prebooted.vlsnap, zstd + x86 filter; aim ≤ 8 MB)", "MB", [shipped]),
    make("snapshot-raw", "snapshot of the default machine (from the pre-booted state), raw state", "MB", raw),
    make("snapshot-gzip", "snapshot file (gzip chunks)", "MB", packed),
    make("snapshot-save", "save: v86 state + data disk pages + compress + checksums", "s", save),
    make("snapshot-restore", "restore as the page does: verify + decompress + disks + fresh emulator from state + set-up + shell answers", "s", restore),
    make("snapshot-idle", `the restored machine idle at its prompt: CPU of the whole process (${IDLE_S} s, after ${SETTLE_S} s)`, "cores", idle),
    make("snapshot-disk-save", `save with ${DATA_MIB} MiB of incompressible data on /data`, "s", busy.save),
    make("snapshot-disk-answer", "…a shell command typed as that save begins: answered after", "s", busy.answer),
  ];
}

/** What the guest writes to its data disk before the save of `busyDiskSaves`. */
const DATA_MIB = 48;

/**
 * The default machine with DATA_MIB of data on its disk (1 MiB from /dev/urandom, repeated: more
 * than gzip's window apart, so it does not compress), saved; `echo $((6*7))` is typed as the save
 * begins. How long the save takes, and when the command is answered: a machine paused for its
 * save answers only when it runs on.
 */
async function busyDiskSaves(runs: number, log: (line: string) => void): Promise<{ save: number[]; answer: number[] }> {
  const save: number[] = [];
  const answer: number[] = [];
  for (let i = 0; i < runs; i++) {
    await withPrebootedSession(async (session) => {
      const machine = session.machine;
      if (machine === undefined) throw new Error("no machine");
      const wrote = await machine.run(`head -c 1048576 /dev/urandom > /tmp/m && for i in $(seq ${DATA_MIB}); do cat /tmp/m; done > /data/f && sync`, { timeoutMs: 300_000 });
      if (wrote.exitCode !== 0) throw new Error(`writing /data/f failed: ${wrote.output}`);
      const t0 = performance.now();
      const saved = session.capture({ name: "bench", app: "bench", preview: "", createdAt: Date.now() }).then(() => (performance.now() - t0) / 1000);
      const answered = machine.run("echo $((6*7))").then((reply) => {
        if (reply.output !== "42") throw new Error(`the machine answered ${reply.output}`);
        return (performance.now() - t0) / 1000;
      });
      save.push(await saved);
      answer.push(await answered);
    });
    log(`snapshot with ${DATA_MIB} MiB on /data, run ${i + 1}/${runs}: save ${save.at(-1)?.toFixed(2)} s, a command typed at its start answered after ${answer.at(-1)?.toFixed(2)} s`);
  }
  return { save, answer };
}

/** `work` on a session of the default machine started from the pre-booted state; stopped after it, whatever happened. */
async function withPrebootedSession(work: (session: MachineSession) => Promise<void>): Promise<void> {
  const session = nodeSession();
  try {
    await startSession(session, { kind: "auto" });
    if (session.startedFrom !== "pre-booted") throw new Error("the machine did not start from the pre-booted state: run `npx tsx images/prebooted.ts`");
    await work(session);
  } finally {
    await session.stop().catch(() => undefined);
    session.dispose();
  }
}

/** How long the idle machine is left first (its set-up's last writes, the JIT's last compiles), then measured. */
const SETTLE_S = 2;
const IDLE_S = 5;

/** Cores this Node process uses while its one machine waits at the prompt: user + system CPU time per second. */
async function idleCores(): Promise<number> {
  const wait = (s: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, s * 1000));
  await wait(SETTLE_S);
  const before = process.cpuUsage();
  const t0 = performance.now();
  await wait(IDLE_S);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000 / (performance.now() - t0);
}
