/**
 * Reading a guest console as a byte stream: the current line (for prompt detection), a bounded
 * tail (for error messages), and the marker protocol that `Machine.run` uses to cut one
 * command's output out of the stream.
 */
import { concatBytes } from "./bytes.ts";
import { decodeText, encodeText } from "./host.ts";

const LF = 0x0a;
/** Bytes the guest prints around a command's output; the tty never echoes them as such. */
const MARK_OPEN = 0x1e; // ASCII record separator
const MARK_CLOSE = 0x1f; // ASCII unit separator

// eslint-disable-next-line no-control-regex -- matching terminal escape sequences is the point
const CSI_PATTERN = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>78DEHMc]/g;

export function stripAnsi(text: string): string {
  return text.replace(CSI_PATTERN, "");
}

/** The last `limit` bytes pushed, kept in one buffer (no per-byte work: consoles are hot paths). */
class ByteTail {
  private buffer: Uint8Array;
  private length = 0;

  constructor(private readonly limit: number) {
    this.buffer = new Uint8Array(limit * 2);
  }

  push(bytes: Uint8Array): void {
    if (bytes.length >= this.limit) {
      this.buffer.set(bytes.subarray(bytes.length - this.limit));
      this.length = this.limit;
      return;
    }
    if (this.length + bytes.length > this.buffer.length) {
      const keep = Math.min(this.length, this.limit);
      this.buffer.copyWithin(0, this.length - keep, this.length);
      this.length = keep;
    }
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }

  bytes(): Uint8Array {
    return this.buffer.slice(Math.max(0, this.length - this.limit), this.length);
  }

  clear(): void {
    this.length = 0;
  }
}

/** Keeps the line being written and the last `tailLimit` bytes of a console. */
export class ConsoleTranscript {
  private readonly line = new ByteTail(1024);
  private readonly tail: ByteTail;
  private totalBytes = 0;

  constructor(tailLimit = 4096) {
    this.tail = new ByteTail(tailLimit);
  }

  push(bytes: Uint8Array): void {
    this.totalBytes += bytes.length;
    this.tail.push(bytes);
    const lastLf = bytes.lastIndexOf(LF);
    if (lastLf >= 0) this.line.clear();
    this.line.push(lastLf >= 0 ? bytes.subarray(lastLf + 1) : bytes);
  }

  /** The unfinished last line, carriage returns and escape sequences removed. */
  currentLine(): string {
    return stripAnsi(decodeText(this.line.bytes()).replace(/\r/g, ""));
  }

  /** The last bytes written, as text, for error details. */
  recentText(): string {
    return stripAnsi(decodeText(this.tail.bytes())).replace(/\r\n/g, "\n");
  }

  get byteCount(): number {
    return this.totalBytes;
  }

  reset(): void {
    this.line.clear();
    this.tail.clear();
  }
}

/** The longest marker `MarkerFilter` removes: `\x1eE<id> <status>\x1f` and the lab's markers fit. */
const MAX_MARKER_BYTES = 32;

/**
 * Console output for a person: the marker sequences of `Machine.run` (0x1E … 0x1F) removed. The
 * two bytes are invisible in a terminal, but the letters between them are not. A marker split
 * across chunks is held back until its end arrives; anything that does not close within a
 * marker's length passes through unchanged.
 */
export class MarkerFilter {
  private held: Uint8Array | undefined;

  filter(bytes: Uint8Array): Uint8Array {
    const data = this.held === undefined ? bytes : join(this.held, bytes);
    this.held = undefined;
    if (data.indexOf(MARK_OPEN) < 0) return data;
    const keep: Uint8Array[] = [];
    let from = 0;
    for (let open = data.indexOf(MARK_OPEN); open >= 0; open = data.indexOf(MARK_OPEN, from)) {
      const close = data.indexOf(MARK_CLOSE, open + 1);
      if (close < 0 && data.length - open <= MAX_MARKER_BYTES) {
        keep.push(data.subarray(from, open));
        this.held = data.slice(open);
        from = data.length;
        break;
      }
      if (close < 0 || close - open > MAX_MARKER_BYTES || data.subarray(open + 1, close).includes(MARK_OPEN)) {
        keep.push(data.subarray(from, open + 1));
        from = open + 1;
        continue;
      }
      keep.push(data.subarray(from, open));
      from = close + 1;
    }
    keep.push(data.subarray(from));
    return keep.length === 1 ? (keep[0] as Uint8Array) : join(...keep);
  }
}

/** Held at most this long for a command's echo; past it the bytes pass through as they came. */
const MAX_ECHO_BYTES = 64 * 1024;
/** Before the echo's first line: room for the line editor clearing a half-typed line (it draws the prompt again). */
const MAX_BEFORE_ECHO_BYTES = 256;
/** A start marker cut at a chunk's end. */
// eslint-disable-next-line no-control-regex -- the marker's first byte is a control character
const PARTIAL_START_MARKER = /\x1eS?\d*$/;

/** A command `Machine.run` typed: its id and text. */
export interface TypedCommand {
  readonly id: number;
  readonly command: string;
}

/**
 * Console output for a person, the other half: the shell's echo of what `Machine.run` typed (the
 * command in a group between the `printf`s of its markers, `markedCommand`) is shown as the
 * command alone, as if typed at the prompt. From the moment it is typed until its start marker
 * the output is held; once the marker comes, the part from the echo of the first `printf` to the
 * marker becomes the command's lines (continuation lines after "> ", as the shell shows them)
 * when it is exactly what was typed, line breaks aside. What came before that printf (the line
 * editor clearing a half-typed line) stays. Output is held only while it can still be that echo:
 * anything else (a program still printing as the command was typed) lets it all go at once and
 * shows as it came, as do a command that ends without its marker (interrupted) and more than
 * MAX_ECHO_BYTES. Runs before `MarkerFilter`; the transcript `run` reads is not filtered.
 */
export class EchoFilter {
  /** The command typed, in the forms the checks need, worked out once when it is typed. */
  private expected: { readonly id: number; readonly command: string; readonly startMarker: Uint8Array; readonly firstLine: Uint8Array; readonly typedFlat: string } | undefined;
  private held: Uint8Array = new Uint8Array(0);

  /** `run` is about to type this command (any echo still held for another one is let go). */
  typed(command: TypedCommand): Uint8Array {
    const rest = this.release();
    const typed = markedCommand(command.command, command.id);
    this.expected = {
      id: command.id,
      command: command.command,
      startMarker: Uint8Array.from([MARK_OPEN, ...encodeText(`S${command.id}`), MARK_CLOSE]),
      firstLine: encodeText(typed.split("\n")[0] as string),
      typedFlat: lineBreaksOut(typed),
    };
    return rest;
  }

  /** The command `id` ended: what is still held of its echo, as it came. */
  ended(id: number): Uint8Array {
    return this.expected?.id === id ? this.release() : new Uint8Array(0);
  }

  filter(bytes: Uint8Array): Uint8Array {
    const expected = this.expected;
    if (expected === undefined) return bytes;
    this.held = concatBytes([this.held, bytes]);
    const marker = indexOfBytes(this.held, expected.startMarker);
    if (marker < 0) {
      // Held only while it can still be the echo (a line break or the start marker may be cut at
      // the chunk's end): output of a program still running (ping) flows on at once, and the echo
      // then shows as it comes.
      const start = indexOfBytes(this.held, expected.firstLine);
      const couldBeEcho =
        start < 0
          ? this.held.length <= expected.firstLine.length + MAX_BEFORE_ECHO_BYTES
          : expected.typedFlat.startsWith(lineBreaksOut(decodeText(this.held.subarray(start)).replace(PARTIAL_START_MARKER, "").replace(/\r*\n?>?$/, "")));
      return couldBeEcho && this.held.length <= MAX_ECHO_BYTES ? new Uint8Array(0) : this.release();
    }
    const data = this.release();
    const echo = indexOfBytes(data.subarray(0, marker), expected.firstLine);
    // Only the echo itself is replaced: the wrapper and the command as typed, with the shell's
    // line breaks ("\r\n> " between lines, "\r\r\n" where a long line wraps at 80 columns).
    // Anything else in there (a command still printing while this one was typed) shows as it came.
    if (echo < 0 || lineBreaksOut(decodeText(data.subarray(echo, marker))) !== expected.typedFlat) return data;
    return concatBytes([data.subarray(0, echo), encodeText(`${expected.command.split("\n").join("\r\n> ")}\r\n`), data.subarray(marker)]);
  }

  private release(): Uint8Array {
    const data = this.held;
    this.expected = undefined;
    this.held = new Uint8Array(0);
    return data;
  }
}

/** Text without its line breaks, continuation prompts and carriage returns, to compare an echo with what was typed. */
function lineBreaksOut(text: string): string {
  return text.replace(/\r/g, "").replace(/\n> /g, "").replace(/\n/g, "");
}

function join(...parts: Uint8Array[]): Uint8Array {
  return concatBytes(parts);
}

/** True when the console's current line is a shell prompt. */
/**
 * The line the console ends with (the shell's prompt after a command), as the terminal should
 * show it again on a fresh screen: without `run` markers (a silent command leaves both on the
 * prompt's line) and without the shell's cursor-position query, which would make the terminal
 * answer into the guest a second time.
 */
const CURSOR_POSITION_QUERY = "\x1b[6n";

export function lastLineToShow(recent: string): string {
  const line = recent.split("\n").at(-1) ?? "";
  const unmarked = decodeText(new MarkerFilter().filter(encodeText(line)));
  return unmarked.split(CURSOR_POSITION_QUERY).join("");
}

export function isPromptLine(line: string, prompt: RegExp): boolean {
  return prompt.test(line);
}

/**
 * The shell input that runs `command` between markers. `printf` turns `\036`/`\037` into the
 * marker bytes only when it runs, so the tty's echo of the typed input never looks like a
 * marker. The command sits in a group on its own line, so a trailing comment or `&&` chain
 * cannot swallow the closing marker, and the shell parses the whole input (echoing it) before
 * running any of it: everything between the markers is the command's output.
 */
export function markedCommand(command: string, id: number): string {
  return `printf '\\036S${id}\\037'; {\n${command}\n}; printf '\\036E${id} %d\\037' $?\n`;
}

export interface CommandResult {
  /** What the command printed (stdout and stderr), with CRLF turned into LF. */
  readonly output: string;
  readonly exitCode: number;
  /** The command was interrupted (Ctrl+C): the shell dropped it before its end marker. */
  readonly interrupted?: boolean;
}

/** The exit status a shell gives a command killed by SIGINT (128 + 2). */
export const INTERRUPTED_EXIT_CODE = 130;

/** Watches a console stream for one marked command and yields its result. */
export class CommandCapture {
  private state: "waiting" | "capturing" | "done" = "waiting";
  /** The end of the previous chunk, in case a start marker straddles two chunks. */
  private carry = new Uint8Array(0);
  private captured = new Uint8Array(4096);
  private capturedLength = 0;
  private scanFrom = 0;
  private readonly start: Uint8Array;
  private readonly endPrefix: Uint8Array;
  private resultValue: CommandResult | undefined;

  constructor(readonly id: number) {
    this.start = Uint8Array.from([MARK_OPEN, ...encodeText(`S${id}`), MARK_CLOSE]);
    this.endPrefix = Uint8Array.from([MARK_OPEN, ...encodeText(`E${id} `)]);
  }

  get result(): CommandResult | undefined {
    return this.resultValue;
  }

  /** The start marker has been seen: the command runs. */
  get started(): boolean {
    return this.state !== "waiting";
  }

  /**
   * The shell's prompt came back without the end marker (Ctrl+C drops the whole group): the
   * command ended, interrupted. Its output is what came before the prompt's line.
   */
  interrupt(): void {
    if (this.state !== "capturing") return;
    const data = this.captured.subarray(0, this.capturedLength);
    const lastLf = data.lastIndexOf(LF);
    const output = cleanOutput(decodeText(data.subarray(0, lastLf < 0 ? 0 : lastLf + 1))).replace(/\^C$/, "").replace(/\n$/, "");
    this.resultValue = { output, exitCode: INTERRUPTED_EXIT_CODE, interrupted: true };
    this.state = "done";
  }

  /** Feed console bytes; returns true once the command has finished. */
  push(bytes: Uint8Array): boolean {
    if (this.state === "done") return true;
    if (this.state === "waiting") {
      const window = concat(this.carry, bytes);
      const at = indexOfBytes(window, this.start);
      if (at < 0) {
        this.carry = window.slice(Math.max(0, window.length - (this.start.length - 1)));
        return false;
      }
      this.state = "capturing";
      this.carry = new Uint8Array(0);
      this.append(window.subarray(at + this.start.length));
    } else {
      this.append(bytes);
    }
    this.tryFinish();
    return this.resultValue !== undefined;
  }

  private append(bytes: Uint8Array): void {
    if (this.capturedLength + bytes.length > this.captured.length) {
      const grown = new Uint8Array(Math.max(this.captured.length * 2, this.capturedLength + bytes.length));
      grown.set(this.captured.subarray(0, this.capturedLength));
      this.captured = grown;
    }
    this.captured.set(bytes, this.capturedLength);
    this.capturedLength += bytes.length;
  }

  private tryFinish(): void {
    const data = this.captured.subarray(0, this.capturedLength);
    for (let close = data.indexOf(MARK_CLOSE, this.scanFrom); close >= 0; close = data.indexOf(MARK_CLOSE, close + 1)) {
      const open = data.lastIndexOf(MARK_OPEN, close);
      if (open < 0 || !startsWithBytes(data.subarray(open, close), this.endPrefix)) continue;
      const status = Number(decodeText(data.subarray(open + this.endPrefix.length, close)));
      this.resultValue = { output: cleanOutput(decodeText(data.subarray(0, open))), exitCode: Number.isFinite(status) ? status : -1 };
      this.state = "done";
      return;
    }
    this.scanFrom = this.capturedLength;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function indexOfBytes(haystack: Uint8Array, needle: Uint8Array): number {
  const first = needle[0] as number;
  for (let i = haystack.indexOf(first); i >= 0 && i + needle.length <= haystack.length; i = haystack.indexOf(first, i + 1)) {
    if (startsWithBytes(haystack.subarray(i), needle)) return i;
  }
  return -1;
}

function startsWithBytes(haystack: Uint8Array, needle: Uint8Array): boolean {
  return haystack.length >= needle.length && needle.every((b, i) => haystack[i] === b);
}

function cleanOutput(text: string): string {
  return stripAnsi(text).replace(/\r\n/g, "\n").replace(/\r/g, "").replace(/\n$/, "");
}
