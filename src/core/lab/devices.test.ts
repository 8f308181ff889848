import { describe, expect, it } from "vitest";
import { DEFAULT_PROFILE, toEmulatorConfig, type LinuxGuest, type LoadedAssets } from "../profile.ts";
import { MAX_LAB_MACHINES_AT_ONCE, PAIRS, WORKLOADS, kvmRatio, labMachinesAtOnce, pairById, planMachines, workloadsOf } from "./devices.ts";

const guest: LinuxGuest = {
  kind: "linux",
  bios: { name: "bios.bin", url: "/g/bios.bin" },
  vgaBios: { name: "vgabios.bin", url: "/g/vgabios.bin" },
  kernel: { name: "bzImage", url: "/g/bzImage" },
  initrd: { name: "initramfs.cpio", url: "/g/initramfs.cpio" },
  cmdline: "console=ttyS0",
  prompt: "# $",
};
const assets: LoadedAssets = { bios: new ArrayBuffer(1), vgaBios: new ArrayBuffer(1), kernel: new ArrayBuffer(1), initrd: new ArrayBuffer(1) };

describe("device pairs and workloads", () => {
  it("every pair has workloads, distinct profiles on its two sides, and a driver line per choice", () => {
    for (const pair of PAIRS) {
      expect(workloadsOf(pair.id).length).toBeGreaterThan(0);
      expect(pair.emulated.profile).not.toEqual(pair.paravirtual.profile);
      expect(pair.emulated.driver.length).toBeGreaterThan(20);
      expect(pair.paravirtual.driver.length).toBeGreaterThan(20);
    }
    for (const w of WORKLOADS) expect(w.size.quick).toBeLessThan(w.size.standard);
  });

  it("carries seed 004's KVM figures as ratios", () => {
    expect(kvmRatio(pairById("network"))).toBeCloseTo(75 / 60);
    expect(kvmRatio(pairById("storage"))).toBeCloseTo(85 / 40);
    expect(kvmRatio(pairById("cpu"))).toBeCloseTo(97 / 85);
    expect(kvmRatio(pairById("console"))).toBeUndefined();
  });

  it("plans three machines for run all: emulated devices together, paravirtual devices together, the interpreter alone", () => {
    const plans = planMachines(PAIRS.map((p) => p.id));
    expect(plans.map((p) => p.profile)).toEqual([
      { nic: "ne2k", console: "uart", cpu: "jit", scratchDiskMiB: 64, share9p: true },
      { nic: "none", console: "uart", cpu: "interpreter" },
      { nic: "virtio", console: "virtio", cpu: "jit" },
    ]);
    // Every side of every pair is measured exactly once.
    const runs = plans.flatMap((p) => p.runs.map((r) => `${r.pair}/${r.side}`)).sort();
    expect(runs).toEqual(PAIRS.flatMap((p) => [`${p.id}/emulated`, `${p.id}/paravirtual`]).sort());
  });

  it("spreads the sides over machines of their own when machines run at once; the JIT side joins one", () => {
    const plans = planMachines(PAIRS.map((p) => p.id), { spread: true });
    expect(plans.map((p) => p.profile)).toEqual([
      { nic: "none", console: "uart", cpu: "jit" },
      { nic: "none", console: "uart", cpu: "jit", scratchDiskMiB: 64 },
      { nic: "ne2k", console: "uart", cpu: "jit" },
      { nic: "none", console: "uart", cpu: "interpreter" },
      { nic: "none", console: "virtio", cpu: "jit" },
      { nic: "none", console: "uart", cpu: "jit", share9p: true },
      { nic: "virtio", console: "uart", cpu: "jit" },
    ]);
    expect(plans[0]?.runs).toEqual([
      { pair: "console", side: "emulated" },
      { pair: "cpu", side: "paravirtual" },
    ]);
    const runs = plans.flatMap((p) => p.runs.map((r) => `${r.pair}/${r.side}`)).sort();
    expect(runs).toEqual(PAIRS.flatMap((p) => [`${p.id}/emulated`, `${p.id}/paravirtual`]).sort());
  });

  it("runs one lab machine per two cores, at most four, one where machines share a thread", () => {
    expect([undefined, Number.NaN, 0, 1, 2, 3, 4, 6, 8, 32].map(labMachinesAtOnce)).toEqual([1, 1, 1, 1, 1, 1, 2, 3, 4, MAX_LAB_MACHINES_AT_ONCE]);
  });

  it("plans two machines for one pair whose sides conflict", () => {
    expect(planMachines(["console"]).map((p) => p.profile.console)).toEqual(["uart", "virtio"]);
    expect(planMachines(["storage"])).toHaveLength(1);
  });
});

describe("lab devices in toEmulatorConfig", () => {
  it("adds nothing for the default profile", () => {
    const config = toEmulatorConfig(DEFAULT_PROFILE, guest, assets);
    expect("filesystem" in config).toBe(false);
    expect("hda" in config).toBe(false);
  });

  it("maps the 9p share, a blank scratch disk and the virtio MTU to v86 options", () => {
    const config = toEmulatorConfig({ ...DEFAULT_PROFILE, share9p: true, scratchDiskMiB: 2, nic: "virtio", nicMtu: 9000 }, guest, assets);
    expect(config.filesystem).toEqual({});
    const disk = config.hda !== undefined && "buffer" in config.hda ? config.hda.buffer : new ArrayBuffer(1);
    expect(disk.byteLength).toBe(2 * 1024 * 1024);
    expect(new Uint8Array(disk).every((b) => b === 0)).toBe(true);
    expect(config.net_device).toEqual({ type: "virtio", mtu: 9000 });
    // The MTU belongs to virtio-net only.
    expect(toEmulatorConfig({ ...DEFAULT_PROFILE, nic: "ne2k", nicMtu: 9000 }, guest, assets).net_device).toEqual({ type: "ne2k" });
  });

  it("rejects a scratch disk or MTU out of range", () => {
    expect(() => toEmulatorConfig({ ...DEFAULT_PROFILE, scratchDiskMiB: 0 }, guest, assets)).toThrow(/scratch disk/);
    expect(() => toEmulatorConfig({ ...DEFAULT_PROFILE, nicMtu: 70000 }, guest, assets)).toThrow(/MTU/);
  });
});
