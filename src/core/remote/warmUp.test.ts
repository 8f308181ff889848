import { describe, expect, it } from "vitest";
import type { AssetLoader } from "../assets.ts";
import type { CompiledEmulator } from "../backend.ts";
import type { AssetRef } from "../profile.ts";
import type { WarmUp, WarmUpFiles } from "../v86.ts";
import { defaultWarmUpRefs, warmUpFrom, type WarmUpRefs } from "./warmUp.ts";

const refs: WarmUpRefs = defaultWarmUpRefs({ name: "v86.wasm", url: "https://lab.test/v86/v86.wasm" }, "https://lab.test/guest/");

/** A loader whose downloads end when the test says; each file's bytes are its name's length. */
function heldLoader(): { loader: AssetLoader; asked: string[]; release(): void; fail(): void } {
  const asked: string[] = [];
  const waiting: { ref: AssetRef; resolve: (b: ArrayBuffer) => void; reject: (e: unknown) => void }[] = [];
  return {
    asked,
    loader: { load: (ref) => new Promise((resolve, reject) => (asked.push(ref.url), waiting.push({ ref, resolve, reject }))) },
    release: () => waiting.splice(0).forEach((w) => w.resolve(new ArrayBuffer(w.ref.name.length))),
    fail: () => waiting.splice(0).forEach((w) => w.reject(new Error("offline"))),
  };
}

/** What warmUpFrom hands its files to: records them, ends when told. */
function recordingWarmUp(): { run: (files: WarmUpFiles) => WarmUp; given: number[][]; ended: number } {
  const state = { given: [] as number[][], ended: 0 };
  return {
    get given() {
      return state.given;
    },
    get ended() {
      return state.ended;
    },
    run: (files) => {
      state.given.push([files.wasm.byteLength, files.bios.byteLength, files.vgaBios.byteLength]);
      const compiled: CompiledEmulator = { wasmBytes: files.wasm.byteLength, module: {}, warmedInstructions: 1000 };
      return { compiled: Promise.resolve(compiled), end: () => void state.ended++ };
    },
  };
}

describe("warming the emulator up in a Worker made ahead (warmUpFrom)", () => {
  it("names the emulator's wasm and the default guest's two BIOSes", () => {
    expect([refs.wasm.url, refs.bios.url, refs.vgaBios.url]).toEqual(["https://lab.test/v86/v86.wasm", "https://lab.test/guest/bios.bin", "https://lab.test/guest/vgabios.bin"]);
  });

  it("loads the three files and warms up with them; ending it then ends the run", async () => {
    const held = heldLoader();
    const warm = recordingWarmUp();
    const run = warmUpFrom(refs, held.loader, warm.run);
    expect(held.asked).toEqual([refs.wasm.url, refs.bios.url, refs.vgaBios.url]);
    held.release();
    expect(await run.compiled).toEqual({ wasmBytes: "v86.wasm".length, module: {}, warmedInstructions: 1000 });
    expect(warm.given).toEqual([["v86.wasm".length, "bios.bin".length, "vgabios.bin".length]]);
    run.end();
    expect(warm.ended).toBe(1);
  });

  it("gives nothing at once when a start ends it while the files still load, and never warms up", async () => {
    const held = heldLoader();
    const warm = recordingWarmUp();
    const run = warmUpFrom(refs, held.loader, warm.run);
    run.end();
    expect(await run.compiled).toBeUndefined();
    held.release();
    await Promise.resolve();
    expect(warm.given).toEqual([]);
  });

  it("gives nothing when a file does not load", async () => {
    const held = heldLoader();
    const warm = recordingWarmUp();
    const run = warmUpFrom(refs, held.loader, warm.run);
    held.fail();
    expect(await run.compiled).toBeUndefined();
    expect(warm.given).toEqual([]);
  });
});
