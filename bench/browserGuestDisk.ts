/**
 * Big disks in Chromium as a user meets them (`npm run bench -- --suite disk-browser`; issue 17):
 * the production build, the default machine, real IndexedDB in a profile on disk (a new one each
 * run), the guest's own commands.
 *
 * Rows:
 * - the default machine restarted (Restart) → 42, and the same machine after its data disk was
 *   made 2 GiB (Edit, 2048 MiB, Save and boot) → 42: a blank disk of any size starts from the
 *   pre-booted state;
 * - the guest writes SIZE MiB of incompressible data to /data (16 MiB from /dev/urandom, repeated)
 *   and syncs, until the status bar says "saved": MB/s and the renderer's peak memory growth;
 * - after a reload (nothing of the disk in the page's memory), the guest drops its own caches and
 *   reads the file back with `dd … of=/dev/null bs=1M`: MB/s, and the peak memory growth;
 * - then, its caches dropped again, with `cat` (small reads, as most programs read: the guest's
 *   read-ahead makes its requests to the disk): MB/s;
 * - the sha256 of the file before and after the reload (they must agree: the figure is refused
 *   otherwise).
 * - Save snapshot with the file on the disk, a command typed into the terminal as it begins: how
 *   long the save takes, and when the command is answered.
 *
 * Before each memory figure the guest's own RAM is touched once (touchGuestRam): a machine
 * restored from a saved state has none of its RAM in the renderer's memory until the guest uses
 * it, and a guest that writes or reads a big file fills all of it with its page cache. That is the
 * machine's memory (256 MiB, fixed by its profile, whatever the size written), not the disk's:
 * without this the figure mixes the two. For a like reason a 32 MiB file is written (and after
 * the reload read) the same way before the measured one: running guest code for the first time
 * costs memory of its own (a guest running nothing but a shell loop grew the renderer by 139 MiB,
 * stop 29, one run, no disk involved; presumably the emulator compiling that code).
 *
 * Needs `dist/` (npm run build) and Chromium. VIRTLAB_DISK_MIB sets the size (default 1024);
 * VIRTLAB_TRACE=file.json writes a Chromium trace of the first run's cold read.
 */
import { writeFileSync } from "node:fs";
import type { Page } from "@playwright/test";
import { DEADLINE_MS, ask, browserCase, visit, waitForPrompt, withProfileOnDisk, withServedApp, type BrowserCase } from "./browser.ts";
import { chromiumThreadTicks, mappingGrowth, rendererMappings, rendererRss, topThreads } from "./browser/proc.ts";

const MiB = 1024 * 1024;
/** The data written: this many MiB from /dev/urandom (in the guest's tmpfs), repeated. */
const CHUNK_MIB = 16;
/** A smaller file written (and after the reload read) first, the same way: see warm-up above. */
const WARM_MIB = 32;

/** What a trace of the cold read records: tasks per thread, V8's collector and compilers. */
const TRACE_CATEGORIES = ["toplevel", "v8", "v8.wasm", "disabled-by-default-v8.gc", "disabled-by-default-v8.compile", "IndexedDB", "Blob"];

let marks = 0;

/** Read requests the guest's kernel completed on its data disk so far (/sys/block/sda/stat). */
async function diskReads(page: Page): Promise<number> {
  return Number((await shell(page, "cat /sys/block/sda/stat")).join(" ").trim().split(/\s+/)[0]);
}

/** `work`'s result and the read requests the guest made of its data disk meanwhile, in words for `mib` MiB read. */
async function countingRequests<T>(page: Page, mib: number, work: () => Promise<T>): Promise<{ result: T; requests: string }> {
  const before = await diskReads(page);
  const result = await work();
  const requests = (await diskReads(page)) - before;
  return { result, requests: `${requests} requests (${((mib * 1024) / Math.max(1, requests)).toFixed(0)} KiB each on average)` };
}

/**
 * Type `command` into the machine's terminal and wait until it printed its end marker; the output
 * rows between its markers. The markers are computed by the shell, so the typed line (which may
 * wrap) never looks like one.
 */
async function shell(page: Page, command: string, timeoutMs = 8 * 60_000): Promise<string[]> {
  const n = 1000 + ++marks;
  await page.locator(".xterm-helper-textarea").focus();
  await page.keyboard.type(`echo B$((${n}))B; ${command}; echo E$((${n}))E\n`);
  const screen = (): Promise<string[]> =>
    page.evaluate(() => {
      type Doc = { querySelectorAll(selector: string): ArrayLike<{ textContent: string | null }> };
      return Array.from((globalThis as unknown as { document: Doc }).document.querySelectorAll(".xterm-rows > div"), (r) => (r.textContent ?? "").trimEnd());
    });
  const rows = await page
    .waitForFunction(
      (at) => {
        type Doc = { querySelectorAll(selector: string): ArrayLike<{ textContent: string | null }> };
        const lines = Array.from((globalThis as unknown as { document: Doc }).document.querySelectorAll(".xterm-rows > div"), (r) => (r.textContent ?? "").trimEnd());
        const begin = lines.lastIndexOf(`B${at}B`);
        const end = lines.lastIndexOf(`E${at}E`);
        return begin >= 0 && end > begin ? lines.slice(begin + 1, end) : undefined;
      },
      n,
      { polling: 100, timeout: timeoutMs },
    )
    .catch(async (error: unknown) => {
      // What the screen shows says whether the command is still running or its markers never came.
      const status = await page.getByTestId("disk-state").textContent().catch(() => "?");
      throw new Error(`\`${command}\` did not end in ${timeoutMs / 1000} s; disk: ${status}; the screen:\n${(await screen()).filter((l) => l !== "").join("\n")}`, { cause: error });
    });
  return (await rows.jsonValue()) ?? [];
}

/** The renderer's peak resident memory growth while `work` runs, sampled every 100 ms. */
async function peakGrowth<T>(work: () => Promise<T>): Promise<{ result: T; growthMiB: number; where: string }> {
  const before = rendererRss();
  const mapsBefore = rendererMappings();
  let peak = before;
  let mapsAtPeak = mapsBefore;
  // Each mapping's size is read only at a new peak (reading them all costs a few ms).
  const timer = setInterval(() => {
    const now = rendererRss();
    if (now <= peak) return;
    peak = now;
    mapsAtPeak = rendererMappings();
  }, 100);
  try {
    const result = await work();
    return { result, growthMiB: (peak - before) / MiB, where: mappingGrowth(mapsBefore, mapsAtPeak) };
  } finally {
    clearInterval(timer);
  }
}

/**
 * Make the guest use all its free RAM once and give it back: a tmpfs as large as what is
 * available (less a margin for the kernel) filled with zeros, then removed. The kernel zeroes what
 * it frees (init_on_free=1), so every page stays in the renderer's memory from here on.
 */
async function touchGuestRam(page: Page): Promise<void> {
  const said = await shell(
    page,
    'm=$(awk "/MemAvailable/{print int(\\$2/1024)-8}" /proc/meminfo); mkdir -p /run/fill; mount -t tmpfs -o size=${m}m none /run/fill; dd if=/dev/zero of=/run/fill/f bs=1M count=$m 2>/dev/null; rm /run/fill/f; umount /run/fill',
  );
  // Quiet when it worked: anything printed is the mount or dd failing.
  if (said.some((row) => row.trim() !== "")) throw new Error(`touching the guest's RAM failed: ${said.join(" ")}`);
}

/** A Chromium trace (all its processes) of what `work` does, written to `path` as JSON. */
async function traced<T>(page: Page, path: string, work: () => Promise<T>): Promise<T> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Tracing.start", { traceConfig: { includedCategories: TRACE_CATEGORIES }, transferMode: "ReturnAsStream" });
  try {
    return await work();
  } finally {
    const complete = new Promise<string | undefined>((done) => cdp.once("Tracing.tracingComplete", (event) => done(event.stream)));
    await cdp.send("Tracing.end");
    const handle = await complete;
    const parts: string[] = [];
    for (let eof = handle === undefined; !eof; ) {
      const chunk = await cdp.send("IO.read", { handle: handle as string });
      parts.push(chunk.base64Encoded === true ? Buffer.from(chunk.data, "base64").toString() : chunk.data);
      eof = chunk.eof;
    }
    if (handle !== undefined) await cdp.send("IO.close", { handle });
    writeFileSync(path, parts.join(""));
    await cdp.detach();
  }
}

async function timed<T>(work: () => Promise<T>): Promise<{ result: T; seconds: number }> {
  const t0 = performance.now();
  const result = await work();
  return { result, seconds: (performance.now() - t0) / 1000 };
}

async function restartToAnswer(page: Page, click: () => Promise<void>): Promise<number> {
  const { seconds } = await timed(async () => {
    await click();
    await page.getByTestId("stage").filter({ hasNotText: "ready" }).waitFor({ timeout: DEADLINE_MS });
    await page.getByTestId("stage").filter({ hasText: "ready" }).waitFor({ timeout: DEADLINE_MS });
    await waitForPrompt(page);
    await ask(page);
  });
  return seconds;
}

/**
 * Save snapshot (the snapshots panel), and `echo $((6*7))` typed into the terminal as the save
 * begins: when the panel says it is saved, and when the command is answered (a machine paused
 * for its save answers only once it runs on).
 */
async function saveWhileTyping(page: Page): Promise<{ saveS: number; answerS: number }> {
  await page.getByTestId("snapshot-name").fill("with the file");
  const t0 = performance.now();
  await page.getByTestId("snapshot-save").click();
  // Back to the terminal (xterm draws only while it is in view), and type.
  await page.locator(".xterm").scrollIntoViewIfNeeded();
  const answered = shell(page, "echo $((6*7))").then((rows) => {
    if (!rows.includes("42")) throw new Error(`the machine answered ${rows.join(" ")} during the save`);
    return (performance.now() - t0) / 1000;
  });
  await page.getByTestId("snapshot-progress").filter({ hasText: /^Saved "with the file"/ }).waitFor({ timeout: DEADLINE_MS });
  const saveS = (performance.now() - t0) / 1000;
  return { saveS, answerS: await answered };
}

export async function runBrowserGuestDiskBench(runs: number, log: (line: string) => void): Promise<BrowserCase[]> {
  const sizeMiB = Number(process.env["VIRTLAB_DISK_MIB"] ?? 1024);
  if (!Number.isInteger(sizeMiB / CHUNK_MIB) || sizeMiB <= 0 || sizeMiB > 1536) throw new Error(`VIRTLAB_DISK_MIB must be a multiple of ${CHUNK_MIB} up to 1536 (the disk is 2 GiB)`);
  return withServedApp(async (base) => {
    const rows = { defaultStart: [] as number[], bigStart: [] as number[], write: [] as number[], writeGrowth: [] as number[], read: [] as number[], readGrowth: [] as number[], readCat: [] as number[], snapshotSave: [] as number[], snapshotAnswer: [] as number[] };
    for (let i = 0; i < runs; i++) {
      // Each run a new profile on disk, as a user's (off the record, IndexedDB lives in memory).
      await withProfileOnDisk(async (context) => {
        const first = await visit(context, base);
        const page = first.page;
        const row = page.getByTestId("machine-list").getByTestId("machine-row").first();
        const defaultStart = await restartToAnswer(page, () => row.getByTestId("machine-boot").click());
        log(`  default machine restart → 42: ${defaultStart.toFixed(2)} s`);
        const bigStart = await restartToAnswer(page, async () => {
          await row.getByTestId("machine-edit").click();
          await page.getByTestId("machine-size-hda").fill("2048");
          await page.getByTestId("machine-save-boot").click();
          // Back to the terminal, as the user would look (xterm draws only while it is in view).
          await page.locator(".xterm").scrollIntoViewIfNeeded();
        });
        log(`  the same machine with a 2 GiB blank data disk → 42: ${bigStart.toFixed(2)} s`);
        const size = (await shell(page, "blockdev --getsize64 /dev/sda; df -k /data | tail -1")).join(" ");
        if (!/^2147483648 /.test(size)) throw new Error(`the data disk is not 2 GiB: ${size}`);

        const writeFile = async (name: string, mib: number): Promise<void> => {
          await shell(page, `[ -f /tmp/r ] || dd if=/dev/urandom of=/tmp/r bs=1M count=${CHUNK_MIB} 2>/dev/null; i=0; while [ $i -lt ${mib / CHUNK_MIB} ]; do cat /tmp/r; i=$((i+1)); done > /data/${name}; sync`);
          await page.getByTestId("disk-state").filter({ hasText: /^saved$/ }).waitFor({ timeout: DEADLINE_MS });
        };
        // The same path once, small: the emulator's compiled code for it is not counted as the disk's.
        await writeFile("warm", WARM_MIB);
        await touchGuestRam(page);
        const writeTicks = chromiumThreadTicks();
        const write = await peakGrowth(() => timed(() => writeFile("big", sizeMiB)));
        log(`  CPU while writing: ${topThreads(writeTicks, chromiumThreadTicks())}`);
        const sumBefore = (await shell(page, "sha256sum /data/big")).join(" ").split(" ")[0];
        log(`  write ${sizeMiB} MiB, sync, saved: ${write.result.seconds.toFixed(1)} s, ${((sizeMiB * MiB) / 1e6 / write.result.seconds).toFixed(1)} MB/s, renderer +${write.growthMiB.toFixed(0)} MiB (${write.where})`);

        // Cold: a reload, so nothing of the disk is in the page; the guest's own caches dropped too.
        await page.reload();
        await waitForPrompt(page);
        await ask(page);
        await shell(page, "cat /data/warm > /dev/null; sync; echo 3 > /proc/sys/vm/drop_caches");
        await touchGuestRam(page);
        const readTicks = chromiumThreadTicks();
        // VIRTLAB_TRACE=file.json: a Chromium trace of the first run's cold read (what each thread does).
        const trace = i === 0 ? process.env["VIRTLAB_TRACE"] : undefined;
        // VIRTLAB_GUEST_RA_KB (diagnosis): the guest's read-ahead for the data disk during the read.
        const readAheadKb = process.env["VIRTLAB_GUEST_RA_KB"];
        if (readAheadKb !== undefined) await shell(page, `echo ${Number(readAheadKb)} > /sys/block/sda/queue/read_ahead_kb`);
        const readBack = (): Promise<{ result: string[]; seconds: number }> => timed(() => shell(page, "dd if=/data/big of=/dev/null bs=1M"));
        const { result: read, requests } = await countingRequests(page, sizeMiB, () => peakGrowth(() => (trace === undefined ? readBack() : traced(page, trace, readBack))));
        log(`  CPU while reading: ${topThreads(readTicks, chromiumThreadTicks())}`);
        log(`  the guest's read requests to its data disk: ${requests}; read-ahead ${(await shell(page, "cat /sys/block/sda/queue/read_ahead_kb")).join("")} KiB`);
        // Again the way most programs read (cat: small reads, the read-ahead makes the requests), the
        // guest's caches dropped (the page's cache holds at most its budget of the file).
        await shell(page, "echo 3 > /proc/sys/vm/drop_caches");
        const { result: readCat, requests: catRequests } = await countingRequests(page, sizeMiB, () => timed(() => shell(page, "cat /data/big > /dev/null")));
        log(`  read again with cat: ${readCat.seconds.toFixed(1)} s, ${((sizeMiB * MiB) / 1e6 / readCat.seconds).toFixed(1)} MB/s in ${catRequests}`);
        const sumAfter = (await shell(page, "sha256sum /data/big")).join(" ").split(" ")[0];
        if (sumBefore === undefined || sumBefore.length !== 64 || sumAfter !== sumBefore) throw new Error(`the file read back differs: ${sumBefore} then ${sumAfter}`);
        log(`  read back cold: ${read.result.seconds.toFixed(1)} s, ${((sizeMiB * MiB) / 1e6 / read.result.seconds).toFixed(1)} MB/s (dd: ${read.result.result.join(" ")}), renderer +${read.growthMiB.toFixed(0)} MiB (${read.where}); sha256 agrees`);
        const saveTicks = chromiumThreadTicks();
        const snapshot = await saveWhileTyping(page);
        log(`  CPU while saving: ${topThreads(saveTicks, chromiumThreadTicks())}`);
        log(`  Save snapshot with the file on the disk: ${snapshot.saveS.toFixed(1)} s; a command typed as it began answered after ${snapshot.answerS.toFixed(1)} s`);
        rows.defaultStart.push(defaultStart);
        rows.bigStart.push(bigStart);
        rows.write.push((sizeMiB * MiB) / 1e6 / write.result.seconds);
        rows.writeGrowth.push(write.growthMiB);
        rows.read.push((sizeMiB * MiB) / 1e6 / read.result.seconds);
        rows.readGrowth.push(read.growthMiB);
        rows.readCat.push((sizeMiB * MiB) / 1e6 / readCat.seconds);
        rows.snapshotSave.push(snapshot.saveS);
        rows.snapshotAnswer.push(snapshot.answerS);
      });
    }
    return [
      browserCase("disk-default-start", "default machine: Restart → 42", "s", rows.defaultStart),
      browserCase("disk-2gib-start", "same machine, 2 GiB blank data disk: first start → 42", "s", rows.bigStart),
      browserCase("disk-2gib-extra", "2 GiB first start minus the default's", "s", rows.bigStart.map((b, i) => b - (rows.defaultStart[i] ?? b))),
      browserCase("disk-write", `guest writes ${sizeMiB} MiB to /data, sync, saved`, "MB", rows.write),
      browserCase("disk-write-growth", "renderer memory growth while writing (peak; guest RAM touched first)", "MB", rows.writeGrowth),
      browserCase("disk-read", `guest reads ${sizeMiB} MiB back after a reload (cold)`, "MB", rows.read),
      browserCase("disk-read-cat", `guest reads the ${sizeMiB} MiB again with cat (its caches dropped)`, "MB", rows.readCat),
      browserCase("disk-read-growth", "renderer memory growth while reading (peak; guest RAM touched first)", "MB", rows.readGrowth),
      browserCase("disk-snapshot-save", `Save snapshot with the ${sizeMiB} MiB file on /data`, "s", rows.snapshotSave),
      browserCase("disk-snapshot-answer", "…a command typed as that save began: answered after", "s", rows.snapshotAnswer),
    ];
  });
}
