import { describe, expect, it } from "vitest";
import { summarize } from "../bench/stats.ts";
import { workloadResult, type ModelRun } from "../lab/results.ts";
import { WORKLOADS } from "../lab/devices.ts";
import { balloonOutcome, benchmarkOutcome, commandOutcome } from "./outcome.ts";

describe("lesson step outcomes", () => {
  it("a balloon step says how much the guest handed over, of how much, and how fast", () => {
    expect(balloonOutcome({ actualMiB: 96, ms: 512.4 }, 256)).toEqual({
      ok: true,
      lines: ["The guest's driver handed 96 MiB of its 256 MiB to the host (512 ms); 160 MiB are left to the guest, so its MemTotal drops by 96 MiB."],
    });
    expect(balloonOutcome({ actualMiB: 0, ms: 40 }, 256).lines).toEqual(["The balloon is empty: the guest has all its 256 MiB back (40 ms)."]);
  });

  it("a command is as expected when it succeeds and its output matches", () => {
    expect(commandOutcome({ output: "eth0\nlo", exitCode: 0 }, "^eth0$")).toEqual({ ok: true, lines: ["The output shows what the lesson expects."], output: "eth0\nlo" });
    expect(commandOutcome({ output: "lo", exitCode: 0 }, "eth0")).toMatchObject({ ok: false, lines: ["The lesson expected output matching /eth0/; look at what came instead."] });
    expect(commandOutcome({ output: "sh: x: not found", exitCode: 127 })).toMatchObject({ ok: false, lines: ["The command ended with exit code 127."] });
    expect(commandOutcome({ output: "", exitCode: 0 })).toEqual({ ok: true, lines: [], output: "" });
  });

  it("a benchmark shows both models, the ratio and KVM's ratio", () => {
    const workload = WORKLOADS.find((w) => w.id === "console-write");
    if (workload === undefined) throw new Error("no console workload");
    const run = (side: "emulated" | "paravirtual", label: string, values: number[], ok = true): ModelRun => ({
      side,
      label,
      profile: {},
      warmup: [],
      samples: values.map((value) => ({ value, seconds: 1, amount: value * 1e6 })),
      summary: summarize(values),
      integrity: [],
      ok,
    });
    const result = workloadResult(workload, 65536, run("emulated", "8250 UART (ttyS0)", [1, 1.2, 1.1]), run("paravirtual", "virtio-console (hvc0)", [4, 4.4, 4.2]), []);
    const report = { format: "virtlab-lab-report", version: 1, id: "x", startedAt: "", finishedAt: "", host: "test", v86: "0", preset: "quick", repetitions: 3, warmups: 1, results: [result] } as const;
    const outcome = benchmarkOutcome(report);
    expect(outcome.ok).toBe(true);
    expect(outcome.lines[0]).toMatch(/^Console, guest writes to its console \(64 KiB\): 8250 UART \(ttyS0\) 1\.10 MB\/s, virtio-console \(hvc0\) 4\.20 MB\/s; .+ 3\.82×\./);
    const failed = benchmarkOutcome({ ...report, results: [{ ...result, paravirtual: { ...result.paravirtual, ok: false } }] });
    expect(failed.ok).toBe(false);
    expect(failed.lines.at(-1)).toMatch(/integrity checks failed/);
  });
});
