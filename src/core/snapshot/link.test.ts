import "fake-indexeddb/auto";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.ts";
import { AppError, isAppError } from "../errors.ts";
import { encodeText, host } from "../host.ts";
import { DEFAULT_PROFILE } from "../profile.ts";
import { parseSetupUrl } from "../setupUrl.ts";
import { openIndexedDbStore } from "../storage/kv.ts";
import { machineFingerprint } from "./fingerprint.ts";
import { nicMachine } from "../testing/nicMachine.ts";
import { concatParts, decodeSnapshot, encodeSnapshot, V86_STATE_MAGIC } from "./format.ts";
import {
  checkRoom,
  downloadSnapshotLink,
  LINK_HEAD_BYTES,
  linkedMachineName,
  networkAtStart,
  planSnapshotLink,
  readSnapshotLinkInfo,
  resolveSnapshotLink,
  sourceHost,
  type LinkFetch,
  type LinkRequest,
  type LinkResponse,
} from "./link.ts";
import { SnapshotStore } from "./store.ts";
import { sameBytes } from "../testing/bytes.ts";

const PAGE = "http://127.0.0.1:4173/virtlab/?snapshot=x";
const asset = { name: "x", url: "", sha256: "0".repeat(64) };
const fingerprint = machineFingerprint(DEFAULT_PROFILE, { kind: "disk", bios: asset, vgaBios: asset, bootFrom: "cdrom" });

async function snapshotFile(name: string, size = 1024 * 1024, v86 = "0.5.462"): Promise<Uint8Array> {
  const state = new Uint8Array(size);
  new DataView(state.buffer).setUint32(0, V86_STATE_MAGIC, true);
  new DataView(state.buffer).setUint32(4, 6, true);
  let x = 2463534242;
  for (let i = 16; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    state[i] = x & 0xff;
  }
  return concatParts((await encodeSnapshot(state, { app: "t", v86, fingerprint, name, createdAt: 1, shellReady: true, preview: "$ " })).parts);
}

interface ServerOptions {
  /** Answer Range requests with 206. */
  readonly ranges?: boolean;
  /** Let the page read Content-Range (cross-origin servers usually do not expose it). */
  readonly exposeContentRange?: boolean;
  /** Break the connection after this many bytes of a response, this many times. */
  readonly breakAfter?: number;
  readonly breaks?: number;
  /** fetch() throws a TypeError, as a cross-origin request without CORS does. */
  readonly noCors?: boolean;
  readonly status?: number;
  /** Bytes per read(). */
  readonly piece?: number;
}

/** A static server in memory: what a fetch of it would return, and every request it saw. */
function server(file: Uint8Array, options: ServerOptions = {}) {
  const requests: { url: string; init: LinkRequest }[] = [];
  let breaks = options.breaks ?? 0;
  const fetch: LinkFetch = async (url, init) => {
    requests.push({ url, init });
    if (options.noCors === true) throw new TypeError("Failed to fetch");
    if (options.status !== undefined) return response(options.status, new Uint8Array(0), {});
    const range = /^bytes=(\d+)-(\d*)$/.exec(init.headers["Range"] ?? "");
    if (range !== null && options.ranges === true) {
      const start = Number(range[1]);
      const end = range[2] === "" ? file.length - 1 : Math.min(file.length - 1, Number(range[2]));
      const headers: Record<string, string> = options.exposeContentRange === false ? {} : { "content-range": `bytes ${start}-${end}/${file.length}` };
      return response(206, file.subarray(start, end + 1), headers);
    }
    return response(200, file, { "content-length": String(file.length) });
  };
  function response(status: number, body: Uint8Array, headers: Record<string, string>): LinkResponse {
    const piece = options.piece ?? 100_000;
    let at = 0;
    const breakHere = options.breakAfter !== undefined && breaks > 0 && body.length > options.breakAfter ? options.breakAfter : undefined;
    if (breakHere !== undefined) breaks -= 1;
    return {
      status,
      headers: { get: (name) => headers[name.toLowerCase()] ?? null },
      body: {
        getReader: () => ({
          read: async () => {
            if (breakHere !== undefined && at >= breakHere) throw new TypeError("network error");
            if (at >= body.length) return { done: true };
            const end = Math.min(body.length, at + piece, breakHere ?? Infinity);
            const value = body.slice(at, end);
            at = end;
            return { done: false, value };
          },
          cancel: async () => undefined,
        }),
      },
    };
  }
  return { fetch, requests };
}

/** Run a download to its end, moving the clock through its retry waits. */
async function finish<T>(clock: ManualClock, promise: Promise<T>): Promise<T> {
  let settled = false;
  const done = promise.finally(() => (settled = true));
  while (!settled) {
    await new Promise<void>((r) => host.setTimeout(() => r(), 0));
    clock.advance(1000);
  }
  return done;
}

const link = resolveSnapshotLink("snapshots/lesson.vlsnap", PAGE);

describe("snapshot links", { timeout: 30_000 }, () => {
  it("resolves relative and absolute links, tells same origin from another, and refuses what is not http(s)", () => {
    expect(link).toEqual({ url: "http://127.0.0.1:4173/virtlab/snapshots/lesson.vlsnap", origin: "http://127.0.0.1:4173", host: "127.0.0.1:4173", sameOrigin: true });
    expect(resolveSnapshotLink("/files/a.vlsnap", PAGE).url).toBe("http://127.0.0.1:4173/files/a.vlsnap");
    const other = resolveSnapshotLink("https://Teacher.example.org:443/c/a.vlsnap?v=2", PAGE);
    expect(other).toEqual({ url: "https://teacher.example.org/c/a.vlsnap?v=2", origin: "https://teacher.example.org", host: "teacher.example.org", sameOrigin: false });
    expect(resolveSnapshotLink("//127.0.0.1:9000/a.vlsnap", PAGE).sameOrigin).toBe(false);
    for (const bad of ["javascript:alert(1)", "data:application/octet-stream;base64,AAAA", "file:///etc/passwd", "blob:http://x/1", "ftp://h/a", "http://user:pw@h/a.vlsnap", ""]) {
      expect(() => resolveSnapshotLink(bad, PAGE), bad).toThrow(AppError);
    }
    expect(sourceHost(other.url)).toBe("teacher.example.org");
    expect(linkedMachineName("teacher.example.org", "Week 3")).toBe("From teacher.example.org: Week 3");
  });

  it("is read from the page URL with the other settings; a non-http link is ignored with a notice", () => {
    const setup = parseSetupUrl(`?snapshot=${encodeURIComponent("https://t.example/a.vlsnap")}&lesson=io`);
    expect(setup).toMatchObject({ snapshot: "https://t.example/a.vlsnap", lesson: "io", notices: [] });
    const bad = parseSetupUrl("?snapshot=javascript:alert(1)");
    expect(bad.snapshot).toBeUndefined();
    expect(bad.notices).toEqual(["snapshot=javascript:alert(1) was ignored: only http and https links can be loaded, not javascript:"]);
  });

  it("reads the header with one ranged request, without credentials, before the rest is downloaded", async () => {
    const file = await snapshotFile("Week 3");
    const { fetch, requests } = server(file, { ranges: true });
    const info = await readSnapshotLinkInfo(link, fetch);
    expect(info).toMatchObject({ size: file.length, acceptsRanges: true });
    expect(info.header.name).toBe("Week 3");
    expect(info.head.length).toBe(LINK_HEAD_BYTES);
    expect(requests).toEqual([{ url: link.url, init: { method: "GET", credentials: "omit", mode: "cors", cache: "no-store", headers: { Range: `bytes=0-${LINK_HEAD_BYTES - 1}` } } }]);
  });

  it("downloads the rest with progress and resumes a broken connection where it stopped", async () => {
    const file = await snapshotFile("resumed");
    const clock = new ManualClock();
    const { fetch, requests } = server(file, { ranges: true, breakAfter: 250_000, breaks: 2, exposeContentRange: false });
    const info = await readSnapshotLinkInfo(link, fetch);
    const progress: number[] = [];
    const bytes = await finish(clock, downloadSnapshotLink(info, { fetch, clock, onProgress: (loaded) => progress.push(loaded) }));
    expect(sameBytes(bytes, file)).toBe(true);
    expect(requests.map((r) => r.init.headers["Range"])).toEqual([`bytes=0-${LINK_HEAD_BYTES - 1}`, `bytes=${LINK_HEAD_BYTES}-`, `bytes=${LINK_HEAD_BYTES + 250_000}-`, `bytes=${LINK_HEAD_BYTES + 500_000}-`]);
    expect(requests.every((r) => r.init.credentials === "omit")).toBe(true);
    expect(progress.at(-1)).toBe(file.length);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    // What arrived passes every check of the import path.
    expect((await decodeSnapshot(bytes)).header.name).toBe("resumed");
  });

  it("restarts from the beginning on a server without ranges, and gives up after its retries", async () => {
    const file = await snapshotFile("restarted");
    const clock = new ManualClock();
    const plain = server(file, { breakAfter: 500_000, breaks: 1 });
    const info = await readSnapshotLinkInfo(link, plain.fetch);
    expect(info.acceptsRanges).toBe(false);
    expect(sameBytes(await finish(clock, downloadSnapshotLink(info, { fetch: plain.fetch, clock })), file)).toBe(true);

    const flaky = server(file, { ranges: true, breakAfter: 1000, breaks: 99 });
    const flakyInfo = await readSnapshotLinkInfo(link, flaky.fetch);
    const error = await finish(clock, downloadSnapshotLink(flakyInfo, { fetch: flaky.fetch, clock, retries: 2 }).catch((e: unknown) => e));
    expect(error).toMatchObject({ code: "download-failed", message: expect.stringMatching(/broke off at \d+ of \d+ bytes and did not resume after 2 tries/) });
  });

  it("does not retry a download the server answered with an HTTP error (the file is gone), and keeps its status", async () => {
    const file = await snapshotFile("removed");
    const clock = new ManualClock();
    const ok = server(file, { ranges: true });
    const gone = server(file, { status: 404 });
    let calls = 0;
    const fetch: LinkFetch = (url, init) => (++calls === 1 ? ok.fetch(url, init) : gone.fetch(url, init));
    const info = await readSnapshotLinkInfo(link, fetch);
    const error = await finish(clock, downloadSnapshotLink(info, { fetch, clock, retries: 3 }).catch((e: unknown) => e));
    if (!isAppError(error, "download-failed")) return expect.fail(`not a download error: ${String(error)}`);
    expect(error.details).toEqual({ subject: link.url, status: 404 });
    expect(calls).toBe(2);
  });

  it("says in plain words that another server needs CORS, and names a missing file", async () => {
    const other = resolveSnapshotLink("http://127.0.0.1:9999/a.vlsnap", PAGE);
    const error = await readSnapshotLinkInfo(other, server(new Uint8Array(0), { noCors: true }).fetch).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "download-failed", details: { cors: true } });
    expect((error as AppError).message).toContain("Access-Control-Allow-Origin");
    const same = await readSnapshotLinkInfo(link, server(new Uint8Array(0), { noCors: true }).fetch).catch((e: unknown) => e);
    expect((same as AppError).message).not.toContain("CORS");
    const missing = await readSnapshotLinkInfo(link, server(new Uint8Array(0), { status: 404 }).fetch).catch((e: unknown) => e);
    expect(missing).toMatchObject({ code: "download-failed", message: expect.stringContaining("404") });
  });

  it("refuses what Import refuses: not a snapshot, another emulator, too large for the quota", async () => {
    const html = encodeText("<!doctype html><html><body>Not found</body></html>");
    await expect(readSnapshotLinkInfo(link, server(html).fetch)).rejects.toMatchObject({ code: "bad-snapshot", message: expect.stringContaining("not a virtlab snapshot") });
    await expect(readSnapshotLinkInfo(link, server(encodeText("hi"), { ranges: true }).fetch)).rejects.toMatchObject({ code: "bad-snapshot" });
    const old = await snapshotFile("old", 100_000, "0.5.1");
    const refuse = (header: { v86: string }) => (header.v86 === "0.5.462" ? undefined : new AppError("bad-snapshot", `saved by v86 ${header.v86}`));
    const { fetch, requests } = server(old, { ranges: true });
    await expect(readSnapshotLinkInfo(link, fetch, { refuse })).rejects.toMatchObject({ code: "bad-snapshot", message: "saved by v86 0.5.1" });
    expect(requests).toHaveLength(1);
    const info = await readSnapshotLinkInfo(link, server(await snapshotFile("big"), { ranges: true }).fetch);
    expect(() => checkRoom(info, { usage: 0, quota: info.size - 1 })).toThrow(expect.objectContaining({ code: "storage-full" }));
    expect(() => checkRoom(info, { usage: 0, quota: info.size })).not.toThrow();
    // A file that ends before its header says: cut short, as Import says it.
    const whole = await snapshotFile("short");
    const short = server(whole.subarray(0, whole.length - 100), { ranges: true });
    const shortInfo = await readSnapshotLinkInfo(link, short.fetch);
    await expect(downloadSnapshotLink(shortInfo, { fetch: short.fetch, clock: new ManualClock() })).rejects.toMatchObject({ code: "bad-snapshot", message: "The snapshot file is cut short." });
    // A damaged chunk is found by the import path's checks at the end.
    const damaged = (await snapshotFile("damaged")).slice();
    damaged[damaged.length - 10] = (damaged[damaged.length - 10] ?? 0) ^ 0xff;
    const clock = new ManualClock();
    const d = server(damaged, { ranges: true });
    const bytes = await finish(clock, downloadSnapshotLink(await readSnapshotLinkInfo(link, d.fetch), { fetch: d.fetch, clock }));
    await expect(decodeSnapshot(bytes)).rejects.toMatchObject({ code: "bad-snapshot", message: expect.stringContaining("does not match its checksum") });
  });

  it("finds a link opened before by URL and header sha, and uses it offline without the network", async () => {
    const store = new SnapshotStore(openIndexedDbStore(`link-${Math.random()}`, "kv"));
    const file = await snapshotFile("kept");
    const online = server(file, { ranges: true });
    const first = await planSnapshotLink(link, online.fetch, store);
    expect(first.kind).toBe("download");
    if (first.kind !== "download") throw new Error("unreachable");
    const record = await store.save("m1", [file], undefined, { url: link.url, headerSha256: first.info.headerSha256 });
    expect(await planSnapshotLink(link, online.fetch, store)).toMatchObject({ kind: "stored", record: { id: record.id }, offline: false });
    expect(await planSnapshotLink(link, server(file, { noCors: true }).fetch, store)).toMatchObject({ kind: "stored", record: { id: record.id }, offline: true });
    // The teacher published a new version at the same URL: download it.
    expect((await planSnapshotLink(link, server(await snapshotFile("kept v2"), { ranges: true }).fetch, store)).kind).toBe("download");
    // A refusal is never hidden behind the stored copy.
    await expect(planSnapshotLink(link, server(encodeText("<html>"), {}).fetch, store)).rejects.toMatchObject({ code: "bad-snapshot" });
    // The stored snapshot belongs to its own machine; others list nothing new.
    expect(await store.list("default")).toEqual([]);
  });
});

describe("a machine from a link", () => {
  it("starts with its network off until the user turns it on", async () => {
    expect(networkAtStart(true, false)).toBe("off");
    expect(networkAtStart(true, true)).toBe("on");
    expect(networkAtStart(false, false)).toBe("on");

    const { machine, transmit, received: sent } = await nicMachine(new ManualClock(), networkAtStart(true, false));
    const heard: Uint8Array[] = [];
    machine.onNetworkFrame((frame) => heard.push(frame));
    transmit(Uint8Array.of(1));
    expect(() => machine.sendNetworkFrame(Uint8Array.of(2))).toThrow(expect.objectContaining({ message: expect.stringContaining("network is off") }));
    expect([heard, sent]).toEqual([[], []]);
    machine.setNetwork("on");
    transmit(Uint8Array.of(3));
    machine.sendNetworkFrame(Uint8Array.of(4));
    expect([heard, sent]).toEqual([[Uint8Array.of(3)], [Uint8Array.of(4)]]);
    machine.dispose();
  });
});
