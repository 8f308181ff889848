/** Shared by boot tests that drive the page's session: sessions stopped after each test, and whether a pre-booted state exists. */
import { afterEach } from "vitest";
import type { MachineSession } from "../../src/core/index.ts";
import { guestIsBuilt } from "../../src/node/guest.ts";
import { filePrebooted } from "../../src/node/session.ts";

/** A list to push each started session on; every one is stopped and disposed after each test. */
export function sessionsStoppedAfterEach(): MachineSession[] {
  const sessions: MachineSession[] = [];
  afterEach(async () => {
    for (const s of sessions.splice(0)) {
      await s.stop().catch(() => undefined);
      s.dispose();
    }
  });
  return sessions;
}

/** The guest is built and images/prebooted.ts has made its state. */
export const hasPrebooted: Promise<boolean> = guestIsBuilt() ? filePrebooted().manifest().then((m) => !("none" in m)) : Promise.resolve(false);
