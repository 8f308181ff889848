/**
 * A machine Worker made ahead warms the emulator up before its start (warmUpEmulator in v86.ts):
 * the page names the files (a `warm` message), the Worker loads them itself (through the page's
 * service worker, like any of its fetches) and runs the warm-up; its start takes the module.
 */
import { decodeAsset, type AssetLoader } from "../assets.ts";
import type { CompiledEmulator } from "../backend.ts";
import { DEFAULT_GUEST_FILES, joinUrl } from "../guest.ts";
import type { AssetRef } from "../profile.ts";
import type { WarmUp, WarmUpFiles } from "../v86.ts";

/** The files a warm-up runs, as the page serves them. */
export interface WarmUpRefs {
  readonly wasm: AssetRef;
  readonly bios: AssetRef;
  readonly vgaBios: AssetRef;
}

/** The emulator's wasm and the default guest's two BIOSes, served from `guestBase` (any guest's machine uses the same emulator code). */
export function defaultWarmUpRefs(wasm: AssetRef, guestBase: string): WarmUpRefs {
  const file = (name: string): AssetRef => ({ name, url: joinUrl(guestBase, name) });
  return { wasm, bios: file(DEFAULT_GUEST_FILES.bios), vgaBios: file(DEFAULT_GUEST_FILES.vgaBios) };
}

/**
 * Load `refs` and warm up with them. Ended while the files still load (a start came first), it gives
 * nothing at once, so the start compiles as it would have; a file that does
 * not load gives nothing either.
 */
export function warmUpFrom(refs: WarmUpRefs, loader: AssetLoader, warmUp: (files: WarmUpFiles) => WarmUp): WarmUp {
  let ended = false;
  let run: WarmUp | undefined;
  let giveUp: () => void = () => undefined;
  const gaveUp = new Promise<undefined>((resolve) => (giveUp = () => resolve(undefined)));
  const load = async (ref: AssetRef): Promise<ArrayBuffer> => decodeAsset(ref, await loader.load(ref, () => undefined));
  const compiled = (async (): Promise<CompiledEmulator | undefined> => {
    const files = await Promise.race([Promise.all([load(refs.wasm), load(refs.bios), load(refs.vgaBios)]).catch(() => undefined), gaveUp]);
    if (files === undefined || ended) return undefined;
    const [wasm, bios, vgaBios] = files;
    run = warmUp({ wasm, bios, vgaBios });
    return run.compiled;
  })();
  return {
    compiled,
    end() {
      ended = true;
      giveUp();
      run?.end();
    },
  };
}
