/** What the service worker tells the page while it stores the app for offline use. */
export const OFFLINE_MESSAGE = "virtlab-offline";

export interface OfflineMessage {
  readonly type: typeof OFFLINE_MESSAGE;
  readonly state: "caching";
  readonly doneFiles: number;
  readonly totalFiles: number;
  readonly doneBytes: number;
  readonly totalBytes: number;
}
