/**
 * Ctrl+C on a command virtlab typed (`Machine.run`), on the real guest in Node, on each console
 * (the UART's machine starts from the pre-booted state, the virtio console's boots): busybox's
 * shell drops the whole group, end marker included, and `run` reports the command as interrupted
 * when the prompt comes back, not at its deadline. On hvc0 the shell once ignored SIGINT (its
 * respawn loop was a job started with `&`), so Ctrl+C there did nothing. Then the login shell is
 * left with `exit` and with Ctrl+D: a fresh one comes each time.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
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

describe.skipIf(!guestIsBuilt() || !existsSync(PREBOOTED))("the console's shell: Ctrl+C, exit, Ctrl+D", () => {
  it.each(CONSOLES)("on the %s console: a command interrupted is reported as interrupted (exit 130) at once, with what it printed, and the next command runs; exit and Ctrl+D give a fresh login shell", { timeout: 120_000 }, async (console) => {
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

    // `exit`, then Ctrl+D at an empty prompt: each time a fresh login shell, and it runs commands.
    // (The kernel hangs the tty up when a login shell exits; the respawn loop once wrote to and
    // read from its hung-up descriptor, and the machine had no shell until a reset.)
    for (const logout of ["exit\n", "\x04"]) {
      // Typed once the prompt is drawn, as a user would: a Ctrl+D that lands while the shell is
      // still between commands (the tty not yet in the line editor's raw mode) is lost.
      await vi.waitFor(() => expect(m.recentOutput()).toMatch(/root@virtlab:[^\n]*# $/), { timeout: 10_000, interval: 50 });
      let seen = "";
      const fresh = new Promise<void>((done) => {
        const listener = m.onOutput((chunk) => {
          seen += new TextDecoder().decode(chunk.bytes);
          if (!/virtlab guest ready[\s\S]*root@virtlab:[^\n]*# /.test(seen)) return;
          listener.dispose();
          done();
        });
      });
      m.write(logout);
      await fresh;
      expect(await m.run("echo again")).toEqual({ output: "again", exitCode: 0 });
    }
  });
});
