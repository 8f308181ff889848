/**
 * The microscope's memory and container parts on the real guest, from the pre-booted state: an
 * address walk on the guest's own page tables agrees with what the guest reports for the same
 * address, the shadow-paging simulation sees a fork/exec workload, and containers work
 * (PID 1 inside, same kernel, own hostname, a memory.max hog killed while the guest survives).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PageTableObserver, describeShadow, systemClock, walkLive, type GuestMemory, type Machine, type MachineSession } from "../../src/core/index.ts";
import { GUEST_DIR } from "../../src/node/guest.ts";
import { nodeSession, startSession } from "../../src/node/session.ts";

const prebooted = join(GUEST_DIR, "prebooted.vlsnap");
let session: MachineSession | undefined;
let machine: Machine | undefined;
let restoreMs = 0;

beforeAll(async () => {
  if (!existsSync(prebooted)) return;
  const started = performance.now();
  // The page's start: the pre-booted state through the session, settled (data disk, clock).
  session = nodeSession();
  await startSession(session, { kind: "auto" });
  machine = session.machine;
  if (session.startedFrom !== "pre-booted" || machine === undefined) throw new Error(`not started from the pre-booted state (${session.startedFrom})`);
  await run("true");
  restoreMs = performance.now() - started;
}, 180_000);

afterAll(() => session?.dispose());

async function run(command: string, timeoutMs = 120_000): Promise<string> {
  const result = await machine!.run(command, { timeoutMs });
  expect({ command, exitCode: result.exitCode, output: result.output }).toMatchObject({ command, exitCode: 0 });
  return result.output.trim();
}

function memory(): GuestMemory {
  const m = machine!.guestMemory();
  if (m === undefined) throw new Error("the v86 backend exposes no guest memory");
  return m;
}

/** Let the guest run for a while with nothing typed, sampling CR3. */
async function sampleCr3(count: number): Promise<number[]> {
  const seen: number[] = [];
  for (let i = 0; i < count; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    seen.push((await memory().controlRegisters()).cr3);
  }
  return seen;
}

describe.skipIf(!existsSync(prebooted))("the microscope on the real guest", () => {
  it("uses 2-level non-PAE paging with 4 MiB pages, and maps kernel text at PAGE_OFFSET", async () => {
    const regs = await memory().controlRegisters();
    expect(regs.cr0 >>> 31).toBe(1);
    expect(regs.cr4 & 0x20).toBe(0); // the 686 flavour is non-PAE
    const first = (await run("head -1 /proc/kallsyms")).split(/\s+/);
    const va = parseInt(first[0]!, 16);
    expect(va).toBeGreaterThanOrEqual(0xc000_0000);
    const w = await walkLive(memory(), va);
    // The kernel's own rule for its direct map: physical = virtual - PAGE_OFFSET (0xC0000000).
    expect(w.result).toMatchObject({ ok: true, mode: "2-level", physical: va - 0xc000_0000, pageSize: 4 << 20 });
    expect(w.wasmOffset).toBe((await memory().layout()).wasmOffset + va - 0xc000_0000);
  });

  it("walks a process's stack address to the page frame its /proc/PID/pagemap reports", async () => {
    const pid = Number(await run("sh -c 'while :; do :; done' >/dev/null 2>&1 & echo $!"));
    try {
      const stack = await run(`grep '\\[stack\\]' /proc/${pid}/maps`);
      const end = parseInt(stack.split(/[- ]/)[1]!, 16);
      const va = end - 4096;
      const entry = await run(`dd if=/proc/${pid}/pagemap bs=8 skip=${va / 4096} count=1 2>/dev/null | od -An -tx8`);
      const pagemap = BigInt(`0x${entry.trim()}`);
      expect(pagemap >> 63n).toBe(1n); // present
      const pfn = Number(pagemap & ((1n << 55n) - 1n));
      // Only the busy loop is runnable while the shell waits for input: its CR3 is the one seen most.
      const seen = await sampleCr3(30);
      const counts = new Map<number, number>();
      for (const c of seen) counts.set(c, (counts.get(c) ?? 0) + 1);
      const cr3 = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0];
      const w = await walkLive(memory(), va, cr3);
      expect(w.result).toMatchObject({ ok: true, pageSize: 4096 });
      expect(w.result.ok && Math.floor(w.result.physical / 4096)).toBe(pfn);
      console.log(`stack ${va.toString(16)} of PID ${pid}: walk → PFN ${pfn.toString(16)}, pagemap → ${pfn.toString(16)} (CR3 ${cr3.toString(16)}, ${counts.get(cr3)}/${seen.length} samples)`);
    } finally {
      await run(`kill ${pid}`);
    }
  });

  it("counts what a shadow-page-table VMM would trap over fork/exec", async () => {
    const before = (await run("grep -w pgfault /proc/vmstat; grep -w ctxt /proc/stat")).split(/\s+/);
    const observer = new PageTableObserver(memory(), systemClock, 1);
    await run("for i in $(seq 20); do /bin/true; done");
    const report = await observer.stop();
    const after = (await run("grep -w pgfault /proc/vmstat; grep -w ctxt /proc/stat")).split(/\s+/);
    const pageFaults = Number(after[1]) - Number(before[1]);
    const contextSwitches = Number(after[3]) - Number(before[3]);
    console.log(describeShadow(report, { pageFaults, contextSwitches }).join("\n"));
    expect(report.samples).toBeGreaterThan(2);
    expect(report.cr3Changes).toBeGreaterThan(0);
    expect(report.entriesChanged + report.entriesInNewTables).toBeGreaterThan(0);
    expect(pageFaults).toBeGreaterThan(20);
  });

  it("runs containers: PID 1, one kernel, own hostname and root", async () => {
    const host = await run("uname -r; hostname");
    const inside = await run("virtlab-container -n t1 -t -- sh -c 'echo $$; uname -r; hostname; ls /'");
    const lines = inside.split("\n").map((l) => l.trim());
    const started = lines.find((l) => l.startsWith("virtlab-container: t1 started in"));
    expect(started).toBeDefined();
    const rest = lines.filter((l) => l !== started);
    expect(rest[0]).toBe("1");
    expect(rest[1]).toBe(host.split("\n")[0]!.trim());
    expect(rest[2]).toBe("t1");
    expect(rest.slice(3).join(" ")).not.toContain("init");
    const again = await run("virtlab-container -n t1 -t -- true");
    console.log(`container start (first, with its root file system made): ${started}; again: ${again}; second machine from the pre-booted state: ${Math.round(restoreMs)} ms`);
  });

  it("kills a hog at memory.max and keeps the guest alive", async () => {
    const out = await run("virtlab-container -n hog -m 16M -- dd if=/dev/zero of=/dev/null bs=32M count=1; echo rc=$?; grep -w oom_kill /sys/fs/cgroup/virtlab-hog/memory.events");
    expect(out).toMatch(/rc=137/);
    expect(out).toMatch(/oom_kill [1-9]/);
    expect(await run("echo alive")).toBe("alive");
  });
});
