/**
 * A small typed handle on the running app for end-to-end tests (e2e/), in the style of
 * xterm.js: tests read state through it instead of scraping the DOM alone.
 */
import type { CommandResult, MachineStatus } from "../core/index.ts";

export interface VirtlabTestProxy {
  status(): MachineStatus | undefined;
  shellReady(): boolean;
  recentOutput(): string;
  run(command: string, timeoutMs?: number): Promise<CommandResult>;
  pageErrors(): readonly string[];
}

declare global {
  interface Window {
    virtlab?: VirtlabTestProxy;
  }
}
