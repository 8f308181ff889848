/**
 * A device switch again, without unpacking: the kept boot (bootCache.ts) of the hardware a link
 * names, read unpacked (unpackedCache.ts) while the page loads. A kept boot is 35 MB unpacked and
 * about 9 MB of zstd in the boot cache; reading and unpacking that on the page's thread took ~0.6 s
 * of a switch's start, after the page had loaded. The page's entry starts a Worker that reads the
 * link's unpacked entry from its first moment (src/worker/keptBoot.worker.ts); the session's first
 * start takes it when its header names the hardware and emulator that start needs
 * (`keptBootFits`), else reads the boot cache as before. Once a start used a kept boot from the
 * boot cache, or kept a boot it made, its state is kept unpacked for the link; a state taken from
 * here is checked against its digest once the start is over.
 */
import { fingerprintDifferences, type MachineFingerprint } from "../snapshot/fingerprint.ts";
import type { DecodedSnapshot, SnapshotHeader } from "../snapshot/format.ts";
import { mayStartPrebooted, parseSetupUrl } from "../setupUrl.ts";
import { KEPT_BOOT_SOURCE, LINK_SLOT, type UnpackedEntry, type UnpackedStateCache } from "./unpackedCache.ts";

/** A kept boot's state with its header, as kept unpacked. */
export interface UnpackedBoot {
  readonly header: SnapshotHeader;
  readonly state: Uint8Array;
}

/** The kept boot unpacked for the page's link, read ahead (the page's: a Worker). Used once. */
export interface UnpackedBootSource {
  /** What was kept for the link (not checked against the start's hardware: the session does that). */
  find(): Promise<DecodedSnapshot | undefined>;
  /** A start took what `find` gave: it is checked against its digest now, and deleted if damaged. */
  served(): void;
  /** Keep this boot's state unpacked for the link (its buffer is taken); settles once done, kept or not. */
  keep(boot: UnpackedBoot): Promise<void>;
  /** Nothing more comes: what the source holds can go. */
  end(): void;
}

/**
 * The entry of the kept boot for a page opened at `search`: a link that names hardware of its own
 * (a device switch) or a machine, the same words in any order giving the same entry. Undefined
 * for a link that starts from the pre-booted state (the plain address, a lesson) or loads a
 * snapshot. The CPU mode is left out: a state restores with the JIT on or off.
 */
export function linkEntry(search: string): UnpackedEntry | undefined {
  const setup = parseSetupUrl(search);
  if (setup.snapshot !== undefined || mayStartPrebooted(search)) return undefined;
  const words = Object.entries(setup.profile)
    .filter(([key]) => key !== "cpu")
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { slot: `${LINK_SLOT}${JSON.stringify({ machine: setup.machine ?? null, profile: Object.fromEntries(words) })}`, source: KEPT_BOOT_SOURCE };
}

/** Whether a kept boot fits a start on the hardware `fingerprint` names, with emulator `v86`. */
export function keptBootFits(header: SnapshotHeader, fingerprint: MachineFingerprint, v86: string): boolean {
  return header.v86 === v86 && header.disks.length === 0 && fingerprintDifferences(header.fingerprint, fingerprint).length === 0;
}

/**
 * The source over `cache`'s entry for a link (the Worker's, and Node's in tests). `idle` settles
 * once what was asked (a check, a keep) is done; failures only mean nothing is kept.
 */
export function unpackedBootIn(cache: UnpackedStateCache, entry: UnpackedEntry): UnpackedBootSource & { readonly idle: Promise<void> } {
  let work: Promise<unknown> = Promise.resolve();
  const then = (step: () => Promise<unknown>): Promise<void> => {
    work = work.then(step).catch(() => undefined);
    return work.then(() => undefined);
  };
  return {
    find: () => cache.find(entry).catch(() => undefined),
    served: () => void then(() => cache.check(entry)),
    keep: (boot) => then(() => cache.keep(entry, boot)),
    end: () => undefined,
    get idle() {
      return work.then(() => undefined);
    },
  };
}
