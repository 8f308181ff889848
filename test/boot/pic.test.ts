/**
 * v86's master PIC can be left with IRQ 2 (the cascade) in service for good, when the slave's
 * request was withdrawn before the CPU acknowledged it (src/core/picCascade.ts tells the story).
 * Every interrupt of IRQ 3-15 is then held back: on a network machine the NIC goes deaf, and the
 * serial console stops answering. Here the real guest is put in exactly that state, reached into
 * v86's PIC record the way its own save_state reads it, and must go on answering on its console.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Machine, MachineSession } from "../../src/core/index.ts";
import { GUEST_DIR, guestIsBuilt } from "../../src/node/guest.ts";
import { nodeSession, startSession } from "../../src/node/session.ts";

const PREBOOTED = resolve(GUEST_DIR, "prebooted.vlsnap");
let session: MachineSession | undefined;
afterEach(() => {
  session?.dispose();
  session = undefined;
});

/** v86's CPU behind a Machine (private fields, reached only by this test to set up the fault). */
interface V86Cpu {
  wasm_memory: { buffer: ArrayBuffer };
  get_pic_addr_master(): number;
  get_pic_addr_slave(): number;
}
function cpuOf(machine: Machine): V86Cpu {
  const cpu = (machine as unknown as { backend?: { emulator?: { v86?: { cpu?: V86Cpu } } } }).backend?.emulator?.v86?.cpu;
  if (cpu === undefined) throw new Error("the machine shows no v86 CPU");
  return cpu;
}

describe.skipIf(!guestIsBuilt() || !existsSync(PREBOOTED))("a cascade interrupt the master PIC never ends", () => {
  it("is ended, and the serial console (IRQ 4) answers again", async () => {
    session = nodeSession();
    await startSession(session, { kind: "auto" });
    const m = session.machine;
    if (m === undefined) return expect.fail("no machine");
    await m.waitForShell({ timeoutMs: 60_000 });
    const before = await m.run("grep ttyS0 /proc/interrupts");
    expect(before.exitCode).toBe(0);
    const cpu = cpuOf(m);
    const master = (): Uint8Array => new Uint8Array(cpu.wasm_memory.buffer, cpu.get_pic_addr_master(), 13);
    const slave = (): Uint8Array => new Uint8Array(cpu.wasm_memory.buffer, cpu.get_pic_addr_slave(), 13);
    // What v86 leaves after acknowledging IRQ 2 with no slave request: IRQ 2 in service at the
    // master (ISR, byte 2), nothing in service at the slave.
    await m.pause();
    expect(slave()[2]).toBe(0);
    master()[2] = (master()[2] ?? 0) | 0b100;
    await m.resume();
    // Typed on the serial console: its bytes and its echo each need IRQ 4.
    const after = await m.run("grep ttyS0 /proc/interrupts; echo console-answers", { timeoutMs: 30_000 });
    expect(after).toMatchObject({ exitCode: 0 });
    expect(after.output).toContain("console-answers");
    expect((master()[2] ?? 0) & 0b100).toBe(0);
  });
});
