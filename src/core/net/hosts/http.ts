/**
 * HTTP/1.x for the NAT gateway: read a guest's request off its TCP stream, decide where it may
 * go, and write a response back. A guest is untrusted: the target must be http or https and must
 * not be virtlab's own origin (localhost, 127.0.0.0/8, [::1] and 0.0.0.0 count as one host), and
 * nothing of the page's credentials goes with it (the gateway's fetch uses credentials "omit").
 */
import { decodeText, encodeText, host } from "../../host.ts";

const HEADER_LIMIT = 32 * 1024;
export const BODY_LIMIT = 16 * 1024 * 1024;

export interface HttpRequest {
  readonly method: string;
  /** As in the request line: "/path?q" or, from a proxy client, "http://host/path". */
  readonly target: string;
  readonly version: string;
  /** In order, names as sent. */
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Uint8Array;
}

/** A request the gateway cannot take: the status and one line saying why. */
export interface HttpProblem {
  readonly status: number;
  readonly reason: string;
}

export function header(request: HttpRequest, name: string): string | undefined {
  const wanted = name.toLowerCase();
  return request.headers.find(([n]) => n.toLowerCase() === wanted)?.[1];
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Collects a request from TCP chunks: undefined until complete, then the request or a problem. */
export class HttpRequestReader {
  private chunks: Uint8Array[] = [];
  private length = 0;
  private head: { request: Omit<HttpRequest, "body">; bodyStart: number; bodyLength: number } | undefined;

  push(bytes: Uint8Array): HttpRequest | HttpProblem | undefined {
    this.chunks.push(bytes);
    this.length += bytes.length;
    const all = this.joined();
    if (this.head === undefined) {
      const end = findHeaderEnd(all);
      if (end < 0) return this.length > HEADER_LIMIT ? { status: 431, reason: "The request's headers are too large." } : undefined;
      const parsed = parseHead(decodeText(all.subarray(0, end)));
      if ("status" in parsed) return parsed;
      const transfer = parsed.headers.find(([n]) => n.toLowerCase() === "transfer-encoding");
      if (transfer !== undefined) return { status: 501, reason: "Chunked request bodies are not supported: send a Content-Length." };
      const lengthText = parsed.headers.find(([n]) => n.toLowerCase() === "content-length")?.[1] ?? "0";
      if (!/^\d+$/.test(lengthText)) return { status: 400, reason: "The Content-Length is not a number." };
      const bodyLength = Number(lengthText);
      if (bodyLength > BODY_LIMIT) return { status: 413, reason: `The request body is larger than ${BODY_LIMIT} bytes.` };
      this.head = { request: parsed, bodyStart: end + 4, bodyLength };
    }
    const { request, bodyStart, bodyLength } = this.head;
    if (all.length < bodyStart + bodyLength) return undefined;
    return { ...request, body: all.slice(bodyStart, bodyStart + bodyLength) };
  }

  private joined(): Uint8Array {
    if (this.chunks.length === 1) return this.chunks[0] as Uint8Array;
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    this.chunks = [out];
    return out;
  }
}

function findHeaderEnd(b: Uint8Array): number {
  for (let i = 0; i + 3 < b.length; i++) if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  return -1;
}

function parseHead(text: string): Omit<HttpRequest, "body"> | HttpProblem {
  const lines = text.split("\r\n");
  const [method, target, version, ...rest] = (lines[0] ?? "").split(" ");
  if (method === undefined || target === undefined || version === undefined || rest.length > 0 || !TOKEN.test(method) || !/^HTTP\/1\.[01]$/.test(version) || target === "") {
    return { status: 400, reason: "The request line is not HTTP/1.x." };
  }
  const headers: [string, string][] = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1).trim();
    if (colon <= 0 || !TOKEN.test(name) || !/^[\x20-\x7e\t]*$/.test(value)) return { status: 400, reason: `A request header cannot be read: ${line.slice(0, 60)}` };
    headers.push([name, value]);
  }
  return { method, target, version, headers };
}

/** Headers a guest may not pass on: hop-by-hop ones, the body framing, and anything about cookies or the browser. */
const NOT_FORWARDED = new Set(["host", "connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade", "content-length", "cookie", "cookie2", "origin", "referer"]);

export function forwardedHeaders(request: HttpRequest): [string, string][] {
  return request.headers.filter(([n]) => !NOT_FORWARDED.has(n.toLowerCase())).map(([n, v]) => [n, v]);
}

/** Response headers not copied to the guest: fetch has already decoded and unframed the body. */
const NOT_RETURNED = new Set(["content-encoding", "content-length", "transfer-encoding", "connection", "keep-alive", "set-cookie", "set-cookie2"]);

/** Status codes whose responses have no body. */
const NO_BODY = (status: number): boolean => status === 204 || status === 304 || (status >= 100 && status < 200);

/** A whole HTTP/1.1 response: the headers, Content-Length, Connection: close, then the body. */
export function httpResponse(o: { status: number; statusText: string; headers?: Iterable<readonly [string, string]>; body: Uint8Array; headRequest?: boolean }): Uint8Array {
  const lines = [`HTTP/1.1 ${o.status} ${(o.statusText || "").replace(/[\r\n]/g, " ")}`.trimEnd()];
  for (const [name, value] of o.headers ?? []) {
    if (!NOT_RETURNED.has(name.toLowerCase())) lines.push(`${name}: ${value.replace(/[\r\n]/g, " ")}`);
  }
  const body = NO_BODY(o.status) ? new Uint8Array(0) : o.body;
  if (!NO_BODY(o.status)) lines.push(`Content-Length: ${body.length}`);
  lines.push("Connection: close", "", "");
  const head = encodeText(lines.join("\r\n"));
  const sent = o.headRequest === true ? new Uint8Array(0) : body;
  const out = new Uint8Array(head.length + sent.length);
  out.set(head, 0);
  out.set(sent, head.length);
  return out;
}

/** A response with a one-line text body saying why. */
export function textResponse(status: number, statusText: string, line: string): Uint8Array {
  return httpResponse({ status, statusText, headers: [["Content-Type", "text/plain; charset=utf-8"]], body: encodeText(`${line}\n`) });
}

interface Origin {
  readonly scheme: string;
  readonly host: string;
  readonly port: string;
}

/** All names for this machine's loopback: one host for the comparison. */
function isLoopback(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/\.$/, "");
  return h === "localhost" || h.endsWith(".localhost") || /^127\.\d+\.\d+\.\d+$/.test(h) || h === "0.0.0.0" || h === "[::1]" || h === "[::]" || h.startsWith("[::ffff:7f") || h === "[::ffff:0:0]";
}

function originOf(url: string): Origin | undefined {
  let parsed: { protocol: string; hostname: string; port: string };
  try {
    parsed = new host.URL(url);
  } catch {
    return undefined;
  }
  const scheme = parsed.protocol.replace(/:$/, "").toLowerCase();
  const port = parsed.port !== "" ? parsed.port : scheme === "https" ? "443" : scheme === "http" ? "80" : "";
  const hostname = parsed.hostname.toLowerCase().replace(/\.$/, "");
  return { scheme, host: isLoopback(hostname) ? "loopback" : hostname, port };
}

/** Whether `ownOrigin` can be compared against (the NAT gateway checks it at construction). */
export function validOrigin(ownOrigin: string): boolean {
  const o = originOf(ownOrigin);
  return o !== undefined && o.host !== "";
}

/**
 * Why the gateway refuses to fetch `url`, or undefined when it may. Refused: what is not a URL,
 * schemes other than http and https, and virtlab's own origin — the same host (loopback names
 * are one host) on the same port, by either scheme.
 */
export function refusal(url: string, ownOrigin: string): string | undefined {
  const target = originOf(url);
  if (target === undefined) return `"${url.slice(0, 80)}" is not a URL.`;
  if (target.scheme !== "http" && target.scheme !== "https") return `Only http and https can be fetched, not ${target.scheme}.`;
  if (target.host === "") return `"${url.slice(0, 80)}" is not a URL.`;
  const own = originOf(ownOrigin);
  if (own === undefined || (own.host === target.host && own.port === target.port)) return "This is virtlab's own origin: a guest may not reach it.";
  return undefined;
}

/**
 * `url` with https:// for http://, unless its host is loopback: in a page, virtlab's CSP lets
 * fetch reach http only on loopback, and a page served over https may not fetch http at all.
 */
export function httpsUnlessLoopback(url: string): string {
  const target = originOf(url);
  return target?.scheme !== "http" || target.host === "loopback" ? url : url.replace(/^http:\/\//i, "https://");
}
