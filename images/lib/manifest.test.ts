import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { kernelFromMetaDepends, kernelPackageName, parseLock, parseManifest } from "./manifest";

describe("manifest", () => {
  it("parses the committed manifest", () => {
    const m = parseManifest(JSON.parse(readFileSync(new URL("../manifest.json", import.meta.url), "utf8")));
    expect(m.architecture).toBe("i386");
    expect(m.packages.kernel.metapackage).toBe("linux-image-686");
    expect(m.files["bzImage"]?.from).toBe("kernel");
    expect(m.cmdline).toMatch(/console=ttyS0/);
    expect(m.deviceGroups.some((g) => g.console)).toBe(true);
  });

  it("rejects a file taken from an unknown package", () => {
    const m = JSON.parse(readFileSync(new URL("../manifest.json", import.meta.url), "utf8")) as Record<string, unknown>;
    m["files"] = { "x.bin": { from: "nope", path: "a" } };
    expect(() => parseManifest(m)).toThrow(/unknown package role/);
  });
});

describe("kernel resolution helpers", () => {
  it("finds ABI and version in the metapackage Depends", () => {
    expect(kernelFromMetaDepends("linux-image-6.1.0-50-686 (= 6.1.176-1)", "686")).toEqual({ abi: "6.1.0-50", version: "6.1.176-1" });
    expect(kernelFromMetaDepends("foo, linux-image-6.1.0-47-686", "686")).toEqual({ abi: "6.1.0-47" });
    expect(() => kernelFromMetaDepends("linux-image-6.1.0-50-686-pae (= 1)", "686")).toThrow();
    expect(kernelPackageName("linux-image-{abi}-{flavour}-unsigned", "6.1.0-50", "686")).toBe("linux-image-6.1.0-50-686-unsigned");
  });

  it("parses a lock and refuses unknown formats", () => {
    const deb = { package: "p", version: "1", architecture: "i386", filename: "p_1_i386.deb", sha256: "ab", size: 3 };
    const lock = parseLock({
      lockVersion: 1,
      recipeSha256: "r",
      kernelRelease: "6.1.0-50-686",
      debs: { seabios: deb, busybox: deb, kernel: { ...deb, pool: "pool/main/p/p_1_i386.deb" } },
      outputs: { "bzImage": { size: 1, sha256: "cd" } },
    });
    expect(lock.debs.kernel.pool).toBe("pool/main/p/p_1_i386.deb");
    expect(lock.outputs["bzImage"]).toEqual({ size: 1, sha256: "cd" });
    expect(() => parseLock({ lockVersion: 2 })).toThrow(/unsupported/);
  });
});
