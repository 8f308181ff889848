/**
 * Ctrl+C on a command virtlab typed (`Machine.run`), on the real guest in Node, on each console
 * (the UART's machine starts from the pre-booted state, the virtio console's boots): busybox's
 * shell drops the whole group, end marker included, and `run` reports the command as interrupted
 * when the prompt comes back, not at its deadline. On hvc0 the shell once ignored SIGINT (its
 * respawn loop was a job started with `&`), so Ctrl+C there did nothing.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_MACHINE, DEFAULT_PROFILE, type DeviceProfile, type MachineSession } from "../../src/core/index.ts";
import { GUEST_DIR, guestIsBuilt } from "../../src/node/guest.ts";
import { nodeSession, startSession } from "../../src/node/session.ts";

const PREBOOTED = resolve(GUEST_DIR, "prebooted.vlsnap");
let session: MachineSession | undefined;
afterEach(() => {
  session?.dispose();
  session = undefined;
});

const CONSOLES: readonly DeviceProfile["console"][] = ["uart", "virtio"];

describe.skipIf(!guestIsBuilt() || !existsSync(PREBOOTED))("a command interrupted with Ctrl+C", () => {
  it.each(CONSOLES)("on the %s console: is reported as interrupted (exit 130) at once, with what it printed, and the next command runs", { timeout: 120_000 }, async (console) => {
    session = nodeSession();
    await startSession(session, { kind: "auto" }, DEFAULT_MACHINE, { ...DEFAULT_PROFILE, console });
    const m = session.machine;
    if (m === undefined) return expect.fail("no machine");
    await m.waitForShell({ timeoutMs: 90_000 });
    const started = new Promise<void>((done) => {
      const listener = m.onOutput(() => {
        if (!m.recentOutput().includes("run-started\n")) return;
        listener.dispose();
        done();
      });
    });
    // `sh -c … exec sleep` prints the marker from the process that becomes sleep, so the Ctrl+C
    // cannot land in the gap between the shell's echo and its fork of sleep (busybox ash drops a
    // SIGINT that arrives there, and the test would wait for sleep to end). The deadline is far
    // below sleep's 100 s and far above an interrupt's answer: a lost Ctrl+C fails as a timeout.
    const interrupted = m.run("sh -c 'echo run-started; exec sleep 100'", { timeoutMs: 40_000 });
    await started;
    m.write("\x03");
    expect(await interrupted).toEqual({ output: "run-started", exitCode: 130, interrupted: true });
    expect(await m.run("echo next")).toEqual({ output: "next", exitCode: 0 });
  });
});
