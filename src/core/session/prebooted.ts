/**
 * The pre-booted state of the default machine (images/prebooted.ts, served as guest/prebooted.*):
 * read and checked before the machine starts. Anything wrong (missing, another emulator, other
 * hardware, damaged) means an ordinary boot with the reason, never a failure.
 */
import { isAppError } from "../errors.ts";
import { decodeText, host } from "../host.ts";
import type { MachineFingerprint } from "../snapshot/fingerprint.ts";
import { fingerprintDifferences } from "../snapshot/fingerprint.ts";
import { decodeSnapshot, readSnapshotHeader } from "../snapshot/format.ts";
import type { SavedStart } from "./request.ts";

/** prebooted.json, written by images/prebooted.ts. */
export interface PrebootedManifest {
  readonly file: string;
  readonly size: number;
  readonly sha256: string;
  readonly v86: string;
}

/** Where the pre-booted state comes from: the server next to the guest, or files in Node. */
export interface PrebootedSource {
  /** Its description, or why there is none. */
  manifest(): Promise<PrebootedManifest | { readonly none: string }>;
  /** The state file itself. */
  file(manifest: PrebootedManifest, onProgress: (loaded: number, total: number) => void): Promise<Uint8Array>;
}

export type Prebooted = { readonly kind: "state"; readonly start: SavedStart } | { readonly kind: "none"; readonly reason: string };

/** The pre-booted state when it fits this machine and emulator, else the reason for booting. */
export async function choosePrebooted(source: PrebootedSource, fingerprint: MachineFingerprint, v86: string, onProgress: (loaded: number, total: number) => void): Promise<Prebooted> {
  try {
    const manifest = await source.manifest();
    if ("none" in manifest) return { kind: "none", reason: manifest.none };
    if (manifest.v86 !== v86) return { kind: "none", reason: `the pre-booted state was made with v86 ${manifest.v86}, this page runs ${v86}` };
    const file = await source.file(manifest, onProgress);
    const { header } = readSnapshotHeader(file);
    const differences = fingerprintDifferences(header.fingerprint, fingerprint);
    if (differences.length > 0) return { kind: "none", reason: `the pre-booted state is for other hardware (${differences.join("; ")})` };
    const decoded = await decodeSnapshot(file);
    // Saved with the data disk unmounted: the user's own disk is mounted after the start.
    return { kind: "state", start: { state: decoded.state, shellReady: decoded.header.shellReady, mountData: true, label: "the pre-booted state", from: "pre-booted", screen: decoded.header.preview } };
  } catch (error) {
    return { kind: "none", reason: `the pre-booted state could not be used (${isAppError(error) ? error.message : String(error)})` };
  }
}

/**
 * The pre-booted state served next to the guest (`<guestBase><name>.json`): "prebooted" for the
 * default machine, "prebooted-lab" for the network lab's machines (the same guest with a NIC).
 */
export function fetchPrebooted(guestBase: string, name = "prebooted"): PrebootedSource {
  const url = (name: string): string => (guestBase.endsWith("/") ? guestBase + name : `${guestBase}/${name}`);
  return {
    async manifest() {
      const response = await host.fetch(url(`${name}.json`), { cache: "no-cache" });
      if (!response.ok) return { none: "this server has no pre-booted state (run npm start, which makes one)" };
      return JSON.parse(decodeText(new Uint8Array(await response.arrayBuffer()))) as PrebootedManifest;
    },
    async file(manifest, onProgress) {
      const response = await host.fetch(url(manifest.file));
      if (!response.ok || response.body === null) throw new Error(`the server answered ${response.status}`);
      const out = new Uint8Array(manifest.size);
      const reader = response.body.getReader();
      let loaded = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done || value === undefined) break;
        if (loaded + value.length > manifest.size) throw new Error("the file is larger than its description says");
        out.set(value, loaded);
        loaded += value.length;
        onProgress(loaded, manifest.size);
      }
      if (loaded !== manifest.size) throw new Error(`the file is cut short (${loaded} of ${manifest.size} bytes)`);
      return out;
    },
  };
}
