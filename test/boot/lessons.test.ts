/**
 * Every shipped lesson, walked in Node on the real guest: each command must succeed and show what
 * the lesson expects, on the hardware the lesson's earlier steps chose, snapshot steps save and
 * restore the machine, balloon steps end with the guest having handed over what was asked, address
 * walks agree with the guest's own report, page-table counts see the workload's CR3 writes, trap
 * steps count the traps the command caused and the JIT switch runs the command both ways.
 * Each lesson drives the page's own session (src/node/session.ts): it starts from the pre-booted
 * state, a hardware step restarts it as the page does (booting when the pre-booted state does not
 * fit the new devices), snapshot steps save and restore through it. (Benchmark steps are the
 * device lab's, tested in lab.test.ts.)
 */
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import {
  AppError,
  BootCache,
  DEFAULT_MACHINE,
  SnapshotStore,
  createNetworkLab,
  isNetworkAction,
  memoryStore,
  runNetworkStep,
  type NetworkLab,
  DEFAULT_PROFILE,
  addressWalk,
  commandOutcome,
  concatParts,
  jitSwitchStep,
  systemClock,
  trapsStep,
  pageTableWorkload,
  parseLesson,
  parseLessonIndex,
  type DeviceProfile,
  type Machine,
  type MachineSession,
  type StartRequest,
  type StepOutcome,
} from "../../src/core/index.ts";
import { guestIsBuilt } from "../../src/node/guest.ts";
import { fileLabPrebooted, nodeSession, nodeSessionOptions, startSession } from "../../src/node/session.ts";

const built = guestIsBuilt();
const dir = new URL("../../public/lessons/", import.meta.url);
const index = parseLessonIndex(readFileSync(new URL("index.json", dir), "utf8"));
const ids = index.ok ? index.value : [];

let session: MachineSession | undefined;
let lab: NetworkLab | undefined;
// The network lessons' machines keep their first boot per NIC model here, as the page's do.
const bootCache = new BootCache(new SnapshotStore(memoryStore()));
afterEach(async () => {
  await session?.stop().catch(() => undefined);
  session?.dispose();
  session = undefined;
  lab?.dispose();
  lab = undefined;
});

/** A step that gave up, with the last lines the guest printed (the timeout's details) in its message. */
function withGuestOutput(where: string, error: unknown): unknown {
  if (!(error instanceof AppError) || error.code !== "timeout") return error;
  const recent = error.details.recentOutput ?? "";
  return new Error(`${where}: ${error.message}\nThe guest's last output:\n${recent.split("\n").slice(-15).join("\n")}`, { cause: error });
}

/** A step that did not do what the lesson says fails with what it printed and why. */
function expectStepOk(where: string, outcome: StepOutcome): void {
  expect(outcome.ok, `${where}: ${outcome.lines.join(" ")}\nWhat the guest printed:\n${outcome.output ?? "(nothing)"}`).toBe(true);
}

/**
 * (Re)start the lesson's machine through the page's session, as the page's lesson steps do: "auto"
 * (the pre-booted state where the hardware fits it, else a boot), or a snapshot a step saved.
 */
async function start(s: MachineSession, profile: DeviceProfile, request: StartRequest = { kind: "auto" }): Promise<Machine> {
  await startSession(s, request, DEFAULT_MACHINE, profile);
  const machine = s.machine;
  if (machine === undefined) throw new Error("the session has no machine after its start");
  await machine.waitForShell({ timeoutMs: 120_000 });
  return machine;
}

describe.skipIf(!built)("shipped lessons in the real guest", () => {
  for (const id of ids) {
    it(`${id}: every step does what the lesson says`, { timeout: 400_000 }, async () => {
      const parsed = parseLesson(readFileSync(new URL(`${id}.json`, dir), "utf8"), id);
      if (!parsed.ok) throw new Error(parsed.problems.join("; "));
      let profile: DeviceProfile = DEFAULT_PROFILE;
      const s = nodeSession();
      session = s;
      // A lesson only about the network lab needs no page machine.
      const onlyNetwork = parsed.value.steps.every((step) => step.action === undefined || isNetworkAction(step.action));
      let m = onlyNetwork ? undefined : await start(s, profile);
      const saved = new Map<string, Uint8Array>();
      for (const [n, step] of parsed.value.steps.entries()) {
        const action = step.action;
        if (action === undefined || action.type === "benchmark") continue;
        const where = `${id} step ${n + 1} (${step.title})`;
        if (isNetworkAction(action)) {
          // The page's own step code on a lab like the page's (sessions like the page's, in Node).
          lab ??= createNetworkLab(nodeSessionOptions({ bootCache }), { clock: systemClock, ownOrigin: "http://127.0.0.1:4173", prebooted: fileLabPrebooted() });
          const outcome = await runNetworkStep(lab, action, systemClock).catch((error: unknown) => {
            throw withGuestOutput(where, error);
          });
          expectStepOk(where, outcome);
          continue;
        }
        if (m === undefined) throw new Error(`${where}: the lesson mixes network steps with steps on the page's machine`);
        if (action.type === "command") {
          const result = await m.run(action.command, { timeoutMs: (action.timeoutSeconds ?? 60) * 1000 });
          expectStepOk(where, commandOutcome(result, action.expect));
          // A shell's own complaint reads as a failure to a student, whatever the step expects.
          expect({ where, shellErrors: result.output.split("\n").filter((line) => /^(sh|ash): /.test(line)) }).toEqual({ where, shellErrors: [] });
        } else if (action.type === "devices") {
          profile = { ...profile, ...action.set };
          m = await start(s, profile);
        } else if (action.type === "snapshot-save") {
          // As the page's snapshot panel saves: the session's capture, memory and disks.
          saved.set(action.name, concatParts(await s.capture({ name: action.name, app: "lessons test", preview: "", createdAt: Date.now() })));
        } else if (action.type === "address-walk") {
          const { outcome } = await addressWalk(m, action.target, systemClock);
          expectStepOk(where, outcome);
          // A kernel address on a 4 MiB page costs one reference, a process's two: said in good English.
          const cost = outcome.lines.find((line) => line.startsWith("A TLB miss here cost"));
          expect({ where, cost }).toEqual({ where, cost: expect.stringMatching(/^A TLB miss here cost (1 memory reference|([2-9]|\d\d+) memory references);/) });
        } else if (action.type === "page-tables") {
          const { outcome, report } = await pageTableWorkload(m, action.command, systemClock, (action.timeoutSeconds ?? 60) * 1000);
          expect({ where, ok: outcome.ok, sawCr3Writes: report.cr3Changes > 0 }).toEqual({ where, ok: true, sawCr3Writes: true });
        } else if (action.type === "traps") {
          const { outcome, traps } = await trapsStep(m, action.command, (action.timeoutSeconds ?? 60) * 1000, action.bytes);
          expect({ where, ok: outcome.ok, counted: traps.totals.portIo + traps.totals.mmio > 0 }).toEqual({ where, ok: true, counted: true });
        } else if (action.type === "jit-switch") {
          const { outcome, runs } = await jitSwitchStep(m, action.command, systemClock, (action.timeoutSeconds ?? 60) * 1000);
          // The interpreted run is the slow one, and the machine is back on the JIT afterwards.
          expect({ where, ok: outcome.ok, slower: (runs[1]?.seconds ?? 0) > (runs[0]?.seconds ?? 0), jit: m.microscope()?.jitEnabled() }).toEqual({ where, ok: true, slower: true, jit: true });
        } else if (action.type === "balloon") {
          const result = await m.setBalloon(action.mib, { timeoutMs: 60_000 });
          expect({ where, actualMiB: result.actualMiB }).toEqual({ where, actualMiB: action.mib });
        } else {
          const file = saved.get(action.name);
          expect(file, `${where}: restores a snapshot an earlier step saved`).toBeDefined();
          if (file !== undefined) m = await start(s, profile, { kind: "snapshot", file });
        }
      }
    });
  }
});
