/**
 * A start from a saved state skips v86's zeroing of the RAM above the first MiB (v86.ts,
 * zeroOnlyWrittenMemoryAtRestore): the fresh emulator's RAM there is zero already; and it copies
 * the RAM's pages from the state itself, not from v86's copy of them (unpackRamFromTheState).
 * Checked against v86's own path, on the real pre-booted state: the RAM after the quick restore is
 * byte for byte the RAM after a restore that zeroes all of it first, and the state given is left
 * as it was.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { decodeSnapshot, type BackendFactory, type EmulatorBackend } from "../../src/core/index.ts";
import { RAM_WRITTEN_BEFORE_RESTORE, createV86Backend } from "../../src/core/v86.ts";
import { GUEST_DIR, guestIsBuilt } from "../../src/node/guest.ts";
import { machineFromState } from "./sessions.ts";

const PREBOOTED = join(GUEST_DIR, "prebooted.vlsnap");
const machines: { dispose(): void }[] = [];
afterEach(() => {
  for (const m of machines.splice(0)) m.dispose();
});

/** A machine started from `state` whose emulator is made by `make` (never let run), and that emulator. */
async function restored(state: Uint8Array, make: BackendFactory): Promise<EmulatorBackend> {
  let made: EmulatorBackend | undefined;
  await machineFromState(state, async (config, host) => (made = await make({ ...config, autostart: false }, host)), machines);
  if (made === undefined) throw new Error("no emulator was made");
  return made;
}

function nonZeroPages(ram: Uint8Array, from: number): number {
  const words = new Uint32Array(ram.buffer, ram.byteOffset + from, (ram.length - from) >> 2);
  let pages = 0;
  for (let page = 0; page < words.length; page += 1024) {
    for (let i = page; i < page + 1024; i++) {
      if (words[i] !== 0) {
        pages++;
        break;
      }
    }
  }
  return pages;
}

it.skipIf(!guestIsBuilt() || !existsSync(PREBOOTED))("a start from a state leaves the same RAM as v86's restore that zeroes all of it first", async () => {
  const { state } = await decodeSnapshot(new Uint8Array(readFileSync(PREBOOTED)));
  // The quick path: an emulator made with the state (the restore right after v86's init).
  const given = state.slice();
  const quick = await restored(given, createV86Backend);
  expect(Buffer.compare(given, state)).toBe(0);
  // v86's own: the same emulator made without the state, which is then restored into it.
  const full = await restored(state.slice(), async (config, host) => {
    const { initial_state: _taken, ...withoutState } = config;
    const backend = await createV86Backend(withoutState, host);
    // Before the restore: init wrote nothing above the first MiB (what the quick path relies on).
    const ram = backend.migration?.ram();
    expect(ram).toBeDefined();
    expect(nonZeroPages(ram!, RAM_WRITTEN_BEFORE_RESTORE)).toBe(0);
    await backend.restoreState(state.slice());
    return backend;
  });
  const a = quick.migration!.ram();
  const b = full.migration!.ram();
  expect(a.length).toBe(b.length);
  // The state fills pages above the first MiB (the kernel, the root file system in RAM).
  expect(nonZeroPages(a, RAM_WRITTEN_BEFORE_RESTORE)).toBeGreaterThan(1000);
  expect(Buffer.compare(a, b)).toBe(0);
}, 120_000);
