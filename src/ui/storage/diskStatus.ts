/** The "saved / saving / not saved: reason" indicator, as a pure function of the disks' states. */
import { toUserMessage } from "../messages.ts";
import { RETRY_MAX_MS, type DiskSaveState } from "../../core/index.ts";

export type DiskIndicator = "none" | "saved" | "saving" | "unsaved" | "not-saved" | "read-only" | "taken-over" | "handed-over";

/**
 * `gone`: the disks are another tab's now: taken over (what this tab had not written is lost), or
 * handed over with the machine when it moved (every page was written before the lock went).
 */
export function diskIndicator(states: readonly DiskSaveState[], gone?: "taken-over" | "handed-over"): { readonly state: DiskIndicator; readonly text: string } {
  if (gone === "taken-over") return { state: "taken-over", text: "not saved: another tab took this machine over; this tab stopped writing to its disks" };
  if (gone === "handed-over") return { state: "handed-over", text: "saved, and handed over: the machine moved to another tab, which writes its disks now" };
  if (states.length === 0) return { state: "none", text: "no writable disk" };
  if (states.some((s) => s.readOnly)) return { state: "read-only", text: "read-only: open in another tab; changes here are kept in memory only and lost on reload" };
  const failed = states.find((s) => s.error !== undefined);
  if (failed?.error !== undefined) {
    const message = toUserMessage(failed.error);
    return { state: "not-saved", text: `not saved: ${message.title.toLowerCase()}. The changes are kept in memory; saving is tried again at least every ${RETRY_MAX_MS / 1000} s, and at the next write.` };
  }
  if (states.some((s) => s.saving)) return { state: "saving", text: "saving…" };
  if (states.some((s) => s.unsavedPages > 0)) return { state: "unsaved", text: "saving soon…" };
  return { state: "saved", text: "saved" };
}
