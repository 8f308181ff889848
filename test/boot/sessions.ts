/** Shared by boot tests that drive the page's session: sessions stopped after each test, and whether a pre-booted state exists. */
import { afterEach } from "vitest";
import { DATA_DISK_BYTES, DEFAULT_PROFILE, DiskStore, Machine, memoryStore, systemClock, type BackendFactory, type MachineSession } from "../../src/core/index.ts";
import { WASM_PATH, fileAssetLoader, guestIsBuilt, loadDefaultGuest } from "../../src/node/guest.ts";
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

/**
 * The default machine (the hardware the pre-booted state was saved with: its blank data disk, in
 * memory) started from `state`, its emulator made by `backend`. The machine and its disk go on
 * `owned`, for the caller to dispose.
 */
export async function machineFromState(state: Uint8Array, backend: BackendFactory, owned: { dispose(): void }[]): Promise<Machine> {
  const disk = await new DiskStore(memoryStore()).open(`from-state:${owned.length}`, { size: DATA_DISK_BYTES, blank: "ext2", clock: systemClock });
  owned.push(disk);
  const machine = new Machine({
    profile: DEFAULT_PROFILE,
    guest: loadDefaultGuest(undefined, { dataDisk: true }),
    disks: { hda: disk },
    wasm: { name: "v86.wasm", url: WASM_PATH },
    loader: fileAssetLoader,
    backend,
    initialState: { state, shellReady: true },
  });
  owned.push(machine);
  await machine.start();
  return machine;
}
