/**
 * A machine started on the module a warm-up compiled (v86.ts warmUpEmulator, as a machine Worker
 * made ahead does it): the real v86.wasm and BIOSes, then a start from the pre-booted state.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, it, vi } from "vitest";
import { decodeSnapshot, systemClock, type CompiledEmulator } from "../../src/core/index.ts";
import { createV86Backend, warmUpEmulator } from "../../src/core/v86.ts";
import { GUEST_DIR, WASM_PATH, guestIsBuilt } from "../../src/node/guest.ts";
import { machineFromState } from "./sessions.ts";

const PREBOOTED = join(GUEST_DIR, "prebooted.vlsnap");
const owned: { dispose(): void }[] = [];
afterEach(() => {
  vi.restoreAllMocks();
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

it.skipIf(!guestIsBuilt())("a warm-up ended while its emulator is still loading never runs that emulator", async () => {
  // The start comes while v86 is given its module (before its init): the warm-up's emulator is
  // destroyed then, and v86's starter still goes on to its init and autostart.
  const calls: string[] = [];
  type Exports = Record<string, unknown>;
  type Instantiate = (module: object, imports: object) => Promise<{ exports: Exports }>;
  const wasmApi = (globalThis as unknown as { WebAssembly: { instantiate: Instantiate } }).WebAssembly;
  const instantiate = wasmApi.instantiate.bind(wasmApi);
  vi.spyOn(wasmApi, "instantiate").mockImplementation(async (module, imports) => {
    // Asked for only after the warm-up compiled v86.wasm (awaited): `warm` is set by then.
    warm.end();
    const { exports } = await instantiate(module, imports);
    // The same exports, each call of the two watched here recorded.
    const watched: Exports = { ...exports };
    for (const name of ["reset_cpu", "main_loop"]) {
      const f = exports[name] as (...args: unknown[]) => unknown;
      watched[name] = (...args: unknown[]) => (calls.push(name), f(...args));
    }
    return { exports: watched };
  });
  const warm = warmUpEmulator({ wasm: bytes(WASM_PATH), bios: bytes(join(GUEST_DIR, "bios.bin")), vgaBios: bytes(join(GUEST_DIR, "vgabios.bin")) }, systemClock);
  expect((await warm.compiled)?.warmedInstructions).toBe(0);
  // v86's init ran (it resets the CPU)...
  await vi.waitFor(() => expect(calls).toContain("reset_cpu"), { timeout: 10_000 });
  // ...and no time slice follows: a running v86 in Node takes its next slice on the next turn of
  // the event loop (setImmediate), so a hundred turns are many chances for one.
  for (let turn = 0; turn < 100; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
  expect(calls.filter((name) => name === "main_loop")).toEqual([]);
});
