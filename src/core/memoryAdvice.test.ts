import { describe, expect, it } from "vitest";
import { DEFAULT_PROFILE } from "./profile.ts";
import { memoryAdvice } from "./memoryAdvice.ts";

const MIB = 1024 * 1024;

describe("memoryAdvice", () => {
  it("the built-in guest's kernel + initrd fit the default memory: no hint", () => {
    // images/out: bzImage 5.4 MiB, initramfs 4.7 MiB.
    const advice = memoryAdvice({ memoryMiB: DEFAULT_PROFILE.memoryMiB, kernelBytes: 5_706_240, initrdBytes: 4_925_196 });
    expect(advice.suggestMiB).toBeUndefined();
    expect(advice.neededMiB).toBe(128);
    expect(advice.imageBytes).toBe(5_706_240 + 4_925_196);
  });

  it("an installer-sized kernel + initrd gets more than 256 MiB suggested", () => {
    // Debian's i386 netboot installer: a ~6 MiB kernel and a ~30 MiB initrd.gz.
    const advice = memoryAdvice({ memoryMiB: 256, kernelBytes: 6 * MIB, initrdBytes: 30 * MIB });
    expect(advice.reason).toBe("installer");
    expect(advice.suggestMiB).toBe(512);
    expect(memoryAdvice({ memoryMiB: 512, kernelBytes: 6 * MIB, initrdBytes: 30 * MIB }).suggestMiB).toBeUndefined();
  });

  it("a large initrd on little memory: it must fit above 64 MiB and unpack", () => {
    const advice = memoryAdvice({ memoryMiB: 128, kernelBytes: 4 * MIB, initrdBytes: 18 * MIB });
    expect(advice).toMatchObject({ reason: "initrd", suggestMiB: 192 });
    expect(advice.suggestMiB ?? 0).toBeGreaterThanOrEqual(64 + 18);
  });

  it("never suggests past the maximum memory", () => {
    expect(memoryAdvice({ memoryMiB: 256, kernelBytes: 8 * MIB, initrdBytes: 900 * MIB }).suggestMiB).toBe(2048);
  });

  it("a machine that boots from a drive gets its image sizes, no suggestion", () => {
    const advice = memoryAdvice({ memoryMiB: 64, diskBytes: [650 * MIB, 1_474_560] });
    expect(advice).toEqual({ memoryMiB: 64, imageBytes: 650 * MIB + 1_474_560, neededMiB: undefined, suggestMiB: undefined, reason: undefined });
  });
});
