/**
 * Snapshot benchmarks (issue 4), headless in Node: the booted default machine's state, raw and
 * compressed size, time to save (v86 save + encode) and to restore (decode + v86 restore +
 * a shell command answered).
 */
import { summarize, type Summary } from "../src/core/bench/stats.ts";
import { concatParts, decodeSnapshot, encodeSnapshot } from "../src/core/snapshot/format.ts";
import { machineFingerprint } from "../src/core/snapshot/fingerprint.ts";
import { V86_PACKAGE_VERSION } from "../src/core/v86.ts";
import { headlessMachine, loadDefaultGuest } from "../src/node/guest.ts";

export interface SnapshotCase {
  readonly id: string;
  readonly label: string;
  readonly unit: "MB" | "s";
  readonly samples: number[];
  readonly summary: Summary;
}

export async function runSnapshotBench(runs: number, log: (line: string) => void): Promise<SnapshotCase[]> {
  const raw: number[] = [];
  const packed: number[] = [];
  const save: number[] = [];
  const restore: number[] = [];
  const guest = loadDefaultGuest();
  for (let i = 0; i < runs; i++) {
    const source = headlessMachine();
    await source.start();
    await source.waitForShell({ timeoutMs: 120_000 });
    const t0 = performance.now();
    const { state, shellReady } = await source.saveState();
    const { parts } = await encodeSnapshot(state, {
      app: "bench",
      v86: V86_PACKAGE_VERSION,
      fingerprint: machineFingerprint(source.profile, guest),
      name: "bench",
      createdAt: Date.now(),
      shellReady,
      preview: "",
    });
    const file = concatParts(parts);
    save.push((performance.now() - t0) / 1000);
    source.dispose();
    raw.push(state.length / 1e6);
    packed.push(file.length / 1e6);

    const t1 = performance.now();
    const decoded = await decodeSnapshot(file);
    const target = headlessMachine({ initialState: { state: decoded.state, shellReady: decoded.header.shellReady } });
    await target.start();
    const answer = await target.run("echo $((6*7))");
    if (answer.output !== "42") throw new Error(`restored machine answered ${answer.output}`);
    restore.push((performance.now() - t1) / 1000);
    target.dispose();
    log(`snapshot run ${i + 1}/${runs}: ${raw.at(-1)?.toFixed(1)} MB raw, ${packed.at(-1)?.toFixed(1)} MB gzip, save ${save.at(-1)?.toFixed(2)} s, restore ${restore.at(-1)?.toFixed(2)} s`);
  }
  const make = (id: string, label: string, unit: SnapshotCase["unit"], samples: number[]): SnapshotCase => ({ id, label, unit, samples, summary: summarize(samples) });
  return [
    make("snapshot-raw", "snapshot of the booted default machine, raw state", "MB", raw),
    make("snapshot-gzip", "snapshot file (gzip chunks)", "MB", packed),
    make("snapshot-save", "save: v86 state + compress + checksums", "s", save),
    make("snapshot-restore", "restore into a fresh emulator: verify + decompress + start from state + shell answers", "s", restore),
  ];
}
