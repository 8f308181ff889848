/**
 * Guest output on its way into xterm, in bounded memory whatever the page's state.
 *
 * Output is held for the next animation frame and written to xterm in one piece per frame. A
 * hidden page gets no frames (a tab in the background, a minimized window), so a timer flushes
 * too; it fires at most once a second there, which is what a hidden page allows. xterm parses in
 * slices on timers of its own, which a long-hidden page runs about once a minute: output a guest
 * floods meanwhile (a `yes`, a build's log, `ping -f`) piled up without bound, in this queue
 * (rAF never came) and then in xterm's (which throws past 50 MB and loses the rest).
 *
 * So what xterm has been given and not yet parsed is bounded (`backlogLimit`), and so is what is
 * held while xterm is that far behind (`holdLimit`): past it the oldest held output is skipped,
 * from a line's start on, and the terminal says how much before the output that follows, as a
 * serial console overrun loses characters. The newest output, the one the screen shows, is
 * never skipped. With the limits far above a screen and its scrollback, nothing is skipped
 * unless a guest writes faster than xterm parses for a long time.
 */
import { concatBytes } from "../core/bytes.ts";

/** Where the output goes: xterm's `write`, `done` once it has parsed those bytes. */
export type OutputSink = (bytes: Uint8Array, done: () => void) => void;

/** The page's schedulers, each returning its cancel (tests pass their own). */
export interface OutputTimers {
  nextFrame(run: () => void): () => void;
  after(ms: number, run: () => void): () => void;
}

export interface OutputLimits {
  /** Bytes given to xterm and not yet parsed, past which output is held instead. */
  readonly backlogLimit: number;
  /** Bytes held, past which the oldest are skipped. */
  readonly holdLimit: number;
}

/** The page's animation frames and timers. */
export const pageTimers: OutputTimers = {
  nextFrame: (run) => {
    const id = requestAnimationFrame(run);
    return () => cancelAnimationFrame(id);
  },
  after: (ms, run) => {
    const id = setTimeout(run, ms);
    return () => clearTimeout(id);
  },
};

const MIB = 2 ** 20;
/** ~0.1–0.3 s of xterm's parsing each; the scrollback (5,000 lines) is far less. */
export const OUTPUT_LIMITS: OutputLimits = { backlogLimit: 4 * MIB, holdLimit: 4 * MIB };
/** The flush when no animation frame comes (a hidden page). */
export const NO_FRAME_FLUSH_MS = 1000;

const LINE_FEED = 0x0a;

export class OutputQueue {
  private held: Uint8Array[] = [];
  private heldBytes = 0;
  /** Bytes skipped since the last write to xterm. */
  private skipped = 0;
  /** The head of `held` follows skipped output: it is cut to a line's start when it can be. */
  private headMidLine = false;
  private backlog = 0;
  private cancels: (() => void)[] = [];
  /** Incremented by `clear`, so that xterm's late `done` of an earlier run is not counted. */
  private generation = 0;

  constructor(
    private readonly sink: OutputSink,
    private readonly timers: OutputTimers,
    /** The line that says `skipped` bytes were not shown, as terminal bytes. */
    private readonly skippedNotice: (skipped: number) => Uint8Array,
    private readonly limits: OutputLimits = OUTPUT_LIMITS,
  ) {}

  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.held.push(bytes);
    this.heldBytes += bytes.length;
    this.trim();
    this.schedule();
  }

  /**
   * Write what is held now. Unless `always` (a notice of our own must come after it, a preview
   * must see it), nothing is written while xterm's backlog is at its limit: its parsing a piece
   * flushes again.
   */
  flush(always = false): void {
    this.unschedule();
    if (this.held.length === 0) return;
    if (!always && this.backlog >= this.limits.backlogLimit) return;
    const bytes = this.held.length === 1 ? this.held[0]! : concatBytes(this.held);
    const skipped = this.skipped;
    this.dropHeld();
    if (skipped > 0) this.give(this.skippedNotice(skipped));
    this.give(bytes);
  }

  /** Drop everything held and forget xterm's backlog (a new run, a reset terminal). */
  clear(): void {
    this.unschedule();
    this.dropHeld();
    this.backlog = 0;
    this.generation++;
  }

  private dropHeld(): void {
    this.held = [];
    this.heldBytes = 0;
    this.skipped = 0;
    this.headMidLine = false;
  }

  /** For tests: what is held and what xterm has not parsed yet. */
  get sizes(): { readonly held: number; readonly backlog: number; readonly skipped: number } {
    return { held: this.heldBytes, backlog: this.backlog, skipped: this.skipped };
  }

  private give(bytes: Uint8Array): void {
    const generation = this.generation;
    this.backlog += bytes.length;
    this.sink(bytes, () => {
      if (generation !== this.generation) return;
      this.backlog -= bytes.length;
      if (this.held.length > 0 && this.cancels.length === 0) this.schedule();
    });
  }

  private schedule(): void {
    if (this.cancels.length > 0) return;
    this.cancels = [this.timers.nextFrame(() => this.flush()), this.timers.after(NO_FRAME_FLUSH_MS, () => this.flush())];
  }

  private unschedule(): void {
    for (const cancel of this.cancels) cancel();
    this.cancels = [];
  }

  /** Skip the oldest held output past the hold limit, then up to the next line's start. */
  private trim(): void {
    while (this.heldBytes > this.limits.holdLimit && this.held.length > 1) this.skipHead(this.held[0]!.length);
    while (this.headMidLine && this.held.length > 0) {
      const head = this.held[0]!;
      const lineFeed = head.indexOf(LINE_FEED);
      const last = this.held.length === 1;
      // The newest piece is cut only when something of it stays.
      if (last && (lineFeed < 0 || lineFeed + 1 === head.length)) break;
      if (lineFeed < 0) {
        this.skipHead(head.length);
        continue;
      }
      this.skipHead(lineFeed + 1);
      this.headMidLine = false;
    }
  }

  private skipHead(count: number): void {
    const head = this.held[0]!;
    if (count >= head.length) this.held.shift();
    else this.held[0] = head.subarray(count);
    this.heldBytes -= count;
    this.skipped += count;
    this.headMidLine = true;
  }
}
