/**
 * apt-get / apt-cache / dpkg-deb with a private apt state under images/.cache, so the build
 * needs no root and leaves the system's apt state untouched. The system's sources and keyring
 * are used, so apt verifies the signed Release -> Packages -> .deb chain.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";

export interface AptStanza {
  [field: string]: string;
}

export class ToolMissingError extends Error {}

function run(cmd: string, args: string[], cwd?: string): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  if (r.error) {
    if ((r.error as NodeJS.ErrnoException).code === "ENOENT") throw new ToolMissingError(`${cmd} not found`);
    throw r.error;
  }
  return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

export function haveTool(cmd: string): boolean {
  try {
    run(cmd, ["--version"]);
    return true;
  } catch (e) {
    if (e instanceof ToolMissingError) return false;
    throw e;
  }
}

/** Parse deb822 stanzas (apt-cache show output, dpkg-deb -f output). */
export function parseStanzas(text: string): AptStanza[] {
  const out: AptStanza[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const st: AptStanza = {};
    let last: string | undefined;
    for (const line of block.split("\n")) {
      if (line === "") continue;
      if (/^\s/.test(line) && last) {
        st[last] += "\n" + line.trim();
        continue;
      }
      const c = line.indexOf(":");
      if (c <= 0) continue;
      last = line.slice(0, c);
      st[last] = line.slice(c + 1).trim();
    }
    if (Object.keys(st).length) out.push(st);
  }
  return out;
}

export class PrivateApt {
  private readonly opts: string[];
  private updated = false;

  constructor(
    private readonly cacheDir: string,
    private readonly arch: string,
    private readonly log: (msg: string) => void,
  ) {
    const lists = join(cacheDir, "lists");
    const aptCache = join(cacheDir, "apt");
    this.opts = [
      "-o", `APT::Architecture=${arch}`,
      "-o", `APT::Architectures::=${arch}`,
      "-o", `Dir::State::Lists=${lists}`,
      "-o", "Dir::State::Status=/dev/null",
      "-o", `Dir::Cache=${aptCache}`,
      "-o", "Debug::NoLocking=1",
    ];
  }

  /** apt-get update into the private lists. Partial failures are warnings. */
  update(): void {
    if (this.updated) return;
    mkdirSync(join(this.cacheDir, "lists", "partial"), { recursive: true });
    mkdirSync(join(this.cacheDir, "apt", "archives", "partial"), { recursive: true });
    this.log(`apt-get update (private state in ${this.cacheDir}, architecture ${this.arch})`);
    const r = run("apt-get", [...this.opts, "-q", "update"]);
    const errors = (r.stdout + r.stderr).split("\n").filter((l) => /^(E|Err):/.test(l.trim()));
    if (r.status !== 0 || errors.length) {
      this.log(`warning: apt-get update reported problems (continuing if the packages still resolve):\n  ${errors.join("\n  ")}`);
    }
    this.updated = true;
  }

  /** Candidate version of a package, or undefined if apt knows none. */
  candidate(pkg: string): string | undefined {
    const r = run("apt-cache", [...this.opts, "policy", pkg]);
    const m = /Candidate:\s*(\S+)/.exec(r.stdout);
    return m && m[1] && m[1] !== "(none)" ? m[1] : undefined;
  }

  /** The stanza of pkg=version, or undefined if apt cannot find that version. */
  show(pkg: string, version: string): AptStanza | undefined {
    const r = run("apt-cache", [...this.opts, "show", `${pkg}=${version}`]);
    if (r.status !== 0) return undefined;
    return parseStanzas(r.stdout).find((s) => s["Package"] === pkg && s["Version"] === version);
  }

  /** Download pkg=version (apt checks its hash against the signed index) into destDir; returns the path. */
  download(pkg: string, version: string, destDir: string, filename: string): string {
    mkdirSync(destDir, { recursive: true });
    const tmp = mkdtempSync(join(destDir, ".dl-"));
    try {
      this.log(`apt-get download ${pkg}=${version}`);
      const r = run("apt-get", [...this.opts, "-q", "download", `${pkg}=${version}`], tmp);
      const files = readdirSync(tmp).filter((f) => f.endsWith(".deb"));
      if (r.status !== 0 || files.length !== 1 || !files[0]) {
        throw new Error(`apt-get download ${pkg}=${version} failed:\n${r.stderr.trim()}`);
      }
      const dest = join(destDir, filename);
      renameSync(join(tmp, files[0]), dest);
      return dest;
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
}

/** Control fields of a .deb (Package, Version, Architecture). */
export function debControl(debPath: string): AptStanza {
  const r = run("dpkg-deb", ["-f", debPath]);
  if (r.status !== 0) throw new Error(`dpkg-deb -f ${debPath} failed: ${r.stderr.trim()}`);
  const st = parseStanzas(r.stdout)[0];
  if (!st) throw new Error(`dpkg-deb -f ${debPath}: no control fields`);
  return st;
}

/** Extract a .deb's data into dir (no root needed). */
export function debExtract(debPath: string, dir: string): void {
  mkdirSync(dir, { recursive: true });
  const r = run("dpkg-deb", ["-x", debPath, dir]);
  if (r.status !== 0) throw new Error(`dpkg-deb -x ${debPath} failed: ${r.stderr.trim()}`);
}

/** Decompress an xz file's bytes with the xz CLI. */
export function xzDecompress(path: string): Buffer {
  return xz(["-dc", path], undefined, path);
}

/**
 * Decompress one xz stream given as bytes (a bzImage's payload: the stream is followed by the
 * decompressed size, which --single-stream ignores).
 */
export function xzDecompressBytes(data: Uint8Array, what: string): Buffer {
  return xz(["-dc", "--single-stream"], data, what);
}

function xz(args: string[], input: Uint8Array | undefined, what: string): Buffer {
  const r = spawnSync("xz", args, { maxBuffer: 256 * 1024 * 1024, ...(input === undefined ? {} : { input }) });
  if (r.error) {
    if ((r.error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new ToolMissingError(`${what} is xz-compressed but the "xz" command is missing: install xz-utils`);
    }
    throw r.error;
  }
  if (r.status !== 0) throw new Error(`xz ${args.join(" ")} (${what}) failed: ${r.stderr.toString().trim()}`);
  return r.stdout;
}

/** Decompress a zstd file with the zstd CLI. */
export function zstdDecompress(path: string): Buffer {
  const r = spawnSync("zstd", ["-dc", path], { maxBuffer: 256 * 1024 * 1024 });
  if (r.error) {
    if ((r.error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new ToolMissingError(`modules are zstd-compressed but the "zstd" command is missing: install zstd`);
    }
    throw r.error;
  }
  if (r.status !== 0) throw new Error(`zstd -dc ${path} failed: ${r.stderr.toString().trim()}`);
  return r.stdout;
}
