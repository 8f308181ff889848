/**
 * Times a section of console output between two markers the guest prints, and keeps the bytes
 * in between: the host's view of "when did the guest start and finish". Markers use the same
 * control bytes as `Machine.run` (0x1E, 0x1F) with names of their own, so the command protocol
 * never mistakes them for its markers, and the typed command's echo (`\036`, as text) never
 * matches.
 */
import { encodeText } from "../host.ts";

const OPEN = 0x1e;
const CLOSE = 0x1f;

/** Shell text that prints the begin or end marker of section `id`. */
export function markerPrintf(kind: "begin" | "end", id: number): string {
  return `printf '\\036L${kind === "begin" ? "B" : "E"}${id}\\037'`;
}

export interface SectionResult {
  readonly startedAt: number;
  readonly endedAt: number;
  /** Bytes between the markers, exactly as they arrived. */
  readonly byteCount: number;
  /** The bytes themselves when `keepBytes` was set, else empty. */
  readonly bytes: Uint8Array;
}

/** Feed it console chunks with their arrival time; it reports the marked section. */
export class SectionMeter {
  private readonly begin: number[];
  private readonly end: number[];
  private window: number[] = [];
  private state: "waiting" | "inside" | "done" = "waiting";
  private startedAt = 0;
  private endedAt = 0;
  private count = 0;
  private chunks: Uint8Array[] = [];

  constructor(
    readonly id: number,
    private readonly keepBytes: boolean,
  ) {
    this.begin = [OPEN, ...encodeText(`LB${id}`), CLOSE];
    this.end = [OPEN, ...encodeText(`LE${id}`), CLOSE];
  }

  /** The begin marker has been seen. */
  get started(): boolean {
    return this.state !== "waiting";
  }

  get done(): boolean {
    return this.state === "done";
  }

  get result(): SectionResult | undefined {
    if (this.state !== "done") return undefined;
    const bytes = new Uint8Array(this.keepBytes ? this.count : 0);
    if (this.keepBytes) {
      let at = 0;
      for (const chunk of this.chunks) {
        bytes.set(chunk, at);
        at += chunk.length;
      }
    }
    return { startedAt: this.startedAt, endedAt: this.endedAt, byteCount: this.count, bytes };
  }

  push(chunk: Uint8Array, now: number): void {
    let i = 0;
    while (i < chunk.length && this.state !== "done") {
      const byte = chunk[i] as number;
      if (this.state === "waiting") {
        i++;
        this.window.push(byte);
        if (this.window.length > this.begin.length) this.window.shift();
        if (endsWith(this.window, this.begin)) {
          this.state = "inside";
          this.startedAt = now;
          this.window = [];
        }
        continue;
      }
      if (this.window.length === 0) {
        // Payload up to the next byte that could start the end marker, in one piece.
        const open = chunk.indexOf(OPEN, i);
        const stop = open < 0 ? chunk.length : open;
        if (stop > i) {
          this.take(chunk.subarray(i, stop));
          i = stop;
          continue;
        }
      }
      i++;
      this.window.push(byte);
      if (this.window.length === this.end.length && startsWith(this.window, this.end)) {
        this.state = "done";
        this.endedAt = now;
        this.window = [];
        return;
      }
      // Bytes that cannot be the start of the end marker are payload.
      while (this.window.length > 0 && !startsWith(this.end, this.window)) {
        this.take(Uint8Array.of(this.window.shift() as number));
      }
    }
  }

  private take(bytes: Uint8Array): void {
    this.count += bytes.length;
    if (this.keepBytes && bytes.length > 0) this.chunks.push(bytes.slice());
  }
}

/** True when `haystack` begins with all of `needle`. */
function startsWith(haystack: readonly number[], needle: readonly number[]): boolean {
  return haystack.length >= needle.length && needle.every((b, i) => haystack[i] === b);
}

function endsWith(haystack: readonly number[], needle: readonly number[]): boolean {
  if (haystack.length < needle.length) return false;
  const offset = haystack.length - needle.length;
  return needle.every((b, i) => haystack[offset + i] === b);
}
