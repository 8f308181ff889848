import { describe, expect, it } from "vitest";
import { memoryStore } from "../storage/kv.ts";
import { WORKLOADS } from "./devices.ts";
import { LabHistory, parseReports } from "./history.ts";
import { check, comparison, formatReport, modelRun, reportsToCsv, workloadResult, type LabReport, type ModelRun } from "./results.ts";
import { parseDigest, parsePing, storageWrite, consoleWrite } from "./scripts.ts";

const workload = (id: string) => WORKLOADS.find((w) => w.id === id) ?? WORKLOADS[0]!;

function run(side: "emulated" | "paravirtual", values: number[], ok = true): ModelRun {
  return modelRun({
    side,
    label: side === "emulated" ? "IDE disk (ext2)" : "virtio-9p share",
    profile: {},
    warmup: [{ value: 1, seconds: 1, amount: 1 }],
    samples: values.map((value) => ({ value, seconds: 1, amount: value })),
    integrity: [check("bytes", 10, ok ? 10 : 9)],
  });
}

function report(results: LabReport["results"], finishedAt = "2025-01-01T00:00:00.000Z"): LabReport {
  return { format: "virtlab-lab-report", version: 1, id: `lab-${finishedAt}`, startedAt: finishedAt, finishedAt, host: "test", v86: "0.5.462", preset: "quick", repetitions: 3, warmups: 1, results };
}

describe("result shaping", () => {
  it("summarizes samples and takes the ratio of medians, paravirtual over emulated", () => {
    const result = workloadResult(workload("storage-read"), 1 << 20, run("emulated", [10, 12, 11]), run("paravirtual", [30, 20, 25]));
    expect(result.emulated.summary).toMatchObject({ median: 11, min: 10, max: 12, runs: 3 });
    expect(result.paravirtual.summary.spread).toBeCloseTo(10 / 25);
    expect(result.ratio).toBeCloseTo(25 / 11);
    expect(result.kvmRatio).toBeCloseTo(85 / 40);
    expect(result.emulated.ok).toBe(true);
    expect(run("emulated", [1], false).ok).toBe(false);
  });

  it("says when virtlab's ratio is inverted, close to KVM's or far from it", () => {
    const inverted = workloadResult(workload("storage-read"), 1, run("emulated", [20]), run("paravirtual", [10]));
    expect(comparison(inverted)).toMatch(/^Inverted: measured paravirtual\/emulated = 0\.50×, KVM virtio-blk\/IDE emulation = 2\.13×/);
    const close = workloadResult(workload("net-echo"), 1, run("emulated", [10]), run("paravirtual", [13]));
    expect(comparison(close)).toMatch(/close to KVM/);
    const cpu = workloadResult(workload("cpu-hash"), 1, run("emulated", [50]), run("paravirtual", [500]));
    expect(comparison(cpu)).toMatch(/JIT\/interpreter = 10\.00×.*far larger/);
  });

  it("prints a table and CSV with one row per model", () => {
    const r = report([workloadResult(workload("storage-write"), 1 << 20, run("emulated", [10, 12, 11]), run("paravirtual", [30, 20, 25]))]);
    const table = formatReport(r);
    expect(table).toContain("storage-write 1 MiB");
    expect(table).toContain("2.27×");
    const csv = reportsToCsv([r]).trim().split("\n");
    expect(csv).toHaveLength(3);
    expect(csv[0]).toMatch(/^report,date,host,preset,workload/);
    expect(csv[2]).toContain(",paravirtual,virtio-9p share,,MB/s,1048576,3,25,20,30,");
    expect(csv[2]).toMatch(/,true,30 20 25,{10}$/);
  });
});

describe("history", () => {
  it("keeps reports in a key-value store, newest first, and round-trips exports", async () => {
    const history = new LabHistory(memoryStore());
    const older = report([], "2025-01-01T00:00:00.000Z");
    const newer = report([], "2025-02-01T00:00:00.000Z");
    await history.add(older);
    await history.add(newer);
    expect((await history.list()).map((r) => r.id)).toEqual([newer.id, older.id]);
    expect(parseReports(JSON.stringify([newer, older])).map((r) => r.id)).toEqual([newer.id, older.id]);
    expect(() => parseReports("{\"not\":1}")).toThrow(/other than virtlab lab reports/);
    await history.remove(newer.id);
    expect(await history.list()).toHaveLength(1);
    await history.clear();
    expect(await history.list()).toEqual([]);
  });
});

describe("guest scripts", () => {
  it("time only the transfer, in raw mode for the console", () => {
    expect(consoleWrite(5)).toBe(`s=$(stty -g); stty raw -echo; printf '\\036LB5\\037'; cat /tmp/lab-con; printf '\\036LE5\\037'; stty "$s"`);
    expect(storageWrite(2, "/mnt/ide", "/tmp/lab-src-4096")).toMatch(/drop_caches; printf '\\036LB2\\037'; dd if=\/tmp\/lab-src-4096 of=\/mnt\/ide\/lab-f bs=1M conv=fsync/);
  });

  it("parse busybox output", () => {
    expect(parsePing("--- 10.86.0.1 ping statistics ---\n20 packets transmitted, 19 packets received, 5% packet loss")).toEqual({ transmitted: 20, received: 19 });
    expect(parseDigest(`${"ab".repeat(32)}  /tmp/lab-src`)).toBe("ab".repeat(32));
    expect(parseDigest("no digest")).toBeUndefined();
  });
});
