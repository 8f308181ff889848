/// <reference lib="webworker" />
/**
 * The service worker: after one visit, the app, the emulator, the BIOS, the default guest, its
 * pre-booted state and the lessons are served from the cache, with no network. Workbox keeps the
 * precache (a revision per file, old caches removed); this file adds progress messages for the
 * page's offline badge and waits for the user before an update takes over (see src/ui/offline.ts).
 */
import { clientsClaim } from "workbox-core";
import { addPlugins, cleanupOutdatedCaches, matchPrecache, precacheAndRoute, type PrecacheEntry } from "workbox-precaching";
import { registerRoute } from "workbox-routing";
import { OFFLINE_MESSAGE, type OfflineMessage } from "./messages.ts";

declare const self: ServiceWorkerGlobalScope & { __WB_MANIFEST: (string | PrecacheEntry)[] };

const manifest: PrecacheEntry[] = self.__WB_MANIFEST.map((entry) => (typeof entry === "string" ? { url: entry } : entry));
/** The build writes each revision as "<hash>.<bytes>" (vite.config.ts). */
const sizeOf = (entry: PrecacheEntry): number => Number(/\.(\d+)$/.exec(entry.revision ?? "")?.[1] ?? 0);
const totalBytes = manifest.reduce((sum, entry) => sum + sizeOf(entry), 0);
const bySize = new Map(manifest.map((entry) => [new URL(entry.url, self.location.href).pathname, sizeOf(entry)]));
let doneBytes = 0;
let doneFiles = 0;

async function tell(message: OfflineMessage): Promise<void> {
  for (const client of await self.clients.matchAll({ includeUncontrolled: true, type: "window" })) client.postMessage(message);
}

addPlugins([
  {
    // Called for each file as it is stored during installation.
    cacheDidUpdate: async ({ request }) => {
      doneFiles += 1;
      doneBytes += bySize.get(new URL(request.url).pathname) ?? 0;
      await tell({ type: OFFLINE_MESSAGE, state: "caching", doneFiles, totalFiles: manifest.length, doneBytes, totalBytes });
    },
  },
]);

// Lessons change without a new build (a teacher drops a file in): the network first, the stored
// copy when there is no network (or it takes more than 3 s).
const LESSON_NETWORK_TIMEOUT_MS = 3000;
registerRoute(
  ({ url }) => url.origin === self.location.origin && url.pathname.includes("/lessons/"),
  async ({ request }) => {
    let response: Response | undefined;
    try {
      response = await fetch(request, { signal: AbortSignal.timeout(LESSON_NETWORK_TIMEOUT_MS) });
      if (response.ok) return response;
    } catch {
      // No network: the stored copy below.
    }
    return (await matchPrecache(request.url)) ?? response ?? Response.error();
  },
);

cleanupOutdatedCaches();
// Links carry settings in the query (?nic=virtio&lesson=io): the cached files are the same for all.
precacheAndRoute(manifest, { ignoreURLParametersMatching: [/.*/] });

// The first installation takes the open page at once (nothing older runs in it). An update waits
// until the page asks (the user chose to reload): a running machine is never replaced under them.
self.addEventListener("install", (event) => {
  event.waitUntil(tell({ type: OFFLINE_MESSAGE, state: "caching", doneFiles: 0, totalFiles: manifest.length, doneBytes: 0, totalBytes }));
});
self.addEventListener("message", (event) => {
  if ((event.data as { type?: string } | null)?.type === "SKIP_WAITING") void self.skipWaiting();
});
clientsClaim();
