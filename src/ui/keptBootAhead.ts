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
  let gotFound!: (decoded: DecodedSnapshot | undefined) => void;
  const found = new Promise<DecodedSnapshot | undefined>((resolve) => (gotFound = resolve));
  let keeping: (() => void) | undefined;
  // Nothing more is done once the Worker has ended (a link without an entry) or failed.
  let ended = false;
  worker.addEventListener("message", (event: MessageEvent<FromKeptBoot>) => {
    if (event.data.kind === "found") {
      ended = event.data.ended === true;
      gotFound(event.data.decoded);
    } else keeping?.();
  });
  // A Worker that cannot load or read only means the boot cache is read as before, and nothing is kept.
  worker.addEventListener(
    "error",
    () => {
      worker.terminate();
      ended = true;
      gotFound(undefined);
      keeping?.();
    },
    { once: true },
  );
  post({ kind: "find", search });
  return {
    find: () => found,
    served: () => post({ kind: "served" }),
    keep: (boot) =>
      ended
        ? Promise.resolve()
        : new Promise<void>((done) => {
            keeping = done;
            post({ kind: "keep", boot }, [boot.state.buffer as ArrayBuffer]);
          }),
    end: () => post({ kind: "end" }),
  };
}
