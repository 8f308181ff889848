/**
 * The device lab on the real guest: every workload once, at its quick size, on both models.
 * Asserts byte counts and checksums, never speeds. Its CPU pair boots a machine from scratch with
 * the JIT off: that is also the test that the interpreter reaches a shell and runs the guest.
 */
import { describe, expect, it } from "vitest";
import { V86_PACKAGE_VERSION, systemClock, type DeviceProfile } from "../../src/core/index.ts";
import { LabRunner, PAIRS, WORKLOADS } from "../../src/core/lab/index.ts";
import { guestIsBuilt } from "../../src/node/guest.ts";
import { startNodeScratch } from "../../src/node/session.ts";

const built = guestIsBuilt();

describe.skipIf(!built)("device lab", () => {
  it("runs every workload on the emulated and the paravirtual model with intact data", { timeout: 600_000 }, async () => {
    const machines: DeviceProfile[] = [];
    let live = 0;
    let mostAtOnce = 0;
    const runner = new LabRunner({
      // Each machine through a session of its own, as the page's lab panel starts them.
      startMachine: async (profile) => {
        const started = await startNodeScratch(profile);
        machines.push(profile);
        mostAtOnce = Math.max(mostAtOnce, ++live);
        return {
          machine: started.machine,
          dispose: () => {
            live--;
            started.dispose();
          },
        };
      },
      clock: systemClock,
      host: `Node ${process.versions.node}`,
      v86: V86_PACKAGE_VERSION,
      // As in a page with four cores (labMachinesAtOnce): every side with a device on a machine of its own, two at once.
      // (Node runs both on one thread: slower, and nothing here is timed.)
      machinesAtOnce: 2,
    });
    const report = await runner.run({ pairs: PAIRS.map((p) => p.id), preset: "quick", repetitions: 1, warmups: 0, variants: false });

    // Spread: the seven sides that need a device each on a machine, the JIT side with the UART's.
    expect(machines).toHaveLength(7);
    expect(report.machinesAtOnce).toBe(2);
    expect(mostAtOnce).toBe(2);
    expect(live).toBe(0);
    expect(report.results.map((r) => r.workload)).toEqual(WORKLOADS.map((w) => w.id));
    for (const result of report.results) {
      for (const run of [result.emulated, result.paravirtual]) {
        const failed = run.integrity.filter((c) => !c.ok);
        expect(failed, `${result.workload} on ${run.label}`).toEqual([]);
        expect(run.integrity.length).toBeGreaterThan(0);
        expect(run.samples).toHaveLength(1);
        expect(run.samples[0]?.value).toBeGreaterThan(0);
      }
    }
    const byId = new Map(report.results.map((r) => [r.workload, r]));
    // The console's bytes arrived exactly: count and host-side sha256 equal the guest's.
    const consoleRun = byId.get("console-write");
    for (const run of [consoleRun?.emulated, consoleRun?.paravirtual]) {
      expect(run?.samples[0]?.amount).toBe(consoleRun?.size);
      expect(run?.integrity.map((c) => c.what)).toEqual(["run 1: bytes received", "run 1: sha256 host = guest"]);
    }
    // The 9p file the guest wrote is byte for byte the source, read on the host side too.
    expect(byId.get("storage-write")?.paravirtual.integrity.map((c) => c.what)).toContain("sha256 of the share's file on the host");
    // Every echo request was seen by the in-page peer with good checksums and answered.
    const net = byId.get("net-echo");
    expect(net?.emulated.integrity.find((c) => c.what.endsWith("echo requests seen by the peer"))?.actual).toBe(String(net?.size));
    expect(net?.paravirtual.integrity.find((c) => c.what.endsWith("replies received by the guest"))?.actual).toBe(String(net?.size));
    // Bulk TCP both ways through the page's TCP endpoint: every byte, in order, closed cleanly.
    for (const id of ["net-tcp-up", "net-tcp-down"]) {
      const tcp = byId.get(id);
      for (const run of [tcp?.emulated, tcp?.paravirtual]) {
        expect(run?.integrity.map((c) => c.what.replace(/^run 1: /, ""))).toEqual(
          id === "net-tcp-up"
            ? ["connection closed cleanly (FIN both ways)", "TCP checksums bad", "bytes received by the peer", "sha256 peer = guest's file"]
            : ["connection closed cleanly (FIN both ways)", "TCP checksums bad", "bytes received by the guest", "sha256 guest = peer's bytes"],
        );
      }
    }
  });
});
