/**
 * Reading a guest console as a byte stream: the current line (for prompt detection), a bounded
 * tail (for error messages), and the marker protocol that `Machine.run` uses to cut one
 * command's output out of the stream.
 */
import { decodeText, encodeText } from "./host.ts";

const LF = 0x0a;
const CR = 0x0d;
/** Bytes the guest prints around a command's output; the tty never echoes them as such. */
const MARK_OPEN = 0x1e; // ASCII record separator
const MARK_CLOSE = 0x1f; // ASCII unit separator

// eslint-disable-next-line no-control-regex -- matching terminal escape sequences is the point
const CSI_PATTERN = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>78DEHMc]/g;

export function stripAnsi(text: string): string {
  return text.replace(CSI_PATTERN, "");
}

/** Keeps the line being written and the last `tailLimit` bytes of a console. */
export class ConsoleTranscript {
  private line: number[] = [];
  private tail: number[] = [];
  private totalBytes = 0;

  constructor(private readonly tailLimit = 4096) {}

  push(bytes: Uint8Array): void {
    this.totalBytes += bytes.length;
    for (const byte of bytes) {
      if (byte === LF) this.line = [];
      else if (byte !== CR) this.line.push(byte);
      this.tail.push(byte);
    }
    if (this.line.length > 1024) this.line.splice(0, this.line.length - 1024);
    if (this.tail.length > this.tailLimit * 2) this.tail.splice(0, this.tail.length - this.tailLimit);
  }

  /** The unfinished last line, escape sequences removed. */
  currentLine(): string {
    return stripAnsi(decodeText(Uint8Array.from(this.line)));
  }

  /** The last bytes written, as text, for error details. */
  recentText(): string {
    const bytes = this.tail.slice(-this.tailLimit);
    return stripAnsi(decodeText(Uint8Array.from(bytes))).replace(/\r\n/g, "\n");
  }

  get byteCount(): number {
    return this.totalBytes;
  }

  reset(): void {
    this.line = [];
    this.tail = [];
  }
}

/** True when the console's current line is a shell prompt. */
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
}

/** Watches a console stream for one marked command and yields its result. */
export class CommandCapture {
  private state: "waiting" | "capturing" | "done" = "waiting";
  private window: number[] = [];
  private captured: number[] = [];
  private readonly start: number[];
  private readonly endPrefix: number[];
  private resultValue: CommandResult | undefined;

  constructor(readonly id: number) {
    this.start = [MARK_OPEN, ...encodeText(`S${id}`), MARK_CLOSE];
    this.endPrefix = [MARK_OPEN, ...encodeText(`E${id} `)];
  }

  get result(): CommandResult | undefined {
    return this.resultValue;
  }

  /** Feed console bytes; returns true once the command has finished. */
  push(bytes: Uint8Array): boolean {
    for (const byte of bytes) {
      if (this.state === "done") break;
      if (this.state === "waiting") {
        this.window.push(byte);
        if (this.window.length > this.start.length) this.window.shift();
        if (endsWith(this.window, this.start)) {
          this.state = "capturing";
          this.window = [];
        }
      } else {
        this.captured.push(byte);
        if (byte === MARK_CLOSE) this.tryFinish();
      }
    }
    return this.state === "done";
  }

  private tryFinish(): void {
    const closeAt = this.captured.length - 1;
    const openAt = this.captured.lastIndexOf(MARK_OPEN, closeAt);
    if (openAt < 0) return;
    const marker = this.captured.slice(openAt, closeAt);
    if (!startsWith(marker, this.endPrefix)) return;
    const status = Number(decodeText(Uint8Array.from(marker.slice(this.endPrefix.length))));
    const body = this.captured.slice(0, openAt);
    this.resultValue = { output: cleanOutput(decodeText(Uint8Array.from(body))), exitCode: Number.isFinite(status) ? status : -1 };
    this.state = "done";
  }
}

function cleanOutput(text: string): string {
  return stripAnsi(text).replace(/\r\n/g, "\n").replace(/\r/g, "").replace(/\n$/, "");
}

function endsWith(haystack: readonly number[], needle: readonly number[]): boolean {
  if (haystack.length < needle.length) return false;
  const offset = haystack.length - needle.length;
  return needle.every((b, i) => haystack[offset + i] === b);
}

function startsWith(haystack: readonly number[], needle: readonly number[]): boolean {
  return haystack.length >= needle.length && needle.every((b, i) => haystack[i] === b);
}
