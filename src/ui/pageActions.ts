/** The context the actions (buttons, shortcuts) run in: the session's machine, the page's views. */
import type { ActionContext } from "./actions.ts";
import type { Comfort } from "./comfort/pageComfort.ts";
import type { Panels } from "./panels.ts";
import type { Shell } from "./shell.ts";

export function pageActions(shell: Shell & { showLink(text: string, url: string): void }, panels: Panels, comfort: Comfort): ActionContext {
  return {
    machine: shell.session.machine,
    vgaVisible: panels.vgaVisible,
    setVgaVisible: (visible) => panels.setVgaVisible(visible),
    restart: () => shell.start({ kind: "auto" }),
    coldBoot: () => shell.start({ kind: "cold" }),
    copyLink: () => panels.copyLink((text, url) => shell.showLink(text, url)),
    saveSnapshot: async () => {
      await panels.snapshots.panel?.save();
    },
    fullscreen: comfort.fullscreen,
    toggleFullscreen: () => comfort.toggleFullscreen(),
    theme: comfort.theme,
    toggleTheme: () => comfort.toggleTheme(),
    zoom: (direction) => comfort.zoom(direction),
    switchFocus: () => comfort.switchFocus(),
    screenReader: comfort.screenReader,
    toggleScreenReader: () => comfort.toggleScreenReader(),
    openHelp: () => (document.getElementById("help") as HTMLDialogElement | null)?.showModal(),
    lessonsVisible: panels.lessonsVisible,
    setLessonsVisible: (visible) => panels.setLessonsVisible(visible),
    microscopeVisible: panels.microscopeVisible,
    setMicroscopeVisible: (visible) => {
      panels.setMicroscopeVisible(visible);
      if (visible) bringIntoView("microscope");
    },
    networkVisible: panels.network.open,
    setNetworkVisible: (visible) => {
      panels.network.setOpen(visible);
      if (visible) bringIntoView("network");
    },
    report: (error) => shell.report(error),
  };
}

/**
 * A panel opened from the bar is scrolled into view: the microscope and the network lab sit
 * below the storage panels and the device lab, a screen or more under the terminal, where
 * opening them changed nothing the user could see but the button's label.
 */
function bringIntoView(id: string): void {
  const smooth = !matchMedia("(prefers-reduced-motion: reduce)").matches;
  document.getElementById(id)?.scrollIntoView({ block: "start", behavior: smooth ? "smooth" : "auto" });
}
