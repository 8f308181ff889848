/**
 * Moving a running machine (issue 15) between two of the page's sessions in one Node process:
 * a busy guest (a loop rewriting a 16 MiB tmpfs file from a random seed) moves by pre-copy while
 * it writes; on the other side the loop goes on, every file it writes checks out against the seed,
 * the seed is byte for byte what it was, and the guest's uptime and boot id run on (no reboot).
 */
import { describe, expect, it } from "vitest";
import type { MachineSession } from "../../src/core/index.ts";
import { guestIsBuilt } from "../../src/node/guest.ts";
import { moveBetweenSessions } from "../../src/node/migration.ts";
import { nodeSession, startSession } from "../../src/node/session.ts";
import { BUSY_LOOP } from "../../bench/migration.ts";
import { hasPrebooted, sessionsStoppedAfterEach } from "./sessions.ts";

const sessions = sessionsStoppedAfterEach();

async function started(): Promise<MachineSession> {
  if (!(await hasPrebooted)) throw new Error("no pre-booted state: run npx tsx images/prebooted.ts");
  const session = nodeSession();
  sessions.push(session);
  await startSession(session, { kind: "auto" });
  if (session.machine === undefined || session.startedFrom !== "pre-booted") throw new Error(`the machine did not start from the pre-booted state (${session.startedFrom})`);
  return session;
}

async function run(session: MachineSession, command: string): Promise<string> {
  const machine = session.machine;
  if (machine === undefined) throw new Error("no machine");
  const r = await machine.run(command, { timeoutMs: 180_000 });
  expect(r.exitCode, `${command}: ${r.output}`).toBe(0);
  return r.output.trim();
}

/** Uptime in seconds, boot id, and the busy loop's iteration count. */
async function guestNow(session: MachineSession): Promise<{ uptime: number; bootId: string; iter: number }> {
  const [uptime, bootId, iter] = (await run(session, "cut -d' ' -f1 /proc/uptime; cat /proc/sys/kernel/random/boot_id; cat /tmp/iter 2>/dev/null || echo 0")).split(/\s+/);
  return { uptime: Number(uptime), bootId: bootId ?? "", iter: Number(iter) };
}

/** Poll the guest until the busy loop has finished a file after iteration `after`. */
async function iterationAfter(session: MachineSession, after: number): Promise<number> {
  for (;;) {
    const { iter } = await guestNow(session);
    if (iter > after) return iter;
  }
}

describe.skipIf(!guestIsBuilt())("moving a running machine", () => {
  it("pre-copy moves a busy guest: the file it keeps writing checks out afterwards, its uptime runs on, no reboot", async () => {
    const source = await started();
    const target = await started();
    await run(source, "echo the-source-guest > /tmp/token");
    await run(source, BUSY_LOOP);
    await iterationAfter(source, 0);
    const seedSum = await run(source, "md5sum < /tmp/seed");
    const before = await guestNow(source);
    // The rounds hash pages in v86's own memory with the SIMD module (pageHash.ts), not in JavaScript.
    expect(source.machine?.migrationSource(async () => undefined)?.pageHasher).toBeDefined();

    const move = await moveBetweenSessions(source, target, { method: "pre-copy" });
    expect(move.source.rounds.length).toBeGreaterThanOrEqual(1);
    expect(move.source.rounds[0]?.pagesSent).toBe(move.source.rounds[0] === undefined ? -1 : 256 * 256);
    expect(move.source.finalPages).toBeGreaterThan(0);
    expect(move.source.finalScanMs).toBeGreaterThan(0);
    expect(source.machine?.status.running).toBe(false);

    const after = await guestNow(target);
    // Both sides started from the same pre-booted state: the token says which guest runs here.
    expect(await run(target, "cat /tmp/token")).toBe("the-source-guest");
    expect(after.bootId).toBe(before.bootId);
    expect(after.uptime).toBeGreaterThan(before.uptime);
    // A file written wholly on the target, and one whose writing straddled the move (iteration before+1).
    const done = await iterationAfter(target, Math.max(after.iter, before.iter + 1));
    expect(done).toBeGreaterThan(before.iter);
    // Stop the loop so the file holds still, then check the last whole file against the seed:
    // its first line names its iteration, the rest is the seed from a byte offset that iteration picks.
    await run(target, "kill $(cat /tmp/busy.pid); true");
    expect(await run(target, "md5sum < /tmp/seed")).toBe(seedSum);
    const iter = Number(await run(target, "head -n 1 /tmp/busy"));
    const expected = await run(target, `{ echo ${iter}; tail -c +$((${iter} % 4000 + 2)) /tmp/seed; } | md5sum`);
    expect(await run(target, "md5sum < /tmp/busy")).toBe(expected);
    expect(iter).toBeGreaterThan(before.iter);
  });
});
