import { describe, expect, it } from "vitest";
import {
  SIGNATURE_MAGIC,
  closure,
  loadOrder,
  moduleNameFromPath,
  parseModulesDep,
  readModinfo,
  renderModulesAlias,
  renderModulesDep,
  stripModuleSignature,
} from "./modules";

const enc = new TextEncoder();

/** Minimal ELF32 LE with sections: null, .modinfo, .shstrtab. */
function fakeModule(modinfo: string): Uint8Array {
  const info = enc.encode(modinfo);
  const shstr = enc.encode("\0.modinfo\0.shstrtab\0");
  const infoOff = 52;
  const strOff = infoOff + info.length;
  const shoff = (strOff + shstr.length + 3) & ~3;
  const buf = new Uint8Array(shoff + 3 * 40);
  const v = new DataView(buf.buffer);
  buf.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
  v.setUint16(16, 1, true); // ET_REL
  v.setUint16(18, 3, true); // EM_386
  v.setUint32(0x20, shoff, true);
  v.setUint16(0x2e, 40, true);
  v.setUint16(0x30, 3, true);
  v.setUint16(0x32, 2, true);
  buf.set(info, infoOff);
  buf.set(shstr, strOff);
  const sect = (i: number, name: number, off: number, size: number): void => {
    const b = shoff + i * 40;
    v.setUint32(b, name, true);
    v.setUint32(b + 4, 1, true);
    v.setUint32(b + 0x10, off, true);
    v.setUint32(b + 0x14, size, true);
  };
  sect(1, 1, infoOff, info.length);
  sect(2, 10, strOff, shstr.length);
  return buf;
}

/** Append a PKCS#7-style signature trailer like sign-file does. */
function sign(module: Uint8Array, sigLen: number): Uint8Array {
  const magic = enc.encode(SIGNATURE_MAGIC);
  const out = new Uint8Array(module.length + sigLen + 12 + magic.length);
  out.set(module);
  out.fill(0xaa, module.length, module.length + sigLen);
  const s = module.length + sigLen;
  out[s + 2] = 2; // id_type PKEY_ID_PKCS7
  new DataView(out.buffer).setUint32(s + 8, sigLen, false);
  out.set(magic, s + 12);
  return out;
}

describe("module signatures", () => {
  it("strips an appended signature exactly", () => {
    const mod = fakeModule("name=foo\0depends=\0");
    const signed = sign(mod, 681);
    const r = stripModuleSignature(signed);
    expect(r.removed).toBe(681 + 12 + SIGNATURE_MAGIC.length);
    expect(Buffer.from(r.data).equals(Buffer.from(mod))).toBe(true);
  });

  it("leaves unsigned modules alone and rejects a corrupt trailer", () => {
    const mod = fakeModule("name=foo\0");
    expect(stripModuleSignature(mod)).toEqual({ data: mod, removed: 0 });
    const bad = sign(mod, 10);
    new DataView(bad.buffer).setUint32(mod.length + 10 + 8, 1_000_000, false);
    expect(() => stripModuleSignature(bad)).toThrow(/exceeds/);
  });
});

describe("modinfo", () => {
  it("reads name, depends (dashes normalised) and aliases from .modinfo", () => {
    const ko = fakeModule("license=GPL\0depends=virtio,virtio-ring\0alias=pci:v00001AF4d*\0alias=fs-9p\0name=virtio_net\0vermagic=6.1.0-50-686 SMP mod_unload\0");
    const info = readModinfo(sign(ko, 100));
    expect(info.name).toBe("virtio_net");
    expect(info.depends).toEqual(["virtio", "virtio_ring"]);
    expect(info.aliases).toEqual(["pci:v00001AF4d*", "fs-9p"]);
    expect(info.vermagic).toMatch(/^6\.1\.0-50-686 /);
    expect(readModinfo(fakeModule("depends=\0")).depends).toEqual([]);
  });

  it("derives canonical names from paths", () => {
    expect(moduleNameFromPath("kernel/drivers/net/ethernet/8390/ne2k-pci.ko")).toBe("ne2k_pci");
    expect(moduleNameFromPath("kernel/fs/ext4/ext4.ko.xz")).toBe("ext4");
  });
});

describe("dependency order", () => {
  // diamond: top -> left, right; left -> base; right -> base
  const diamond = new Map<string, string[]>([
    ["top", ["right", "left"]],
    ["left", ["base"]],
    ["right", ["base"]],
    ["base", []],
    ["unrelated", []],
  ]);

  it("loads each module once, after all its dependencies", () => {
    const order = loadOrder(["top"], diamond);
    expect(order).toEqual(["base", "left", "right", "top"]);
    expect(closure(["left"], diamond)).toEqual(new Set(["base", "left"]));
  });

  it("is deterministic and merges several roots", () => {
    expect(loadOrder(["top", "unrelated", "left"], diamond)).toEqual(loadOrder(["left", "top", "unrelated"], diamond));
    const o = loadOrder(["right", "unrelated"], diamond);
    expect(o.indexOf("base")).toBeLessThan(o.indexOf("right"));
    expect(o).not.toContain("left");
  });

  it("rejects cycles and unknown modules", () => {
    const cyc = new Map([["a", ["b"]], ["b", ["a"]]]);
    expect(() => loadOrder(["a"], cyc)).toThrow(/cycle: a -> b -> a/);
    expect(() => loadOrder(["nope"], diamond)).toThrow(/unknown module nope/);
  });

  it("renders modules.dep with transitive deps (deepest last) and parses it back", () => {
    const byPath = new Map([
      ["k/top.ko", ["k/left.ko", "k/right.ko"]],
      ["k/left.ko", ["k/base.ko"]],
      ["k/right.ko", ["k/base.ko"]],
      ["k/base.ko", []],
    ]);
    const text = renderModulesDep(byPath);
    expect(text).toBe(
      "k/base.ko:\nk/left.ko: k/base.ko\nk/right.ko: k/base.ko\nk/top.ko: k/right.ko k/left.ko k/base.ko\n",
    );
    const parsed = parseModulesDep("# comment\n" + text);
    expect(parsed.get("k/top.ko")).toEqual(["k/right.ko", "k/left.ko", "k/base.ko"]);
    expect(parsed.get("k/base.ko")).toEqual([]);
    // the parsed (transitive) form orders the same way as the direct one
    expect(loadOrder(["k/top.ko"], parsed)).toEqual(["k/base.ko", "k/left.ko", "k/right.ko", "k/top.ko"]);
    expect(() => parseModulesDep("garbage line")).toThrow(/malformed/);
  });

  it("renders modules.alias", () => {
    expect(renderModulesAlias(new Map([["ext4", ["fs-ext4", "fs-ext2"]], ["9p", ["fs-9p"]]]))).toBe(
      "alias fs-9p 9p\nalias fs-ext2 ext4\nalias fs-ext4 ext4\n",
    );
  });
});
