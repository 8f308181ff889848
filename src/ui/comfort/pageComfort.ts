/** Theme, zoom and screen reader mode as remembered, fullscreen, the keyboard's way out of a terminal: the page's comfort settings. */
import { TerminalView, wayOutOfTerminal } from "../terminal.ts";
import { browserPreferences, initialFontSize, initialTheme, stepFontSize, type Theme } from "./preferences.ts";

export interface Comfort {
  readonly theme: Theme;
  toggleTheme(): void;
  zoom(direction: -1 | 0 | 1): void;
  readonly fullscreen: boolean;
  toggleFullscreen(): Promise<void>;
  readonly screenReader: boolean;
  toggleScreenReader(): void;
  /** From a terminal to its way out (the page's: the bar's first enabled button); from anywhere else to the page's terminal. */
  switchFocus(): Promise<void>;
}

export function installComfort(terminal: TerminalView, redraw: () => void): Comfort {
  let theme: Theme = "dark";
  const applyTheme = (next: Theme): void => {
    theme = next;
    document.documentElement.dataset["theme"] = next;
    TerminalView.setTheme(next);
  };
  const applyFontSize = (size: number): void => {
    TerminalView.setFontSize(size);
    // The rest of the page scales with the terminal, for a projector.
    document.documentElement.style.fontSize = `${(size / 15) * 100}%`;
  };
  TerminalView.setScreenReader(browserPreferences.get("virtlab.screenReader") === "on");
  applyTheme(initialTheme(browserPreferences.get("virtlab.theme"), matchMedia("(prefers-color-scheme: light)").matches));
  applyFontSize(initialFontSize(browserPreferences.get("virtlab.zoom")));
  document.addEventListener("fullscreenchange", () => {
    terminal.refit();
    redraw();
  });
  return {
    get theme() {
      return theme;
    },
    toggleTheme() {
      applyTheme(theme === "dark" ? "light" : "dark");
      browserPreferences.set("virtlab.theme", theme);
    },
    zoom(direction) {
      const size = stepFontSize(TerminalView.fontSize, direction);
      applyFontSize(size);
      browserPreferences.set("virtlab.zoom", String(size));
    },
    get screenReader() {
      return TerminalView.screenReader;
    },
    toggleScreenReader() {
      const screenReader = !TerminalView.screenReader;
      TerminalView.setScreenReader(screenReader);
      browserPreferences.set("virtlab.screenReader", screenReader ? "on" : "off");
      // In the terminal, where a screen reader now reads it (and the eye sees why the page changed).
      terminal.notice(screenReader ? "Screen reader mode on: the terminal's output is read as it comes (Alt+Shift+R turns it off)." : "Screen reader mode off.");
    },
    get fullscreen() {
      return document.fullscreenElement !== null;
    },
    async toggleFullscreen() {
      if (document.fullscreenElement !== null) await document.exitFullscreen();
      else await document.getElementById("screens")?.requestFullscreen();
      terminal.focus();
    },
    /**
     * A terminal keeps Tab and Shift+Tab for the guest (completion, a form in the installer), so
     * without this a keyboard user who started in it, as every visit does, never reached a
     * button (WCAG 2.1.2, no keyboard trap). Any terminal counts: the network lab's too.
     */
    async switchFocus() {
      const way = wayOutOfTerminal(document.activeElement);
      if (way === undefined) {
        terminal.focus();
        return;
      }
      // The bar is not shown while the terminal fills the screen.
      if (document.fullscreenElement !== null) await document.exitFullscreen();
      (way() ?? document.querySelector<HTMLButtonElement>("#actions button:not(:disabled)"))?.focus();
    },
  };
}
