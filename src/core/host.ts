/**
 * The one place where the core reaches the host's globals. The core compiles without the DOM
 * and Node libraries, so each global it needs is typed here by the small part it uses; all of
 * them exist both in browsers and in Node 20.
 */

/** What core code passes to fetch: the NAT gateway (net/hosts/nat.ts) sends a guest's request without credentials. */
export interface HostFetchInit {
  readonly cache?: "no-cache" | "no-store";
  readonly method?: string;
  readonly headers?: [string, string][];
  readonly body?: Uint8Array;
  readonly credentials?: "omit";
  readonly redirect?: "follow";
  readonly referrerPolicy?: "no-referrer";
}

export interface HostResponse {
  readonly ok: boolean;
  readonly status: number;
  readonly statusText: string;
  readonly url?: string;
  readonly headers: { get(name: string): string | null; forEach?(fn: (value: string, name: string) => void): void };
  readonly body: { getReader(): { read(): Promise<{ done: boolean; value?: Uint8Array }> } } | null;
  arrayBuffer(): Promise<ArrayBuffer>;
}

interface TransformPair {
  readonly writable: { getWriter(): { write(chunk: Uint8Array): Promise<void>; close(): Promise<void>; abort(reason?: unknown): Promise<void> } };
  readonly readable: { getReader(): { read(): Promise<{ done: boolean; value?: Uint8Array }>; cancel(reason?: unknown): Promise<void> } };
}

/**
 * A Blob as the core may use it: read, never sliced, and never a part of a new Blob (`host.Blob`
 * takes bytes only). A Blob that came out of IndexedDB can lose its registration in Chromium,
 * and a Blob built over it then gets the renderer killed (storage/kv.ts, fillFromRecords).
 */
export interface HostBlob {
  readonly size: number;
  arrayBuffer(): Promise<ArrayBuffer>;
  /** A byte stream: a "byob" reader fills the caller's buffer (which each read transfers). */
  stream(): {
    getReader(options: { mode: "byob" }): {
      read(view: Uint8Array): Promise<{ done: boolean; value?: Uint8Array }>;
      cancel(): Promise<void>;
    };
  };
}

interface HostGlobals {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  queueMicrotask(fn: () => void): void;
  performance: { now(): number };
  fetch(url: string, init?: HostFetchInit): Promise<HostResponse>;
  TextDecoder: new (label?: string) => { decode(bytes: Uint8Array, options?: { stream?: boolean }): string };
  TextEncoder: new () => { encode(text: string): Uint8Array };
  /** WHATWG URL parsing (normalizes hosts: case, IPv4 forms, IPv6). */
  URL: new (url: string) => { readonly protocol: string; readonly hostname: string; readonly port: string; readonly href: string };
  crypto: {
    subtle: { digest(algorithm: string, data: ArrayBuffer | Uint8Array): Promise<ArrayBuffer> };
    randomUUID(): string;
  };
  CompressionStream: new (format: "gzip") => TransformPair;
  DecompressionStream: new (format: "gzip") => TransformPair;
  /** Browsers and Workers (and Node): the emulator's in-thread yield (v86.ts). */
  MessageChannel?: new () => {
    readonly port1: { onmessage: ((event: { readonly data: unknown }) => void) | null; postMessage(message: unknown): void; close(): void };
    readonly port2: { onmessage: ((event: { readonly data: unknown }) => void) | null; postMessage(message: unknown): void; close(): void };
  };
  /** Browsers, Workers and Node: the network lab's tabs reach each other (net/tabTrunk.ts). */
  BroadcastChannel?: new (name: string) => {
    postMessage(message: unknown): void;
    onmessage: ((event: { readonly data: unknown }) => void) | null;
    close(): void;
  };
  /** Browsers, Workers and Node: large values kept in IndexedDB as files (storage/kv.ts). */
  Blob: new (parts: readonly Uint8Array[]) => HostBlob;
  WebAssembly: {
    instantiate(bytes: ArrayBuffer, imports: object): Promise<{ instance: { exports: object } }>;
    /** A compiled module's instance (v86.ts: v86.wasm compiled once, its code warmed, then started). */
    instantiate(module: object, imports: object): Promise<{ exports: object }>;
    compile(bytes: ArrayBuffer): Promise<object>;
    /** Synchronous compile and instantiation: small modules only (migration/pageHash.ts). */
    Module: new (bytes: Uint8Array) => object;
    Instance: new (module: object, imports: object) => { readonly exports: object };
  };
}

export const host = globalThis as unknown as HostGlobals;

export function encodeText(text: string): Uint8Array {
  return new host.TextEncoder().encode(text);
}

export function decodeText(bytes: Uint8Array): string {
  return new host.TextDecoder("utf-8").decode(bytes);
}

export async function sha256Hex(data: ArrayBuffer | Uint8Array): Promise<string> {
  const digest = new Uint8Array(await host.crypto.subtle.digest("SHA-256", data));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A fresh random identifier (UUID v4). */
export function randomId(): string {
  return host.crypto.randomUUID();
}
