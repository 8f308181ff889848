/**
 * A machine started on the module a warm-up compiled (v86.ts warmUpEmulator, as a machine Worker
 * made ahead does it): the real v86.wasm and BIOSes, then a start from the pre-booted state.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { decodeSnapshot, systemClock, type CompiledEmulator } from "../../src/core/index.ts";
import { createV86Backend, warmUpEmulator } from "../../src/core/v86.ts";
import { GUEST_DIR, WASM_PATH, guestIsBuilt } from "../../src/node/guest.ts";
import { machineFromState } from "./sessions.ts";

const PREBOOTED = join(GUEST_DIR, "prebooted.vlsnap");
const owned: { dispose(): void }[] = [];
afterEach(() => {
  for (const m of owned.splice(0)) m.dispose();
});

const bytes = (path: string): ArrayBuffer => {
  const b = readFileSync(path);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
};

it.skipIf(!guestIsBuilt() || !existsSync(PREBOOTED))("a warm-up runs the BIOS on the compiled module, and a machine started on that module runs the guest", async () => {
  const wasm = bytes(WASM_PATH);
  const compiled = await warmUpEmulator({ wasm, bios: bytes(join(GUEST_DIR, "bios.bin")), vgaBios: bytes(join(GUEST_DIR, "vgabios.bin")) }, systemClock, 100).compiled;
  if (compiled === undefined) throw new Error("v86.wasm did not compile");
  expect(compiled.wasmBytes).toBe(wasm.byteLength);
  // The BIOS ran (SeaBIOS alone runs millions of instructions in its first 100 ms).
  expect(compiled.warmedInstructions).toBeGreaterThan(100_000);

  const { state } = await decodeSnapshot(new Uint8Array(readFileSync(PREBOOTED)));
  const used: (CompiledEmulator | undefined)[] = [];
  const machine = await machineFromState(state, (config, host) => (used.push(compiled), createV86Backend(config, { ...host, compiled })), owned);
  expect(used).toEqual([compiled]);
  expect(await machine.run("echo $((6*7))")).toEqual({ output: "42", exitCode: 0 });
});

it("a warm-up ended before it compiled runs nothing", async () => {
  const warm = warmUpEmulator({ wasm: bytes(WASM_PATH), bios: new ArrayBuffer(0), vgaBios: new ArrayBuffer(0) }, systemClock);
  warm.end();
  expect((await warm.compiled)?.warmedInstructions).toBe(0);
});

it("a wasm that does not compile gives nothing: the start then compiles its own bytes, as without a warm-up", async () => {
  const warm = warmUpEmulator({ wasm: new Uint8Array([0, 0x61, 0x73, 0x6d, 9, 9, 9, 9]).buffer, bios: new ArrayBuffer(0), vgaBios: new ArrayBuffer(0) }, systemClock);
  expect(await warm.compiled).toBeUndefined();
});
