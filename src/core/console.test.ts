import { describe, expect, it } from "vitest";
import { decodeText, encodeText } from "./host.ts";
import { CommandCapture, ConsoleTranscript, MarkerFilter, lastLineToShow, markedCommand, stripAnsi } from "./console.ts";

const bytes = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));
const PROMPT = /root@virtlab:[^\r\n]*# $/;

describe("ConsoleTranscript", () => {
  it("tracks the unfinished line across chunks, ignoring CR and escape sequences", () => {
    const t = new ConsoleTranscript();
    t.push(bytes("Linux version 6.1\r\nvirtlab guest ready\r\nroot@vir"));
    expect(PROMPT.test(t.currentLine())).toBe(false);
    t.push(bytes("tlab:/\x1b[0m# "));
    expect(t.currentLine()).toBe("root@virtlab:/# ");
    expect(PROMPT.test(t.currentLine())).toBe(true);
    t.push(bytes("ls\r\n"));
    expect(t.currentLine()).toBe("");
  });

  it("keeps a bounded tail of recent output", () => {
    const t = new ConsoleTranscript(16);
    for (let i = 0; i < 100; i++) t.push(bytes(`line ${i}\r\n`));
    expect(t.recentText().length).toBeLessThanOrEqual(16);
    expect(t.recentText()).toContain("line 99\n");
    expect(t.byteCount).toBe(bytes(Array.from({ length: 100 }, (_, i) => `line ${i}\r\n`).join("")).length);
  });
});

describe("ConsoleTranscript with large chunks", () => {
  it("keeps only the tail of a chunk larger than the limit, and the line after its last newline", () => {
    const t = new ConsoleTranscript(8);
    t.push(bytes("0123456789abcdef\r\nroot@virtlab:/# "));
    expect(t.recentText()).toBe("tlab:/# ");
    expect(t.currentLine()).toBe("root@virtlab:/# ");
    t.push(bytes("x".repeat(5000)));
    expect(t.currentLine()).toHaveLength(1024);
  });
});

describe("stripAnsi", () => {
  it("removes colour, cursor and charset sequences", () => {
    expect(stripAnsi("\x1b[1;32mok\x1b[0m \x1b[2K\x1b[?25hdone\x1b(B")).toBe("ok done");
  });
});

describe("command markers", () => {
  it("puts the command on its own line inside a group so comments cannot hide the end marker", () => {
    const line = markedCommand("ls # comment", 7);
    expect(line).toBe("printf '\\036S7\\037'; {\nls # comment\n}; printf '\\036E7 %d\\037' $?\n");
  });

  it("cuts out exactly the output between the markers, whatever the chunking", () => {
    const echo = "root@virtlab:/# printf '\\036S3\\037'; {\r\n> uname -r\r\n> }; printf '\\036E3 %d\\037' $?\r\n";
    const stream = bytes(`${echo}\x1eS3\x1f6.1.0-50-686\r\n\x1eE3 0\x1froot@virtlab:/# `);
    for (const size of [1, 2, 5, 64, stream.length]) {
      const capture = new CommandCapture(3);
      let done = false;
      for (let i = 0; i < stream.length; i += size) done = capture.push(stream.subarray(i, i + size)) || done;
      expect(done).toBe(true);
      expect(capture.result).toEqual({ output: "6.1.0-50-686", exitCode: 0 });
    }
  });

  it("reports the exit status and ignores markers of other commands", () => {
    const capture = new CommandCapture(5);
    expect(capture.push(bytes("\x1eS4\x1fold\r\n\x1eE4 0\x1f"))).toBe(false);
    expect(capture.push(bytes("\x1eS5\x1fsh: nope: not found\r\n\x1eE5 127\x1f"))).toBe(true);
    expect(capture.result).toEqual({ output: "sh: nope: not found", exitCode: 127 });
  });

  it("keeps multi-line output and UTF-8 text", () => {
    const capture = new CommandCapture(1);
    const utf8 = encodeText("\x1eS1\x1fa\r\nb\r\ncafé ✓\r\n\x1eE1 0\x1f");
    capture.push(utf8);
    expect(capture.result?.output).toBe("a\nb\ncafé ✓");
  });

  it("is not fooled by the tty echo of the typed input", () => {
    const capture = new CommandCapture(9);
    capture.push(bytes(markedCommand("echo hi", 9).replace(/\n/g, "\r\n")));
    expect(capture.result).toBeUndefined();
  });
});

describe("MarkerFilter", () => {
  const enc = (t: string): Uint8Array => encodeText(t);
  const dec = (b: Uint8Array): string => decodeText(b);

  it("removes run() markers, also when they are split across chunks, and keeps everything else", () => {
    const filter = new MarkerFilter();
    expect(dec(filter.filter(enc("\x1eS1\x1fhello\n\x1eE1 0\x1froot@virtlab:/# ")))).toBe("hello\nroot@virtlab:/# ");
    expect(dec(filter.filter(enc("out\x1eE2")))).toBe("out");
    expect(dec(filter.filter(enc(" 1\x1f# ")))).toBe("# ");
    expect(dec(filter.filter(enc("plain")))).toBe("plain");
  });

  it("lets a lone separator byte through when no marker closes within a marker's length", () => {
    const filter = new MarkerFilter();
    const long = `\x1e${"x".repeat(40)}\x1f`;
    expect(dec(filter.filter(enc(long)))).toBe(long);
  });
});

describe("lastLineToShow", () => {
  it("gives the prompt line without run markers or the shell's cursor query", () => {
    // A silent command leaves its start and end markers on the prompt's line.
    expect(lastLineToShow("earlier\r\n\x1eS1\x1f\x1eE1 0\x1froot@virtlab:/# \x1b[6n")).toBe("root@virtlab:/# ");
    expect(lastLineToShow("out\r\n\x1eE12 3\x1f$ ")).toBe("$ ");
    expect(lastLineToShow("no newline at all")).toBe("no newline at all");
    expect(lastLineToShow("a\x1eE3 1\x1fb")).toBe("ab");
  });
});
