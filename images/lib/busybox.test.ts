import { describe, expect, it } from "vitest";
import { assertI386Elf, busyboxApplets } from "./busybox";

const enc = new TextEncoder();

describe("busyboxApplets", () => {
  it("reads the sorted NUL-separated applet table and stops at its end", () => {
    const names = ["[", "[[", "ash", "cat", "ls", "mount", "setsid", "sh", "sleep", "uname", "xz"];
    const bin = new Uint8Array([...enc.encode("junk\0\x01\x02"), ...enc.encode(names.join("\0") + "\0\0"), ...enc.encode("zzz\0")]);
    expect(busyboxApplets(bin)).toEqual(names);
  });

  it("fails clearly when there is no table", () => {
    expect(() => busyboxApplets(enc.encode("not busybox at all"))).toThrow(/not found/);
  });
});

describe("assertI386Elf", () => {
  it("accepts ELF32 LE i386 and rejects x86-64", () => {
    const h = new Uint8Array(64);
    h.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
    h[18] = 3;
    expect(() => assertI386Elf(h, "x")).not.toThrow();
    h[4] = 2;
    h[18] = 62;
    expect(() => assertI386Elf(h, "x")).toThrow(/not an i386/);
  });
});
