/**
 * Shareable set-ups: the page URL names the machine's devices and memory
 * (`?nic=virtio&console=virtio&cpu=jit&mem=256`), so a teacher's link opens the same machine.
 * Parsing never fails: a bad value is ignored, the default kept, and a notice says so.
 */
import { DEFAULT_PROFILE, MAX_MEMORY_MIB, MIN_LINUX_MEMORY_MIB, type DeviceProfile } from "./profile.ts";

export interface SetupFromUrl {
  /** What the URL changes in the device profile (only valid values). */
  readonly profile: Partial<DeviceProfile>;
  /** One line per ignored parameter, for the user. */
  readonly notices: readonly string[];
}

const CHOICES = {
  nic: ["none", "ne2k", "virtio"],
  console: ["uart", "virtio"],
  cpu: ["jit", "interpreter"],
} as const satisfies Partial<Record<keyof DeviceProfile, readonly string[]>>;

/** Parameters the URL may carry that this parser does not own (lessons, machines). */
const OTHERS = new Set(["lesson", "step", "machine"]);

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
    } else if (!OTHERS.has(key)) {
      notices.push(`${key}=${raw} was ignored: virtlab does not know "${key}"`);
    }
  }
  return { profile: profile as Partial<DeviceProfile>, notices };
}

/** The query string that reproduces `profile` (only what differs from the default). */
export function setupQuery(profile: DeviceProfile): string {
  const params: string[] = [];
  if (profile.nic !== DEFAULT_PROFILE.nic) params.push(`nic=${profile.nic}`);
  if (profile.console !== DEFAULT_PROFILE.console) params.push(`console=${profile.console}`);
  if (profile.cpu !== DEFAULT_PROFILE.cpu) params.push(`cpu=${profile.cpu}`);
  if (profile.memoryMiB !== DEFAULT_PROFILE.memoryMiB) params.push(`mem=${profile.memoryMiB}`);
  return params.length === 0 ? "" : `?${params.join("&")}`;
}
