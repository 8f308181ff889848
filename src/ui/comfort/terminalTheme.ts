/**
 * The terminal's colours per page theme. The page's own lines in the terminal (errors, notices)
 * are bold yellow: the light theme's yellows are dark enough to read on its light background
 * (xterm's default yellow is not), and every colour a guest uses stays readable in both.
 */
import type { Theme } from "./preferences.ts";

export interface TerminalColours {
  readonly background: string;
  readonly foreground: string;
  readonly cursor: string;
  readonly selectionBackground: string;
  readonly black: string;
  readonly red: string;
  readonly green: string;
  readonly yellow: string;
  readonly blue: string;
  readonly magenta: string;
  readonly cyan: string;
  readonly white: string;
  readonly brightBlack: string;
  readonly brightRed: string;
  readonly brightGreen: string;
  readonly brightYellow: string;
  readonly brightBlue: string;
  readonly brightMagenta: string;
  readonly brightCyan: string;
  readonly brightWhite: string;
}

export const TERMINAL_THEMES: Readonly<Record<Theme, TerminalColours>> = {
  dark: {
    background: "#101418",
    foreground: "#d8dee9",
    cursor: "#d8dee9",
    selectionBackground: "#3b5070",
    black: "#6e7681",
    red: "#ff7b72",
    green: "#3fb950",
    yellow: "#d29922",
    blue: "#58a6ff",
    magenta: "#bc8cff",
    cyan: "#39c5cf",
    white: "#b1bac4",
    brightBlack: "#8b949e",
    brightRed: "#ffa198",
    brightGreen: "#56d364",
    brightYellow: "#e3b341",
    brightBlue: "#79c0ff",
    brightMagenta: "#d2a8ff",
    brightCyan: "#56d4dd",
    brightWhite: "#f0f6fc",
  },
  light: {
    background: "#fbfbf8",
    foreground: "#1f2328",
    cursor: "#1f2328",
    selectionBackground: "#b6d7ff",
    black: "#24292f",
    red: "#b3131f",
    green: "#116329",
    yellow: "#7a4d00",
    blue: "#0550ae",
    magenta: "#6e3bc2",
    cyan: "#1a6a70",
    white: "#59636e",
    brightBlack: "#57606a",
    brightRed: "#a40e26",
    brightGreen: "#1a7f37",
    brightYellow: "#6b4100",
    brightBlue: "#0969da",
    brightMagenta: "#8250df",
    brightCyan: "#1b7c83",
    brightWhite: "#424a53",
  },
};

/** How the page's own lines are written: bold yellow (bold draws in the bright colour). */
export const NOTICE_SGR = "\x1b[1;33m";

/** WCAG contrast ratio of two #rrggbb colours (1 to 21). */
export function contrastRatio(a: string, b: string): number {
  const luminance = (hex: string): number => {
    const channel = (i: number): number => {
      const c = parseInt(hex.slice(1 + 2 * i, 3 + 2 * i), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * channel(0) + 0.7152 * channel(1) + 0.0722 * channel(2);
  };
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}
