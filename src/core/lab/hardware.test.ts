import { describe, expect, it } from "vitest";
import { DEFAULT_PROFILE, type DeviceProfile } from "../profile.ts";
import { HARDWARE_TOGGLES, whilePaused, withHardware, type PausableMachine } from "./hardware.ts";

const toggle = (id: string) => {
  const found = HARDWARE_TOGGLES.find((t) => t.id === id);
  if (found === undefined) throw new Error(id);
  return found;
};
const option = (id: string, value: string) => {
  const found = toggle(id).options.find((o) => o.value === value);
  if (found === undefined) throw new Error(`${id}=${value}`);
  return found;
};

describe("hardware toggles", () => {
  it("each option, applied, is the option the profile then shows", () => {
    for (const t of HARDWARE_TOGGLES) {
      for (const o of t.options) expect(t.current(withHardware(DEFAULT_PROFILE, o.patch)), `${t.id}=${o.value}`).toBe(o.value);
    }
  });

  it("lab storage is one device at a time, and none removes both fields from the profile", () => {
    const withIde = withHardware(DEFAULT_PROFILE, option("storage", "ide").patch);
    expect(withIde.scratchDiskMiB).toBe(64);
    const with9p = withHardware(withIde, option("storage", "9p").patch);
    expect(with9p.share9p).toBe(true);
    expect("scratchDiskMiB" in with9p).toBe(false);
    const none = withHardware(with9p, option("storage", "none").patch);
    expect("share9p" in none).toBe(false);
    expect("scratchDiskMiB" in none).toBe(false);
  });

  it("a toggle changes only its own device", () => {
    const base: DeviceProfile = { ...DEFAULT_PROFILE, memoryMiB: 256, balloon: true };
    const changed = withHardware(base, option("nic", "virtio").patch);
    expect(changed).toEqual({ ...base, nic: "virtio" });
  });
});

function fakeMachine(stage: string, running: boolean, log: string[]): PausableMachine {
  return {
    status: { stage, running },
    pause: async () => void log.push("pause"),
    resume: async () => void log.push("resume"),
  };
}

describe("whilePaused", () => {
  it("pauses a running machine for the job and lets it run on after, also when the job fails", async () => {
    const log: string[] = [];
    await expect(whilePaused(fakeMachine("ready", true, log), async () => (log.push("job"), 7), () => undefined)).resolves.toBe(7);
    await expect(whilePaused(fakeMachine("booting", true, log), () => Promise.reject(new Error("no")), () => undefined)).rejects.toThrow("no");
    expect(log).toEqual(["pause", "job", "resume", "pause", "resume"]);
  });

  it("leaves a paused, crashed or absent machine as it was", async () => {
    const log: string[] = [];
    await whilePaused(fakeMachine("ready", false, log), async () => void log.push("job"), () => undefined);
    await whilePaused(fakeMachine("crashed", true, log), async () => void log.push("job"), () => undefined);
    await whilePaused(undefined, async () => void log.push("job"), () => undefined);
    expect(log).toEqual(["job", "job", "job"]);
  });

  it("a failed resume is reported, and the job's result still returned", async () => {
    const reported: unknown[] = [];
    const machine: PausableMachine = { status: { stage: "ready", running: true }, pause: async () => undefined, resume: () => Promise.reject(new Error("stuck")) };
    await expect(whilePaused(machine, async () => "report", (e) => reported.push(e))).resolves.toBe("report");
    expect(reported).toHaveLength(1);
  });
});
