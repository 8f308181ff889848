/**
 * Storage benchmarks (issue 3), headless in Node: image import into the chunked store, boot with
 * the data disk on an IndexedDB-backed overlay vs a plain in-memory buffer, and guest `dd` on each.
 * IndexedDB in Node is fake-indexeddb (a JavaScript implementation): these figures measure
 * virtlab's own code paths (chunking, hashing, page copies, write-back), not a browser's
 * IndexedDB; the e2e suite covers the real one.
 */
import "fake-indexeddb/auto";
import { mkdtempSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { summarize, type Summary } from "../src/core/bench/stats.ts";
import {
  ByteParts,
  DATA_DISK_BYTES,
  DiskStore,
  ImageStore,
  openDiskDatabase,
  PAGE_CACHE_BYTES,
  openIndexedDbStore,
  readRecordsInto,
  systemClock,
  type KeyValueStore,
  type AttachedDisks,
  type Machine,
  type OverlayDisk,
} from "../src/core/index.ts";
import { headlessMachine, loadDefaultGuest } from "../src/node/guest.ts";

export interface StorageCase {
  readonly id: string;
  readonly label: string;
  readonly unit: "MB/s" | "s" | "MiB";
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
    overlay = await new DiskStore(openDiskDatabase(`bench-disks-${Math.random()}`)).open("data", { size: DATA_DISK_BYTES, clock: systemClock });
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

/**
 * A KeyValueStore on files (one per key), for the large-disk case: fake-indexeddb keeps whatever is
 * stored in the process's memory, which would hide what the overlay itself holds.
 */
function fileStore(dir: string): KeyValueStore {
  const path = (key: string): string => join(dir, encodeURIComponent(key));
  const put = (key: string, value: unknown): void => {
    const bytes = value instanceof ByteParts ? value.joined() : value;
    if (bytes instanceof Uint8Array) writeFileSync(path(key), bytes);
    else writeFileSync(`${path(key)}.json`, JSON.stringify(bytes));
  };
  const read = <T>(key: string): T | undefined => {
    try {
      return new Uint8Array(readFileSync(path(key))) as T;
    } catch {
      try {
        return JSON.parse(readFileSync(`${path(key)}.json`, "utf8")) as T;
      } catch {
        return undefined;
      }
    }
  };
  const remove = (key: string): void => {
    for (const p of [path(key), `${path(key)}.json`]) rmSync(p, { force: true });
  };
  return {
    get: async (key) => read(key),
    getMany: async (keys) => keys.map((k) => read(k)),
    readInto: (slices, target) => readRecordsInto(async (keys) => keys.map((k) => read(k)), slices, target),
    set: async (key, value) => put(key, value),
    setMany: async (entries) => entries.forEach(([k, v]) => put(k, v)),
    delete: async (key) => remove(key),
    deleteMany: async (keys) => keys.forEach(remove),
    keys: async () => readdirSync(dir).map((f) => decodeURIComponent(f.replace(/\.json$/, ""))),
  };
}

interface LargeRun {
  readonly writeMBs: number;
  readonly readMBs: number;
  readonly writeGrowthMiB: number;
  readonly readGrowthMiB: number;
}

/** Write `sizeMiB` through the real overlay (1 MiB writes), flush, read it back cold (128 KiB reads). */
export async function largeDiskRun(sizeMiB: number, Store: typeof DiskStore = DiskStore): Promise<LargeRun> {
  const dir = mkdtempSync(join(tmpdir(), "virtlab-bench-disk-"));
  const rss = (): number => process.memoryUsage().rss;
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, rss())), 20);
  try {
    const size = (sizeMiB + 64) * 1048576;
    const chunk = new Uint8Array(1048576);
    for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 131 + 7) & 0xff;
    const writer = await new Store(fileStore(dir)).open("big", { size, clock: systemClock });
    const before = rss();
    peak = before;
    const t0 = performance.now();
    for (let at = 0; at < sizeMiB * 1048576; at += chunk.length) {
      chunk[0] = (at / 1048576) & 0xff;
      await writer.write(at, chunk);
      peak = Math.max(peak, rss());
    }
    await writer.flush();
    const writeS = (performance.now() - t0) / 1000;
    const writeGrowth = peak - before;
    writer.dispose();
    const reader = await new Store(fileStore(dir)).open("big", { size, clock: systemClock });
    const readBefore = rss();
    peak = readBefore;
    const t1 = performance.now();
    for (let at = 0; at < sizeMiB * 1048576; at += 131072) {
      const bytes = await reader.read(at, 131072);
      if (bytes[1] !== chunk[1]) throw new Error(`wrong bytes read back at ${at}`);
      peak = Math.max(peak, rss());
    }
    const readS = (performance.now() - t1) / 1000;
    reader.dispose();
    const bytes = sizeMiB * 1048576;
    return { writeMBs: bytes / MB / writeS, readMBs: bytes / MB / readS, writeGrowthMiB: writeGrowth / 1048576, readGrowthMiB: (peak - readBefore) / 1048576 };
  } finally {
    clearInterval(sampler);
    for (const f of readdirSync(dir)) unlinkSync(join(dir, f));
    rmSync(dir, { recursive: true, force: true });
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
  const large: LargeRun[] = [];
  for (let i = 0; i < runs; i++) {
    large.push(await largeDiskRun(1024));
    const r = large.at(-1) as LargeRun;
    log(`large disk run ${i + 1}/${runs}: write ${r.writeMBs.toFixed(0)} MB/s, read ${r.readMBs.toFixed(0)} MB/s, growth ${r.writeGrowthMiB.toFixed(0)}/${r.readGrowthMiB.toFixed(0)} MiB`);
  }
  const budget = `target ≤ cache ${PAGE_CACHE_BYTES / 1048576} MiB + 64 MiB`;
  add("large-write-1gib", "write 1 GiB through the overlay (file-backed store)", "MB/s", large.map((r) => r.writeMBs));
  add("large-read-1gib", "read it back cold, 128 KiB reads", "MB/s", large.map((r) => r.readMBs));
  add("large-write-growth", `peak RSS growth while writing (${budget})`, "MiB", large.map((r) => r.writeGrowthMiB));
  add("large-read-growth", `peak RSS growth while reading (${budget})`, "MiB", large.map((r) => r.readGrowthMiB));
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
