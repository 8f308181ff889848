import "fake-indexeddb/auto";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.ts";
import { DiskStore } from "./disk.ts";
import { ImageStore, type ImageRecord } from "./images.ts";
import { openIndexedDbStore } from "./kv.ts";
import { DEFAULT_MACHINE, MachineStore, checkMachineImages, diskIdFor, machineProblems, openMachineDisks, slotChoices, type MachineRecord } from "./machines.ts";

function iso(size = 200_000): Uint8Array {
  const bytes = new Uint8Array(size);
  bytes.set([0x43, 0x44, 0x30, 0x30, 0x31], 0x8001);
  bytes[100_000] = 7;
  return bytes;
}

async function setup() {
  const id = Math.random();
  const clock = new ManualClock();
  const images = new ImageStore(openIndexedDbStore(`m-images-${id}`, "kv"), { now: () => 1000 });
  const disks = new DiskStore(openIndexedDbStore(`m-disks-${id}`, "kv"));
  const machines = new MachineStore(openIndexedDbStore(`m-machines-${id}`, "kv"), disks, () => 2000);
  const bytes = iso();
  const cd = await images.import({ name: "rescue.iso", size: bytes.length, read: async (o, l) => bytes.slice(o, o + l) });
  return { clock, images, disks, machines, cd };
}

const withCd = (base: MachineRecord, cd: ImageRecord): MachineRecord => ({ ...base, disks: { cdrom: { kind: "image", imageId: cd.id } } });

describe("machines", () => {
  it("always lists the built-in machine first, with its data disk", async () => {
    const { machines } = await setup();
    const list = await machines.list();
    expect(list.map((m) => m.id)).toEqual(["default"]);
    expect(list[0]?.disks.hda).toEqual({ kind: "blank", sizeBytes: 64 * 1024 * 1024 });
    await expect(machines.delete("default")).rejects.toMatchObject({ code: "bad-profile" });
  });

  it("saves a machine that boots an ISO from the library, and opens its disks", async () => {
    const { machines, images, disks, clock, cd } = await setup();
    const record = withCd(machines.draft("Rescue CD"), cd);
    await machines.save(record, await images.list());
    expect((await machines.list()).map((m) => m.name)).toEqual([DEFAULT_MACHINE.name, "Rescue CD"]);
    const opened = await openMachineDisks(record, { images, disks }, { clock });
    const cdrom = opened.attached.cdrom;
    expect(cdrom?.byteLength).toBe(200_000);
    const byte = await new Promise<Uint8Array>((resolve) => cdrom?.get(100_000, 1, resolve));
    expect(byte).toEqual(Uint8Array.from([7]));
  });

  it("says what is wrong instead of saving a machine that cannot boot", async () => {
    const { machines, images, cd } = await setup();
    const list = await images.list();
    const problems = (record: MachineRecord): string[] => machineProblems(record, list);
    expect(problems({ ...machines.draft("x"), disks: {} })).toEqual(["it boots from cdrom, but no image is attached there"]);
    expect(problems({ ...machines.draft("x"), disks: { hda: { kind: "image", imageId: cd.id } }, boot: { kind: "disk", bootFrom: "hda" } })).toEqual([
      "hda: rescue.iso (CD-ROM (ISO 9660)) does not fit a harddisk drive",
    ]);
    expect(problems({ ...machines.draft("x"), disks: { cdrom: { kind: "image", imageId: "gone" } } })).toEqual(["cdrom: the image is no longer in the library"]);
    // A form's "(choose)" left as it was: nothing chosen, not an image gone. No initrd is no problem
    // (the kernel mounts its root itself), a missing one is.
    expect(problems({ ...machines.draft("x"), boot: { kind: "linux", kernelImageId: "", initrdImageId: "", cmdline: "" } })).toEqual(["kernel: none chosen (pick an image of the library)"]);
    expect(problems({ ...machines.draft("x"), boot: { kind: "linux", kernelImageId: "", initrdImageId: "gone", cmdline: "" } })).toEqual([
      "kernel: none chosen (pick an image of the library)",
      "initrd: the image is no longer in the library",
    ]);
    expect(problems({ ...withCd(machines.draft(" "), cd), disks: { cdrom: { kind: "image", imageId: cd.id }, hdb: { kind: "blank", sizeBytes: 1 << 20 } } })).toEqual([
      "the machine needs a name",
      "hdb needs hda: Linux finds no slave disk without a master",
    ]);
    await expect(machines.save({ ...machines.draft("x"), disks: {} }, list)).rejects.toMatchObject({ code: "bad-profile" });
  });

  it("a hybrid floppy/ISO image goes in the floppy drive (or the CD-ROM, or as a hard disk), the detected kind offered as the suggestion", async () => {
    const { machines, images, cd } = await setup();
    // A 1.2 MB floppy image that is also an ISO 9660 (El Torito) image with an MBR.
    const bytes = iso(1200 * 1024);
    bytes.set([0x55, 0xaa], 510);
    const hybrid = await images.import({ name: "boot.img", size: bytes.length, read: async (o, l) => bytes.slice(o, o + l) });
    expect(hybrid.kind).toBe("cdrom");
    const list = await images.list();
    const floppy = { ...machines.draft("Floppy"), boot: { kind: "disk", bootFrom: "fda" }, disks: { fda: { kind: "image", imageId: hybrid.id } } } as MachineRecord;
    expect(machineProblems(floppy, list)).toEqual([]);
    await expect(machines.save(floppy, list)).resolves.toMatchObject({ name: "Floppy" });
    expect(machineProblems({ ...floppy, boot: { kind: "disk", bootFrom: "hda" }, disks: { hda: { kind: "image", imageId: hybrid.id } } }, list)).toEqual([]);
    // The editor's choices: the floppy drive offers the hybrid with its detected kind; a plain ISO does not fit there.
    expect(slotChoices(list, "fda")).toEqual([{ imageId: hybrid.id, label: "boot.img (detected: CD-ROM (ISO 9660))", suggested: false }]);
    expect(slotChoices(list, "cdrom").map((c) => [c.imageId, c.suggested])).toEqual(
      expect.arrayContaining([
        [cd.id, true],
        [hybrid.id, true],
      ]),
    );
    expect(slotChoices(list, "hda").map((c) => c.imageId)).toEqual([hybrid.id]);
  });

  it("deleting a machine drops its overlays but keeps the library's images", async () => {
    const { machines, images, disks, clock, cd } = await setup();
    const record = { ...withCd(machines.draft("With disk"), cd), disks: { cdrom: { kind: "image", imageId: cd.id }, hda: { kind: "blank", sizeBytes: 1 << 20 } } } as MachineRecord;
    await machines.save(record, await images.list());
    const opened = await openMachineDisks(record, { images, disks }, { clock });
    await opened.attached.hda?.write(0, Uint8Array.from([1, 2, 3]));
    await opened.attached.hda?.flush();
    expect(await disks.hasOverlay(diskIdFor(record.id, "hda"))).toBe(true);
    await machines.delete(record.id);
    expect(await disks.hasOverlay(diskIdFor(record.id, "hda"))).toBe(false);
    expect((await images.list()).map((i) => i.id)).toEqual([cd.id]);
  });

  it("a machine whose image was deleted is refused with a typed error naming the image and the machine", async () => {
    const { images, machines, cd } = await setup();
    const record = await machines.save({ ...withCd(machines.draft("Rescue"), cd), boot: { kind: "disk", bootFrom: "cdrom" } }, [cd]);
    await expect(checkMachineImages(record, images)).resolves.toBeUndefined();
    await images.delete(cd.id);
    const error = await checkMachineImages(record, images).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "image-missing", message: 'Rescue uses "rescue.iso" (cdrom), deleted from the image library.' });
    expect(error).toMatchObject({ details: { machineId: record.id, missing: [{ what: "cdrom", imageId: cd.id, name: "rescue.iso" }] } });
    // The built-in machine uses no library image.
    await expect(checkMachineImages(DEFAULT_MACHINE, images)).resolves.toBeUndefined();
  });
});
