/**
 * Real Machine objects (the core class, with a stand-in emulator whose NIC is two events) on
 * the switch: a frame one guest's NIC sends reaches the other's, and a machine whose network
 * is off refuses frames, which the switch counts as drops instead of failing.
 */
import { describe, expect, it } from "vitest";
import type { BackendFactory, EmulatorBackend } from "../backend.ts";
import { ManualClock } from "../clock.ts";
import { Emitter } from "../events.ts";
import { Machine } from "../machine.ts";
import { DEFAULT_PROFILE, type LinuxGuest } from "../profile.ts";
import { ethFrame } from "../testing/fakeBus.ts";
import { BROADCAST_MAC, type Mac } from "./frames.ts";
import { VirtualSwitch } from "./switch.ts";

/** A machine whose emulator's NIC is `transmit` (frames the guest sends) and `received` (frames given to it). */
async function machineWithNic(clock: ManualClock): Promise<{ machine: Machine; transmit: (frame: Uint8Array) => void; received: Uint8Array[] }> {
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
  const machine = new Machine({ profile: { ...DEFAULT_PROFILE, nic: "virtio" }, guest, wasm: file, loader: { load: async () => new ArrayBuffer(4) }, backend: factory, clock });
  await machine.start();
  return { machine, transmit: (frame) => frames.fire(frame), received };
}

const A: Mac = [0x52, 0x54, 0, 0, 0, 0x0a];
const B: Mac = [0x52, 0x54, 0, 0, 0, 0x0b];

describe("machines on the switch", () => {
  it("carry frames NIC to NIC, and a machine with its network off counts as a refusing port", async () => {
    const clock = new ManualClock();
    const sw = new VirtualSwitch({ clock, schedule: (fn) => fn() });
    const vm1 = await machineWithNic(clock);
    const vm2 = await machineWithNic(clock);
    sw.attach("vm1", vm1.machine);
    const p2 = sw.attach("vm2", vm2.machine);
    vm1.transmit(ethFrame(A, BROADCAST_MAC, 1));
    vm2.transmit(ethFrame(B, A, 2));
    expect(vm2.received.map((f) => f[14])).toEqual([1]);
    expect(vm1.received.map((f) => f[14])).toEqual([2]);

    vm2.machine.setNetwork("off");
    vm1.transmit(ethFrame(A, B, 3));
    vm2.transmit(ethFrame(B, A, 4)); // an unplugged NIC sends nothing either
    expect(vm2.received).toHaveLength(1);
    expect(vm1.received).toHaveLength(1);
    expect(p2.counters).toMatchObject({ framesIn: 1, framesOut: 1, drops: { refused: 1 } });

    // Shutting a machine down is the owner's cue to detach its port; the switch is then clean.
    p2.dispose();
    vm2.machine.dispose();
    expect(sw.summary().ports.map((p) => p.label)).toEqual(["vm1"]);
    expect(sw.macTable().map((e) => e.port)).toEqual(["vm1"]);
    vm1.machine.dispose();
  });
});
