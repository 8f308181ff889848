/**
 * v86's JIT puts at most JIT_MODULE_LIMITS of guest code in one WebAssembly module (v86.ts,
 * smallerJitModules): read back from the pinned v86's own settings on a real start from the
 * pre-booted state, in the emulator that runs the guest.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { decodeSnapshot, type EmulatorBackend } from "../../src/core/index.ts";
import { JIT_MODULE_LIMITS, createV86Backend } from "../../src/core/v86.ts";
import { GUEST_DIR, guestIsBuilt } from "../../src/node/guest.ts";
import { machineFromState } from "./sessions.ts";

const PREBOOTED = join(GUEST_DIR, "prebooted.vlsnap");
const owned: { dispose(): void }[] = [];
afterEach(() => {
  for (const m of owned.splice(0)) m.dispose();
});

/** v86's JIT settings as its Wasm module holds them (src/rust/jit.rs: index 1 is pages per module, 3 extra blocks). */
function jitConfig(backend: EmulatorBackend): { pages: number; extraBlocks: number } {
  const exports = (backend as unknown as { emulator: { v86: { cpu: { wm: { exports: { get_jit_config(index: number): number } } } } } }).emulator.v86.cpu.wm.exports;
  return { pages: exports.get_jit_config(1), extraBlocks: exports.get_jit_config(3) };
}

it.skipIf(!guestIsBuilt() || !existsSync(PREBOOTED))("the emulator compiles guest code in modules of at most JIT_MODULE_LIMITS, not v86's 3 pages and 250 blocks", async () => {
  const { state } = await decodeSnapshot(new Uint8Array(readFileSync(PREBOOTED)));
  let made: EmulatorBackend | undefined;
  const machine = await machineFromState(state, async (config, host) => (made = await createV86Backend(config, host)), owned);
  if (made === undefined) throw new Error("no emulator was made");
  expect(JIT_MODULE_LIMITS).toEqual({ pages: 1, extraBlocks: 10 });
  expect(jitConfig(made)).toEqual(JIT_MODULE_LIMITS);
  // The guest runs with them: it answers, and the JIT compiled its code.
  const jit = made.microscope?.watchJit();
  expect((await machine.run("i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done; echo $i", { timeoutMs: 60_000 })).output).toBe("3000");
  expect(jit?.read().blocks).toBeGreaterThan(0);
  jit?.dispose();
}, 120_000);
