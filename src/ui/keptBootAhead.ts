/**
 * The page's link's kept boot, read unpacked by a Worker of its own (src/worker/keptBoot.worker.ts)
 * from the page's first moment, for the core's session (UnpackedBootSource, core's
 * unpackedBoot.ts). Started by the page's entry for a link with a query: the Worker itself decides
 * whether the link has an entry (a device switch does; a lesson or a snapshot link does not, and
 * the Worker ends at once). Nothing of the core is imported here (types only): the entry stays a
 * few KB.
 */
import type { UnpackedBootSource } from "../core/session/unpackedBoot.ts";
import type { DecodedSnapshot } from "../core/snapshot/format.ts";
import type { FromKeptBoot, ToKeptBoot } from "../worker/keptBoot.worker.ts";

/** The source for a page opened at `search`; undefined for the plain address or without Workers. */
export function startKeptBootAhead(search: string): UnpackedBootSource | undefined {
  if (search === "") return undefined;
  let worker: Worker;
  try {
    worker = new Worker(new URL("../worker/keptBoot.worker.ts", import.meta.url), { type: "module", name: "virtlab kept boot" });
  } catch {
    return undefined;
  }
  const post = (message: ToKeptBoot, transfer: Transferable[] = []): void => worker.postMessage(message, transfer);
  const found = new Promise<DecodedSnapshot | undefined>((resolve) => {
    worker.addEventListener("message", (event: MessageEvent<FromKeptBoot>) => resolve(event.data.decoded), { once: true });
    // A Worker that cannot load or read only means the boot cache is read as before.
    worker.addEventListener(
      "error",
      () => {
        worker.terminate();
        resolve(undefined);
      },
      { once: true },
    );
  });
  post({ kind: "find", search });
  return {
    find: () => found,
    served: () => post({ kind: "served" }),
    keep: (boot) => post({ kind: "keep", boot }, [boot.state.buffer as ArrayBuffer]),
    end: () => post({ kind: "end" }),
  };
}
