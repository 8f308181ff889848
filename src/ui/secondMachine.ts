/**
 * For the e2e test "two machines in one page" (issue 11): a second machine, the default guest
 * cold-booted in its own Worker beside the page's own, answers one command and is shut down.
 * Which machine that is and how it starts is the core's (session/scratch.ts). Reached only
 * through the test proxy.
 */
import { DEFAULT_PROFILE, startScratch, type CommandResult, type MachineSession } from "../core/index.ts";

export async function runOnSecondMachine(session: MachineSession, command: string): Promise<CommandResult> {
  const started = await startScratch(session, DEFAULT_PROFILE);
  try {
    await started.machine.waitForShell({ timeoutMs: 180_000 });
    return await started.machine.run(command, { timeoutMs: 60_000 });
  } finally {
    started.dispose();
  }
}
