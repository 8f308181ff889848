/**
 * The page's clock: its own timers while the tab is visible, a timer Worker's while it is hidden,
 * where Chromium runs a page's timers at most once a second (src/core/hiddenClock.ts). The
 * Worker is made the first time the page is hidden. Every machine, disk, lab and network-lab
 * timer of the page goes through it, so a lab left running in a background tab keeps its times.
 */
import { RelayedClock, VisibilityClock, systemClock, type Clock, type FromTimers, type ToTimers } from "../core/index.ts";
import { listen } from "./kit/dom.ts";
import { workerPort } from "./workerBackend.ts";

/** Timers in a Worker; should its script fail to load, `lost` hands them back to the page's own. */
function timerWorkerClock(lost: () => void): Clock {
  const worker = new Worker(new URL("../worker/timers.worker.ts", import.meta.url), { type: "module", name: "virtlab timers" });
  worker.addEventListener("error", lost, { once: true });
  return new RelayedClock(workerPort<FromTimers, ToTimers>(worker), () => systemClock.now());
}

let clock: Clock | undefined;

/** The one clock of the page (made on first use). */
export function pageClock(): Clock {
  clock ??= new VisibilityClock({
    own: systemClock,
    whileHidden: timerWorkerClock,
    hidden: () => document.visibilityState === "hidden",
    onVisibilityChange: (listener) => listen(document, "visibilitychange", listener),
  });
  return clock;
}
