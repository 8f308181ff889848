/**
 * Build the default virtlab guest from Debian i386 packages, without root, into images/out/.
 *
 *   npx tsx images/build.ts            build if needed (fast no-op when out/ matches lock.json)
 *   npx tsx images/build.ts --force    rebuild from the (cached or downloaded) .debs
 *   npx tsx images/build.ts --check    only verify out/ and cached .debs against lock.json
 *
 * See images/README.md.
 */
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";

import { PrivateApt, ToolMissingError, debControl, debExtract, haveTool, xzDecompress, xzDecompressBytes, zstdDecompress } from "./lib/apt.ts";
import { flattenKernel } from "./lib/kernelPayload.ts";
import type { AptStanza } from "./lib/apt.ts";
import { assertI386Elf, busyboxApplets } from "./lib/busybox.ts";
import { writeCpio } from "./lib/cpio.ts";
import type { CpioEntry } from "./lib/cpio.ts";
import { AGENT_SCRIPT_PATH, renderAgentScript } from "./lib/agent.ts";
import { LSPCI_PATH, renderLspci } from "./lib/lspci.ts";
import { DATA_SCRIPT_PATH, renderDataScript, renderEtc, renderInit } from "./lib/init.ts";
import { NET_SCRIPT_PATH, UDHCPC_SCRIPT_PATH, renderNetScript, renderUdhcpcScript } from "./lib/network.ts";
import { CONTAINER_INIT_PATH, CONTAINER_SCRIPT_PATH, renderContainerInit, renderContainerScript } from "./lib/container.ts";
import type { InitPlan } from "./lib/init.ts";
import { PACKAGE_ROLES, kernelFromMetaDepends, kernelPackageName, parseLock, parseManifest } from "./lib/manifest.ts";
import type { FileDigest, Lock, LockedDeb, Manifest, PackageRole } from "./lib/manifest.ts";
import {
  loadOrder,
  moduleNameFromPath,
  normaliseModuleName,
  readModinfo,
  renderModulesAlias,
  renderModulesDep,
  stripModuleSignature,
} from "./lib/modules.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const MANIFEST = join(HERE, "manifest.json");
const LOCK = join(HERE, "lock.json");
const OUT = join(HERE, "out");
const CACHE = join(HERE, ".cache");
const DEBS = join(CACHE, "debs");
const MIRROR = "http://deb.debian.org/debian";

const log = (msg: string): void => {
  process.stderr.write(`[images] ${msg}\n`);
};

class BuildError extends Error {}

function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

function digestFile(path: string): FileDigest | undefined {
  if (!existsSync(path)) return undefined;
  const data = readFileSync(path);
  return { size: data.length, sha256: sha256(data) };
}

/** Hash of the recipe and of the code that turns it into outputs. */
function recipeSha256(): string {
  const h = createHash("sha256");
  const files = [
    "manifest.json",
    "build.ts",
    ...readdirSync(join(HERE, "lib"))
      .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
      .sort()
      .map((f) => `lib/${f}`),
  ];
  for (const f of files) {
    const text = readFileSync(join(HERE, f), "utf8").replace(/\r\n/g, "\n");
    h.update(`${f}\0${text.length}\0${text}`);
  }
  return h.digest("hex");
}

function readLock(): Lock | undefined {
  if (!existsSync(LOCK)) return undefined;
  return parseLock(JSON.parse(readFileSync(LOCK, "utf8")));
}

function stableJson(v: unknown): string {
  return JSON.stringify(v, null, 2) + "\n";
}

/** Compare out/ with the lock; returns a list of problems (empty = all good). */
function verifyOutputs(lock: Lock, dir: string): string[] {
  const problems: string[] = [];
  for (const [name, want] of Object.entries(lock.outputs)) {
    const got = digestFile(join(dir, name));
    if (!got) problems.push(`${name}: missing`);
    else if (got.sha256 !== want.sha256 || got.size !== want.size) {
      problems.push(`${name}: sha256 ${got.sha256} (${got.size} B) but lock says ${want.sha256} (${want.size} B)`);
    }
  }
  if (Object.keys(lock.outputs).length === 0) problems.push("lock lists no outputs");
  return problems;
}

function verifyCachedDebs(lock: Lock): { problems: string[]; present: number } {
  const problems: string[] = [];
  let present = 0;
  for (const role of PACKAGE_ROLES) {
    const d = lock.debs[role];
    const got = digestFile(join(DEBS, d.filename));
    if (!got) continue;
    present++;
    if (got.sha256 !== d.sha256) problems.push(`${d.filename}: sha256 ${got.sha256} but lock says ${d.sha256}`);
  }
  return { problems, present };
}

// ---------------------------------------------------------------- resolving the .debs

interface Resolved {
  deb: LockedDeb;
  path: string;
}

function offlineHelp(lock: Lock | undefined): string {
  if (!lock) return "There is no images/lock.json to say which .deb files to use, so apt is required.";
  const lines = PACKAGE_ROLES.map((r) => {
    const d = lock.debs[r];
    return `  ${d.filename}  (sha256 ${d.sha256}, ${d.size} B)${d.pool ? `\n      from ${MIRROR}/${d.pool}` : ""}`;
  });
  return `Alternatively put these files in images/.cache/debs/ by hand:\n${lines.join("\n")}`;
}

class DebResolver {
  private apt: PrivateApt | undefined;

  constructor(
    private readonly manifest: Manifest,
    private readonly lock: Lock | undefined,
  ) {}

  private getApt(): PrivateApt {
    if (!this.apt) {
      const missing = ["apt-get", "apt-cache", "dpkg-deb"].filter((t) => !haveTool(t));
      if (missing.length) {
        throw new BuildError(
          `${missing.join(", ")} not found: the build fetches Debian packages with apt (run it on Debian/Ubuntu, ` +
            `or install apt and dpkg).\n${offlineHelp(this.lock)}`,
        );
      }
      this.apt = new PrivateApt(CACHE, this.manifest.architecture, log);
      this.apt.update();
    }
    return this.apt;
  }

  private packageFor(role: PackageRole): string {
    if (role === "kernel") throw new Error("kernel package is resolved via its metapackage");
    return this.manifest.packages[role].package;
  }

  /** Fresh resolution: candidate version (kernel: via the metapackage). */
  private resolveFresh(role: PackageRole): AptStanza {
    const apt = this.getApt();
    if (role === "kernel") {
      const k = this.manifest.packages.kernel;
      const metaVer = apt.candidate(k.metapackage);
      if (!metaVer) throw new BuildError(`apt knows no candidate for ${k.metapackage} (${this.manifest.architecture}): is the i386 index available?`);
      const meta = apt.show(k.metapackage, metaVer);
      if (!meta || !meta["Depends"]) throw new BuildError(`apt-cache show ${k.metapackage}=${metaVer} gave no Depends`);
      const { abi, version } = kernelFromMetaDepends(meta["Depends"], k.flavour);
      const pkg = kernelPackageName(k.packageTemplate, abi, k.flavour);
      const ver = version ?? apt.candidate(pkg);
      if (!ver) throw new BuildError(`apt has no candidate for ${pkg} (from ${k.metapackage} ${metaVer})`);
      const st = apt.show(pkg, ver);
      if (!st) throw new BuildError(`apt cannot find ${pkg}=${ver} (from ${k.metapackage} ${metaVer})`);
      return st;
    }
    const pkg = this.packageFor(role);
    const ver = apt.candidate(pkg);
    if (!ver) throw new BuildError(`apt has no candidate for ${pkg} (${this.manifest.architecture}): is the index available?`);
    const st = apt.show(pkg, ver);
    if (!st) throw new BuildError(`apt cannot show ${pkg}=${ver}`);
    return st;
  }

  resolve(role: PackageRole): Resolved {
    const locked = this.lock?.debs[role];
    if (locked) {
      const cached = join(DEBS, locked.filename);
      const got = digestFile(cached);
      if (got) {
        if (got.sha256 !== locked.sha256) {
          throw new BuildError(`${cached}: sha256 ${got.sha256} does not match lock.json (${locked.sha256}). Delete the file or fix the lock.`);
        }
        return { deb: locked, path: cached };
      }
    }
    let stanza: AptStanza | undefined;
    if (locked) {
      stanza = this.getApt().show(locked.package, locked.version);
      if (!stanza) {
        stanza = this.resolveFresh(role);
        const what = role === "kernel" ? "kernel" : locked.package;
        log(`NOTICE: ${what} moved from ${locked.package} ${locked.version} to ${stanza["Package"]} ${stanza["Version"]} (locked version no longer on the mirror); lock.json will be rewritten`);
      }
    } else {
      stanza = this.resolveFresh(role);
    }
    const deb = stanzaToDeb(stanza);
    const path = this.getApt().download(deb.package, deb.version, DEBS, deb.filename);
    const got = digestFile(path);
    if (!got || got.sha256 !== deb.sha256) {
      rmSync(path, { force: true });
      throw new BuildError(`downloaded ${deb.filename}: sha256 ${got?.sha256} does not match apt's index (${deb.sha256})`);
    }
    if (locked && locked.package === deb.package && locked.version === deb.version && locked.sha256 !== deb.sha256) {
      throw new BuildError(
        `${path}: ${deb.package} ${deb.version} has sha256 ${deb.sha256} but lock.json says ${locked.sha256}: ` +
          `the archive changed a published version; refusing to build. Investigate, then delete the lock entry to accept it.`,
      );
    }
    return { deb, path };
  }
}

function stanzaToDeb(st: AptStanza): LockedDeb {
  const need = (k: string): string => {
    const v = st[k];
    if (!v) throw new BuildError(`apt stanza for ${st["Package"]} lacks ${k}`);
    return v;
  };
  const pool = need("Filename");
  return {
    package: need("Package"),
    version: need("Version"),
    architecture: need("Architecture"),
    filename: basename(pool),
    pool,
    sha256: need("SHA256"),
    size: Number(need("Size")),
  };
}

// ---------------------------------------------------------------- building

interface ModuleFile {
  name: string;
  /** path relative to lib/modules/<release>/ as shipped (maybe compressed) */
  shipped: string;
  /** path in the initramfs (always uncompressed .ko) */
  path: string;
}

function walk(dir: string, base = dir, out: string[] = []): string[] {
  for (const ent of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, ent.name);
    if (ent.isDirectory()) walk(p, base, out);
    else out.push(relative(base, p));
  }
  return out;
}

function readModule(path: string): Uint8Array {
  if (path.endsWith(".ko")) return readFileSync(path);
  if (path.endsWith(".ko.xz")) return xzDecompress(path);
  if (path.endsWith(".ko.gz")) return gunzipSync(readFileSync(path));
  if (path.endsWith(".ko.zst")) return zstdDecompress(path);
  throw new BuildError(`unknown module format: ${path}`);
}

interface ModulesResult {
  entries: CpioEntry[];
  plan: InitPlan["modules"];
  dataDisk: InitPlan["dataDiskModules"];
  count: number;
  strippedBytes: number;
}

function buildModules(manifest: Manifest, kernelRoot: string, release: string): ModulesResult {
  const candidates = [join(kernelRoot, "lib/modules", release), join(kernelRoot, "usr/lib/modules", release)];
  const modDir = candidates.find((d) => existsSync(d));
  if (!modDir) throw new BuildError(`kernel package has no lib/modules/${release}`);
  const byName = new Map<string, ModuleFile>();
  for (const rel of walk(modDir)) {
    if (!/\.ko(\.(xz|gz|zst))?$/.test(rel)) continue;
    const name = moduleNameFromPath(rel);
    if (byName.has(name)) throw new BuildError(`two modules named ${name}: ${byName.get(name)?.shipped} and ${rel}`);
    byName.set(name, { name, shipped: rel, path: rel.replace(/\.ko\.(xz|gz|zst)$/, ".ko") });
  }
  const data = new Map<string, Uint8Array>();
  const deps = new Map<string, string[]>();
  const aliases = new Map<string, string[]>();
  const visit = (name: string, by: string): void => {
    if (deps.has(name)) return;
    const f = byName.get(name);
    if (!f) throw new BuildError(`module ${name} (needed by ${by}) is not in the kernel package (built in, or misspelt?)`);
    const raw = readModule(join(modDir, f.shipped));
    const info = readModinfo(raw);
    if (info.vermagic && !info.vermagic.startsWith(release + " ")) {
      throw new BuildError(`module ${name}: vermagic "${info.vermagic}" is not for ${release}`);
    }
    data.set(name, raw);
    deps.set(name, info.depends);
    aliases.set(name, info.aliases);
    for (const d of info.depends) visit(d, name);
  };
  const groupsOf = new Map<string, string[]>();
  for (const g of manifest.deviceGroups) {
    const roots = g.modules.map(normaliseModuleName);
    for (const r of roots) visit(r, `device group ${g.name}`);
    for (const m of loadOrder(roots, deps)) groupsOf.set(m, [...(groupsOf.get(m) ?? []), g.name]);
  }
  const bootOrder = loadOrder(groupsOf.keys(), deps);
  const onDemand = manifest.onDemandModules.map(normaliseModuleName);
  for (const m of onDemand) visit(m, "onDemandModules");
  const dataDisk = manifest.dataDiskModules.map(normaliseModuleName);
  for (const m of dataDisk) visit(m, "dataDiskModules");
  const order = loadOrder([...groupsOf.keys(), ...onDemand, ...dataDisk], deps);
  const entries: CpioEntry[] = [];
  const dirs = new Set<string>();
  const base = `lib/modules/${release}`;
  const addDirs = (p: string): void => {
    for (let i = p.indexOf("/"); i >= 0; i = p.indexOf("/", i + 1)) dirs.add(p.slice(0, i));
    dirs.add(p);
  };
  addDirs(base);
  let stripped = 0;
  const depByPath = new Map<string, string[]>();
  for (const name of order) {
    const f = byName.get(name)!;
    const { data: clean, removed } = stripModuleSignature(data.get(name)!);
    stripped += removed;
    addDirs(`${base}/${dirname(f.path)}`);
    entries.push({ type: "file", path: `${base}/${f.path}`, mode: 0o644, data: clean });
    depByPath.set(f.path, (deps.get(name) ?? []).map((d) => byName.get(d)!.path));
  }
  const enc = new TextEncoder();
  entries.push({ type: "file", path: `${base}/modules.dep`, mode: 0o644, data: enc.encode(renderModulesDep(depByPath)) });
  const aliasByName = new Map(order.map((n) => [n, aliases.get(n) ?? []]));
  entries.push({ type: "file", path: `${base}/modules.alias`, mode: 0o644, data: enc.encode(renderModulesAlias(aliasByName)) });
  for (const d of dirs) entries.push({ type: "dir", path: d, mode: 0o755 });
  const plan = bootOrder.map((name) => ({ path: byName.get(name)!.path, groups: groupsOf.get(name)! }));
  const dataDiskPlan = loadOrder(dataDisk, deps).map((name) => byName.get(name)!.path);
  return { entries, plan, dataDisk: dataDiskPlan, count: order.length, strippedBytes: stripped };
}

function buildInitramfs(manifest: Manifest, busyboxRoot: string, kernelRoot: string, release: string): Uint8Array {
  const bb = readFileSync(join(busyboxRoot, manifest.busybox.path));
  assertI386Elf(bb, "busybox");
  // lspci is a script of ours (busybox-static has none; kept out should a later one have it).
  const applets = busyboxApplets(bb).filter((a) => a !== "busybox" && a !== "lspci");
  const mods = buildModules(manifest, kernelRoot, release);
  const enc = new TextEncoder();
  const entries: CpioEntry[] = [
    ...["bin", "dev", "etc", "mnt", "proc", "run", "sys", "usr", "var"].map((p): CpioEntry => ({ type: "dir", path: p, mode: 0o755 })),
    { type: "dir", path: "root", mode: 0o700 },
    { type: "dir", path: "tmp", mode: 0o1777 },
    { type: "symlink", path: "sbin", target: "bin" },
    { type: "symlink", path: "usr/bin", target: "../bin" },
    { type: "symlink", path: "usr/sbin", target: "../bin" },
    { type: "symlink", path: "var/run", target: "../run" },
    { type: "char", path: "dev/console", mode: 0o600, major: 5, minor: 1 },
    { type: "file", path: "bin/busybox", mode: 0o755, data: bb },
    ...applets.map((a): CpioEntry => ({ type: "symlink", path: `bin/${a}`, target: "busybox" })),
    ...mods.entries,
  ];
  for (const [path, text] of Object.entries(renderEtc(manifest.hostname, manifest.prompt, release))) {
    entries.push({ type: "file", path, mode: path === "etc/shadow" ? 0o600 : 0o644, data: enc.encode(text) });
  }
  const plan: InitPlan = {
    kernelRelease: release,
    hostname: manifest.hostname,
    prompt: manifest.prompt,
    groups: manifest.deviceGroups.map((g) => ({ name: g.name, pci: g.pci })),
    modules: mods.plan,
    dataDiskModules: mods.dataDisk,
    netGroups: manifest.deviceGroups.filter((g) => g.network).map((g) => g.name),
    consoleGroups: manifest.deviceGroups.filter((g) => g.console).map((g) => g.name),
  };
  entries.push({ type: "file", path: "init", mode: 0o755, data: enc.encode(renderInit(plan)) });
  entries.push({ type: "file", path: DATA_SCRIPT_PATH.slice(1), mode: 0o755, data: enc.encode(renderDataScript()) });
  entries.push({ type: "file", path: AGENT_SCRIPT_PATH.slice(1), mode: 0o755, data: enc.encode(renderAgentScript()) });
  entries.push({ type: "file", path: LSPCI_PATH.slice(1), mode: 0o755, data: enc.encode(renderLspci()) });
  // Several machines on a network (issue 14): the name and NIC set-up, udhcpc's script.
  entries.push({ type: "file", path: NET_SCRIPT_PATH.slice(1), mode: 0o755, data: enc.encode(renderNetScript(manifest.hostname)) });
  for (const dir of ["usr/share", "usr/share/udhcpc"]) entries.push({ type: "dir", path: dir, mode: 0o755 });
  entries.push({ type: "file", path: UDHCPC_SCRIPT_PATH.slice(1), mode: 0o755, data: enc.encode(renderUdhcpcScript()) });
  // Containers (issue 13): the helper and the first program inside a container.
  entries.push({ type: "file", path: CONTAINER_SCRIPT_PATH.slice(1), mode: 0o755, data: enc.encode(renderContainerScript()) });
  entries.push({ type: "file", path: CONTAINER_INIT_PATH.slice(1), mode: 0o755, data: enc.encode(renderContainerInit()) });
  log(`initramfs: busybox + ${applets.length} applet links, ${mods.count} modules (${mods.strippedBytes} B of signatures stripped)`);
  return writeCpio(entries);
}

function build(manifest: Manifest, lock: Lock | undefined, recipe: string): Lock {
  mkdirSync(DEBS, { recursive: true });
  const resolver = new DebResolver(manifest, lock);
  const resolved = {} as Record<PackageRole, Resolved>;
  for (const role of PACKAGE_ROLES) resolved[role] = resolver.resolve(role);
  const kpkg = resolved.kernel.deb.package;
  const km = /^linux-image-(.+?)(-unsigned)?$/.exec(kpkg);
  if (!km || !km[1]) throw new BuildError(`cannot derive the kernel release from ${kpkg}`);
  const release = km[1];
  for (const role of PACKAGE_ROLES) {
    const { deb, path } = resolved[role];
    const ctl = debControl(path);
    if (ctl["Package"] !== deb.package || ctl["Version"] !== deb.version || ctl["Architecture"] !== deb.architecture) {
      throw new BuildError(`${path}: control says ${ctl["Package"]} ${ctl["Version"]} ${ctl["Architecture"]}, expected ${deb.package} ${deb.version} ${deb.architecture}`);
    }
    if (deb.architecture !== manifest.architecture && deb.architecture !== "all") {
      throw new BuildError(`${path}: architecture ${deb.architecture}, expected ${manifest.architecture}`);
    }
    log(`${role}: ${deb.package} ${deb.version} (${deb.architecture})`);
  }

  const work = mkdtempSync(join(CACHE, "work-"));
  const staging = mkdtempSync(join(HERE, ".out-"));
  chmodSync(staging, 0o755);
  try {
    const roots = {} as Record<PackageRole, string>;
    for (const role of PACKAGE_ROLES) {
      roots[role] = join(work, role);
      debExtract(resolved[role].path, roots[role]);
    }
    const outputs = new Map<string, Uint8Array>();
    for (const [name, f] of Object.entries(manifest.files)) {
      const src = join(roots[f.from], f.path.replace("{release}", release));
      if (!existsSync(src)) throw new BuildError(`${resolved[f.from].deb.filename} has no ${f.path.replace("{release}", release)}`);
      outputs.set(name, readFileSync(src));
    }
    // The kernel stored decompressed: its own xz decompressor took about 6 s of every cold boot.
    const kernel = outputs.get("bzImage");
    if (kernel !== undefined) outputs.set("bzImage", flattenKernel(kernel, (data) => xzDecompressBytes(data, "the kernel")).image);
    outputs.set("initramfs.cpio", buildInitramfs(manifest, roots.busybox, roots.kernel, release));
    const files: Record<string, FileDigest> = {};
    for (const [name, data] of [...outputs].sort(([a], [b]) => (a < b ? -1 : 1))) {
      files[name] = { size: data.length, sha256: sha256(data) };
    }
    outputs.set("guest.json", new TextEncoder().encode(stableJson({ kernelRelease: release, cmdline: manifest.cmdline, agent: "serial1", files })));

    const newLock: Lock = {
      lockVersion: 1,
      recipeSha256: recipe,
      kernelRelease: release,
      debs: { seabios: resolved.seabios.deb, busybox: resolved.busybox.deb, kernel: resolved.kernel.deb },
      outputs: {},
    };
    for (const [name, data] of [...outputs].sort(([a], [b]) => (a < b ? -1 : 1))) {
      writeFileSync(join(staging, name), data);
      newLock.outputs[name] = { size: data.length, sha256: sha256(data) };
    }
    // Verify what landed on disk before publishing it.
    const problems = verifyOutputs(newLock, staging);
    if (problems.length) throw new BuildError(`staged outputs failed verification:\n  ${problems.join("\n  ")}`);
    // Same inputs as the lock must give the same outputs: anything else is a non-reproducible build.
    if (lock && lock.recipeSha256 === recipe && PACKAGE_ROLES.every((r) => lock.debs[r].sha256 === newLock.debs[r].sha256)) {
      const diff = Object.keys(newLock.outputs).filter((n) => lock.outputs[n]?.sha256 !== newLock.outputs[n]?.sha256);
      if (diff.length) throw new BuildError(`outputs differ from lock.json with identical inputs (non-reproducible?): ${diff.join(", ")}`);
    }
    const old = `${OUT}.old-${process.pid}`;
    if (existsSync(OUT)) renameSync(OUT, old);
    renameSync(staging, OUT);
    rmSync(old, { recursive: true, force: true });
    return newLock;
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(staging, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- main

function main(argv: string[]): number {
  const flags = new Set(argv);
  for (const f of flags) {
    if (!["--force", "--check", "--help", "-h"].includes(f)) {
      log(`unknown option ${f}`);
      return 2;
    }
  }
  if (flags.has("--help") || flags.has("-h")) {
    process.stdout.write("usage: npx tsx images/build.ts [--force | --check]\n");
    return 0;
  }
  const manifest = parseManifest(JSON.parse(readFileSync(MANIFEST, "utf8")));
  const lock = readLock();
  const recipe = recipeSha256();

  if (flags.has("--check")) {
    if (!lock) {
      log("check: images/lock.json is missing");
      return 1;
    }
    const problems = verifyOutputs(lock, OUT);
    if (lock.recipeSha256 !== recipe) problems.push("manifest.json or the build code changed since lock.json was written: rebuild");
    const debs = verifyCachedDebs(lock);
    problems.push(...debs.problems);
    if (problems.length) {
      log(`check FAILED:\n  ${problems.join("\n  ")}`);
      return 1;
    }
    log(`check ok: ${Object.keys(lock.outputs).length} outputs match lock.json (kernel ${lock.kernelRelease}; ${debs.present}/3 cached .debs verified)`);
    return 0;
  }

  if (!flags.has("--force") && lock && lock.recipeSha256 === recipe && verifyOutputs(lock, OUT).length === 0) {
    log(`up to date: images/out/ matches lock.json (kernel ${lock.kernelRelease}); use --force to rebuild`);
    return 0;
  }

  const t0 = Date.now();
  const newLock = build(manifest, lock, recipe);
  const text = stableJson(newLock);
  if (!existsSync(LOCK) || readFileSync(LOCK, "utf8") !== text) {
    writeFileSync(LOCK, text);
    log("wrote images/lock.json");
  }
  for (const [name, d] of Object.entries(newLock.outputs)) {
    log(`  out/${name.padEnd(15)} ${String(d.size).padStart(9)} B  ${d.sha256}`);
  }
  log(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s (kernel ${newLock.kernelRelease})`);
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  if (e instanceof BuildError || e instanceof ToolMissingError) {
    log(`error: ${e.message}`);
    process.exitCode = 1;
  } else {
    throw e;
  }
}
