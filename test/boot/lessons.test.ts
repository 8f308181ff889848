/**
 * Every shipped lesson, walked in Node on the real guest: each command must succeed and show what
 * the lesson expects, on the hardware the lesson's earlier steps chose, snapshot steps save and
 * restore the machine, balloon steps end with the guest having handed over what was asked, address
 * walks agree with the guest's own report, page-table counts see the workload's CR3 writes, trap
 * steps count the traps the command caused and the JIT switch runs the command both ways.
 * Each lesson starts from the pre-booted state, as the page does. (Benchmark steps are the device
 * lab's, tested in lab.test.ts.)
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  DATA_DISK_BYTES,
  DEFAULT_PROFILE,
  DiskStore,
  addressWalk,
  commandOutcome,
  jitSwitchStep,
  memoryStore,
  trapsStep,
  pageTableWorkload,
  parseLesson,
  parseLessonIndex,
  systemClock,
  type DeviceProfile,
  type Machine,
} from "../../src/core/index.ts";
import { decodeSnapshot } from "../../src/core/snapshot/format.ts";
import { GUEST_DIR, guestIsBuilt, headlessMachine, loadDefaultGuest } from "../../src/node/guest.ts";

const built = guestIsBuilt();
const dir = new URL("../../public/lessons/", import.meta.url);
const index = parseLessonIndex(readFileSync(new URL("index.json", dir), "utf8"));
const ids = index.ok ? index.value : [];

let machine: Machine | undefined;
afterEach(() => {
  machine?.dispose();
  machine = undefined;
});

/** The pre-booted machine's guest and data disk, while the lesson runs on it (a snapshot it saved needs them back). */
let preboot: Pick<Parameters<typeof headlessMachine>[0] & object, "guest" | "disks"> | undefined;

async function boot(profile: DeviceProfile, initialState?: { state: Uint8Array; shellReady: boolean }): Promise<Machine> {
  machine?.dispose();
  if (initialState === undefined) preboot = undefined;
  machine = headlessMachine({ profile, ...(initialState === undefined ? {} : { initialState }), ...(initialState === undefined ? {} : (preboot ?? {})) });
  await machine.start();
  await machine.waitForShell({ timeoutMs: 90_000 });
  return machine;
}

const prebooted = join(GUEST_DIR, "prebooted.vlsnap");

/** The default machine from the pre-booted state (as the page starts), or a cold boot without one. */
async function bootDefault(): Promise<Machine> {
  if (!existsSync(prebooted)) return boot(DEFAULT_PROFILE);
  machine?.dispose();
  const decoded = await decodeSnapshot(readFileSync(prebooted));
  const disk = await new DiskStore(memoryStore()).open("lessons:hda", { size: DATA_DISK_BYTES, clock: systemClock });
  preboot = { guest: loadDefaultGuest(undefined, { dataDisk: true }), disks: { hda: disk } };
  machine = headlessMachine({ ...preboot, initialState: { state: decoded.state, shellReady: decoded.header.shellReady } });
  await machine.start();
  await machine.waitForShell({ timeoutMs: 120_000 });
  return machine;
}

describe.skipIf(!built)("shipped lessons in the real guest", () => {
  for (const id of ids) {
    it(`${id}: every step does what the lesson says`, async () => {
      const parsed = parseLesson(readFileSync(new URL(`${id}.json`, dir), "utf8"), id);
      if (!parsed.ok) throw new Error(parsed.problems.join("; "));
      let profile: DeviceProfile = DEFAULT_PROFILE;
      let m = await bootDefault();
      const saved = new Map<string, { state: Uint8Array; shellReady: boolean }>();
      for (const [n, step] of parsed.value.steps.entries()) {
        const action = step.action;
        if (action === undefined || action.type === "benchmark") continue;
        const where = `${id} step ${n + 1} (${step.title})`;
        if (action.type === "command") {
          const result = await m.run(action.command, { timeoutMs: (action.timeoutSeconds ?? 60) * 1000 });
          expect({ where, ...commandOutcome(result, action.expect) }).toMatchObject({ where, ok: true });
        } else if (action.type === "devices") {
          profile = { ...profile, ...action.set };
          m = await boot(profile);
        } else if (action.type === "snapshot-save") {
          saved.set(action.name, await m.saveState());
        } else if (action.type === "address-walk") {
          const { outcome } = await addressWalk(m, action.target, systemClock);
          expect({ where, ...outcome }).toMatchObject({ where, ok: true });
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
          const state = saved.get(action.name);
          expect(state, `${where}: restores a snapshot an earlier step saved`).toBeDefined();
          if (state !== undefined) m = await boot(profile, state);
        }
      }
    });
  }
});
