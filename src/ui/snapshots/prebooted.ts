/**
 * The pre-booted state of the default machine (images/prebooted.ts, served as guest/prebooted.*):
 * fetched and checked before the machine starts. Anything wrong (missing, another emulator,
 * other hardware, damaged) means an ordinary boot with the reason in the terminal, never a failure.
 */
import { decodeSnapshot, fingerprintDifferences, isAppError, readSnapshotHeader, type MachineFingerprint } from "../../core/index.ts";

/** A saved state the machine starts from instead of booting. */
export interface StartState {
  readonly state: Uint8Array;
  readonly shellReady: boolean;
  /** The state was saved without the data disk mounted: mount it after the start. */
  readonly mountData: boolean;
  /** For messages: "the pre-booted state", `the snapshot "…"`. */
  readonly label: string;
  readonly from: "pre-booted" | "snapshot";
  /** A snapshot's own name, for the terminal's first line. */
  readonly name?: string;
  /** The console's last line at the save (the guest prints nothing after a restore): shown again. */
  readonly screen?: string;
}

interface PrebootedManifest {
  readonly file: string;
  readonly size: number;
  readonly sha256: string;
  readonly v86: string;
}

export type Prebooted = { readonly kind: "state"; readonly start: StartState } | { readonly kind: "none"; readonly reason: string };

export async function fetchPrebooted(guestBase: string, fingerprint: MachineFingerprint, v86: string, onProgress: (loaded: number, total: number) => void): Promise<Prebooted> {
  try {
    const response = await fetch(new URL("prebooted.json", guestBase).href, { cache: "no-cache" });
    if (!response.ok) return { kind: "none", reason: "this server has no pre-booted state (run npm start, which makes one)" };
    const manifest = (await response.json()) as PrebootedManifest;
    if (manifest.v86 !== v86) return { kind: "none", reason: `the pre-booted state was made with v86 ${manifest.v86}, this page runs ${v86}` };
    const file = await download(new URL(manifest.file, guestBase).href, manifest.size, onProgress);
    const { header } = readSnapshotHeader(file);
    const differences = fingerprintDifferences(header.fingerprint, fingerprint);
    if (differences.length > 0) return { kind: "none", reason: `the pre-booted state is for other hardware (${differences.join("; ")})` };
    const decoded = await decodeSnapshot(file);
    return { kind: "state", start: { state: decoded.state, shellReady: decoded.header.shellReady, mountData: true, label: "the pre-booted state", from: "pre-booted", screen: decoded.header.preview } };
  } catch (error) {
    return { kind: "none", reason: `the pre-booted state could not be used (${isAppError(error) ? error.message : String(error)})` };
  }
}

async function download(url: string, size: number, onProgress: (loaded: number, total: number) => void): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok || response.body === null) throw new Error(`the server answered ${response.status}`);
  const out = new Uint8Array(size);
  const reader = response.body.getReader();
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (loaded + value.length > size) throw new Error("the file is larger than its description says");
    out.set(value, loaded);
    loaded += value.length;
    onProgress(loaded, size);
  }
  if (loaded !== size) throw new Error(`the file is cut short (${loaded} of ${size} bytes)`);
  return out;
}
