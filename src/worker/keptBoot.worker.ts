/**
 * Reads the kept boot of the page's link, unpacked (core's unpackedBoot.ts), while the page loads:
 * the page's entry starts this Worker for a link with a query (src/ui/keptBootAhead.ts). It posts
 * what the link's entry holds (its bytes transferred), or nothing for a link that has none. Then
 * it does what the page's session asks once its first start is over (check the state it took,
 * keep another one unpacked for the link: "kept" says when that is done) and ends when told
 * nothing more comes.
 */
import { linkEntry, unpackedBootIn, type UnpackedBoot } from "../core/session/unpackedBoot.ts";
import { openUnpackedStateCache } from "../core/session/unpackedCache.ts";
import type { DecodedSnapshot } from "../core/snapshot/format.ts";

export type ToKeptBoot =
  | { readonly kind: "find"; readonly search: string }
  | { readonly kind: "served" }
  | { readonly kind: "keep"; readonly boot: UnpackedBoot }
  | { readonly kind: "end" };
export type FromKeptBoot =
  /** `ended`: the link has no entry, and the Worker has ended. */
  | { readonly kind: "found"; readonly decoded?: DecodedSnapshot; readonly ended?: true }
  /** A keep asked for is done (kept or not). */
  | { readonly kind: "kept" };

interface KeptBootScope {
  postMessage(message: FromKeptBoot, transfer?: ArrayBuffer[]): void;
  addEventListener(type: "message", listener: (event: { data: ToKeptBoot }) => void): void;
  close(): void;
}

const scope = globalThis as unknown as KeptBootScope;
let source: ReturnType<typeof unpackedBootIn> | undefined;

scope.addEventListener("message", ({ data }) => {
  switch (data.kind) {
    case "find": {
      const entry = linkEntry(data.search);
      if (entry === undefined) {
        scope.postMessage({ kind: "found", ended: true });
        scope.close();
        return;
      }
      source = unpackedBootIn(openUnpackedStateCache(), entry);
      void source.find().then((decoded) => scope.postMessage(decoded === undefined ? { kind: "found" } : { kind: "found", decoded }, decoded === undefined ? [] : [decoded.state.buffer as ArrayBuffer]));
      return;
    }
    case "served":
      source?.served();
      return;
    case "keep":
      void (source?.keep(data.boot) ?? Promise.resolve()).then(() => scope.postMessage({ kind: "kept" }));
      return;
    case "end":
      // What was asked is done first: a keep or a check the tab may still finish.
      void (source?.idle ?? Promise.resolve()).finally(() => scope.close());
      return;
  }
});
