import { describe, expect, it } from "vitest";
import { DEFAULT_PROFILE } from "../profile.ts";
import { machineFingerprint } from "../snapshot/fingerprint.ts";
import { DEFAULT_MACHINE } from "../storage/machines.ts";
import { fakeStateMarker } from "../testing/fakeShell.ts";
import { fakeManifest, prebootedFor } from "../testing/prebooted.ts";
import { V86_PACKAGE_VERSION } from "../v86Version.ts";
import { guestFor } from "./guests.ts";
import { decodeSnapshot } from "../snapshot/format.ts";
import { choosePrebooted, eagerPrebooted, type PrebootedSource } from "./prebooted.ts";

const fingerprint = machineFingerprint(DEFAULT_PROFILE, guestFor(DEFAULT_MACHINE, fakeManifest, "guest/", []), { hda: { size: "any", base: "blank" } });
const otherHardware = machineFingerprint({ ...DEFAULT_PROFILE, memoryMiB: DEFAULT_PROFILE.memoryMiB * 2 }, guestFor(DEFAULT_MACHINE, fakeManifest, "guest/", []), { hda: { size: "any", base: "blank" } });

function choose(source: PrebootedSource, progress: [number, number][] = [], print = fingerprint) {
  return choosePrebooted(source, print, V86_PACKAGE_VERSION, (loaded, total) => progress.push([loaded, total]));
}

function stateOf(chosen: Awaited<ReturnType<typeof choosePrebooted>>): string | undefined {
  return chosen.kind === "state" ? fakeStateMarker(chosen.start.state) : undefined;
}

describe("the pre-booted state, started early (eagerPrebooted)", () => {
  it("asks for the description and the file at once, and the first choice gets them with the progress so far", async () => {
    const source = await prebootedFor(DEFAULT_PROFILE);
    const eager = eagerPrebooted(source);
    expect(source.asked).toBe(1);
    // The page opens its storage meanwhile; the file is read without waiting for the choice.
    await expect.poll(() => source.read).toBe(1);
    const progress: [number, number][] = [];
    expect(stateOf(await choose(eager, progress))).toBe("prebooted-state");
    expect([source.asked, source.read]).toEqual([1, 1]);
    expect(progress).toEqual([[source.bytes.length, source.bytes.length]]);
  });

  it("lets go after the first choice: a later one reads the source again", async () => {
    const source = await prebootedFor(DEFAULT_PROFILE);
    const eager = eagerPrebooted(source);
    expect(stateOf(await choose(eager))).toBe("prebooted-state");
    expect(stateOf(await choose(eager))).toBe("prebooted-state");
    expect([source.asked, source.read]).toEqual([2, 2]);
  });

  it("a first choice for other hardware refuses it and lets go all the same", async () => {
    const source = await prebootedFor(DEFAULT_PROFILE);
    const eager = eagerPrebooted(source);
    const refused = await choose(eager, [], otherHardware);
    expect(refused.kind === "none" && refused.reason).toMatch(/for other hardware/);
    expect(stateOf(await choose(eager))).toBe("prebooted-state");
    expect(source.read).toBe(2);
  });

  it("a server without the state, or a failed download, is a reason to boot, said when the choice asks", async () => {
    const none = eagerPrebooted({ manifest: async () => ({ none: "no state here" }), file: () => Promise.reject(new Error("not asked")) });
    expect(await choose(none)).toEqual({ kind: "none", reason: "no state here" });
    const source = await prebootedFor(DEFAULT_PROFILE);
    let fail = true;
    const flaky: PrebootedSource = { manifest: () => source.manifest(), file: (m, onProgress) => (fail ? Promise.reject(new Error("the server answered 503")) : source.file(m, onProgress)) };
    const eager = eagerPrebooted(flaky);
    const failed = await choose(eager);
    expect(failed.kind === "none" && failed.reason).toMatch(/could not be used \(.*the server answered 503\)/);
    fail = false;
    expect(stateOf(await choose(eager))).toBe("prebooted-state");
  });
});

describe("choosing the pre-booted state for other hardware", () => {
  it("refuses it from its description, without fetching the file", async () => {
    const source = await prebootedFor(DEFAULT_PROFILE);
    const progress: [number, number][] = [];
    const refused = await choose(source, progress, otherHardware);
    expect(refused.kind === "none" && refused.reason).toMatch(/^the pre-booted state is for other hardware \(memory size/);
    expect([source.asked, source.read]).toEqual([1, 0]);
    expect(progress).toEqual([]);
  });

  it("refuses it from the file's header when its description does not name the hardware (an older set-up)", async () => {
    const source = await prebootedFor(DEFAULT_PROFILE, { fingerprintInManifest: false });
    const refused = await choose(source, [], otherHardware);
    expect(refused.kind === "none" && refused.reason).toMatch(/^the pre-booted state is for other hardware \(memory size/);
    expect(source.read).toBe(1);
    expect(stateOf(await choose(source))).toBe("prebooted-state");
  });

  it("goes by the file's header when its description says otherwise", async () => {
    // A description that names this hardware for a file saved on other hardware: the header decides.
    const source = await prebootedFor({ ...DEFAULT_PROFILE, memoryMiB: DEFAULT_PROFILE.memoryMiB * 2 }, { fingerprintInManifest: false });
    const claims: PrebootedSource = { manifest: async () => ({ ...(await source.manifest()), fingerprint } as Awaited<ReturnType<PrebootedSource["manifest"]>>), file: (m, p) => source.file(m, p) };
    const refused = await choose(claims);
    expect(refused.kind === "none" && refused.reason).toMatch(/for other hardware/);
    expect(source.read).toBe(1);
  });
});

/** `source` that also keeps its state unpacked (as the page's decoder does after a first visit), and hears how starts went. */
async function withUnpacked(source: Awaited<ReturnType<typeof prebootedFor>>, { keeps = true } = {}) {
  const kept = keeps ? await decodeSnapshot(source.bytes) : undefined;
  const heard: string[] = [];
  const unpackedSource: PrebootedSource & { unpackedAsked: number } = {
    unpackedAsked: 0,
    manifest: () => source.manifest(),
    file: (m, onProgress) => source.file(m, onProgress),
    async unpacked() {
      unpackedSource.unpackedAsked++;
      return kept;
    },
    done: (outcome) => heard.push(outcome),
  };
  return { source: unpackedSource, heard };
}

describe("a state the source keeps unpacked (PrebootedSource.unpacked)", () => {
  it("starts from it without reading the file; the source hears nothing yet: the start says when it is done", async () => {
    const file = await prebootedFor(DEFAULT_PROFILE);
    const { source, heard } = await withUnpacked(file);
    expect(stateOf(await choose(source))).toBe("prebooted-state");
    expect(file.read).toBe(0);
    expect(heard).toEqual([]);
  });

  it("none kept: the file is read and unpacked as before", async () => {
    const file = await prebootedFor(DEFAULT_PROFILE);
    const { source, heard } = await withUnpacked(file, { keeps: false });
    expect(stateOf(await choose(source))).toBe("prebooted-state");
    expect([source.unpackedAsked, file.read]).toEqual([1, 1]);
    expect(heard).toEqual([]);
  });

  it("a kept state of other hardware is refused by its own header, and the source hears it is unused", async () => {
    // An older set-up's description names no hardware; the kept state was saved on other hardware.
    const other = await prebootedFor({ ...DEFAULT_PROFILE, memoryMiB: DEFAULT_PROFILE.memoryMiB * 2 }, { fingerprintInManifest: false });
    const { source, heard } = await withUnpacked(other);
    const refused = await choose(source);
    expect(refused.kind === "none" && refused.reason).toMatch(/^the pre-booted state is for other hardware \(memory size/);
    expect(other.read).toBe(0);
    expect(heard).toEqual(["unused"]);
  });

  it("a choice refused from the description never asks for the kept state, and says unused", async () => {
    const { source, heard } = await withUnpacked(await prebootedFor(DEFAULT_PROFILE));
    expect((await choose(source, [], otherHardware)).kind).toBe("none");
    expect(source.unpackedAsked).toBe(0);
    expect(heard).toEqual(["unused"]);
  });

  it("started early (eagerPrebooted): the kept state is asked for at once, the file never, and done reaches the source", async () => {
    const file = await prebootedFor(DEFAULT_PROFILE);
    const { source, heard } = await withUnpacked(file);
    const eager = eagerPrebooted(source);
    await expect.poll(() => source.unpackedAsked).toBe(1);
    expect(stateOf(await choose(eager))).toBe("prebooted-state");
    expect([source.unpackedAsked, file.read]).toEqual([1, 0]);
    eager.done?.("settled");
    expect(heard).toEqual(["settled"]);
  });
});
