/** Types and validation for images/manifest.json (the recipe) and images/lock.json (the pins). */

export type PackageRole = "seabios" | "busybox" | "kernel";
export const PACKAGE_ROLES: readonly PackageRole[] = ["seabios", "busybox", "kernel"];

export interface ManifestDeviceGroup {
  name: string;
  pci: string[];
  modules: string[];
  network?: boolean;
  console?: boolean;
}

export interface Manifest {
  distribution: string;
  architecture: string;
  packages: {
    seabios: { package: string };
    busybox: { package: string };
    kernel: { metapackage: string; flavour: string; packageTemplate: string };
  };
  files: Record<string, { from: PackageRole; path: string }>;
  busybox: { path: string };
  hostname: string;
  prompt: string;
  deviceGroups: ManifestDeviceGroup[];
  /** modules shipped in the initramfs but loaded only on demand (kernel request_module -> modprobe) */
  onDemandModules: string[];
  /** modules /init loads itself when the command line names a data disk (its file system) */
  dataDiskModules: string[];
  cmdline: string;
}

export interface LockedDeb {
  package: string;
  version: string;
  architecture: string;
  /** basename of the .deb, as stored in images/.cache/debs/ */
  filename: string;
  /** path on a Debian mirror, e.g. pool/main/s/seabios/seabios_1.16.2-1_all.deb */
  pool?: string;
  sha256: string;
  size: number;
}

export interface FileDigest {
  size: number;
  sha256: string;
}

export interface Lock {
  lockVersion: 1;
  /** sha256 over manifest.json and the build's own sources: a change means "rebuild" */
  recipeSha256: string;
  kernelRelease: string;
  debs: Record<PackageRole, LockedDeb>;
  outputs: Record<string, FileDigest>;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function str(o: Record<string, unknown>, k: string, where: string): string {
  const v = o[k];
  if (typeof v !== "string" || v === "") throw new Error(`${where}: "${k}" must be a non-empty string`);
  return v;
}

function strArray(o: Record<string, unknown>, k: string, where: string): string[] {
  const v = o[k];
  if (!Array.isArray(v) || !v.every((x): x is string => typeof x === "string")) {
    throw new Error(`${where}: "${k}" must be an array of strings`);
  }
  return v;
}

function rec(o: Record<string, unknown>, k: string, where: string): Record<string, unknown> {
  const v = o[k];
  if (!isRecord(v)) throw new Error(`${where}: "${k}" must be an object`);
  return v;
}

export function parseManifest(json: unknown): Manifest {
  const W = "manifest.json";
  if (!isRecord(json)) throw new Error(`${W}: not an object`);
  const pk = rec(json, "packages", W);
  const kernel = rec(pk, "kernel", `${W} packages`);
  const files: Manifest["files"] = {};
  for (const [name, f] of Object.entries(rec(json, "files", W))) {
    if (!isRecord(f)) throw new Error(`${W} files.${name}: must be an object`);
    const from = str(f, "from", `${W} files.${name}`);
    if (!(PACKAGE_ROLES as readonly string[]).includes(from)) throw new Error(`${W} files.${name}: unknown package role ${from}`);
    if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`${W} files: bad output name ${name}`);
    files[name] = { from: from as PackageRole, path: str(f, "path", `${W} files.${name}`) };
  }
  const groupsRaw = json["deviceGroups"];
  if (!Array.isArray(groupsRaw)) throw new Error(`${W}: "deviceGroups" must be an array`);
  const deviceGroups = groupsRaw.map((g, i): ManifestDeviceGroup => {
    const w = `${W} deviceGroups[${i}]`;
    if (!isRecord(g)) throw new Error(`${w}: must be an object`);
    const out: ManifestDeviceGroup = { name: str(g, "name", w), pci: strArray(g, "pci", w), modules: strArray(g, "modules", w) };
    if (g["network"] === true) out.network = true;
    if (g["console"] === true) out.console = true;
    return out;
  });
  return {
    distribution: str(json, "distribution", W),
    architecture: str(json, "architecture", W),
    packages: {
      seabios: { package: str(rec(pk, "seabios", W), "package", `${W} packages.seabios`) },
      busybox: { package: str(rec(pk, "busybox", W), "package", `${W} packages.busybox`) },
      kernel: {
        metapackage: str(kernel, "metapackage", `${W} packages.kernel`),
        flavour: str(kernel, "flavour", `${W} packages.kernel`),
        packageTemplate: str(kernel, "packageTemplate", `${W} packages.kernel`),
      },
    },
    files,
    busybox: { path: str(rec(json, "busybox", W), "path", `${W} busybox`) },
    hostname: str(json, "hostname", W),
    prompt: str(json, "prompt", W),
    deviceGroups,
    onDemandModules: strArray(json, "onDemandModules", W),
    dataDiskModules: strArray(json, "dataDiskModules", W),
    cmdline: str(json, "cmdline", W),
  };
}

export function parseLock(json: unknown): Lock {
  const W = "lock.json";
  if (!isRecord(json) || json["lockVersion"] !== 1) throw new Error(`${W}: unsupported format`);
  const debsRaw = rec(json, "debs", W);
  const debs = {} as Record<PackageRole, LockedDeb>;
  for (const role of PACKAGE_ROLES) {
    const d = rec(debsRaw, role, `${W} debs`);
    const w = `${W} debs.${role}`;
    const size = d["size"];
    if (typeof size !== "number") throw new Error(`${w}: "size" must be a number`);
    const pool = d["pool"];
    // Same key order as the build writes, so a rewritten lock does not churn.
    debs[role] = {
      package: str(d, "package", w),
      version: str(d, "version", w),
      architecture: str(d, "architecture", w),
      filename: str(d, "filename", w),
      ...(typeof pool === "string" ? { pool } : {}),
      sha256: str(d, "sha256", w),
      size,
    };
  }
  const outputs: Record<string, FileDigest> = {};
  for (const [name, o] of Object.entries(rec(json, "outputs", W))) {
    if (!isRecord(o) || typeof o["size"] !== "number") throw new Error(`${W} outputs.${name}: bad entry`);
    outputs[name] = { size: o["size"], sha256: str(o, "sha256", `${W} outputs.${name}`) };
  }
  return {
    lockVersion: 1,
    recipeSha256: str(json, "recipeSha256", W),
    kernelRelease: str(json, "kernelRelease", W),
    debs,
    outputs,
  };
}

/** Kernel package name for an ABI, e.g. ("6.1.0-50", "686") -> linux-image-6.1.0-50-686-unsigned */
export function kernelPackageName(template: string, abi: string, flavour: string): string {
  return template.replace("{abi}", abi).replace("{flavour}", flavour);
}

/**
 * Parse the metapackage's Depends, e.g. "linux-image-6.1.0-50-686 (= 6.1.176-1)",
 * into the ABI ("6.1.0-50") and the exact version, if pinned.
 */
export function kernelFromMetaDepends(depends: string, flavour: string): { abi: string; version?: string } {
  const re = new RegExp(`linux-image-(\\d+\\.\\d+\\.\\d+-\\d+)-${flavour.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?![\\w-])(?:\\s*\\(=\\s*([^)\\s]+)\\))?`);
  const m = re.exec(depends);
  if (!m || !m[1]) throw new Error(`cannot find a linux-image-*-${flavour} dependency in "${depends}"`);
  return m[2] ? { abi: m[1], version: m[2] } : { abi: m[1] };
}
