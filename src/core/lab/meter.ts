/**
 * Times a section of console output between two markers the guest prints, and keeps the bytes
 * in between: the host's view of "when did the guest start and finish". Markers use the same
 * control bytes as `Machine.run` (0x1E, 0x1F) with names of their own, so the command protocol
 * never mistakes them for its markers, and the typed command's echo (`\036`, as text) never
 * matches.
 */
import type { Clock } from "../clock.ts";
import type { Disposable, Event } from "../events.ts";
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

/** How often the instruction counter is read on the clock (it wraps every ~15–40 s at this guest's speed). */
export const INSTRUCTION_SAMPLE_MS = 200;

/** Where the instruction counter comes from: the machine's (its Worker's 32-bit counter, brought with each output chunk). */
export interface InstructionSource {
  instructionCounter(): number;
  readonly onOutput: Event<unknown>;
}

/**
 * The instructions a machine runs between `start` and `stop`, from a 32-bit counter that wraps:
 * differences modulo 2^32, read often enough to see every wrap. It is read every
 * INSTRUCTION_SAMPLE_MS and with each output chunk: a page left in the background runs chained
 * timers as late as once a minute (Chromium), and timer reads alone then missed wraps, while
 * the chunks (which bring the Worker's counter) keep coming as the workload prints.
 */
export class InstructionMeter implements Disposable {
  private total = 0;
  private last: number | undefined;
  private timer: Disposable | undefined;
  private listener: Disposable | undefined;

  constructor(
    private readonly source: InstructionSource,
    private readonly clock: Clock,
  ) {}

  start(): void {
    this.read();
    this.listener = this.source.onOutput(() => this.read());
    const tick = (): void => {
      this.read();
      this.timer = this.clock.after(INSTRUCTION_SAMPLE_MS, tick);
    };
    this.timer = this.clock.after(INSTRUCTION_SAMPLE_MS, tick);
  }

  /** Stop counting; the instructions run since `start` (the same again if asked again). */
  stop(): number {
    if (this.last !== undefined) this.read();
    this.last = undefined;
    this.dispose();
    return this.total;
  }

  dispose(): void {
    this.timer?.dispose();
    this.listener?.dispose();
    this.timer = undefined;
    this.listener = undefined;
  }

  private read(): void {
    const now = this.source.instructionCounter();
    if (this.last !== undefined) this.total += (now - this.last) >>> 0;
    this.last = now;
  }
}
