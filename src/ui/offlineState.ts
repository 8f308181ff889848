/** The offline badge's states and words (kept apart from the worker registration, for tests). */
export type OfflineState =
  | { readonly kind: "unsupported"; readonly reason: string }
  | { readonly kind: "caching"; readonly doneBytes: number; readonly totalBytes: number }
  | { readonly kind: "ready" }
  | { readonly kind: "failed"; readonly reason: string };

const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);

/** The badge's words for a state (and whether the browser has a network right now). */
export function describeOffline(state: OfflineState, online: boolean): string {
  switch (state.kind) {
    case "unsupported":
      return `Online only: ${state.reason}`;
    case "caching":
      return state.totalBytes > 0 ? `Storing for offline use: ${mb(state.doneBytes)} of ${mb(state.totalBytes)} MB` : "Storing for offline use…";
    case "ready":
      return online ? "Offline-ready" : "Offline: running from this browser's copy";
    case "failed":
      return `Not available offline: ${state.reason}`;
  }
}

