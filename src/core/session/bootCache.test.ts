import { describe, expect, it } from "vitest";
import { DEFAULT_PROFILE, machineFingerprint, type DeviceProfile } from "../index.ts";
import { PAIRS, mtuVariantProfile, mtuVariants, planMachines } from "../lab/devices.ts";
import { encodeSnapshot } from "../snapshot/format.ts";
import { SnapshotStore } from "../snapshot/store.ts";
import { memoryStore } from "../storage/kv.ts";
import { fakeV86State } from "../testing/fakeShell.ts";
import { testGuest } from "../testing/guest.ts";
import { BootCache } from "./bootCache.ts";

const guest = testGuest("console=ttyS0 quiet");
const fingerprintKey = (profile: DeviceProfile): string => JSON.stringify(machineFingerprint(profile, guest));

/** A small snapshot file of this hardware, as a kept boot is stored. */
async function keepBoot(cache: BootCache, profile: DeviceProfile): Promise<void> {
  const fingerprint = machineFingerprint(profile, guest);
  const { parts } = await encodeSnapshot(fakeV86State("boot"), { app: "t", v86: "0.5.462", fingerprint, name: "boot", createdAt: 1, shellReady: true, preview: "$ " });
  await cache.keep(fingerprint, parts);
}

describe("the boot cache's size", () => {
  it("keeps every machine of the device lab's Run all with machines at once, beside the page's and the network lab's hardware", async () => {
    const lab = [
      ...planMachines(PAIRS.map((p) => p.id), { spread: true }).map((plan) => ({ ...DEFAULT_PROFILE, ...plan.profile })),
      ...mtuVariants(PAIRS.map((p) => p.id)).map((variant) => ({ ...DEFAULT_PROFILE, ...mtuVariantProfile(variant.nicMtu) })),
    ];
    const others: DeviceProfile[] = [DEFAULT_PROFILE, { ...DEFAULT_PROFILE, nic: "ne2k" }, { ...DEFAULT_PROFILE, nic: "virtio", console: "virtio" }];
    // Distinct hardware only: the CPU mode is not in a fingerprint, so the interpreter's machine shares the UART's boot.
    const distinct = [...new Map([...others, ...lab].map((p) => [fingerprintKey(p), p])).values()];
    expect(distinct.length).toBeGreaterThan(8);
    const cache = new BootCache(new SnapshotStore(memoryStore()));
    for (const profile of distinct) await keepBoot(cache, profile);
    expect(await cache.size()).toBe(distinct.length);
  });

  it("lets the oldest go beyond its limit", async () => {
    const cache = new BootCache(new SnapshotStore(memoryStore()), 2);
    for (const memoryMiB of [128, 192, 256]) await keepBoot(cache, { ...DEFAULT_PROFILE, memoryMiB });
    expect(await cache.size()).toBe(2);
  });
});
