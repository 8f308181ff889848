import { describe, expect, it } from "vitest";
import type { AssetLoader } from "./assets.ts";
import { ManualClock } from "./clock.ts";
import { AppError } from "./errors.ts";
import { encodeText } from "./host.ts";
import { Machine } from "./machine.ts";
import { DEFAULT_PROFILE } from "./profile.ts";
import { fakeBackend, files, guest } from "./testing/fakeShell.ts";

function setup(initialState?: { state: Uint8Array; shellReady: boolean }) {
  const requested: string[] = [];
  /** Files the server does not answer for (the network gone). */
  const unreachable = new Set<string>();
  /** Counts what is asked of it, as the page's fetch would see it. */
  const loader: AssetLoader = {
    async load(ref, onProgress) {
      requested.push(ref.name);
      if (unreachable.has(ref.name)) throw new AppError("asset-load-failed", `Could not download ${ref.name}: the network is unreachable.`, { details: { subject: ref.name } });
      const data = files[ref.name] ?? new Uint8Array(0);
      onProgress(data.length, data.length);
      return data.slice().buffer;
    },
  };
  const { backend, shells: backends } = fakeBackend();
  const machine = new Machine({
    profile: DEFAULT_PROFILE,
    guest,
    wasm: { name: "v86.wasm", url: "v86.wasm", size: 4 },
    loader,
    backend,
    clock: new ManualClock(),
    ...(initialState === undefined ? {} : { initialState }),
  });
  return { machine, requested, backends, unreachable };
}

describe("Machine started from a saved state", () => {
  it("fetches neither BIOS nor kernel nor initrd, and loads them once when a reset boots again", async () => {
    const { machine, requested, backends } = setup({ state: encodeText("state"), shellReady: true });
    await machine.start();
    expect(requested).toEqual(["v86.wasm"]);
    expect(backends[0]?.config.bios).toBeUndefined();
    expect(backends[0]?.config.vga_bios).toBeUndefined();
    expect(backends[0]?.config.bzimage).toBeUndefined();
    expect(backends[0]?.config.initrd).toBeUndefined();
    expect(backends[0]?.config.initial_state).toBeDefined();
    expect(machine.shellReady).toBe(true);

    await machine.reset();
    expect(requested.slice(1).sort()).toEqual(["bios.bin", "bzImage", "initramfs.cpio", "vgabios.bin"]);
    expect(backends[1]?.config.bios).toBeDefined();
    expect(backends[1]?.config.vga_bios).toBeDefined();
    expect(backends[1]?.config.bzimage).toBeDefined();
    expect(backends[1]?.config.initial_state).toBeUndefined();
    expect(backends[1]?.config.cmdline).toBe("console=ttyS0");

    // Loaded once: a second reset reuses them.
    await machine.reset();
    expect(requested).toHaveLength(5);
    expect(backends[2]?.config.bzimage).toBeDefined();
    expect(backends[2]?.config.bios).toBeDefined();
    machine.dispose();
  });

  it("a reset whose BIOS cannot be downloaded says which file, and a later reset boots once it can", async () => {
    const { machine, requested, backends, unreachable } = setup({ state: encodeText("state"), shellReady: true });
    await machine.start();
    unreachable.add("bios.bin");
    await expect(machine.reset()).rejects.toMatchObject({ code: "asset-load-failed", message: "Could not download bios.bin: the network is unreachable.", details: { subject: "bios.bin" } });
    expect(backends).toHaveLength(1);
    unreachable.clear();
    await machine.reset();
    expect(backends).toHaveLength(2);
    expect(backends[1]?.config.bios).toBeDefined();
    expect(requested.filter((name) => name === "bios.bin")).toHaveLength(2);
    machine.dispose();
  });

  it("a cold boot still loads everything before it starts", async () => {
    const { machine, requested, backends } = setup();
    await machine.start();
    expect(requested.sort()).toEqual(["bios.bin", "bzImage", "initramfs.cpio", "v86.wasm", "vgabios.bin"]);
    expect(backends[0]?.config.bzimage).toBeDefined();
    machine.dispose();
  });
});
