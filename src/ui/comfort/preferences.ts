/**
 * The look of the page: theme and zoom, remembered in localStorage (a preference, not user data;
 * a blocked storage just forgets them).
 */
export type Theme = "dark" | "light";

export const FONT_SIZES = [11, 13, 15, 17, 20, 24, 28, 32] as const;
export const DEFAULT_FONT_SIZE = 15;

/** The next font size up (+1) or down (-1), staying within the steps; 0 resets. */
export function stepFontSize(current: number, direction: -1 | 0 | 1): number {
  if (direction === 0) return DEFAULT_FONT_SIZE;
  const index = FONT_SIZES.findIndex((size) => size >= current);
  const at = index < 0 ? FONT_SIZES.length - 1 : index;
  const next = Math.min(FONT_SIZES.length - 1, Math.max(0, (FONT_SIZES[at] === current ? at : direction > 0 ? at - 1 : at) + direction));
  return FONT_SIZES[next] ?? DEFAULT_FONT_SIZE;
}

/** A stored theme, else the system's preference. */
export function initialTheme(stored: string | null, prefersLight: boolean): Theme {
  if (stored === "dark" || stored === "light") return stored;
  return prefersLight ? "light" : "dark";
}

/** A stored font size if it is one of the steps, else the default. */
export function initialFontSize(stored: string | null): number {
  const size = Number(stored);
  return (FONT_SIZES as readonly number[]).includes(size) ? size : DEFAULT_FONT_SIZE;
}

export interface PreferenceStore {
  get(key: string): string | null;
  set(key: string, value: string): void;
}

/** localStorage, or nothing when the browser blocks it. */
export const browserPreferences: PreferenceStore = {
  get: (key) => {
    try {
      return localStorage.getItem(key);
    } catch {
      return null;
    }
  },
  set: (key, value) => {
    try {
      localStorage.setItem(key, value);
    } catch {
      // Blocked storage: the choice lasts for this page.
    }
  },
};
