/**
 * Kernel module helpers, all pure: read `.modinfo` from a module's ELF image, strip the
 * appended signature, write/parse `modules.dep`, and order modules so dependencies load first.
 *
 * Debian's kernel packages ship no modules.dep (depmod runs in postinst), so the build
 * derives it from each module's `depends=` modinfo field, which modpost computes from the
 * same symbol references depmod uses.
 */

export const SIGNATURE_MAGIC = "~Module signature appended~\n";
/** sizeof(struct module_signature): algo, hash, id_type, signer_len, key_id_len, pad[3], be32 sig_len */
const MODULE_SIGNATURE_STRUCT_SIZE = 12;

const decoder = new TextDecoder();

/** Canonical module name: basename without .ko, dashes as underscores (like the kernel). */
export function moduleNameFromPath(path: string): string {
  const base = path.slice(path.lastIndexOf("/") + 1);
  return base.replace(/\.ko(\.(xz|gz|zst))?$/, "").replace(/-/g, "_");
}

export function normaliseModuleName(name: string): string {
  return name.replace(/-/g, "_");
}

/** Return the bytes of the named ELF section (ELF32 or ELF64, little or big endian). */
export function elfSection(elf: Uint8Array, wanted: string): Uint8Array | undefined {
  if (elf.length < 52 || elf[0] !== 0x7f || elf[1] !== 0x45 || elf[2] !== 0x4c || elf[3] !== 0x46) {
    throw new Error("not an ELF file");
  }
  const is64 = elf[4] === 2;
  const le = elf[5] === 1;
  const view = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  const u16 = (o: number): number => view.getUint16(o, le);
  const u32 = (o: number): number => view.getUint32(o, le);
  const addr = (o: number): number => (is64 ? Number(view.getBigUint64(o, le)) : u32(o));
  const shoff = addr(is64 ? 0x28 : 0x20);
  const shentsize = u16(is64 ? 0x3a : 0x2e);
  const shnum = u16(is64 ? 0x3c : 0x30);
  const shstrndx = u16(is64 ? 0x3e : 0x32);
  const sect = (i: number): { name: number; offset: number; size: number } => {
    const b = shoff + i * shentsize;
    return is64
      ? { name: u32(b), offset: addr(b + 0x18), size: addr(b + 0x20) }
      : { name: u32(b), offset: u32(b + 0x10), size: u32(b + 0x14) };
  };
  const strtab = sect(shstrndx);
  for (let i = 0; i < shnum; i++) {
    const s = sect(i);
    const nameStart = strtab.offset + s.name;
    let end = nameStart;
    while (end < elf.length && elf[end] !== 0) end++;
    if (decoder.decode(elf.subarray(nameStart, end)) === wanted) {
      if (s.offset + s.size > elf.length) throw new Error(`ELF section ${wanted} out of bounds`);
      return elf.subarray(s.offset, s.offset + s.size);
    }
  }
  return undefined;
}

export interface ModInfo {
  name?: string;
  depends: string[];
  aliases: string[];
  vermagic?: string;
}

/** Parse the NUL-separated key=value strings of a module's .modinfo section. */
export function readModinfo(ko: Uint8Array): ModInfo {
  const sec = elfSection(ko, ".modinfo");
  if (!sec) throw new Error("module has no .modinfo section");
  const info: ModInfo = { depends: [], aliases: [] };
  for (const kv of decoder.decode(sec).split("\0")) {
    const eq = kv.indexOf("=");
    if (eq <= 0) continue;
    const key = kv.slice(0, eq);
    const value = kv.slice(eq + 1);
    if (key === "name") info.name = value;
    else if (key === "vermagic") info.vermagic = value;
    else if (key === "alias") info.aliases.push(value);
    else if (key === "depends") {
      info.depends.push(...value.split(",").filter((d) => d !== "").map(normaliseModuleName));
    }
  }
  return info;
}

export interface StripResult {
  data: Uint8Array;
  /** number of bytes removed (0 if the module was not signed) */
  removed: number;
}

/**
 * Remove an appended module signature: [module][signature][struct module_signature][magic].
 * Unsigned modules are returned unchanged; a malformed trailer is an error.
 */
export function stripModuleSignature(ko: Uint8Array): StripResult {
  const magic = new TextEncoder().encode(SIGNATURE_MAGIC);
  const end = ko.length;
  if (end < magic.length) return { data: ko, removed: 0 };
  for (let i = 0; i < magic.length; i++) {
    if (ko[end - magic.length + i] !== magic[i]) return { data: ko, removed: 0 };
  }
  const structStart = end - magic.length - MODULE_SIGNATURE_STRUCT_SIZE;
  if (structStart < 0) throw new Error("module signature trailer truncated");
  const view = new DataView(ko.buffer, ko.byteOffset, ko.byteLength);
  const sigLen = view.getUint32(structStart + 8, false); // big endian
  const cut = structStart - sigLen;
  if (cut < 0) throw new Error(`module signature length ${sigLen} exceeds module size`);
  const idType = ko[structStart + 2];
  if (idType !== 2) throw new Error(`unexpected module signature id_type ${idType} (expected 2, PKCS#7)`);
  return { data: ko.subarray(0, cut), removed: end - cut };
}

/** modules.dep: "path: dep1 dep2" per line, dependencies transitive and deepest last. */
export function parseModulesDep(text: string): Map<string, string[]> {
  const deps = new Map<string, string[]>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Error(`modules.dep: malformed line ${JSON.stringify(line)}`);
    const path = line.slice(0, colon).trim();
    const list = line.slice(colon + 1).trim();
    deps.set(path, list === "" ? [] : list.split(/\s+/));
  }
  return deps;
}

/**
 * Order the given roots and all their dependencies so that every module comes after its
 * dependencies. Ties are broken by name, so the result is deterministic. Throws on unknown
 * modules and on cycles.
 */
export function loadOrder(roots: Iterable<string>, deps: ReadonlyMap<string, readonly string[]>): string[] {
  const state = new Map<string, "visiting" | "done">();
  const order: string[] = [];
  const visit = (m: string, chain: string[]): void => {
    const s = state.get(m);
    if (s === "done") return;
    if (s === "visiting") throw new Error(`module dependency cycle: ${[...chain, m].join(" -> ")}`);
    const ds = deps.get(m);
    if (!ds) throw new Error(`unknown module ${m}${chain.length ? ` (needed by ${chain[chain.length - 1]})` : ""}`);
    state.set(m, "visiting");
    for (const d of [...ds].sort()) visit(d, [...chain, m]);
    state.set(m, "done");
    order.push(m);
  };
  for (const r of [...roots].sort()) visit(r, []);
  return order;
}

/** All modules reachable from roots (roots included). */
export function closure(roots: Iterable<string>, deps: ReadonlyMap<string, readonly string[]>): Set<string> {
  return new Set(loadOrder(roots, deps));
}

/**
 * Render modules.dep for a set of modules: `deps` maps module path to its direct
 * dependencies' paths. Each line lists the transitive dependencies, deepest last (the
 * depmod convention: modprobe loads the list from the end).
 */
export function renderModulesDep(deps: ReadonlyMap<string, readonly string[]>): string {
  const lines: string[] = [];
  for (const path of [...deps.keys()].sort()) {
    const order = loadOrder([path], deps).filter((p) => p !== path);
    lines.push(`${path}:${order.length ? " " + order.reverse().join(" ") : ""}`);
  }
  return lines.join("\n") + "\n";
}

/**
 * Render modules.alias ("alias PATTERN module" lines, depmod's format, also read by busybox
 * modprobe) so the kernel's on-demand loading (fs-ext4, crypto-crc32c, pci:...) finds them.
 */
export function renderModulesAlias(aliases: ReadonlyMap<string, readonly string[]>): string {
  const lines: string[] = [];
  for (const name of [...aliases.keys()].sort()) {
    for (const a of [...(aliases.get(name) ?? [])].sort()) {
      if (/\s/.test(a)) throw new Error(`module ${name}: alias with whitespace: ${JSON.stringify(a)}`);
      lines.push(`alias ${a} ${name}`);
    }
  }
  return lines.join("\n") + "\n";
}
