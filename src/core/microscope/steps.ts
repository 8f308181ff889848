/**
 * The memory microscope's lesson steps, on a running machine: a live address walk checked
 * against what the guest itself reports, and the shadow-paging simulation over a command.
 * Shaped as StepOutcome lines here, so the panel only renders them and boot tests check them.
 */
import type { Clock } from "../clock.ts";
import { AppError } from "../errors.ts";
import type { GuestMemory } from "../backend.ts";
import type { Machine } from "../machine.ts";
import type { StepOutcome } from "../lessons/outcome.ts";
import { describeWalk, hex, nestedWalkReferences, type WalkResult } from "./pagewalk.ts";
import { PageTableObserver, describeShadow, walkLive, type LiveWalk, type ShadowReport } from "./live.ts";

/** Where the 686 kernel's direct map starts (CONFIG_PAGE_OFFSET): physical = virtual − this. */
export const PAGE_OFFSET = 0xc000_0000;

export type WalkTarget = "kernel" | "process";

export interface AddressWalkResult {
  readonly outcome: StepOutcome;
  readonly walk: LiveWalk;
  /** What the guest says the physical address is. */
  readonly guestPhysical: number | undefined;
}

function memoryOf(machine: Machine): GuestMemory {
  const memory = machine.guestMemory();
  if (memory === undefined) throw new AppError("not-running", "This emulator does not show the guest's memory.");
  return memory;
}

async function output(machine: Machine, command: string, timeoutMs: number): Promise<string> {
  const result = await machine.run(command, { timeoutMs });
  if (result.exitCode !== 0) throw new AppError("lesson-failed", `The guest could not run ${command} (exit code ${result.exitCode}).`, { details: { subject: command } });
  return result.output.trim();
}

function wait(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.after(ms, resolve));
}

function locationLines(w: LiveWalk, guestPhysical: number | undefined, how: string): { ok: boolean; lines: string[] } {
  const r: WalkResult = w.result;
  const lines = describeWalk(r, w.regs);
  if (w.wasmOffset !== undefined) lines.push(`guest physical ${hex(r.ok ? r.physical : 0)} → byte ${hex(w.wasmOffset)} of the emulator's WebAssembly memory (the guest's "RAM" is an array in the browser tab).`);
  const agrees = r.ok && guestPhysical !== undefined && r.physical === guestPhysical;
  lines.push(guestPhysical === undefined ? `The guest did not say where this address lives.` : `The guest says (${how}): ${hex(guestPhysical)}: ${agrees ? "the walk agrees." : "the walk does NOT agree."}`);
  lines.push(`A TLB miss here cost ${r.ok ? `${r.references} memory ${r.references === 1 ? "reference" : "references"}` : "– memory references"}; under nested paging (EPT/NPT, 4 levels) it would cost up to ${nestedWalkReferences(r.mode === "3-level PAE" ? 3 : 2, 4)}.`);
  return { ok: agrees, lines };
}

/** Walk the first kernel symbol's address; the guest's own rule says physical = virtual − PAGE_OFFSET. */
async function walkKernel(machine: Machine, timeoutMs: number): Promise<AddressWalkResult> {
  const first = (await output(machine, "head -1 /proc/kallsyms", timeoutMs)).split(/\s+/);
  const va = parseInt(first[0] ?? "", 16);
  if (!Number.isFinite(va) || va < PAGE_OFFSET) throw new AppError("lesson-failed", "The guest's /proc/kallsyms shows no kernel address.");
  const walk = await walkLive(memoryOf(machine), va);
  const guestPhysical = va - PAGE_OFFSET;
  const { ok, lines } = locationLines(walk, guestPhysical, `${first[2] ?? "the symbol"} at ${hex(va)} in /proc/kallsyms, minus PAGE_OFFSET ${hex(PAGE_OFFSET)}`);
  return { outcome: { ok, lines }, walk, guestPhysical };
}

/**
 * Walk the top stack page of a busy process. Which page directory is its? While the shell waits
 * for input the busy loop is the only runnable process, so the CR3 seen in most samples is its
 * own; the guest's /proc/PID/pagemap then says which page frame backs the address.
 */
async function walkProcess(machine: Machine, clock: Clock, timeoutMs: number): Promise<AddressWalkResult> {
  const pid = Number(await output(machine, "sh -c 'while :; do :; done' >/dev/null 2>&1 & echo $!", timeoutMs));
  try {
    const stack = await output(machine, `grep '\\[stack\\]' /proc/${pid}/maps`, timeoutMs);
    const va = parseInt(stack.split(/[- ]/)[1] ?? "", 16) - 4096;
    const entry = await output(machine, `dd if=/proc/${pid}/pagemap bs=8 skip=${Math.floor(va / 4096)} count=1 2>/dev/null | od -An -tx8`, timeoutMs);
    const bits = BigInt(`0x${entry.replace(/\s/g, "") || "0"}`);
    const guestPhysical = bits >> 63n === 1n ? Number(bits & ((1n << 55n) - 1n)) * 4096 + (va % 4096) : undefined;
    const memory = memoryOf(machine);
    const counts = new Map<number, number>();
    for (let i = 0; i < 20; i++) {
      await wait(clock, 10);
      const cr3 = (await memory.controlRegisters()).cr3;
      counts.set(cr3, (counts.get(cr3) ?? 0) + 1);
    }
    const [cr3, seen] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]!;
    const walk = await walkLive(memory, va, cr3);
    const { ok, lines } = locationLines(walk, guestPhysical, `/proc/${pid}/pagemap, page frame × 4096 + offset`);
    lines.unshift(`The stack of PID ${pid} (a busy loop) at ${hex(va)}; its CR3 ${hex(cr3)} was seen in ${seen} of 20 samples while it ran.`);
    return { outcome: { ok, lines }, walk, guestPhysical };
  } finally {
    await machine.run(`kill ${pid}`, { timeoutMs });
  }
}

export function addressWalk(machine: Machine, target: WalkTarget, clock: Clock, timeoutMs = 60_000): Promise<AddressWalkResult> {
  return target === "kernel" ? walkKernel(machine, timeoutMs) : walkProcess(machine, clock, timeoutMs);
}

/** Run `command` in the guest while the observer watches its page tables and CR3. */
export async function pageTableWorkload(machine: Machine, command: string, clock: Clock, timeoutMs: number): Promise<{ outcome: StepOutcome; report: ShadowReport }> {
  const counters = "grep -w pgfault /proc/vmstat; grep -w ctxt /proc/stat";
  const before = (await output(machine, counters, timeoutMs)).split(/\s+/);
  const observer = new PageTableObserver(memoryOf(machine), clock, 1);
  let result;
  try {
    result = await machine.run(command, { timeoutMs });
  } finally {
    observer.dispose();
  }
  const report = await observer.stop();
  const after = (await output(machine, counters, timeoutMs)).split(/\s+/);
  const pageFaults = Number(after[1]) - Number(before[1]);
  const contextSwitches = Number(after[3]) - Number(before[3]);
  const lines = describeShadow(report, { pageFaults, contextSwitches });
  if (result.exitCode !== 0) lines.unshift(`The command ended with exit code ${result.exitCode}.`);
  lines.push("The course's KVM figures: CPU/MMU-bound work runs at 85 % of native with shadow page tables, 97 % with EPT/NPT, 7 % fully emulated.");
  return { outcome: { ok: result.exitCode === 0, lines, output: result.output }, report };
}
