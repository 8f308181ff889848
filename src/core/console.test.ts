import { describe, expect, it } from "vitest";
import { decodeText, encodeText } from "./host.ts";
import { CommandCapture, ConsoleTranscript, EchoFilter, MarkerFilter, lastLineToShow, markedCommand, stripAnsi } from "./console.ts";

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

describe("EchoFilter", () => {
  // As the real guest's busybox shell echoes `run`'s input (recorded from it): a half-typed line
  // cleared (Ctrl-U), the wrapper, the command's output between the markers, the next prompt.
  const command = "tty; ls /sys/class/net";
  const echoed = "\rroot@virtlab:/# \x1b[Jprintf '\\036S1\\037'; {\r\n> tty; ls /sys/class/net\r\n> }; printf '\\036E1 %d\\037' $?\r\n";
  const output = "\x1eS1\x1f/dev/ttyS0\r\nlo\r\n\x1eE1 0\x1froot@virtlab:/# ";
  const shown = (filter: EchoFilter, chunks: readonly string[]): string => chunks.map((c) => decodeText(new MarkerFilter().filter(filter.filter(encodeText(c))))).join("");

  it("shows the command as typed at the prompt instead of the wrapper's echo, whole or byte by byte", () => {
    const whole = new EchoFilter();
    expect(decodeText(whole.typed({ id: 1, command }))).toBe("");
    expect(shown(whole, [echoed + output])).toBe("\rroot@virtlab:/# \x1b[Jtty; ls /sys/class/net\r\n/dev/ttyS0\r\nlo\r\nroot@virtlab:/# ");
    const split = new EchoFilter();
    split.typed({ id: 1, command });
    const markers = new MarkerFilter();
    const out = Array.from(echoed + output, (c) => decodeText(markers.filter(split.filter(encodeText(c))))).join("");
    expect(out).toBe("\rroot@virtlab:/# \x1b[Jtty; ls /sys/class/net\r\n/dev/ttyS0\r\nlo\r\nroot@virtlab:/# ");
  });

  it("a command of several lines shows them after the shell's continuation prompt", () => {
    const filter = new EchoFilter();
    filter.typed({ id: 7, command: "for i in 1 2\ndo echo $i; done" });
    const echo = markedCommand("for i in 1 2\ndo echo $i; done", 7).replace(/\n(?!$)/g, "\r\n> ").replace(/\n$/, "\r\n");
    expect(shown(filter, [echo, "\x1eS7\x1f1\r\n2\r\n\x1eE7 0\x1f"])).toBe("for i in 1 2\r\n> do echo $i; done\r\n1\r\n2\r\n");
  });

  it("lets everything through untouched when nothing is typed, when the command ends without its marker, or when the echo is not the wrapper's", () => {
    expect(shown(new EchoFilter(), ["plain output\r\n"])).toBe("plain output\r\n");
    const interrupted = new EchoFilter();
    interrupted.typed({ id: 2, command: "sleep 9" });
    expect(shown(interrupted, ["printf '\\036S2\\037'; {\r\n> sleep 9"])).toBe("");
    expect(decodeText(interrupted.ended(2))).toBe("printf '\\036S2\\037'; {\r\n> sleep 9");
    expect(interrupted.ended(2).length).toBe(0);
    expect(shown(interrupted, ["root@virtlab:/# "])).toBe("root@virtlab:/# ");
    const other = new EchoFilter();
    other.typed({ id: 3, command: "true" });
    expect(shown(other, ["something else\r\n\x1eS3\x1f\x1eE3 0\x1f"])).toBe("something else\r\n");
    // Typed while the user's own command still printed: its output is in the echo; all of it shows.
    const busy = new EchoFilter();
    busy.typed({ id: 8, command: "uname -r" });
    const mixed = "printf '\\036S8\\037'; {\r\nLinux virtlab 6.1.0 i686 GNU/Linux\r\n> uname -r\r\n> }; printf '\\036E8 %d\\037' $?\r\n";
    expect(shown(busy, [mixed, "\x1eS8\x1f6.1.0\r\n\x1eE8 0\x1f"])).toBe(`${mixed}6.1.0\r\n`);
    // A long line wrapped by the shell at 80 columns is still the echo.
    const long = new EchoFilter();
    const longCommand = `echo ${"abcdefghij ".repeat(9)}`;
    long.typed({ id: 9, command: longCommand });
    const typed = markedCommand(longCommand, 9);
    const wrapped = `${typed.split("\n")[0] ?? ""}\r\n> ${longCommand.slice(0, 78)}\r\r\n${longCommand.slice(78)}\r\n> }; printf '\\036E9 %d\\037' $?\r\n`;
    expect(shown(long, [wrapped, "\x1eS9\x1fok\r\n"])).toBe(`${longCommand}\r\nok\r\n`);
    // A command typed while another's echo is still held lets the held bytes go first.
    const twice = new EchoFilter();
    twice.typed({ id: 4, command: "a" });
    twice.filter(encodeText("held"));
    expect(decodeText(twice.typed({ id: 5, command: "b" }))).toBe("held");
  });

  it("holds only what can still be the echo: a running program's output flows on at once", () => {
    // A program printing when the command is typed (ping): its lines are not the echo.
    const ping = new EchoFilter();
    ping.typed({ id: 6, command: "uname -r" });
    const line = "64 bytes from 127.0.0.1: seq=1 ttl=64 time=0.1 ms\r\n";
    expect(shown(ping, ["printf '\\036S6\\037'; {\r\n"])).toBe("");
    expect(shown(ping, [line])).toBe(`printf '\\036S6\\037'; {\r\n${line}`);
    expect(shown(ping, [line])).toBe(line);
    // Before any echo, only a line editor's redraw is waited for; more is output, shown at once.
    const busy = new EchoFilter();
    busy.typed({ id: 10, command: "true" });
    expect(shown(busy, ["\rroot@virtlab:/# \x1b[J"])).toBe("");
    expect(shown(busy, [line.repeat(6)])).toBe(`\rroot@virtlab:/# \x1b[J${line.repeat(6)}`);
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
