/** Shared by boot tests that drive the page's session: sessions stopped after each test, and whether a pre-booted state exists. */
import { afterEach } from "vitest";
import { DATA_DISK_BYTES, DEFAULT_PROFILE, DiskStore, Machine, memoryStore, systemClock, type BackendFactory, type MachineSession } from "../../src/core/index.ts";
import { WASM_PATH, fileAssetLoader, guestIsBuilt, loadDefaultGuest } from "../../src/node/guest.ts";
import { filePrebooted } from "../../src/node/session.ts";
import { parseMac } from "../../src/core/net/frames.ts";

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

/** A minimal Ethernet frame to `mac`, of a local experimental EtherType: the guest counts it on eth0, then drops it. */
export function frameTo(mac: string): Uint8Array {
  const to = parseMac(mac);
  if (to === undefined) throw new Error(`not a MAC address: ${JSON.stringify(mac)}`);
  const frame = new Uint8Array(60);
  frame.set(to, 0);
  frame.set([0x52, 0x54, 0x00, 0xee, 0xee, 0xee, 0x88, 0xb5], 6);
  return frame;
}

/** How many frames the guest's eth0 has taken (its `rx_packets`), asked through the guest agent. */
export async function rxPackets(machine: Machine): Promise<number> {
  return Number((await machine.agent.run("cat /sys/class/net/eth0/statistics/rx_packets")).output);
}
