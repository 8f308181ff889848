/**
 * For the e2e test "two machines in one page" (issue 11): a second machine, the default guest
 * cold-booted in its own Worker beside the page's own, answers one command and is shut down.
 * Reached only through the test proxy.
 */
import { Machine, type CommandResult, DEFAULT_PROFILE, defaultGuest, fetchAssetLoader, type GuestManifest } from "../core/index.ts";
import { createWorkerBackendFactory } from "./workerBackend.ts";

export async function runOnSecondMachine(command: string, baseUri: string): Promise<CommandResult> {
  const guestBase = new URL("guest/", baseUri).href;
  const response = await fetch(new URL("guest.json", guestBase));
  const guest = defaultGuest((await response.json()) as GuestManifest, guestBase);
  const machine = new Machine({ profile: DEFAULT_PROFILE, guest, wasm: { name: "v86.wasm", url: new URL("v86/v86.wasm", baseUri).href }, loader: fetchAssetLoader, backend: createWorkerBackendFactory() });
  try {
    await machine.start();
    await machine.waitForShell({ timeoutMs: 180_000 });
    return await machine.run(command, { timeoutMs: 60_000 });
  } finally {
    machine.dispose();
  }
}
