import { describe, expect, it } from "vitest";
import { normalisePath, readCpio, writeCpio } from "./cpio";
import type { CpioEntry } from "./cpio";

const enc = new TextEncoder();
const dec = new TextDecoder();

const sample: CpioEntry[] = [
  { type: "file", path: "bin/busybox", mode: 0o755, data: enc.encode("ELF...") },
  { type: "dir", path: "/bin/", mode: 0o755 },
  { type: "symlink", path: "bin/sh", target: "busybox" },
  { type: "dir", path: "dev", mode: 0o755 },
  { type: "char", path: "dev/console", mode: 0o600, major: 5, minor: 1 },
  { type: "file", path: "init", mode: 0o755, data: enc.encode("#!/bin/sh\necho hi\n") },
  { type: "dir", path: "tmp", mode: 0o1777 },
  { type: "file", path: "empty", mode: 0o644, data: new Uint8Array(0) },
];

describe("writeCpio / readCpio", () => {
  it("round-trips names, modes, data, device numbers, in sorted order with inodes 1..n", () => {
    const archive = writeCpio(sample);
    const entries = readCpio(archive);
    expect(entries.map((e) => e.name)).toEqual(["bin", "bin/busybox", "bin/sh", "dev", "dev/console", "empty", "init", "tmp"]);
    expect(entries.map((e) => e.ino)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const by = new Map(entries.map((e) => [e.name, e]));
    expect(by.get("bin")?.mode).toBe(0o040755);
    expect(by.get("bin")?.nlink).toBe(2);
    expect(by.get("bin/busybox")?.mode).toBe(0o100755);
    expect(dec.decode(by.get("bin/busybox")?.data)).toBe("ELF...");
    expect(by.get("bin/sh")?.mode).toBe(0o120777);
    expect(dec.decode(by.get("bin/sh")?.data)).toBe("busybox");
    expect(by.get("dev/console")).toMatchObject({ mode: 0o020600, rdevMajor: 5, rdevMinor: 1 });
    expect(by.get("tmp")?.mode).toBe(0o041777);
    expect(dec.decode(by.get("init")?.data)).toBe("#!/bin/sh\necho hi\n");
    expect(by.get("empty")?.data.length).toBe(0);
    for (const e of entries) expect(e).toMatchObject({ uid: 0, gid: 0, mtime: 0 });
  });

  it("aligns every header and every data block to 4 bytes and ends with the trailer", () => {
    const archive = writeCpio(sample);
    expect(archive.length % 4).toBe(0);
    for (const e of readCpio(archive)) {
      expect(e.offset % 4).toBe(0);
      expect(e.data.byteOffset % 4).toBe(0);
    }
    const text = dec.decode(archive);
    expect(text.startsWith("070701")).toBe(true);
    expect(text.lastIndexOf("TRAILER!!!")).toBeGreaterThan(0);
    // header: 6 magic + 13 x 8 hex digits
    expect(text.slice(0, 110)).toMatch(/^070701[0-9A-F]{104}$/);
  });

  it("is deterministic regardless of input order", () => {
    const a = writeCpio(sample);
    const b = writeCpio([...sample].reverse());
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
  });

  it("rejects duplicates, missing parents, and bad paths", () => {
    expect(() => writeCpio([...sample, { type: "dir", path: "bin", mode: 0o755 }])).toThrow(/duplicate/);
    expect(() => writeCpio([{ type: "file", path: "a/b", mode: 0o644, data: new Uint8Array(1) }])).toThrow(/parent/);
    expect(() => normalisePath("a/../b")).toThrow();
    expect(() => normalisePath("/")).toThrow();
    expect(normalisePath("./x//y/")).toBe("x/y");
  });

  it("detects truncation when reading", () => {
    const archive = writeCpio(sample);
    expect(() => readCpio(archive.subarray(0, archive.length - 200))).toThrow(/truncated/);
  });
});
