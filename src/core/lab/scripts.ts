/**
 * The guest side of every workload: busybox shell commands, built by pure functions so tests can
 * read them. Timed parts sit between section markers (meter.ts); the host times the markers.
 */
import { DEFAULT_9P_MSIZE } from "./devices.ts";
import { markerPrintf } from "./meter.ts";
import { NET_SCRIPT } from "../identity.ts";
import { GUEST_ADDRESS, PEER_ADDRESS, SINK_PORT, SOURCE_PORT } from "./netPeer.ts";

/** Where test data of `bytes` bytes lives in the guest's tmpfs (a machine may hold several sizes). */
export function sourceFile(bytes: number): string {
  return `/tmp/lab-src-${bytes}`;
}
const SOURCE_SEED = "/tmp/lab-src.seed";
export const CONSOLE_FILE = "/tmp/lab-con";
export const ZERO_FILE = "/tmp/lab-zero";
export const IDE_DIR = "/mnt/ide";
export const SHARE_DIR = "/mnt/9p";
export const TEST_FILE = "lab-f";
/** ICMP payload that fills a 1500-byte IP packet: 1500 - 20 (IP) - 8 (ICMP). */
export const ECHO_PAYLOAD = 1472;

const DROP_CACHES = "sync; echo 3 > /proc/sys/vm/drop_caches";

function timed(id: number, body: string): string {
  return `${markerPrintf("begin", id)}; ${body}; ${markerPrintf("end", id)}`;
}

/** Random bytes drawn from the guest's /dev/urandom for a source; the rest repeats them. */
export const SOURCE_SEED_BYTES = 256 * 1024;

/**
 * `bytes` bytes in tmpfs (RAM) at sourceFile(bytes), and their sha256 printed: SOURCE_SEED_BYTES
 * from /dev/urandom, repeated, each copy followed by a line with its number, so no two copies sit
 * at the same distance from the start and a misplaced block changes the sha256. The guest's
 * urandom is slow under emulation (16 MiB: 7.9 s in Node, about 20 s in Chromium, the larger part
 * of the lab's "preparing test data"; built this way: 1.3 s in Node). Nothing on the paths
 * measured compresses, so repeating costs the measurements nothing. The file is written once at
 * its size (sourceLayout): cutting a longer one to size with `head -c` took busybox longer than
 * making it (16 MiB in Chromium: 5.7 s for the copies, 10.2 s for the cut); `cutSource` reads the
 * prefix in one block instead.
 */
export function makeSource(bytes: number): string {
  const { copies, tail } = sourceLayout(bytes);
  const file = sourceFile(bytes);
  const rest = tail.seedBytes === 0 ? "" : tail.seedBytes === SOURCE_SEED_BYTES ? `; cat ${SOURCE_SEED}` : `; head -c ${tail.seedBytes} ${SOURCE_SEED}`;
  const digits = tail.digits === "" ? "" : `; printf ${tail.digits}`;
  return (
    `head -c ${SOURCE_SEED_BYTES} /dev/urandom > ${SOURCE_SEED} && { i=0; while [ $i -lt ${copies} ]; do i=$((i + 1)); cat ${SOURCE_SEED}; echo $i; done${rest}${digits}; } > ${file} && ` +
    `rm -f ${SOURCE_SEED} && sha256sum ${file}`
  );
}

/**
 * The test data of `bytes` bytes cut from a larger one of `from` bytes, and its sha256 printed:
 * makeSource's files are prefixes of one endless sequence, so the first `bytes` of the larger file
 * are what makeSource(bytes) would write. `dd` reads them in one block (tmpfs gives a read all it
 * asks for); a short file would fail the size checks of every workload that uses it.
 */
export function cutSource(from: number, bytes: number): string {
  return `dd if=${sourceFile(from)} of=${sourceFile(bytes)} bs=${bytes} count=1 2>/dev/null && sha256sum ${sourceFile(bytes)}`;
}

/** The next step towards test data of some size, given the sizes the guest holds (sourceStep). */
export type SourceStep = { readonly use: number } | { readonly cut: number } | { readonly make: number };

/**
 * How to come by test data of `bytes` bytes (exactly that many when `exact`, else at least) when
 * the guest holds files of the sizes `held`, on a machine whose workloads need at most `largest`:
 * use one held, cut it from a larger one held, or make a new one, of `largest` bytes when that is
 * more. So a machine draws from /dev/urandom and runs the copy loop once, and the smaller sizes
 * cost a `dd` and a sha256 each.
 */
export function sourceStep(held: readonly number[], bytes: number, exact: boolean, largest: number): SourceStep {
  const fits = held.filter((n) => (exact ? n === bytes : n >= bytes));
  if (fits.length > 0) return { use: Math.min(...fits) };
  const larger = held.filter((n) => n > bytes);
  if (exact && larger.length > 0) return { cut: Math.min(...larger) };
  return { make: Math.max(bytes, largest) };
}

/**
 * How makeSource fills `bytes`: `copies` whole copies (the seed and its line "n\n"), then the
 * first `tail.seedBytes` of the seed and the first `tail.digits` of the next line: the first
 * `bytes` of the endless sequence of copies.
 */
export function sourceLayout(bytes: number): { readonly copies: number; readonly tail: { readonly seedBytes: number; readonly digits: string } } {
  let copies = 0;
  let filled = 0;
  const copyBytes = (n: number): number => SOURCE_SEED_BYTES + String(n).length + 1;
  while (filled + copyBytes(copies + 1) <= bytes) filled += copyBytes(++copies);
  const rest = bytes - filled;
  const seedBytes = Math.min(rest, SOURCE_SEED_BYTES);
  return { copies, tail: { seedBytes, digits: String(copies + 1).slice(0, rest - seedBytes) } };
}

/** The test data makeConsoleText needs for `bytes` of console text (base64 makes 4 bytes of 3). */
export function consoleSourceBytes(bytes: number): number {
  return Math.ceil((bytes * 3) / 4) + 3;
}

/**
 * `bytes` printable bytes (base64 without newlines: no control bytes that a tty or the marker
 * protocol would touch) made from the test data in `source` (at least consoleSourceBytes(bytes)
 * long: `head` ends the pipe once it has its bytes), and their sha256.
 */
export function makeConsoleText(bytes: number, source: string): string {
  return `base64 ${source} | tr -d '\\n' | head -c ${bytes} > ${CONSOLE_FILE} && sha256sum ${CONSOLE_FILE}`;
}

/** Write the console text to the console the shell runs on, in raw mode (no CR/LF mapping). */
export function consoleWrite(id: number): string {
  return `s=$(stty -g); stty raw -echo; ${timed(id, `cat ${CONSOLE_FILE}`)}; stty "$s"`;
}

export function formatIde(): string {
  return `modprobe ext4 2>/dev/null; mke2fs -q -F /dev/sda >/dev/null 2>&1 && mkdir -p ${IDE_DIR} && mount -t ext2 /dev/sda ${IDE_DIR}`;
}

export function mountShare(msize: number = DEFAULT_9P_MSIZE): string {
  return `mkdir -p ${SHARE_DIR}; umount ${SHARE_DIR} 2>/dev/null; mount -t 9p -o trans=virtio,version=9p2000.L,msize=${msize} host9p ${SHARE_DIR}`;
}

/** Copy the test data in `source` to the file system at `dir`, synced (the timed part). */
export function storageWrite(id: number, dir: string, source: string): string {
  return `rm -f ${dir}/${TEST_FILE}; ${DROP_CACHES}; ${timed(id, `dd if=${source} of=${dir}/${TEST_FILE} bs=1M conv=fsync 2>/dev/null`)}`;
}

export function storageRead(id: number, dir: string): string {
  return `${DROP_CACHES}; ${timed(id, `dd if=${dir}/${TEST_FILE} of=/dev/null bs=1M 2>/dev/null`)}`;
}

/**
 * Size and sha256 of the test file, read from the device (caches dropped first). The size is the
 * file system's (`stat`), the bytes are read in 1 MiB blocks (`dd`): busybox's `wc -c` and
 * `sha256sum` read a file a few KiB at a time, which on 9p (no cache) is a request each. 16 MiB
 * in Node: 1.5-1.8 s this way, 3.3-5.0 s with `wc -c` and `sha256sum` of the file.
 */
export function storageVerify(dir: string): string {
  return `${DROP_CACHES}; ${sizeOf(`${dir}/${TEST_FILE}`)}; dd if=${dir}/${TEST_FILE} bs=1M 2>/dev/null | sha256sum`;
}

/** A file's size in bytes on a line: `stat` asks the file system; `wc -c` would read it all (1.6 s for 16 MiB). */
function sizeOf(path: string): string {
  return `stat -c %s ${path}`;
}

/** A fixed address; stopping the guest's background DHCP client, so no DISCOVER lands in a timed run. */
export function networkUp(): string {
  return `${NET_SCRIPT} static ${GUEST_ADDRESS}/24`;
}

/** `count` echo round trips, each next one sent as soon as the reply is in (-A). */
export function netEcho(id: number, count: number): string {
  return `${timed(id, `ping -c ${count} -s ${ECHO_PAYLOAD} -A -q -W 2 ${PEER_ADDRESS} > /tmp/lab-ping 2>&1`)}; cat /tmp/lab-ping`;
}

/** Send the test data in `source` to the peer's sink over TCP. */
export function tcpUpload(id: number, source: string): string {
  return timed(id, `nc ${PEER_ADDRESS} ${SINK_PORT} < ${source}`);
}

export const DOWNLOAD_FILE = "/tmp/lab-dl";

/** Receive the peer's source bytes over TCP into tmpfs; then print their size and sha256. */
export function tcpDownload(id: number): string {
  return `rm -f ${DOWNLOAD_FILE}; ${timed(id, `nc ${PEER_ADDRESS} ${SOURCE_PORT} < /dev/null > ${DOWNLOAD_FILE}`)}; ${sizeOf(DOWNLOAD_FILE)}; sha256sum ${DOWNLOAD_FILE}`;
}

/** `bytes` zeros in tmpfs, written in one block (busybox `head -c`: 0.8 s for 2 MiB in Node, `dd` 0.05 s). */
export function makeZeros(bytes: number): string {
  return `dd if=/dev/zero of=${ZERO_FILE} bs=${bytes} count=1 2>/dev/null`;
}

export function cpuHash(id: number): string {
  return timed(id, `sha256sum ${ZERO_FILE} > /tmp/lab-hash`) + "; cat /tmp/lab-hash";
}

/** The first sha256 digest in a command's output. */
export function parseDigest(output: string): string | undefined {
  return /\b([0-9a-f]{64})\b/.exec(output)?.[1];
}

/** busybox ping's summary line. */
export function parsePing(output: string): { transmitted: number; received: number } | undefined {
  const match = /(\d+) packets transmitted, (\d+) packets received/.exec(output);
  return match === null ? undefined : { transmitted: Number(match[1]), received: Number(match[2]) };
}
