/** For unit tests: a Machine whose emulator is only a NIC: `transmit` plays the guest sending, `received` is what it was given. */
import type { BackendFactory, EmulatorBackend } from "../backend.ts";
import type { Clock } from "../clock.ts";
import { Emitter } from "../events.ts";
import { Machine } from "../machine.ts";
import { DEFAULT_PROFILE, type LinuxGuest } from "../profile.ts";

export interface NicMachine {
  readonly machine: Machine;
  transmit(frame: Uint8Array): void;
  readonly received: Uint8Array[];
}

/** Started (a virtio NIC); `network` as Machine's option. */
export async function nicMachine(clock: Clock, network?: "on" | "off"): Promise<NicMachine> {
  const frames = new Emitter<Uint8Array>();
  const received: Uint8Array[] = [];
  const backend: EmulatorBackend = {
    onOutput: new Emitter<never>().event,
    onCrash: new Emitter<unknown>().event,
    onRebootRequest: new Emitter<void>().event,
    onNetworkFrame: frames.event,
    sendNetworkFrame: (frame) => received.push(frame),
    write: () => undefined,
    run: async () => undefined,
    stop: async () => undefined,
    isRunning: () => true,
    instructionCounter: () => 0,
    saveState: async () => new Uint8Array(0),
    restoreState: async () => undefined,
    sendCtrlAltDel: () => undefined,
    textScreen: () => [],
    dispose: () => undefined,
  };
  const factory: BackendFactory = async () => backend;
  const file = { name: "x", url: "" };
  const guest: LinuxGuest = { kind: "linux", bios: file, vgaBios: file, kernel: file, initrd: file, cmdline: "", prompt: "# $" };
  const machine = new Machine({ profile: { ...DEFAULT_PROFILE, nic: "virtio" }, guest, wasm: file, loader: { load: async () => new ArrayBuffer(4) }, backend: factory, clock, ...(network === undefined ? {} : { network }) });
  await machine.start();
  return { machine, transmit: (frame) => frames.fire(frame), received };
}
