/**
 * Deterministic writer (and reader, for tests and --check) for the "newc" cpio format
 * (magic 070701) that the Linux kernel unpacks as an initramfs.
 *
 * Determinism: entries are sorted by path, inode numbers are assigned 1..n in that order,
 * mtime is 0, uid/gid are 0, nlink is 2 for directories and 1 otherwise.
 */

export type CpioEntry =
  | { type: "dir"; path: string; mode: number }
  | { type: "file"; path: string; mode: number; data: Uint8Array }
  | { type: "symlink"; path: string; target: string }
  | { type: "char"; path: string; mode: number; major: number; minor: number };

export interface ParsedCpioEntry {
  name: string;
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  rdevMajor: number;
  rdevMinor: number;
  data: Uint8Array;
  /** byte offset of the header inside the archive */
  offset: number;
}

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const MAGIC = "070701";
const HEADER_SIZE = 110;
const TRAILER = "TRAILER!!!";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Normalise "/a/b/" or "./a/b" to "a/b"; rejects empty names and ".." components. */
export function normalisePath(path: string): string {
  const parts = path.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.length === 0) throw new Error(`cpio: empty path ${JSON.stringify(path)}`);
  if (parts.includes("..")) throw new Error(`cpio: ".." not allowed in ${JSON.stringify(path)}`);
  return parts.join("/");
}

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`cpio: field out of range: ${n}`);
  return n.toString(16).padStart(8, "0").toUpperCase();
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

interface RawEntry {
  name: string;
  mode: number;
  nlink: number;
  rdevMajor: number;
  rdevMinor: number;
  data: Uint8Array;
}

function toRaw(e: CpioEntry): RawEntry {
  const name = normalisePath(e.path);
  const perm = (m: number): number => {
    if (!Number.isInteger(m) || m < 0 || m > 0o7777) throw new Error(`cpio: bad mode ${m} for ${name}`);
    return m;
  };
  switch (e.type) {
    case "dir":
      return { name, mode: S_IFDIR | perm(e.mode), nlink: 2, rdevMajor: 0, rdevMinor: 0, data: new Uint8Array(0) };
    case "file":
      return { name, mode: S_IFREG | perm(e.mode), nlink: 1, rdevMajor: 0, rdevMinor: 0, data: e.data };
    case "symlink":
      if (e.target === "") throw new Error(`cpio: empty symlink target for ${name}`);
      return { name, mode: S_IFLNK | 0o777, nlink: 1, rdevMajor: 0, rdevMinor: 0, data: encoder.encode(e.target) };
    case "char":
      return { name, mode: S_IFCHR | perm(e.mode), nlink: 1, rdevMajor: e.major, rdevMinor: e.minor, data: new Uint8Array(0) };
  }
}

function header(ino: number, r: RawEntry, nameSize: number): string {
  return (
    MAGIC +
    hex8(ino) +
    hex8(r.mode) +
    hex8(0) + // uid
    hex8(0) + // gid
    hex8(r.nlink) +
    hex8(0) + // mtime
    hex8(r.data.length) +
    hex8(0) + // devmajor
    hex8(0) + // devminor
    hex8(r.rdevMajor) +
    hex8(r.rdevMinor) +
    hex8(nameSize) +
    hex8(0) // check
  );
}

/**
 * Build an uncompressed newc archive. Parent directories must be listed explicitly
 * (missing parents are an error, so the archive is always complete); duplicates are an error.
 */
export function writeCpio(entries: readonly CpioEntry[]): Uint8Array {
  const raws = entries.map(toRaw).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const names = new Set<string>();
  const dirs = new Set<string>();
  for (const r of raws) {
    if (names.has(r.name)) throw new Error(`cpio: duplicate entry ${r.name}`);
    names.add(r.name);
    if ((r.mode & 0o170000) === S_IFDIR) dirs.add(r.name);
    const slash = r.name.lastIndexOf("/");
    if (slash > 0 && !dirs.has(r.name.slice(0, slash))) {
      throw new Error(`cpio: parent directory of ${r.name} is not in the archive`);
    }
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  const push = (b: Uint8Array): void => {
    chunks.push(b);
    total += b.length;
  };
  const emit = (ino: number, r: RawEntry): void => {
    const nameBytes = encoder.encode(r.name + "\0");
    push(encoder.encode(header(ino, r, nameBytes.length)));
    push(nameBytes);
    push(new Uint8Array(pad4(HEADER_SIZE + nameBytes.length)));
    push(r.data);
    push(new Uint8Array(pad4(r.data.length)));
  };
  raws.forEach((r, i) => emit(i + 1, r));
  emit(0, { name: TRAILER, mode: 0, nlink: 1, rdevMajor: 0, rdevMinor: 0, data: new Uint8Array(0) });
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** Parse a newc archive (stops at the trailer). Validates magic and 4-byte alignment. */
export function readCpio(archive: Uint8Array): ParsedCpioEntry[] {
  const out: ParsedCpioEntry[] = [];
  let off = 0;
  for (;;) {
    if (off % 4 !== 0) throw new Error(`cpio: header at unaligned offset ${off}`);
    if (off + HEADER_SIZE > archive.length) throw new Error("cpio: truncated archive (no trailer)");
    const h = decoder.decode(archive.subarray(off, off + HEADER_SIZE));
    if (h.slice(0, 6) !== MAGIC) throw new Error(`cpio: bad magic at ${off}`);
    const f = (i: number): number => parseInt(h.slice(6 + i * 8, 14 + i * 8), 16);
    const nameSize = f(11);
    const fileSize = f(6);
    const nameStart = off + HEADER_SIZE;
    const name = decoder.decode(archive.subarray(nameStart, nameStart + nameSize - 1));
    const dataStart = nameStart + nameSize + pad4(HEADER_SIZE + nameSize);
    if (dataStart + fileSize > archive.length) throw new Error(`cpio: truncated data for ${name}`);
    if (name === TRAILER) break;
    out.push({
      name,
      ino: f(0),
      mode: f(1),
      uid: f(2),
      gid: f(3),
      nlink: f(4),
      mtime: f(5),
      rdevMajor: f(9),
      rdevMinor: f(10),
      data: archive.subarray(dataStart, dataStart + fileSize),
      offset: off,
    });
    off = dataStart + fileSize + pad4(fileSize);
  }
  return out;
}
