/**
 * How a start begins, as a value: the page, Node tools and tests say what they want and the
 * session decides the rest (the pre-booted state, a restore, a boot from scratch).
 */
import type { SnapshotChunks } from "../snapshot/format.ts";
import type { RunStart } from "../statusText.ts";

/** A saved state a machine starts from instead of booting. */
export interface SavedStart {
  readonly state: Uint8Array;
  readonly shellReady: boolean;
  /** The state was saved without the data disk mounted: mount it after the start. */
  readonly mountData: boolean;
  /** For messages: "the pre-booted state", `the snapshot "…"`. */
  readonly label: string;
  readonly from: "pre-booted" | "boot-cache" | "snapshot";
  /** A snapshot's own name, for the terminal's first line. */
  readonly name?: string;
  /** The console's last line at the save (the guest prints nothing after a restore): shown again. */
  readonly screen?: string;
}

export type StartRequest =
  /** The pre-booted state when this machine can use it, else a boot. */
  | { readonly kind: "auto" }
  /** A boot from scratch, even where a pre-booted state exists. */
  | { readonly kind: "cold" }
  /** From a state already decoded and checked by the caller. */
  | { readonly kind: "state"; readonly start: SavedStart }
  /**
   * From a snapshot: checked (emulator, hardware, every chunk), its disks put in place, then its
   * state. A file in memory, or a stored snapshot read a chunk at a time (SnapshotStore.open).
   */
  | { readonly kind: "snapshot"; readonly file: Uint8Array | SnapshotChunks };

/** How the running machine started ("moved": it arrived running from another tab). */
export type StartedFrom = "boot" | "pre-booted" | "boot-cache" | "snapshot" | "moved";

/** The run's first line before the pre-booted choice is made; `usePrebooted` says whether to look. */
export function planStart(request: Exclude<StartRequest, { kind: "snapshot" }>, prebootedAvailable: boolean): { readonly runStart: RunStart; readonly usePrebooted: boolean } {
  switch (request.kind) {
    case "cold":
      return { runStart: { kind: "cold-boot" }, usePrebooted: false };
    case "state":
      return { runStart: request.start.from === "snapshot" ? { kind: "snapshot", name: request.start.name ?? request.start.label } : { kind: request.start.from }, usePrebooted: false };
    case "auto":
      return { runStart: { kind: "boot" }, usePrebooted: prebootedAvailable };
  }
}
