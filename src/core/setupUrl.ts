/**
 * Shareable set-ups: the page URL names the machine's devices and memory
 * (`?nic=virtio&console=virtio&cpu=jit&mem=256&balloon=on`), so a teacher's link opens the same
 * machine.
 * Parsing never fails: a bad value is ignored, the default kept, and a notice says so.
 */
import { LESSON_ID } from "./lessons/format.ts";
import { snapshotLinkProblem } from "./snapshot/link.ts";
import { DEFAULT_MACHINE_ID } from "./storage/machines.ts";
import { DEFAULT_PROFILE, MAX_MEMORY_MIB, MIN_LINUX_MEMORY_MIB, type DeviceProfile } from "./profile.ts";

export interface SetupFromUrl {
  /** What the URL changes in the device profile (only valid values). */
  readonly profile: Partial<DeviceProfile>;
  /** A saved machine of this browser to boot (its id; whether it exists is for the page to say). */
  readonly machine?: string;
  /** The lesson to open (its id; whether it exists is for the lessons panel to say). */
  readonly lesson?: string;
  /** Its step, counted from 1. */
  readonly step?: number;
  /** A teacher's snapshot to load (as written in the link; resolveSnapshotLink makes it absolute). */
  readonly snapshot?: string;
  /** One line per ignored parameter, for the user. */
  readonly notices: readonly string[];
}

const CHOICES = {
  nic: ["none", "ne2k", "virtio"],
  console: ["uart", "virtio"],
  cpu: ["jit", "interpreter"],
} as const satisfies Partial<Record<keyof DeviceProfile, readonly string[]>>;


/** `?a=1&b=2` as pairs (the core has no URLSearchParams: it builds without the DOM). */
function queryPairs(search: string): [string, string][] {
  const decode = (text: string): string => {
    try {
      return decodeURIComponent(text.replace(/\+/g, " "));
    } catch {
      return text;
    }
  };
  return search
    .replace(/^\?/, "")
    .split("&")
    .filter((part) => part !== "")
    .map((part) => {
      const at = part.indexOf("=");
      return at < 0 ? [decode(part), ""] : [decode(part.slice(0, at)), decode(part.slice(at + 1))];
    });
}

export function parseSetupUrl(search: string): SetupFromUrl {
  const params = queryPairs(search);
  const profile: Record<string, unknown> = {};
  const notices: string[] = [];
  let lesson: string | undefined;
  let machine: string | undefined;
  let step: number | undefined;
  let snapshot: string | undefined;
  for (const [key, raw] of params) {
    const value = raw.trim().toLowerCase();
    if (key in CHOICES) {
      const allowed = CHOICES[key as keyof typeof CHOICES] as readonly string[];
      if (allowed.includes(value)) profile[key] = value;
      else notices.push(`${key}=${raw} was ignored: use ${allowed.join(", ")}`);
    } else if (key === "mem") {
      const mib = Number(value);
      if (Number.isInteger(mib) && mib >= MIN_LINUX_MEMORY_MIB && mib <= MAX_MEMORY_MIB) profile["memoryMiB"] = mib;
      else notices.push(`mem=${raw} was ignored: use a whole number of MiB from ${MIN_LINUX_MEMORY_MIB} to ${MAX_MEMORY_MIB}`);
    } else if (key === "balloon") {
      if (value === "on" || value === "off") profile["balloon"] = value === "on";
      else notices.push(`balloon=${raw} was ignored: use on, off`);
    } else if (key === "machine") {
      if (/^[A-Za-z0-9_-]{1,64}$/.test(raw)) machine = raw;
      else notices.push(`machine=${raw} was ignored: not a machine id`);
    } else if (key === "lesson") {
      if (LESSON_ID.test(value)) lesson = value;
      else notices.push(`lesson=${raw} was ignored: a lesson id is lower-case letters, digits and dashes`);
    } else if (key === "step") {
      const n = Number(value);
      if (Number.isInteger(n) && n >= 1 && n <= 99) step = n;
      else notices.push(`step=${raw} was ignored: use a step number from 1`);
    } else if (key === "snapshot") {
      const problem = snapshotLinkProblem(raw);
      if (problem === undefined) snapshot = raw.trim();
      else notices.push(`snapshot=${raw} was ignored: ${problem}`);
    } else {
      notices.push(`${key}=${raw} was ignored: virtlab does not know "${key}"`);
    }
  }
  if (step !== undefined && lesson === undefined) {
    notices.push(`step=${step} was ignored: it needs a lesson`);
    step = undefined;
  }
  return { profile: profile as Partial<DeviceProfile>, notices, ...(machine === undefined ? {} : { machine }), ...(lesson === undefined ? {} : { lesson }), ...(step === undefined ? {} : { step }), ...(snapshot === undefined ? {} : { snapshot }) };
}

/**
 * The query string that reproduces `profile` and the open lesson: only what differs from `base`,
 * the profile the link's machine starts with (the default's, unless the link names a machine).
 */
export function setupQuery(
  profile: DeviceProfile,
  options: { readonly machine?: string; readonly lesson?: { readonly id: string; readonly step: number }; readonly base?: DeviceProfile } = {},
): string {
  const params: string[] = [];
  const lesson = options.lesson;
  const base = options.base ?? DEFAULT_PROFILE;
  if (options.machine !== undefined) params.push(`machine=${encodeURIComponent(options.machine)}`);
  if (profile.nic !== base.nic) params.push(`nic=${profile.nic}`);
  if (profile.console !== base.console) params.push(`console=${profile.console}`);
  if (profile.cpu !== base.cpu) params.push(`cpu=${profile.cpu}`);
  if (profile.memoryMiB !== base.memoryMiB) params.push(`mem=${profile.memoryMiB}`);
  if ((profile.balloon === true) !== (base.balloon === true)) params.push(`balloon=${profile.balloon === true ? "on" : "off"}`);
  if (lesson !== undefined) params.push(`lesson=${lesson.id}`, `step=${lesson.step}`);
  return params.length === 0 ? "" : `?${params.join("&")}`;
}

/**
 * The query of the link that reproduces what runs: the default machine is named by nothing and
 * another browser starts it from the defaults; a saved machine is named, and starts there from its
 * own profile, so only what differs from that profile goes in.
 */
export function shareQuery(machine: { readonly id: string; readonly profile: DeviceProfile }, running: DeviceProfile, lesson?: { readonly id: string; readonly step: number }): string {
  const named = machine.id === DEFAULT_MACHINE_ID ? undefined : machine.id;
  return setupQuery(running, { base: named === undefined ? DEFAULT_PROFILE : machine.profile, ...(named === undefined ? {} : { machine: named }), ...(lesson === undefined ? {} : { lesson }) });
}

/**
 * Whether a page opened at `search` may start the default machine from its pre-booted state, so
 * the page fetches and unpacks that state from its first moment. Not when the link names a
 * machine, a snapshot, or hardware of its own: that start restores the hardware's kept boot or
 * boots, and unpacking 42 MB it does not use, while it starts, slowed it (a device-switch link
 * opened again: ~7.7 s with it, ~5.3 s without). The CPU mode is not hardware: a state restores
 * with the JIT on or off.
 */
export function mayStartPrebooted(search: string): boolean {
  const setup = parseSetupUrl(search);
  if (setup.machine !== undefined || setup.snapshot !== undefined) return false;
  return Object.entries(setup.profile).every(([key, value]) => key === "cpu" || DEFAULT_PROFILE[key as keyof DeviceProfile] === value);
}
