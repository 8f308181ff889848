/**
 * Runs in Chromium (bundled by bench/browserDisk.ts): the large-disk case on the real overlay over
 * the browser's own IndexedDB. Written for the current DiskStore API; the script can bundle an
 * older src/core in its place (VIRTLAB_CORE) to measure before and after.
 */
import { DiskStore, openDiskDatabase } from "../../src/core/storage/disk.ts";
import { systemClock } from "../../src/core/clock.ts";

const MiB = 1024 * 1024;
/** Tells bench/browserDisk.ts where a phase starts or ends (it records Chromium's CPU time). */
const phase = (name: string): Promise<void> => (globalThis as unknown as { benchPhase?: (n: string) => Promise<void> }).benchPhase?.(name) ?? Promise.resolve();

/**
 * `pattern` repeats every 256 bytes (Chromium compresses such IndexedDB values and keeps them in its
 * database); `random` does not compress (values over 64 KiB then go to files of their own, Blobs).
 */
async function writeDisk(db: string, sizeMiB: number, diskMiB: number, data: "pattern" | "random" = "pattern"): Promise<Record<string, number>> {
  const size = diskMiB * MiB;
  const writer = await new DiskStore(openDiskDatabase(db)).open("big", { size, clock: systemClock });
  const chunk = new Uint8Array(MiB);
  let seed = 1;
  for (let i = 0; i < chunk.length; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    chunk[i] = data === "random" ? seed >>> 24 : (i * 131 + 7) & 0xff;
  }
  await phase("start");
  const t0 = performance.now();
  for (let at = 0; at < sizeMiB * MiB; at += MiB) {
    chunk[0] = (at / MiB) & 0xff;
    // A buffer of its own each time, as a guest's write arrives from the machine's Worker (a
    // message's buffer). With one buffer written again and again this loop makes no garbage, V8
    // never collects the Blobs of the records saved, and Chromium refuses more Blobs once they
    // hold ~500 MB ("Failed to write blobs", 2026-12-04).
    await writer.write(at, chunk.slice());
  }
  await writer.flush();
  const writeS = (performance.now() - t0) / 1000;
  await phase("write");
  writer.dispose();
  return { writeMBs: (sizeMiB * MiB) / 1e6 / writeS };
}

/** Cold (bench/browserDisk.ts reloads the page first): a new store and disk, nothing in memory. */
async function readDisk(db: string, sizeMiB: number, diskMiB: number): Promise<Record<string, number>> {
  const size = diskMiB * MiB;
  const reader = await new DiskStore(openDiskDatabase(db)).open("big", { size, clock: systemClock });
  await phase("start");
  const t1 = performance.now();
  let check = 0;
  for (let at = 0; at < sizeMiB * MiB; at += 128 * 1024) {
    const bytes = await reader.read(at, 128 * 1024);
    check = (check + bytes[0]! + bytes[bytes.length - 1]!) & 0xffff;
  }
  const readS = (performance.now() - t1) / 1000;
  await phase("read");
  reader.dispose();
  const random = await new DiskStore(openDiskDatabase(db)).open("big", { size, clock: systemClock });
  const count = 400;
  let seed = 12345;
  await phase("start");
  const t2 = performance.now();
  for (let i = 0; i < count; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    await random.read((seed % (sizeMiB * 256)) * 4096, 4096);
  }
  const randomMs = (performance.now() - t2) / count;
  await phase("random");
  random.dispose();
  return { readMBs: (sizeMiB * MiB) / 1e6 / readS, random4kMs: randomMs, check, ...(await readRandomInWorker(db, sizeMiB, diskMiB)) };
}

/**
 * Random 4 KiB reads the way a guest's reads reach storage in the app: the page's disk (opened fresh, nothing
 * in memory) says where the bytes are, and a Worker reads them (bench/browser/diskWorker.ts, served
 * as /worker.js). Other offsets than `readDisk`'s random reads, so none was read before.
 */
async function readRandomInWorker(db: string, sizeMiB: number, diskMiB: number): Promise<Record<string, number>> {
  const disk = await new DiskStore(openDiskDatabase(db)).open("big", { size: diskMiB * MiB, clock: systemClock });
  type Reply = { id: number; bytes?: Uint8Array; error?: string };
  type BenchWorker = { postMessage(message: unknown): void; terminate(): void; onmessage: ((event: { data: Reply }) => void) | null };
  const worker = new (globalThis as unknown as { Worker: new (url: string) => BenchWorker }).Worker("/worker.js");
  const waiting = new Map<number, (reply: Reply) => void>();
  worker.onmessage = (event) => waiting.get(event.data.id)?.(event.data);
  const readThere = async (id: number, start: number): Promise<Uint8Array> => {
    const plan = await disk.locate(start, 4096);
    if (plan === undefined) throw new Error("the disk's store cannot be opened by a Worker");
    const reply = await new Promise<Reply>((resolve) => {
      waiting.set(id, resolve);
      worker.postMessage({ id, plan });
    });
    waiting.delete(id);
    if (reply.bytes === undefined) throw new Error(`the Worker's read failed: ${reply.error ?? "?"}`);
    return reply.bytes;
  };
  // One read first: the Worker's start and its store's opening are not a random read's cost.
  await readThere(0, 0);
  const count = 400;
  let seed = 54321;
  let check = 0;
  await phase("start");
  const t0 = performance.now();
  for (let i = 1; i <= count; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const bytes = await readThere(i, (seed % (sizeMiB * 256)) * 4096);
    check = (check + bytes[0]! + bytes[4095]!) & 0xffff;
  }
  const ms = (performance.now() - t0) / count;
  await phase("randomWorker");
  worker.terminate();
  disk.dispose();
  return { random4kWorkerMs: ms, checkWorker: check };
}

Object.assign(globalThis, { writeDisk, readDisk });
