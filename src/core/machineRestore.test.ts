import { describe, expect, it } from "vitest";
import type { AssetLoader } from "./assets.ts";
import type { BackendFactory, ConsoleChunk, EmulatorBackend } from "./backend.ts";
import { ManualClock } from "./clock.ts";
import { Emitter } from "./events.ts";
import { encodeText } from "./host.ts";
import { Machine } from "./machine.ts";
import { DEFAULT_PROFILE, type EmulatorConfig, type LinuxGuest } from "./profile.ts";

/** An emulator that does nothing but remember how it was configured. */
class QuietBackend implements EmulatorBackend {
  private readonly output = new Emitter<ConsoleChunk>();
  readonly onOutput = this.output.event;
  readonly onCrash = new Emitter<unknown>().event;
  readonly onRebootRequest = new Emitter<void>().event;
  constructor(readonly config: EmulatorConfig) {}
  write(): void {}
  async run(): Promise<void> {}
  async stop(): Promise<void> {}
  isRunning(): boolean {
    return true;
  }
  instructionCounter(): number {
    return 0;
  }
  async saveState(): Promise<Uint8Array> {
    return new Uint8Array(0);
  }
  async restoreState(): Promise<void> {}
  sendCtrlAltDel(): void {}
  textScreen(): string[] {
    return [];
  }
  dispose(): void {}
}

const files: Record<string, Uint8Array> = {
  "v86.wasm": encodeText("wasm"),
  "bios.bin": encodeText("bios"),
  "vgabios.bin": encodeText("vga"),
  bzImage: encodeText("kernel"),
  "initramfs.cpio": encodeText("initrd"),
};

const guest: LinuxGuest = {
  kind: "linux",
  bios: { name: "bios.bin", url: "bios.bin", size: 4 },
  vgaBios: { name: "vgabios.bin", url: "vgabios.bin", size: 3 },
  kernel: { name: "bzImage", url: "bzImage", size: 6 },
  initrd: { name: "initramfs.cpio", url: "initramfs.cpio", size: 6 },
  cmdline: "console=ttyS0",
  prompt: "root@virtlab:[^\\r\\n]*# $",
};

function setup(initialState?: { state: Uint8Array; shellReady: boolean }) {
  const requested: string[] = [];
  /** Counts what is asked of it, as the page's fetch would see it. */
  const loader: AssetLoader = {
    async load(ref, onProgress) {
      requested.push(ref.name);
      const data = files[ref.name] ?? new Uint8Array(0);
      onProgress(data.length, data.length);
      return data.slice().buffer;
    },
  };
  const backends: QuietBackend[] = [];
  const backend: BackendFactory = async (config) => {
    const b = new QuietBackend(config);
    backends.push(b);
    return b;
  };
  const machine = new Machine({
    profile: DEFAULT_PROFILE,
    guest,
    wasm: { name: "v86.wasm", url: "v86.wasm", size: 4 },
    loader,
    backend,
    clock: new ManualClock(),
    ...(initialState === undefined ? {} : { initialState }),
  });
  return { machine, requested, backends };
}

describe("Machine started from a saved state", () => {
  it("fetches neither kernel nor initrd, and loads them once when a reset boots again", async () => {
    const { machine, requested, backends } = setup({ state: encodeText("state"), shellReady: true });
    await machine.start();
    expect(requested.sort()).toEqual(["bios.bin", "v86.wasm", "vgabios.bin"]);
    expect(backends[0]?.config.bzimage).toBeUndefined();
    expect(backends[0]?.config.initrd).toBeUndefined();
    expect(backends[0]?.config.initial_state).toBeDefined();
    expect(machine.shellReady).toBe(true);

    await machine.reset();
    expect(requested.filter((name) => name === "bzImage" || name === "initramfs.cpio").sort()).toEqual(["bzImage", "initramfs.cpio"]);
    expect(backends[1]?.config.bzimage).toBeDefined();
    expect(backends[1]?.config.initial_state).toBeUndefined();
    expect(backends[1]?.config.cmdline).toBe("console=ttyS0");

    // Loaded once: a second reset reuses them.
    await machine.reset();
    expect(requested.filter((name) => name === "bzImage")).toHaveLength(1);
    expect(backends[2]?.config.bzimage).toBeDefined();
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
