/**
 * Every shipped lesson, walked in Node on the real guest: each command must succeed and show what
 * the lesson expects, on the hardware the lesson's earlier steps chose, snapshot steps save and
 * restore the machine, balloon steps end with the guest having handed over what was asked, address
 * walks agree with the guest's own report, and page-table counts see the workload's CR3 writes.
 * (Benchmark steps are the device lab's, tested in lab.test.ts.)
 */
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import {
  DEFAULT_PROFILE,
  addressWalk,
  commandOutcome,
  pageTableWorkload,
  parseLesson,
  parseLessonIndex,
  systemClock,
  type DeviceProfile,
  type Machine,
} from "../../src/core/index.ts";
import { guestIsBuilt, headlessMachine } from "../../src/node/guest.ts";

const built = guestIsBuilt();
const dir = new URL("../../public/lessons/", import.meta.url);
const index = parseLessonIndex(readFileSync(new URL("index.json", dir), "utf8"));
const ids = index.ok ? index.value : [];

let machine: Machine | undefined;
afterEach(() => {
  machine?.dispose();
  machine = undefined;
});

async function boot(profile: DeviceProfile, initialState?: { state: Uint8Array; shellReady: boolean }): Promise<Machine> {
  machine?.dispose();
  machine = headlessMachine({ profile, ...(initialState === undefined ? {} : { initialState }) });
  await machine.start();
  await machine.waitForShell({ timeoutMs: 90_000 });
  return machine;
}

describe.skipIf(!built)("shipped lessons in the real guest", () => {
  for (const id of ids) {
    it(`${id}: every step does what the lesson says`, async () => {
      const parsed = parseLesson(readFileSync(new URL(`${id}.json`, dir), "utf8"), id);
      if (!parsed.ok) throw new Error(parsed.problems.join("; "));
      let profile: DeviceProfile = DEFAULT_PROFILE;
      let m = await boot(profile);
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
