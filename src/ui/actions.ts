/**
 * The action registry: what a user can do to the machine, as data. `ACTIONS` are the bar's
 * buttons and the Alt+Shift shortcuts (run through `ActionDispatcher`, actionDispatcher.ts);
 * `STEP_ACTIONS` are what a lesson step can do, one entry per step type (run through `runStep`).
 */
import { benchmarkOutcome, commandOutcome, runIsOver, type CommandResult, type LessonAction, type LessonDevices, type Machine, type MachineStatus, type NetworkLessonAction, type StepOutcome, type WalkTarget } from "../core/index.ts";
import type { LabReport, PairId, SizePreset } from "../core/lab/index.ts";
import type { Theme } from "./comfort/preferences.ts";

export interface ActionContext {
  readonly machine: Machine | undefined;
  readonly vgaVisible: boolean;
  setVgaVisible(visible: boolean): void;
  /** Throw the machine away and start a fresh one (after a crash or a failed start). */
  restart(): Promise<void>;
  /** Boot the guest from scratch, not from the pre-booted state. */
  coldBoot(): Promise<void>;
  /** Put a link that opens this machine's set-up on the clipboard (and show it). */
  copyLink(): Promise<void>;
  readonly lessonsVisible: boolean;
  setLessonsVisible(visible: boolean): void;
  readonly microscopeVisible: boolean;
  setMicroscopeVisible(visible: boolean): void;
  readonly networkVisible: boolean;
  setNetworkVisible(visible: boolean): void;
  saveSnapshot(): Promise<void>;
  readonly fullscreen: boolean;
  toggleFullscreen(): Promise<void>;
  readonly theme: Theme;
  toggleTheme(): void;
  zoom(direction: -1 | 0 | 1): void;
  openHelp(): void;
  readonly screenReader: boolean;
  toggleScreenReader(): void;
  /** The keyboard's way out of a terminal (which keeps Tab for the guest) and back. */
  switchFocus(): Promise<void>;
  report(error: unknown): void;
}

export interface Action {
  readonly id: string;
  label(status: MachineStatus, ctx: ActionContext): string;
  readonly title: string;
  enabled(status: MachineStatus, ctx: ActionContext): boolean;
  run(ctx: ActionContext): Promise<void> | void;
  /** Alt+Shift + this key (`KeyboardEvent.code`); listed in the help overlay. */
  readonly shortcut?: string;
  /** False for actions reached by shortcut (and the help) only, not by a button in the bar. */
  readonly inBar?: false;
}

const live = (status: MachineStatus): boolean => status.stage === "booting" || status.stage === "ready";

export const ACTIONS: readonly Action[] = [
  {
    id: "pause",
    label: (status) => (status.running ? "Pause" : "Resume"),
    title: "Stop or continue executing the guest",
    shortcut: "KeyP",
    enabled: (status) => live(status),
    run: async ({ machine }) => {
      if (machine === undefined) return;
      if (machine.status.running) await machine.pause();
      else await machine.resume();
    },
  },
  {
    id: "ctrl-alt-del",
    label: () => "Send Ctrl-Alt-Del",
    title: "Press Ctrl-Alt-Del on the machine's keyboard (your own keyboard's would go to your computer): the guest reboots",
    shortcut: "KeyD",
    enabled: (status) => live(status) && status.running,
    run: ({ machine }) => machine?.sendCtrlAltDel(),
  },
  {
    id: "reset",
    label: () => "Reset",
    title: "Hard reset, like the reset button on a PC (unsaved guest state is lost)",
    enabled: (status) => live(status) || runIsOver(status.stage),
    run: async (ctx) => {
      if (ctx.machine === undefined || runIsOver(ctx.machine.status.stage)) await ctx.restart();
      else await ctx.machine.reset();
    },
  },
  {
    id: "cold-boot",
    label: () => "Cold boot",
    title: "Boot the guest from scratch (the page normally starts from a pre-booted state); disks are kept",
    enabled: (status) => status.stage !== "downloading" && status.stage !== "idle",
    run: (ctx) => ctx.coldBoot(),
  },
  {
    id: "lessons",
    label: (_status, ctx) => (ctx.lessonsVisible ? "Hide lessons" : "Lessons"),
    title: "Lessons on virtualization, with steps that act on this machine",
    shortcut: "KeyL",
    enabled: () => true,
    run: (ctx) => ctx.setLessonsVisible(!ctx.lessonsVisible),
  },
  {
    id: "microscope",
    label: (_status, ctx) => (ctx.microscopeVisible ? "Hide microscope" : "Microscope"),
    title: "Traps per device, JIT activity with a live JIT switch, and the hypercall log of the running machine",
    shortcut: "KeyM",
    enabled: () => true,
    run: (ctx) => ctx.setMicroscopeVisible(!ctx.microscopeVisible),
  },
  {
    id: "network",
    label: (_status, ctx) => (ctx.networkVisible ? "Hide network lab" : "Network lab"),
    title: "Several machines on a virtual switch: bridged, host-only, NAT or routed, with counters, a packet list and a capture",
    shortcut: "KeyN",
    enabled: () => true,
    run: (ctx) => ctx.setNetworkVisible(!ctx.networkVisible),
  },
  {
    id: "copy-link",
    label: () => "Copy link",
    title: "Copy a link that opens this set-up (devices and memory) in another browser",
    enabled: () => true,
    run: (ctx) => ctx.copyLink(),
  },
  {
    id: "vga",
    label: (_status, ctx) => (ctx.vgaVisible ? "Hide screen" : "Show screen"),
    title: "Show the machine's VGA screen next to the serial terminal",
    shortcut: "KeyG",
    enabled: () => true,
    run: (ctx) => ctx.setVgaVisible(!ctx.vgaVisible),
  },
  {
    id: "snapshot-save",
    label: () => "Save snapshot",
    title: "Save the whole machine: memory, devices and disks (the Snapshots panel lists them)",
    shortcut: "KeyS",
    inBar: false,
    enabled: (status) => live(status),
    run: (ctx) => ctx.saveSnapshot(),
  },
  {
    id: "fullscreen",
    label: (_status, ctx) => (ctx.fullscreen ? "Exit fullscreen" : "Fullscreen"),
    title: "The terminal fills the screen (Esc leaves)",
    shortcut: "KeyF",
    enabled: () => document.fullscreenEnabled,
    run: (ctx) => ctx.toggleFullscreen(),
  },
  {
    id: "zoom-out",
    label: () => "A−",
    title: "Smaller text",
    shortcut: "Minus",
    enabled: () => true,
    run: (ctx) => ctx.zoom(-1),
  },
  {
    id: "zoom-in",
    label: () => "A+",
    title: "Larger text, for a projector",
    shortcut: "Equal",
    enabled: () => true,
    run: (ctx) => ctx.zoom(1),
  },
  {
    id: "zoom-reset",
    label: () => "Normal text size",
    title: "Text back to its normal size",
    shortcut: "Digit0",
    inBar: false,
    enabled: () => true,
    run: (ctx) => ctx.zoom(0),
  },
  {
    id: "theme",
    label: (_status, ctx) => (ctx.theme === "dark" ? "Light theme" : "Dark theme"),
    title: "Switch between dark and light colours",
    shortcut: "KeyT",
    enabled: () => true,
    run: (ctx) => ctx.toggleTheme(),
  },
  {
    id: "focus-switch",
    label: () => "Terminal ⇄ buttons",
    title: "Move the keyboard focus out of a terminal to the machine's buttons, or back into the terminal (in a terminal, Tab and Shift+Tab go to the guest)",
    shortcut: "KeyB",
    inBar: false,
    enabled: () => true,
    run: (ctx) => ctx.switchFocus(),
  },
  {
    id: "screen-reader",
    label: (_status, ctx) => (ctx.screenReader ? "Screen reader mode off" : "Screen reader mode on"),
    title: "A screen reader reads the terminals' output as it comes and can browse their lines (remembered in this browser; off by default, it costs time on every screen update)",
    shortcut: "KeyR",
    inBar: false,
    enabled: () => true,
    run: (ctx) => ctx.toggleScreenReader(),
  },
  {
    id: "help",
    label: () => "?",
    title: "Keyboard shortcuts and help",
    shortcut: "KeyH",
    enabled: () => true,
    run: (ctx) => ctx.openHelp(),
  },
];

/** What lesson steps act on: the page's machine, lab, snapshots and microscope. */
export interface StepContext {
  run(command: string, timeoutMs: number): Promise<CommandResult>;
  setDevices(devices: LessonDevices): Promise<string>;
  benchmark(pairs: readonly PairId[], size: SizePreset): Promise<LabReport>;
  saveSnapshot(name: string): Promise<string>;
  restoreSnapshot(name: string): Promise<string>;
  balloon(mib: number): Promise<StepOutcome>;
  /** The memory microscope (issue 13): a live address walk, and the shadow-paging count over a command. */
  addressWalk(target: WalkTarget): Promise<StepOutcome>;
  pageTables(command: string, timeoutMs: number): Promise<StepOutcome>;
  /** The microscope's trap meter over a command, and the live JIT switch. */
  traps(command: string, timeoutMs: number, bytes: number | undefined): Promise<StepOutcome>;
  jitSwitch(command: string, timeoutMs: number): Promise<StepOutcome>;
  /** The network lab's steps (core: runNetworkStep on the page's lab, its panel opened). */
  network(step: NetworkLessonAction): Promise<StepOutcome>;
}

type StepOf<T extends LessonAction["type"]> = Extract<LessonAction, { readonly type: T }>;

/** A command step's deadline when its lesson names none. */
export const DEFAULT_STEP_TIMEOUT_S = 60;
const timeoutMs = (step: { readonly timeoutSeconds?: number }): number => (step.timeoutSeconds ?? DEFAULT_STEP_TIMEOUT_S) * 1000;

export const STEP_ACTIONS: { readonly [T in LessonAction["type"]]: (ctx: StepContext, step: StepOf<T>) => Promise<StepOutcome> } = {
  command: async (ctx, step) => commandOutcome(await ctx.run(step.command, timeoutMs(step)), step.expect),
  devices: async (ctx, step) => ({ ok: true, lines: [await ctx.setDevices(step.set)] }),
  benchmark: async (ctx, step) => benchmarkOutcome(await ctx.benchmark(step.pairs, step.size)),
  "snapshot-save": async (ctx, step) => ({ ok: true, lines: [await ctx.saveSnapshot(step.name)] }),
  "snapshot-restore": async (ctx, step) => ({ ok: true, lines: [await ctx.restoreSnapshot(step.name)] }),
  balloon: (ctx, step) => ctx.balloon(step.mib),
  "address-walk": (ctx, step) => ctx.addressWalk(step.target),
  "page-tables": (ctx, step) => ctx.pageTables(step.command, timeoutMs(step)),
  traps: (ctx, step) => ctx.traps(step.command, timeoutMs(step), step.bytes),
  "jit-switch": (ctx, step) => ctx.jitSwitch(step.command, timeoutMs(step)),
  "network-reset": (ctx, step) => ctx.network(step),
  "network-add": (ctx, step) => ctx.network(step),
  "network-mode": (ctx, step) => ctx.network(step),
  "network-run": (ctx, step) => ctx.network(step),
  "network-capture": (ctx, step) => ctx.network(step),
};

/** Do what a lesson step says, through its entry in `STEP_ACTIONS`. */
export function runStep(ctx: StepContext, step: LessonAction): Promise<StepOutcome> {
  const run = STEP_ACTIONS[step.type] as (ctx: StepContext, step: LessonAction) => Promise<StepOutcome>;
  return run(ctx, step);
}
