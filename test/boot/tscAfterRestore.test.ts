/**
 * A start from a state, in an emulator made long after its thread began, on a host clock as coarse
 * as a browser Worker's: the guest's time-stamp counter must not leap when the guest reads it twice
 * within one step of that clock (v86.ts, learnHostClockStep). Before, the second read ran ahead by
 * about the thread's age, and a guest that armed its next tick from it went without a tick that long.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, it, vi } from "vitest";

/** v86 binds performance.now when it loads: the thread's clock is replaced before any import. */
const CLOCK = vi.hoisted(() => {
  const real = globalThis.performance;
  /** How old the thread is when the emulator is made: the lab's spare Worker waits this long. */
  const THREAD_AGE_MS = 20_000;
  /** performance.now's step in a Worker that is not cross-origin isolated. */
  const STEP_MS = 0.1;
  const now = (): number => Math.floor((real.now() + THREAD_AGE_MS) / STEP_MS) * STEP_MS;
  Object.defineProperty(globalThis, "performance", { value: { now, timeOrigin: real.timeOrigin }, configurable: true, writable: true });
  return { STEP_MS };
});

import { decodeSnapshot, type EmulatorBackend } from "../../src/core/index.ts";
import { createV86Backend } from "../../src/core/v86.ts";
import { GUEST_DIR, guestIsBuilt } from "../../src/node/guest.ts";
import { machineFromState } from "./sessions.ts";

const PREBOOTED = join(GUEST_DIR, "prebooted.vlsnap");
/** v86's TSC_RATE (src/rust/cpu/cpu.rs): counter ticks per millisecond of the host's clock. */
const TSC_PER_MS = 1_000_000;
const owned: { dispose(): void }[] = [];
afterEach(() => {
  for (const m of owned.splice(0)) m.dispose();
});

interface V86Tsc {
  emulator: { v86: { cpu: { store_current_tsc(): void; current_tsc: Uint32Array } } };
}

it.skipIf(!guestIsBuilt() || !existsSync(PREBOOTED))("two reads of the counter within one step of the host's clock differ by less than that step", async () => {
  const { state } = await decodeSnapshot(new Uint8Array(readFileSync(PREBOOTED)));
  let made: EmulatorBackend | undefined;
  await machineFromState(state, async (config, host) => (made = await createV86Backend(config, host)), owned);
  if (made === undefined) throw new Error("no emulator was made");
  const cpu = (made as unknown as V86Tsc).emulator.v86.cpu;
  const read = (): number => {
    cpu.store_current_tsc();
    return cpu.current_tsc[0]! + cpu.current_tsc[1]! * 2 ** 32;
  };
  // Back to back, as a guest's clock reads come: within one step of the host's clock, plus what
  // the host's clock itself moved meanwhile (a loaded machine can stall the thread between them:
  // 7.7 ms once in a CI run; the leap this test is about was the thread's age, 20 s).
  const before = globalThis.performance.now();
  const first = read();
  const second = read();
  const elapsedMs = globalThis.performance.now() - before;
  expect(second).toBeGreaterThanOrEqual(first);
  expect(second - first).toBeLessThanOrEqual((elapsedMs + CLOCK.STEP_MS) * TSC_PER_MS);
});
