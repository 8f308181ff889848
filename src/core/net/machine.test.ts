/**
 * Real Machine objects (the core class, with a stand-in emulator whose NIC is two events) on
 * the switch: a frame one guest's NIC sends reaches the other's, and a machine whose network
 * is off refuses frames, which the switch counts as drops instead of failing.
 */
import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.ts";
import { ethFrame } from "../testing/fakeBus.ts";
import { nicMachine } from "../testing/nicMachine.ts";
import { BROADCAST_MAC, type Mac } from "./frames.ts";
import { VirtualSwitch } from "./switch.ts";

const A: Mac = [0x52, 0x54, 0, 0, 0, 0x0a];
const B: Mac = [0x52, 0x54, 0, 0, 0, 0x0b];

describe("machines on the switch", () => {
  it("carry frames NIC to NIC, and a machine with its network off counts as a refusing port", async () => {
    const clock = new ManualClock();
    const sw = new VirtualSwitch({ clock, schedule: (fn) => fn() });
    const vm1 = await nicMachine(clock);
    const vm2 = await nicMachine(clock);
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
