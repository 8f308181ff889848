/**
 * A teacher's machine by link: `?snapshot=<url of a .vlsnap>`. The link is checked (http or
 * https only, no user name or password in it), the file's header is read first (a ranged request,
 * or the first bytes of the stream) so the page can say what it is before downloading the rest,
 * the rest is downloaded with progress and resumed with Range requests where the server allows
 * it (restarted where it does not), and the finished file goes through the import path's checks
 * (decodeSnapshot: magic, versions, every chunk's sha256) before it is stored.
 *
 * Every request omits credentials: a snapshot is somebody else's file and nothing virtlab sends
 * for it may carry the student's cookies. The network is reached through an injected fetch and
 * time through the Clock, so all of this runs under unit tests.
 */
import type { Clock } from "../clock.ts";
import { concatBytes } from "../bytes.ts";
import { AppError, isAppError } from "../errors.ts";
import { sha256Hex } from "../host.ts";
import type { StorageEstimate } from "../storage/images.ts";
import { readSnapshotHeaderOf, snapshotFileSize, snapshotHeaderBytes, type SnapshotHeader } from "./format.ts";
import type { SnapshotRecord, SnapshotStore } from "./store.ts";

/** A checked link to a snapshot file. */
export interface SnapshotLink {
  /** Absolute http(s) URL. */
  readonly url: string;
  /** scheme://host[:port], lower case. */
  readonly origin: string;
  /** host[:port], for the user ("From <host>: <name>"). */
  readonly host: string;
  /** Served by the same origin as virtlab (no CORS needed). */
  readonly sameOrigin: boolean;
}

/** What the page's fetch is asked to do: always without credentials. */
export interface LinkRequest {
  readonly method: "GET";
  readonly credentials: "omit";
  readonly mode: "cors";
  readonly cache: "no-store";
  readonly headers: Readonly<Record<string, string>>;
}

export interface LinkReader {
  read(): Promise<{ readonly done: boolean; readonly value?: Uint8Array }>;
  cancel(reason?: unknown): Promise<void>;
}

export interface LinkResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly body: { getReader(): LinkReader } | null;
}

export type LinkFetch = (url: string, init: LinkRequest) => Promise<LinkResponse>;

/** What the header read found: enough to ask the user, and the bytes already read. */
export interface SnapshotLinkInfo {
  readonly link: SnapshotLink;
  readonly header: SnapshotHeader;
  /** Bytes of the whole file. */
  readonly size: number;
  /** sha256 of the header bytes; the header lists every chunk's sha256, so this names the file. */
  readonly headerSha256: string;
  /** The server answered the ranged request with 206: a broken download resumes. */
  readonly acceptsRanges: boolean;
  /** The first bytes of the file, already read (the download continues after them). */
  readonly head: Uint8Array;
}

/** How far the header read goes in its first request (the header is usually a few KiB). */
export const LINK_HEAD_BYTES = 64 * 1024;

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;
const ABSOLUTE = /^(https?):\/\/([^/?#]*)(.*)$/i;

/** Why a `snapshot=` value can never be loaded, or undefined (relative links are fine). */
export function snapshotLinkProblem(raw: string): string | undefined {
  const value = raw.trim();
  if (value === "") return "it is empty";
  if ([...value].some((c) => c <= " " || c === "\u007f")) return "it contains spaces or control characters";
  const scheme = SCHEME.exec(value)?.[1]?.toLowerCase();
  if (scheme !== undefined && scheme !== "http" && scheme !== "https") return `only http and https links can be loaded, not ${scheme}:`;
  return undefined;
}

/**
 * The link resolved against the page's address (`pageUrl`, absolute), checked: http(s) only,
 * and no user name or password (the request goes without credentials, and a link must not
 * smuggle them in).
 */
export function resolveSnapshotLink(raw: string, pageUrl: string): SnapshotLink {
  const problem = snapshotLinkProblem(raw);
  if (problem !== undefined) throw new AppError("download-failed", `The snapshot link cannot be used: ${problem}.`, { details: { subject: raw } });
  const value = raw.trim();
  const page = ABSOLUTE.exec(pageUrl.replace(/[?#].*$/, ""));
  if (page === null) throw new AppError("download-failed", "A snapshot link works only on a page served over http or https.");
  const pageScheme = (page[1] as string).toLowerCase();
  const pageOrigin = `${pageScheme}://${(page[2] as string).toLowerCase()}`;
  const pagePath = page[3] === "" ? "/" : (page[3] as string);
  let absolute: string;
  if (SCHEME.test(value)) absolute = value;
  else if (value.startsWith("//")) absolute = `${pageScheme}:${value}`;
  else if (value.startsWith("/")) absolute = `${pageOrigin}${value}`;
  else absolute = `${pageOrigin}${pagePath.slice(0, pagePath.lastIndexOf("/") + 1)}${value.replace(/^\.\//, "")}`;
  const parts = ABSOLUTE.exec(absolute);
  if (parts === null || parts[2] === "") throw new AppError("download-failed", `The snapshot link cannot be used: ${value} is not a web address.`, { details: { subject: value } });
  const scheme = (parts[1] as string).toLowerCase();
  const authority = (parts[2] as string).toLowerCase();
  if (authority.includes("@")) {
    throw new AppError("download-failed", "The snapshot link cannot be used: it carries a user name or password, and virtlab downloads snapshots without credentials.", { details: { subject: value } });
  }
  const host = authority.replace(scheme === "http" ? /:80$/ : /:443$/, "");
  const origin = `${scheme}://${host}`;
  const defaultPort = pageScheme === "http" ? /:80$/ : /:443$/;
  return { url: `${origin}${parts[3] === "" ? "/" : (parts[3] as string)}`, origin, host, sameOrigin: origin === pageOrigin.replace(defaultPort, "") };
}

function request(headers: Record<string, string> = {}): LinkRequest {
  return { method: "GET", credentials: "omit", mode: "cors", cache: "no-store", headers };
}

/** fetch() itself failed (it throws a TypeError): no network, or a cross-origin file without CORS. */
export function linkFetchFailed(link: SnapshotLink, cause: unknown): AppError {
  if (link.sameOrigin) {
    return new AppError("download-failed", `Could not reach ${link.host} to download the snapshot: the network is down or the server does not answer.`, {
      cause,
      details: { subject: link.url },
    });
  }
  return new AppError(
    "download-failed",
    `Could not download the snapshot from ${link.host}. Either the network is down, or that server does not let other sites load its files: a snapshot on another server needs CORS there (it must answer with the header "Access-Control-Allow-Origin: *"). Ask whoever runs ${link.host} to allow it, or put the snapshot on the same server as virtlab.`,
    { cause, details: { subject: link.url, cors: true } },
  );
}

function statusFailed(link: SnapshotLink, status: number): AppError {
  const why = status === 404 ? "there is no file at this link (the server answered 404 Not Found)" : status === 403 ? "the server refused it (403 Forbidden)" : `the server answered ${status}`;
  return new AppError("download-failed", `The snapshot could not be downloaded from ${link.host}: ${why}.`, { details: { subject: link.url, status } });
}

/** Start of a 206 answer's range, when the server lets the page read Content-Range. */
function rangeStart(response: LinkResponse): number | undefined {
  const match = /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(response.headers.get("content-range")?.trim() ?? "");
  return match === null ? undefined : Number(match[1]);
}

async function send(link: SnapshotLink, fetch: LinkFetch, headers: Record<string, string>): Promise<LinkResponse> {
  let response: LinkResponse;
  try {
    response = await fetch(link.url, request(headers));
  } catch (error) {
    throw linkFetchFailed(link, error);
  }
  if (response.status !== 200 && response.status !== 206) throw statusFailed(link, response.status);
  if (response.body === null) throw new AppError("download-failed", `The snapshot could not be downloaded from ${link.host}: the answer had no body.`, { details: { subject: link.url } });
  return response;
}

/**
 * Read the header: a request for the first LINK_HEAD_BYTES (a server without ranges sends the
 * whole file, of which only the first bytes are read), then more when the header is longer.
 * Refuses a file that is not a snapshot, a damaged header, and whatever `refuse` refuses (the
 * import path's emulator-version check), before anything large is downloaded.
 */
export async function readSnapshotLinkInfo(
  link: SnapshotLink,
  fetch: LinkFetch,
  options: { readonly refuse?: (header: SnapshotHeader) => AppError | undefined } = {},
): Promise<SnapshotLinkInfo> {
  const pieces: Uint8Array[] = [];
  let have = 0;
  let need = 12;
  let acceptsRanges: boolean;
  let response = await send(link, fetch, { Range: `bytes=0-${LINK_HEAD_BYTES - 1}` });
  for (;;) {
    acceptsRanges = response.status === 206;
    const reader = (response.body as { getReader(): LinkReader }).getReader();
    let done = false;
    try {
      while (have < need) {
        const chunk = await reader.read();
        if (chunk.done) {
          done = true;
          break;
        }
        if (chunk.value !== undefined && chunk.value.length > 0) {
          pieces.push(chunk.value);
          have += chunk.value.length;
        }
        if (need === 12 && have >= 12) need = snapshotHeaderBytes(concatBytes(pieces));
      }
    } catch (error) {
      throw isAppError(error) ? error : linkFetchFailed(link, error);
    } finally {
      if (!done) await reader.cancel().catch(() => undefined);
    }
    if (have < 12) snapshotHeaderBytes(concatBytes(pieces)); // too short to be a snapshot: refused here
    if (have >= need) break;
    if (!acceptsRanges || !done) throw new AppError("bad-snapshot", "The snapshot file is cut short or its header is damaged.", { details: { subject: link.url } });
    response = await send(link, fetch, { Range: `bytes=${have}-${need - 1}` });
    if (response.status !== 206 || (rangeStart(response) ?? have) !== have) {
      throw new AppError("download-failed", `The server at ${link.host} did not send the part of the file that was asked for.`, { details: { subject: link.url } });
    }
  }
  const head = concatBytes(pieces);
  // The file's length is not trusted from headers (a compressing server changes it, and another
  // origin may hide them): the header says it, and the end of the download checks it.
  const { header, bodyOffset } = readSnapshotHeaderOf(head, undefined);
  const refusal = options.refuse?.(header);
  if (refusal !== undefined) throw refusal;
  const size = snapshotFileSize(header, bodyOffset);
  return { link, header, size, headerSha256: await sha256Hex(head.subarray(0, bodyOffset)), acceptsRanges, head: head.subarray(0, Math.min(head.length, size)) };
}

/** The same refusal as storing any file too large for the quota, before a byte more is downloaded. */
export function checkRoom(info: SnapshotLinkInfo, estimate: StorageEstimate | undefined): void {
  if (estimate === undefined) return;
  const free = estimate.quota - estimate.usage;
  if (free < info.size) {
    const mib = (n: number): string => `${(Math.max(0, n) / 1048576).toFixed(1)} MiB`;
    throw new AppError("storage-full", `The snapshot "${info.header.name}" needs ${mib(info.size)} but the browser allows only ${mib(free)} more. Nothing was downloaded.`, {
      details: { subject: info.link.url, size: info.size, ...estimate },
    });
  }
}

export interface DownloadOptions {
  readonly fetch: LinkFetch;
  readonly clock: Clock;
  readonly onProgress?: (loaded: number, total: number) => void;
  /** Broken connections tolerated before giving up. */
  readonly retries?: number;
  /** Wait before the n-th retry: n × this. */
  readonly retryDelayMs?: number;
}

/**
 * The whole file, continuing after the bytes the header read got. A connection that breaks is
 * resumed from where it stopped (`Range: bytes=N-`) when the server answers with 206; a server
 * that answers 200 sends the whole file again and the download restarts. Whether the pieces fit
 * together is for decodeSnapshot's checksums to say.
 */
export async function downloadSnapshotLink(info: SnapshotLinkInfo, options: DownloadOptions): Promise<Uint8Array> {
  const { link, size } = info;
  const retries = options.retries ?? 4;
  const delay = options.retryDelayMs ?? 1000;
  const out = new Uint8Array(size);
  out.set(info.head);
  let loaded = info.head.length;
  let failures = 0;
  options.onProgress?.(loaded, size);
  while (loaded < size) {
    try {
      const response = await send(link, options.fetch, loaded > 0 ? { Range: `bytes=${loaded}-` } : {});
      if (response.status === 200) loaded = 0;
      else if ((rangeStart(response) ?? loaded) !== loaded) throw new Error(`the server sent bytes from ${rangeStart(response) ?? "?"} instead of ${loaded}`);
      const reader = (response.body as { getReader(): LinkReader }).getReader();
      for (;;) {
        const chunk = await reader.read();
        if (chunk.done) break;
        const value = chunk.value ?? new Uint8Array(0);
        if (loaded + value.length > size) {
          await reader.cancel().catch(() => undefined);
          throw new AppError("bad-snapshot", "The file at the link is longer than its header says: it is damaged, or it changed during the download.", { details: { subject: link.url } });
        }
        out.set(value, loaded);
        loaded += value.length;
        options.onProgress?.(loaded, size);
      }
      // A clean end before the size the header declares: the server's file is that short (a
      // broken connection makes read() throw instead).
      if (loaded < size) throw new AppError("bad-snapshot", "The snapshot file is cut short.", { details: { subject: link.url, expected: size, actual: loaded } });
    } catch (error) {
      if (isAppError(error) && error.code !== "download-failed") throw error;
      if (isAppError(error, "download-failed") && error.details.status !== undefined) throw error;
      failures += 1;
      if (failures > retries) {
        throw new AppError("download-failed", `The download of the snapshot from ${link.host} broke off at ${loaded} of ${size} bytes and did not resume after ${retries} tries.`, {
          cause: error,
          details: { subject: link.url, loaded, size },
        });
      }
      await new Promise<void>((resume) => options.clock.after(delay * failures, resume));
    }
  }
  return out;
}

/** What opening a link comes to: the copy this browser already has, or a download. */
export type SnapshotLinkPlan =
  | { readonly kind: "stored"; readonly record: SnapshotRecord; readonly info?: SnapshotLinkInfo; readonly offline: boolean }
  | { readonly kind: "download"; readonly info: SnapshotLinkInfo };

/**
 * A link opened before finds its stored snapshot by URL and header sha256 and needs no download;
 * when the network is down (or the server gone), the newest copy from that URL is used.
 * Refusals (not a snapshot, another emulator) are never papered over with a stored copy.
 */
export async function planSnapshotLink(
  link: SnapshotLink,
  fetch: LinkFetch,
  store: SnapshotStore,
  options: { readonly refuse?: (header: SnapshotHeader) => AppError | undefined } = {},
): Promise<SnapshotLinkPlan> {
  const stored = await store.fromSource(link.url);
  let info: SnapshotLinkInfo;
  try {
    info = await readSnapshotLinkInfo(link, fetch, options);
  } catch (error) {
    const newest = stored[0];
    if (newest !== undefined && isAppError(error) && error.code === "download-failed") return { kind: "stored", record: newest, offline: true };
    throw error;
  }
  const same = stored.find((r) => r.source?.headerSha256 === info.headerSha256);
  return same === undefined ? { kind: "download", info } : { kind: "stored", record: same, info, offline: false };
}

/** How the page names a machine from a link. */
export function linkedMachineName(host: string, name: string): string {
  return `From ${host}: ${name}`;
}

/** The host a stored snapshot was downloaded from. */
export function sourceHost(url: string): string {
  return (ABSOLUTE.exec(url)?.[2] ?? url).toLowerCase();
}

/**
 * A machine from a link is somebody else's code: its network starts off whatever the snapshot
 * says, until the student turns it on (for this visit). Other machines keep theirs.
 */
export function networkAtStart(fromLink: boolean, turnedOnByUser: boolean): "on" | "off" {
  return fromLink && !turnedOnByUser ? "off" : "on";
}
