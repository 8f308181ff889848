/** Cold boots of the default guest in Node, shared by the boot and browser suites. */
import type { DeviceProfile } from "../src/core/index.ts";
import { readGuestManifest } from "../src/node/guest.ts";
import { nodeSession, startSession } from "../src/node/session.ts";

export interface BootSample {
  /** From creating the machine to the prompt: what a user waits for. */
  readonly totalS: number;
  /** Reading files and instantiating the emulator. */
  readonly startS: number;
  /** From the emulator running to the shell prompt. */
  readonly bootS: number;
  /** From creating the machine to `echo $((6*7))` answered, as the browser suite measures. */
  readonly answerS: number;
}

export async function bootOnce(profile: Partial<DeviceProfile> = {}): Promise<BootSample> {
  const guest = readGuestManifest();
  // The page's session, cold: the same start path (guest, disks, data disk) a user's boot takes.
  const session = nodeSession({ prebooted: false });
  try {
    const t0 = performance.now();
    await startSession(session, { kind: "cold" }, undefined, profile);
    const t1 = performance.now();
    const machine = session.machine;
    if (machine === undefined) throw new Error("the machine did not start");
    await machine.waitForShell({ timeoutMs: 240_000 });
    const t2 = performance.now();
    const answer = await machine.run("echo $((6*7))");
    const t3 = performance.now();
    if (answer.output !== "42") throw new Error(`the booted machine answered ${answer.output}`);
    const { output } = await machine.run("uname -r");
    if (output !== guest.kernelRelease) throw new Error(`unexpected kernel release ${output}`);
    return { totalS: (t2 - t0) / 1000, startS: (t1 - t0) / 1000, bootS: (t2 - t1) / 1000, answerS: (t3 - t0) / 1000 };
  } finally {
    await session.stop().catch(() => undefined);
    session.dispose();
  }
}

/** Seconds from creating a JIT machine to 42 answered. */
export async function nodeColdBoot(): Promise<number> {
  return (await bootOnce({ cpu: "jit" })).answerS;
}
