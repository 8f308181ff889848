/**
 * Storage benchmarks (issue 3), headless in Node: image import into the chunked store, boot with
 * the data disk on an IndexedDB-backed overlay vs a plain in-memory buffer, and guest `dd` on each.
 * IndexedDB in Node is fake-indexeddb (a JavaScript implementation): these figures measure
 * virtlab's own code paths (chunking, hashing, page copies, write-back), not a browser's
 * IndexedDB; the e2e suite covers the real one.
 */
import "fake-indexeddb/auto";
import { summarize, type Summary } from "../src/core/bench/stats.ts";
import {
  DATA_DISK_BYTES,
  DiskStore,
  ImageStore,
  openIndexedDbStore,
  systemClock,
  type AttachedDisks,
  type Machine,
  type OverlayDisk,
} from "../src/core/index.ts";
import { headlessMachine, loadDefaultGuest } from "../src/node/guest.ts";

export interface StorageCase {
  readonly id: string;
  readonly label: string;
  readonly unit: "MB/s" | "s";
  readonly samples: number[];
  readonly summary: Summary;
}

const MB = 1e6;

async function importRate(sizeBytes: number): Promise<number> {
  const store = new ImageStore(openIndexedDbStore(`bench-images-${Math.random()}`, "kv"), { now: Date.now });
  const bytes = new Uint8Array(sizeBytes);
  for (let i = 0; i < bytes.length; i += 4096) bytes[i] = i & 0xff;
  bytes.set([0x43, 0x44, 0x30, 0x30, 0x31], 0x8001);
  const t0 = performance.now();
  await store.import({ name: "bench.iso", size: bytes.length, read: async (o, l) => bytes.subarray(o, o + l) });
  return sizeBytes / MB / ((performance.now() - t0) / 1000);
}

interface DiskRun {
  readonly bootS: number;
  readonly writeMBs: number;
  readonly readMBs: number;
}

async function timed(machine: Machine, command: string): Promise<number> {
  const t0 = performance.now();
  const result = await machine.run(command, { timeoutMs: 120_000 });
  if (result.exitCode !== 0) throw new Error(`${command} failed: ${result.output}`);
  return (performance.now() - t0) / 1000;
}

async function diskRun(kind: "overlay" | "memory", fileMiB: number): Promise<DiskRun> {
  let overlay: OverlayDisk | undefined;
  let disks: AttachedDisks;
  if (kind === "overlay") {
    overlay = await new DiskStore(openIndexedDbStore(`bench-disks-${Math.random()}`, "kv")).open("data", { size: DATA_DISK_BYTES, clock: systemClock });
    disks = { hda: overlay };
  } else {
    disks = { hda: { buffer: new ArrayBuffer(DATA_DISK_BYTES) } };
  }
  const machine = headlessMachine({ guest: loadDefaultGuest(undefined, { dataDisk: true }), disks });
  try {
    const t0 = performance.now();
    await machine.start();
    await machine.waitForShell({ timeoutMs: 120_000 });
    const bootS = (performance.now() - t0) / 1000;
    // /data is mounted with -o sync: every write reaches the emulated disk before dd returns.
    const write = await timed(machine, `dd if=/dev/zero of=/data/bench bs=64k count=${fileMiB * 16} 2>/dev/null`);
    if (overlay !== undefined) await overlay.flush();
    await machine.run("echo 3 > /proc/sys/vm/drop_caches");
    const read = await timed(machine, "dd if=/data/bench of=/dev/null bs=64k 2>/dev/null");
    return { bootS, writeMBs: (fileMiB * 1048576) / MB / write, readMBs: (fileMiB * 1048576) / MB / read };
  } finally {
    machine.dispose();
    overlay?.dispose();
  }
}

export async function runStorageBench(runs: number, log: (line: string) => void): Promise<StorageCase[]> {
  const cases: StorageCase[] = [];
  const add = (id: string, label: string, unit: StorageCase["unit"], samples: number[]): void => {
    cases.push({ id, label, unit, samples, summary: summarize(samples) });
  };
  const imports: number[] = [];
  for (let i = 0; i < runs; i++) {
    imports.push(await importRate(100 * 1048576));
    log(`import 100 MiB run ${i + 1}/${runs}: ${imports.at(-1)?.toFixed(0)} MB/s`);
  }
  add("import-100mib", "import 100 MiB image (chunk + sha256 + store)", "MB/s", imports);
  for (const kind of ["overlay", "memory"] as const) {
    const result: DiskRun[] = [];
    for (let i = 0; i < runs; i++) {
      result.push(await diskRun(kind, 16));
      log(`${kind} disk run ${i + 1}/${runs}: boot ${result.at(-1)?.bootS.toFixed(2)} s`);
    }
    const name = kind === "overlay" ? "IndexedDB overlay disk" : "in-memory disk";
    add(`boot-${kind}`, `boot to prompt, data disk on ${name} (first boot formats it)`, "s", result.map((r) => r.bootS));
    add(`dd-write-${kind}`, `guest dd write 16 MiB to /data, ${name}`, "MB/s", result.map((r) => r.writeMBs));
    add(`dd-read-${kind}`, `guest dd read 16 MiB from /data (caches dropped), ${name}`, "MB/s", result.map((r) => r.readMBs));
  }
  return cases;
}
