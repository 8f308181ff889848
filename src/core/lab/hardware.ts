/**
 * The user's machine's hardware switches (the device lab's radio buttons), as data built from the
 * lab's pairs so they use the benchmarks' words, and what a choice does to the device profile.
 */
import type { DeviceProfile } from "../profile.ts";
import { pairById, type PairId } from "./devices.ts";

/** A change to the profile; `undefined` removes an optional device. */
export type ProfilePatch = { readonly [K in keyof DeviceProfile]?: DeviceProfile[K] | undefined };

export interface HardwareOption {
  readonly value: string;
  readonly label: string;
  /** One line: what the guest's driver does with it. */
  readonly driver: string;
  readonly patch: ProfilePatch;
}

export interface HardwareToggle {
  readonly id: string;
  readonly title: string;
  readonly options: readonly HardwareOption[];
  /** Which option the profile has now. */
  current(profile: DeviceProfile): string;
}

const NO_STORAGE: ProfilePatch = { scratchDiskMiB: undefined, share9p: undefined };

const side = (pair: PairId, which: "emulated" | "paravirtual"): { label: string; driver: string } => {
  const choice = pairById(pair)[which];
  return { label: choice.label, driver: choice.driver };
};

export const HARDWARE_TOGGLES: readonly HardwareToggle[] = [
  {
    id: "nic",
    title: "Network card",
    options: [
      { value: "none", label: "none", driver: "No network card: the guest has no network at all.", patch: { nic: "none" } },
      { value: "ne2k", ...side("network", "emulated"), patch: { nic: "ne2k" } },
      { value: "virtio", ...side("network", "paravirtual"), patch: { nic: "virtio" } },
    ],
    current: (p) => p.nic,
  },
  {
    id: "console",
    title: "Console",
    options: [
      { value: "uart", ...side("console", "emulated"), patch: { console: "uart" } },
      { value: "virtio", ...side("console", "paravirtual"), patch: { console: "virtio" } },
    ],
    current: (p) => p.console,
  },
  {
    id: "storage",
    title: "Lab storage",
    options: [
      { value: "none", label: "none", driver: "No lab storage device.", patch: NO_STORAGE },
      { value: "ide", label: "IDE scratch disk (blank, 64 MiB)", driver: side("storage", "emulated").driver, patch: { ...NO_STORAGE, scratchDiskMiB: 64 } },
      { value: "9p", label: "virtio-9p share (mount -t 9p host9p /mnt)", driver: side("storage", "paravirtual").driver, patch: { ...NO_STORAGE, share9p: true } },
    ],
    current: (p) => (p.share9p === true ? "9p" : p.scratchDiskMiB !== undefined ? "ide" : "none"),
  },
  {
    id: "cpu",
    title: "CPU",
    options: [
      { value: "jit", ...side("cpu", "paravirtual"), patch: { cpu: "jit" } },
      { value: "interpreter", ...side("cpu", "emulated"), patch: { cpu: "interpreter" } },
    ],
    current: (p) => p.cpu,
  },
  {
    id: "balloon",
    title: "Memory balloon",
    options: [
      { value: "off", label: "none", driver: "The guest keeps all the memory it booted with until it is switched off.", patch: { balloon: undefined } },
      {
        value: "on",
        label: "virtio-balloon",
        driver: "The guest's virtio_balloon driver hands pages to the host when asked and takes them back later: memory changes while the machine runs.",
        patch: { balloon: true },
      },
    ],
    current: (p) => (p.balloon === true ? "on" : "off"),
  },
];

/** The profile with a toggle's change; a removed device is gone from the profile, not set to undefined. */
export function withHardware(profile: DeviceProfile, patch: ProfilePatch): DeviceProfile {
  const merged: Record<string, unknown> = { ...profile, ...patch };
  return Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== undefined)) as unknown as DeviceProfile;
}

/** What the lab needs of the user's own machine while it measures: to pause it and let it go on. */
export interface PausableMachine {
  readonly status: { readonly running: boolean; readonly stage: string };
  pause(): Promise<void>;
  resume(): Promise<void>;
}

/**
 * Run `job` with the user's machine paused (a benchmark's machines need the CPU); it runs on after
 * only if it was running before. A failed resume goes to `onResumeError`; the job's outcome stands.
 */
export async function whilePaused<T>(machine: PausableMachine | undefined, job: () => Promise<T>, onResumeError: (error: unknown) => void): Promise<T> {
  const live = machine !== undefined && machine.status.running && (machine.status.stage === "ready" || machine.status.stage === "booting");
  try {
    if (live) await machine.pause();
    return await job();
  } finally {
    if (live) await machine.resume().catch(onResumeError);
  }
}
