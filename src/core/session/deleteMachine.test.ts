import { describe, expect, it } from "vitest";
import { AppError } from "../errors.ts";
import { DiskStore } from "../storage/disk.ts";
import { memoryStore } from "../storage/kv.ts";
import { DEFAULT_MACHINE, MachineStore, type MachineRecord } from "../storage/machines.ts";
import { deleteMachine } from "./deleteMachine.ts";

async function setup() {
  const machines = new MachineStore(memoryStore(), new DiskStore(memoryStore()), () => 1);
  const mine = await machines.save({ ...machines.draft("Mine"), boot: { kind: "disk", bootFrom: "hda" }, disks: { hda: { kind: "blank", sizeBytes: 1024 * 1024 } } }, []);
  const other = await machines.save({ ...machines.draft("Other"), boot: { kind: "disk", bootFrom: "hda" }, disks: { hda: { kind: "blank", sizeBytes: 1024 * 1024 } } }, []);
  const switched: { to: string; mineStillSaved: boolean }[] = [];
  const running = (id: string, fail?: AppError) => ({
    id,
    switchTo: async (record: MachineRecord) => {
      if (fail !== undefined) throw fail;
      switched.push({ to: record.id, mineStillSaved: (await machines.get(mine.id)) !== undefined });
    },
  });
  return { machines, mine, other, switched, running };
}

describe("deleting a saved machine", () => {
  it("deletes a machine that is not running without touching the running one", async () => {
    const { machines, mine, other, switched, running } = await setup();
    await deleteMachine(machines, other.id, running(mine.id));
    expect(switched).toEqual([]);
    expect((await machines.list()).map((m) => m.id)).toEqual(["default", mine.id]);
  });

  it("switches the page to the built-in machine as saved before deleting the running one", async () => {
    const { machines, mine, switched, running } = await setup();
    const edited = await machines.save({ ...DEFAULT_MACHINE, disks: { hda: { kind: "blank", sizeBytes: 128 * 1024 * 1024 } } }, []);
    const seen: MachineRecord[] = [];
    await deleteMachine(machines, mine.id, {
      id: mine.id,
      switchTo: async (record) => {
        seen.push(record);
        await running(mine.id).switchTo(record);
      },
    });
    // The switch came first (the machine was still saved, its disks let go before they are deleted).
    expect(switched).toEqual([{ to: "default", mineStillSaved: true }]);
    expect(seen[0]?.disks.hda).toEqual(edited.disks.hda);
    expect(await machines.get(mine.id)).toBeUndefined();
  });

  it("deletes nothing when the switch fails (e.g. disk pages that could not be saved)", async () => {
    const { machines, mine, running } = await setup();
    const full = new AppError("storage-full", "The machine's disk has changes the browser would not store.");
    await expect(deleteMachine(machines, mine.id, running(mine.id, full))).rejects.toBe(full);
    expect(await machines.get(mine.id)).toBeDefined();
  });

  it("refuses the built-in machine without switching anything", async () => {
    const { machines, switched, running } = await setup();
    await expect(deleteMachine(machines, "default", running("default"))).rejects.toMatchObject({ code: "bad-profile" });
    expect(switched).toEqual([]);
    expect(await machines.get("default")).toEqual(DEFAULT_MACHINE);
  });
});
