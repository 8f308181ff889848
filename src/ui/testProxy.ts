/**
 * A small typed handle on the running app for end-to-end tests (e2e/), in the style of
 * xterm.js: tests read state through it instead of scraping the DOM alone.
 */
import type { BootKept, CommandResult, MachineStatus } from "../core/index.ts";

export interface VirtlabTestProxy {
  status(): MachineStatus | undefined;
  shellReady(): boolean;
  recentOutput(): string;
  run(command: string, timeoutMs?: number): Promise<CommandResult>;
  pageErrors(): readonly string[];
  /** The VGA text screen as lines (for guests without a serial console, e.g. GRUB). */
  textScreen(): string[];
  /** The id of the saved machine the page runs. */
  machineId(): string;
  /** Write the running machine's pending disk pages to IndexedDB now. */
  flushDisks(): Promise<void>;
  /** How the running machine started: booted, from the pre-booted state, or from a snapshot. */
  startedFrom(): "boot" | "pre-booted" | "boot-cache" | "snapshot" | "moved";
  /** What became of the last boot the page meant to keep for its hardware (the boot cache), if any. */
  bootKept(): BootKept | undefined;
  /**
   * Every line of the terminal, scrollback included; with `flushFirst` false, only what has
   * reached xterm (not the output held for the next animation frame).
   */
  terminalBuffer(flushFirst?: boolean): string[];
  /** The terminal's columns and rows and the font size it draws with. */
  terminalSize(): { readonly cols: number; readonly rows: number; readonly fontSize: number };
  /** Cold-boot a second machine (the default guest, its own Worker) beside this one, run a command on it, shut it down. */
  runOnSecondMachine(command: string): Promise<CommandResult>;
}

declare global {
  interface Window {
    virtlab?: VirtlabTestProxy;
  }
}

/** Whether the page runs under automation (WebDriver, Playwright): only then is the proxy there. */
export function underAutomation(nav: { readonly webdriver?: boolean }): boolean {
  return nav.webdriver === true;
}

/**
 * Put the proxy on `window.virtlab`, only under automation: a visitor's page (and a guest's
 * output shown in it) offers no handle that runs commands on the machine. True when installed.
 * The page calls `installTestProxy(proxy, window, navigator)` (no DOM here: e2e/ reads this file's types).
 */
export function installTestProxy(proxy: VirtlabTestProxy, target: { virtlab?: VirtlabTestProxy }, nav: { readonly webdriver?: boolean }): boolean {
  if (!underAutomation(nav)) return false;
  target.virtlab = proxy;
  return true;
}
