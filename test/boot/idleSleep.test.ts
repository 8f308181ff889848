/**
 * An idle guest's emulator sleeps until the guest's next timer interrupt instead of polling the
 * clock for it (v86.ts, sleepThroughShortIdles): counted on a real start from the pre-booted state,
 * as the emulator's wake-ups per timer interrupt the guest gets while it waits at its prompt.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { decodeSnapshot, type EmulatorBackend } from "../../src/core/index.ts";
import { MIN_IDLE_SLEEP_MS, createV86Backend, idleSleepMs } from "../../src/core/v86.ts";
import { GUEST_DIR, guestIsBuilt } from "../../src/node/guest.ts";
import { machineFromState } from "./sessions.ts";

const PREBOOTED = join(GUEST_DIR, "prebooted.vlsnap");
const owned: { dispose(): void }[] = [];
afterEach(() => {
  for (const m of owned.splice(0)) m.dispose();
});

it.each([
  [0, 0],
  [-3, -3],
  [0.01, MIN_IDLE_SLEEP_MS],
  [0.99, MIN_IDLE_SLEEP_MS],
  [1, 1],
  [3.7, 4],
  [4, 4],
  [100, 100],
])("v86's delay %f ms is slept as %f ms", (delay, slept) => {
  expect(idleSleepMs(delay)).toBe(slept);
});

/** The v86 internals this test counts: the main loop's runs and the interrupts devices raise. */
interface Counted {
  emulator: { v86: { do_tick(): void; cpu: { device_raise_irq(irq: number): void } } };
}

/** The guest's 250 Hz tick for about two seconds. */
const TIMER_INTERRUPTS = 500;

it.skipIf(!guestIsBuilt() || !existsSync(PREBOOTED))("an idle guest wakes its emulator a few times per timer interrupt, not hundreds", async () => {
  const { state } = await decodeSnapshot(new Uint8Array(readFileSync(PREBOOTED)));
  let made: EmulatorBackend | undefined;
  const machine = await machineFromState(state, async (config, host) => (made = await createV86Backend(config, host)), owned);
  if (made === undefined) throw new Error("no emulator was made");
  expect((await machine.run("echo idle")).output).toBe("idle");

  const v86 = (made as unknown as Counted).emulator.v86;
  let wakeUps = 0;
  let timerInterrupts = 0;
  const tick = v86.do_tick.bind(v86);
  const raise = v86.cpu.device_raise_irq.bind(v86.cpu);
  let counted: () => void = () => undefined;
  const enough = new Promise<void>((resolve) => (counted = resolve));
  v86.do_tick = () => {
    wakeUps++;
    tick();
  };
  v86.cpu.device_raise_irq = (irq) => {
    if (irq === 0 && ++timerInterrupts === TIMER_INTERRUPTS) counted();
    raise(irq);
  };
  await enough;
  // Polling, each 4 ms tick's last millisecond was ~270 wake-ups (setImmediate in a loop); with
  // whole-ms sleeps it is one, and a few more when the guest wakes for other work.
  expect(wakeUps / timerInterrupts).toBeLessThan(3);
  expect(wakeUps).toBeGreaterThan(0);
}, 120_000);
