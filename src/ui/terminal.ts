/**
 * The xterm.js view of a guest console. v86 reports serial output byte by byte; the core batches
 * per emulator slice and this view batches again per animation frame before writing to xterm
 * (terminalOutput.ts: bounded, and flushed in a hidden page too).
 */
import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";
// xterm's stylesheet comes with the page's (main.ts).
import { DisposableStore, Emitter, describeSessionStatus, runDivider, stoppedByGuest, toDisposable, type Disposable, type MachineSession, type MachineStatus } from "../core/index.ts";
import { DEFAULT_FONT_SIZE, type Theme } from "./comfort/preferences.ts";
import { focusFirstAfter, h } from "./kit/dom.ts";
import { clipboardCommand } from "./comfort/shortcuts.ts";
import { NOTICE_SGR, TERMINAL_THEMES } from "./comfort/terminalTheme.ts";
import { TouchKeyBar, scrollOnSwipe } from "./touchKeyBar.ts";
import { touchKeyBytes, withControl } from "./comfort/touchKeys.ts";
import { OutputQueue, pageTimers } from "./terminalOutput.ts";
import { formatBytes } from "./storage/guests.ts";

/**
 * The narrowest the terminal gets by shrinking its font instead: a guest on a serial console is
 * never told the terminal's size and draws for 80 columns (an installer's dialogs, `vi`, `top`),
 * and xterm cuts the lines of a screen made narrower, which a full-screen program does not redraw.
 */
const MIN_COLS = 80;
/** Smaller than this stays unreadable: a narrower box gets fewer columns. */
const MIN_FONT_SIZE = 12;

/** Said where output was skipped (terminalOutput.ts): a guest wrote faster than xterm parses. */
function skippedNotice(skipped: number): Uint8Array {
  const text = `${formatBytes(skipped)} of output skipped: it came faster than the terminal could show it (the page in the background, or a flood). The newest follows.`;
  return new TextEncoder().encode(`\r\n${NOTICE_SGR}${text}\x1b[0m\r\n`);
}

/** The terminals' ways out for the keyboard, by their containers. */
const terminalWaysOut = new WeakMap<Element, () => HTMLElement | null>();

/**
 * Where Alt+Shift+B goes from `element`: undefined when it is not in a terminal, else the
 * terminal's own way out (whose null, as none at all, means the page's bar).
 */
export function wayOutOfTerminal(element: Element | null): (() => HTMLElement | null) | undefined {
  const host = element?.closest(".xterm")?.closest(".terminal-host");
  if (host === null || host === undefined) return undefined;
  return terminalWaysOut.get(host) ?? (() => null);
}

/**
 * One look for all of the page's terminals, the network lab's with the page's: the theme, the
 * size the user chose (zoom; a terminal may draw smaller to keep MIN_COLS) and the screen reader
 * mode. Before, the lab's stayed dark at 15 px whatever the user chose, too small on a projector.
 */
const look: { theme: Theme; fontSize: number; screenReader: boolean } = { theme: "dark", fontSize: DEFAULT_FONT_SIZE, screenReader: false };
const liveTerminals = new Set<TerminalView>();

export class TerminalView implements Disposable {
  private readonly term: Terminal;
  private readonly fit = new FitAddon();
  private readonly store = new DisposableStore();
  private readonly output: OutputQueue;
  private readonly input = this.store.add(new Emitter<string>());
  /** Keys the user typed, to be sent to the guest. */
  readonly onInput = this.input.event;

  /**
   * `wayOut` is where Alt+Shift+B takes the focus from this terminal (a lab machine's: its tab);
   * none or null: the page's bar.
   */
  constructor(container: HTMLElement, wayOut?: () => HTMLElement | null) {
    this.term = new Terminal({
      convertEol: false,
      // A steady cursor: xterm blinks it with a CSS animation, which has the page draw 60 frames a
      // second for as long as a terminal has the focus (601 main-thread frames in 10 s against 44,
      // two busy lab machines, Chromium): CPU the machines' Workers need on a 2-core laptop.
      cursorBlink: false,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
      fontSize: look.fontSize,
      scrollback: 5000,
      theme: TERMINAL_THEMES[look.theme],
      screenReaderMode: look.screenReader,
    });
    this.term.loadAddon(this.fit);
    this.output = new OutputQueue((bytes, done) => this.term.write(bytes, done), pageTimers, skippedNotice);
    // Tab reaches it before the terminal (which keeps Tab for the guest): the way on to the controls after it.
    const skip = h("button", { type: "button", className: "skip-link", testid: "skip-terminal", onClick: () => focusFirstAfter(container) }, "Skip past the terminal (it keeps Tab for the guest)");
    // xterm fits itself to its parent: a box of its own, so the touch keys' row below takes from it.
    const screen = h("div", { className: "terminal-screen" });
    const touchKeys = new TouchKeyBar({ press: (key) => this.input.fire(touchKeyBytes(key, this.term.modes.applicationCursorKeysMode)), beforePress: () => this.term.focus() });
    container.classList.add("terminal-host");
    container.prepend(skip, screen, touchKeys.element);
    this.store.add(toDisposable(() => [skip, screen, touchKeys.element].forEach((e) => e.remove())));
    if (wayOut !== undefined) terminalWaysOut.set(container, wayOut);
    this.term.open(screen);
    this.store.add(scrollOnSwipe(screen, () => screen.clientHeight / Math.max(1, this.term.rows), (lines) => this.term.scrollLines(lines)));
    // Said to a screen reader on entering the terminal: how to leave it.
    this.term.textarea?.setAttribute("aria-describedby", "terminal-keys");
    this.store.add(this.term.onData((data) => this.input.fire(touchKeys.takeCtrl() ? withControl(data) : data)));
    // Selecting copies (as in X terminals); Ctrl+Shift+C/V and Shift+Insert are the clipboard's,
    // not the guest's. A clipboard the browser refuses (no permission, insecure page) is skipped.
    this.store.add(
      this.term.onSelectionChange(() => {
        if (this.term.hasSelection()) void navigator.clipboard?.writeText(this.term.getSelection()).catch(() => undefined);
      }),
    );
    this.term.attachCustomKeyEventHandler((event) => {
      const command = clipboardCommand(event);
      if (command === undefined) return true;
      event.preventDefault();
      if (command === "copy" && this.term.hasSelection()) void navigator.clipboard?.writeText(this.term.getSelection()).catch(() => undefined);
      if (command === "paste") void this.pasteFromClipboard();
      return false;
    });
    this.store.add(this.term);
    liveTerminals.add(this);
    this.store.add(toDisposable(() => liveTerminals.delete(this)));
    const observer = new ResizeObserver(() => this.refit());
    observer.observe(screen);
    this.store.add(toDisposable(() => observer.disconnect()));
    this.refit();
  }

  /** Queue guest output; it reaches the screen on the next animation frame. */
  write(bytes: Uint8Array): void {
    this.output.push(bytes);
  }

  /** A line of our own (not from the guest), e.g. an error, in the terminal where the user looks. */
  notice(text: string): void {
    this.flush();
    this.term.write(`\r\n${NOTICE_SGR}${text.replace(/\n/g, "\r\n")}\x1b[0m\r\n`);
  }

  /**
   * Start a new run of a machine: an empty screen and scrollback, then `line` (dim) at the top,
   * so nothing of the previous run (another machine, before a reboot) is taken for this one's.
   */
  startRun(line: string): void {
    this.output.clear();
    this.term.reset();
    // Cyan, not dim: xterm draws dim text at half opacity, below the contrast a reader needs.
    this.term.write(`\x1b[36m${line}\x1b[0m\r\n`);
  }

  /**
   * Show `session`'s console: each run on a cleared screen under the line naming the machine and
   * how it started (and why, when the session says), the guest's output, and the prompt line a
   * start from a state (or a move's arrival) shows again. Until the returned Disposable goes.
   * `stoppedNotice` gives the words under the prompt of a guest that stopped itself (powered off,
   * its kernel panicked) instead of the status's.
   */
  follow(session: MachineSession, stoppedNotice?: (status: MachineStatus) => string): Disposable {
    const encoder = new TextEncoder();
    let wasOff = stoppedByGuest(session.status.machine.stage);
    const subscriptions = [
      session.onRun((run) => {
        this.startRun(runDivider(run.machineName, run.runStart));
        if (run.notice !== undefined) this.notice(run.notice);
      }),
      session.onOutput((bytes) => this.write(bytes)),
      session.onSettled(({ lastLine }) => this.write(encoder.encode(lastLine))),
      // A guest that stopped itself leaves its prompt (or the panic's report) on the screen: say under it why it stopped.
      session.onStatus((status) => {
        const off = stoppedByGuest(status.machine.stage);
        if (off && !wasOff) this.notice(stoppedNotice?.(status.machine) ?? describeSessionStatus(status).progressText);
        wasOff = off;
      }),
    ];
    return toDisposable(() => subscriptions.forEach((s) => s.dispose()));
  }

  focus(): void {
    this.term.focus();
  }

  /** Paste as typed text (xterm handles line endings and bracketed paste); refused reads are skipped. */
  async pasteFromClipboard(): Promise<void> {
    const text = await navigator.clipboard?.readText().catch(() => undefined);
    if (text !== undefined && text !== "") this.term.paste(text);
  }

  /** Every terminal of the page, and those made later, in this theme. */
  static setTheme(theme: Theme): void {
    look.theme = theme;
    for (const view of liveTerminals) view.term.options.theme = TERMINAL_THEMES[theme];
  }

  /**
   * xterm's screen reader mode for every terminal: the rows as a list a screen reader can browse
   * and the output read as it comes (a live region). Without it the rows are hidden from
   * assistive technology and a blind student hears nothing the guest writes. Off by default: it
   * costs work on every screen update.
   */
  static get screenReader(): boolean {
    return look.screenReader;
  }

  static setScreenReader(on: boolean): void {
    look.screenReader = on;
    for (const view of liveTerminals) view.term.options.screenReaderMode = on;
  }

  /** The font size the user chose, for every terminal of the page. */
  static get fontSize(): number {
    return look.fontSize;
  }

  static setFontSize(size: number): void {
    look.fontSize = size;
    for (const view of liveTerminals) view.refit();
  }

  /** The terminal's columns and rows now and the font size it draws with (for tests). */
  get size(): { readonly cols: number; readonly rows: number; readonly fontSize: number } {
    return { cols: this.term.cols, rows: this.term.rows, fontSize: this.term.options.fontSize ?? look.fontSize };
  }

  /**
   * Fit the terminal to its box again (after fullscreen, zoom, or a panel opening): at the user's
   * font size, or at the largest smaller one, down to MIN_FONT_SIZE, that gives MIN_COLS columns.
   * A box too narrow for that at any of them (a phone) keeps the user's size.
   */
  refit(): void {
    try {
      const cols = (): number => this.fit.proposeDimensions()?.cols ?? MIN_COLS;
      let fontSize = look.fontSize;
      this.setDrawnFontSize(fontSize);
      while (fontSize > MIN_FONT_SIZE && cols() < MIN_COLS) this.setDrawnFontSize(--fontSize);
      if (cols() < MIN_COLS) this.setDrawnFontSize(look.fontSize);
      this.fit.fit();
    } catch {
      // A hidden container has no size yet; the next resize fits it.
    }
  }

  private setDrawnFontSize(size: number): void {
    if (this.term.options.fontSize !== size) this.term.options.fontSize = size;
  }

  /** Every line of the buffer, scrollback included (for tests); `flushFirst` false: as xterm has it now. */
  allLines(flushFirst = true): string[] {
    if (flushFirst) this.flush();
    const buffer = this.term.buffer.active;
    const lines: string[] = [];
    for (let y = 0; y < buffer.length; y++) lines.push(buffer.getLine(y)?.translateToString(true) ?? "");
    return lines;
  }

  /** The last `count` non-empty lines on screen (a snapshot's preview). */
  lastLines(count: number): string[] {
    this.flush();
    const buffer = this.term.buffer.active;
    const lines: string[] = [];
    for (let y = buffer.length - 1; y >= 0 && lines.length < count; y--) {
      const text = buffer.getLine(y)?.translateToString(true) ?? "";
      if (text.trim() !== "" || lines.length > 0) lines.unshift(text);
    }
    return lines;
  }

  private flush(): void {
    this.output.flush(true);
  }

  dispose(): void {
    this.output.clear();
    this.store.dispose();
  }
}
