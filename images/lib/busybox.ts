/**
 * Read the applet list straight from a busybox binary (its sorted, NUL-separated
 * applet_names table, which starts with "[" and "[["), so the build never has to run an
 * i386 binary on the build machine.
 */
const decoder = new TextDecoder();

/**
 * The guest shells' LANG. Busybox has no locale files: it enables its UTF-8 handling (the line
 * editor's, one character per accented letter) when LANG names UTF-8, which the page's terminal
 * speaks.
 */
export const GUEST_LANG = "C.UTF-8";

export function busyboxApplets(binary: Uint8Array): string[] {
  const start = findBytes(binary, new Uint8Array([0x5b, 0x00, 0x5b, 0x5b, 0x00])); // "[\0[[\0"
  if (start < 0) throw new Error("busybox: applet name table not found");
  const names: string[] = [];
  let off = start;
  for (;;) {
    let end = off;
    while (end < binary.length && binary[end] !== 0) end++;
    const name = decoder.decode(binary.subarray(off, end));
    if (name === "" || !/^[a-z0-9_.[\]-]+$/.test(name)) break;
    if (names.length && name <= names[names.length - 1]!) break; // table is sorted
    names.push(name);
    off = end + 1;
  }
  if (names.length < 10 || !names.includes("sh")) throw new Error(`busybox: implausible applet table (${names.length} names)`);
  return names;
}

/** Check the ELF header says 32-bit little-endian x86 with no program interpreter hint. */
export function assertI386Elf(binary: Uint8Array, what: string): void {
  if (binary[0] !== 0x7f || binary[1] !== 0x45 || binary[2] !== 0x4c || binary[3] !== 0x46) throw new Error(`${what}: not ELF`);
  const machine = binary[18]! | (binary[19]! << 8);
  if (binary[4] !== 1 || binary[5] !== 1 || machine !== 3) throw new Error(`${what}: not an i386 ELF (class ${binary[4]}, machine ${machine})`);
}

function findBytes(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
