/**
 * A teacher's machine by link (issue 16): a snapshot made and exported in one browser is put on
 * static servers and opened as `?snapshot=<url>` in another origin's virtlab: from the same
 * server, from a second origin with CORS, and again with that server gone (the stored copy).
 * A second origin without CORS and a file that is not a snapshot get a plain refusal, and the
 * student's own snapshot and data disk stay as they were.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Page } from "@playwright/test";
import { expect, runInGuest, shownErrors, test, waitForShell } from "./fixtures.ts";
import { serveCopyOfDist } from "./staticServer.ts";

/** A second origin: `/cors/<file>` answers with CORS (and ranges), `/plain/<file>` without CORS. */
async function serveSnapshots(files: Record<string, Uint8Array>): Promise<{ url: string; files: Record<string, Uint8Array>; requests: string[]; stop(): Promise<void> }> {
  const requests: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const match = /^\/(cors|plain)\/([\w.-]+)$/.exec(req.url ?? "");
    const body = match === null ? undefined : files[match[2] as string];
    requests.push(`${req.method} ${req.url} ${req.headers.range ?? ""}`.trim());
    const cors: Record<string, string> = match?.[1] === "cors" ? { "Access-Control-Allow-Origin": "*" } : {};
    if (body === undefined) {
      res.writeHead(404, cors).end("not found");
      return;
    }
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    if (range !== null) {
      const start = Number(range[1]);
      const end = range[2] === "" ? body.length - 1 : Math.min(body.length - 1, Number(range[2]));
      res.writeHead(206, { ...cors, "Content-Type": "application/octet-stream", "Content-Range": `bytes ${start}-${end}/${body.length}`, "Content-Length": end - start + 1 });
      res.end(body.subarray(start, end + 1));
      return;
    }
    res.writeHead(200, { ...cors, "Content-Type": "application/octet-stream", "Content-Length": body.length, "Accept-Ranges": "bytes" });
    res.end(body);
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return {
    url: `http://127.0.0.1:${address.port}/`,
    files,
    requests,
    stop: () => new Promise<void>((done) => server.close(() => done())),
  };
}

interface StoredRecord {
  readonly name: string;
  readonly machineId: string;
  readonly source?: { readonly url: string };
}

/** The snapshot records of the page's origin, as stored in IndexedDB. */
async function storedSnapshots(page: Page): Promise<StoredRecord[]> {
  return page.evaluate(
    () =>
      new Promise<StoredRecord[]>((resolve, reject) => {
        type Request<T> = { result: T; error: unknown; onsuccess: () => void; onerror: () => void };
        type Database = { close(): void; transaction(name: string): { objectStore(name: string): { getAll(): Request<unknown[]> } } };
        const idb = (globalThis as unknown as { indexedDB: { open(name: string): Request<Database> } }).indexedDB;
        const open = idb.open("virtlab-snapshots");
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const request = open.result.transaction("kv").objectStore("kv").getAll();
          request.onsuccess = () => {
            open.result.close();
            resolve(request.result.filter((v): v is StoredRecord => typeof v === "object" && v !== null && "machineId" in v));
          };
          request.onerror = () => reject(request.error);
        };
      }),
  );
}

const machineId = (page: Page): Promise<string> => page.evaluate(() => (globalThis as unknown as { virtlab: { machineId(): string } }).virtlab.machineId());

test("a snapshot opened by link: same origin, a second origin with CORS, the stored copy with the server gone; no CORS and not-a-snapshot are refused and nothing of the student's changes", async ({
  page,
  pageErrors,
}) => {
  test.setTimeout(600_000);
  const site = await serveCopyOfDist();
  const other = await serveSnapshots({});
  try {
    // The teacher: a file on /data and one in tmpfs, saved and exported. (Teacher and student
    // share this origin to keep the test short: what the student has is what follows the save.)
    await page.goto(site.url);
    await waitForShell(page);
    // A fresh origin formats its blank data disk first; on a busy machine that outlasts a command's deadline.
    await expect.poll(() => runInGuest(page, "grep -c ' /data ext2 ' /proc/mounts").then((r) => r.output, () => "not yet"), { timeout: 180_000 }).toBe("1");
    expect((await runInGuest(page, "echo teacher-data > /data/t && echo tmp-note > /tmp/n && sync")).exitCode).toBe(0);
    await page.getByTestId("snapshot-name").fill("Week 3");
    await page.getByTestId("snapshot-save").click();
    await expect(page.getByTestId("snapshot-progress")).toHaveText(/^Saved "Week 3"/, { timeout: 60_000 });
    const download = page.waitForEvent("download");
    await page.getByTestId("snapshot-list").getByTestId("snapshot-export").first().click();
    const snapshot = readFileSync(await (await download).path());
    other.files["lesson.vlsnap"] = snapshot;
    writeFileSync(`${site.root}/lesson.vlsnap`, snapshot);
    writeFileSync(`${site.root}/notes.vlsnap`, "These are my notes, not a machine.\n");
    // The student's own work after it.
    expect((await runInGuest(page, "echo mine > /data/mine && sync")).exitCode).toBe(0);
    await expect(page.getByTestId("disk-state")).toHaveText("saved");

    // Not a snapshot: the Import refusal, no question asked.
    await page.goto(`${site.url}?snapshot=notes.vlsnap`);
    await expect(page.locator("#error")).toContainText("This snapshot cannot be used");
    await expect(page.locator("#error")).toContainText("not a virtlab snapshot");
    await expect(page.getByTestId("snapshot-link-dialog")).not.toBeVisible();

    // Another origin without CORS: plain words about CORS.
    await page.goto(`${site.url}?snapshot=${encodeURIComponent(`${other.url}plain/lesson.vlsnap`)}`);
    await expect(page.locator("#error")).toContainText("Access-Control-Allow-Origin", { timeout: 30_000 });
    await waitForShell(page);
    expect(await runInGuest(page, "cat /data/mine")).toEqual({ output: "mine", exitCode: 0 });

    // Same origin: asked once with name, size and source, then downloaded, stored and restored.
    await page.goto(`${site.url}?snapshot=lesson.vlsnap`);
    const dialog = page.getByTestId("snapshot-link-dialog");
    await expect(dialog.getByTestId("snapshot-link-name")).toHaveText("Week 3");
    await expect(dialog.getByTestId("snapshot-link-from")).toHaveText(`${site.url}lesson.vlsnap`);
    await expect(dialog.getByTestId("snapshot-link-size")).toHaveText(/^\d+\.\d MiB$/);
    await dialog.getByTestId("snapshot-link-load").click();
    const host = new URL(site.url).host;
    await expect(page.getByTestId("link-origin-text")).toHaveText(`From ${host}: Week 3 · network off`, { timeout: 120_000 });
    await waitForShell(page);
    expect(await runInGuest(page, "cat /data/t /tmp/n; test -e /data/mine")).toEqual({ output: "teacher-data\ntmp-note", exitCode: 1 });
    expect(await machineId(page)).not.toBe("default");
    await expect(page.getByTestId("link-network-on")).toBeVisible();
    await page.getByTestId("link-network-on").click();
    await expect(page.getByTestId("link-origin-text")).toHaveText(`From ${host}: Week 3 · network on`);

    // A second origin with CORS.
    await page.goto(`${site.url}?snapshot=${encodeURIComponent(`${other.url}cors/lesson.vlsnap`)}`);
    await expect(dialog.getByTestId("snapshot-link-where")).toContainText("downloaded");
    await dialog.getByTestId("snapshot-link-load").click();
    const otherHost = new URL(other.url).host;
    await expect(page.getByTestId("link-origin-text")).toHaveText(`From ${otherHost}: Week 3 · network off`, { timeout: 120_000 });
    await waitForShell(page);
    expect(await runInGuest(page, "cat /data/t /tmp/n")).toEqual({ output: "teacher-data\ntmp-note", exitCode: 0 });
    // The header came from a ranged read before the rest was downloaded.
    expect(other.requests.filter((r) => r.startsWith("GET /cors/"))[0]).toMatch(/^GET \/cors\/lesson\.vlsnap bytes=0-\d+$/);
    // A single Range header needs no CORS preflight: the server only has to allow the origin.
    expect(other.requests.filter((r) => r.startsWith("OPTIONS"))).toEqual([]);

    // The same link with its server gone: the copy this browser stored, no network needed.
    await other.stop();
    await page.goto(`${site.url}?snapshot=${encodeURIComponent(`${other.url}cors/lesson.vlsnap`)}`);
    await expect(dialog.getByTestId("snapshot-link-where")).toContainText("already has a copy");
    await dialog.getByTestId("snapshot-link-load").click();
    await expect(page.getByTestId("link-origin-text")).toHaveText(`From ${otherHost}: Week 3 · network off`, { timeout: 120_000 });
    await waitForShell(page);
    expect(await runInGuest(page, "cat /tmp/n")).toEqual({ output: "tmp-note", exitCode: 0 });

    // The student's own snapshot is still there, on their own machine; each link got a machine of its own.
    const stored = await storedSnapshots(page);
    expect(stored.filter((s) => s.machineId === "default").map((s) => s.name)).toEqual(["Week 3"]);
    expect(stored.filter((s) => s.source !== undefined).map((s) => s.source?.url).sort()).toEqual([`${other.url}cors/lesson.vlsnap`, `${site.url}lesson.vlsnap`].sort());
    expect(pageErrors).toEqual([]);
    expect(await shownErrors(page)).toEqual([]);
  } finally {
    await other.stop().catch(() => undefined);
    await site.dispose();
  }
});
