import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { xzDecompressBytes } from "./apt";
import { KernelPayloadError, STUB_SIZE, V86_KERNEL_ADDRESS, flattenKernel, readElf32, stubCode } from "./kernelPayload";

const LOAD = 0x1000000;
const SETUP_BYTES = 2 * 512; // setup_sects = 1

interface Segment {
  readonly paddr: number;
  readonly bytes: Uint8Array;
  readonly memSize?: number;
}

/** An ELF32 LE executable with PT_LOAD segments (and one PT_NOTE, which is skipped). */
function fakeElf(entry: number, segments: readonly Segment[]): Uint8Array {
  const headers = segments.length + 1;
  let offset = 52 + headers * 32;
  const placed = segments.map((s) => {
    const at = offset;
    offset += s.bytes.length;
    return at;
  });
  const elf = new Uint8Array(offset);
  const v = new DataView(elf.buffer);
  elf.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
  v.setUint32(0x18, entry, true);
  v.setUint32(0x1c, 52, true);
  v.setUint16(0x2a, 32, true);
  v.setUint16(0x2c, headers, true);
  v.setUint32(52, 4, true); // PT_NOTE
  segments.forEach((s, i) => {
    const p = 52 + (i + 1) * 32;
    v.setUint32(p, 1, true);
    v.setUint32(p + 4, placed[i]!, true);
    v.setUint32(p + 12, s.paddr, true);
    v.setUint32(p + 16, s.bytes.length, true);
    v.setUint32(p + 20, s.memSize ?? s.bytes.length, true);
    elf.set(s.bytes, placed[i]!);
  });
  return elf;
}

/** A bzImage header (protocol 2.15) whose payload is `payload`, placed after 16 bytes of padding. */
function fakeBzImage(payload: Uint8Array): Uint8Array {
  const bz = new Uint8Array(SETUP_BYTES + 16 + payload.length);
  const v = new DataView(bz.buffer);
  bz[0x1f1] = 1;
  v.setUint16(0x1fe, 0xaa55, true);
  v.setUint32(0x202, 0x53726448, true);
  v.setUint16(0x206, 0x20f, true);
  bz[0x211] = 1; // LOADED_HIGH
  v.setUint32(0x214, V86_KERNEL_ADDRESS, true);
  v.setUint32(0x248, 16, true);
  v.setUint32(0x24c, payload.length, true);
  v.setUint32(0x258, LOAD, true);
  bz.set([1, 2, 3], 0x300); // setup code that must come through unchanged
  bz.set(payload, SETUP_BYTES + 16);
  return bz;
}

const XZ_HEAD = Uint8Array.of(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 9, 9);
const bytes = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

describe("the kernel stored decompressed", () => {
  const text = bytes(1000, 1);
  const data = bytes(301, 7);
  const elf = fakeElf(LOAD + 0x10, [
    { paddr: LOAD, bytes: text },
    { paddr: LOAD + 0x1000, bytes: data, memSize: 0x3000 },
  ]);

  it("keeps the setup code, puts the stub at code32_start and each segment at its offset from the load address", () => {
    const flat = flattenKernel(fakeBzImage(XZ_HEAD), () => elf);
    const image = flat.image;
    expect(image.subarray(0, SETUP_BYTES).subarray(0x300, 0x303)).toEqual(Uint8Array.of(1, 2, 3));
    const kernel = image.subarray(SETUP_BYTES + STUB_SIZE);
    expect(kernel.subarray(0, text.length)).toEqual(text);
    expect(kernel.subarray(0x1000, 0x1000 + data.length)).toEqual(data);
    expect(kernel.subarray(text.length, 0x1000).every((b) => b === 0)).toBe(true);
    // Up to the last file byte, rounded to whole dwords; .bss is the kernel's to clear.
    expect(flat.flatSize).toBe((0x1000 + data.length + 3) & ~3);
    expect(kernel.length).toBe(flat.flatSize);
    expect(flat.memoryEnd).toBe(LOAD + 0x4000);
    expect(flat.entry).toBe(LOAD + 0x10);
    // syssize: the protected-mode part in paragraphs.
    expect(new DataView(image.buffer).getUint32(0x1f4, true)).toBe(Math.ceil((STUB_SIZE + flat.flatSize) / 16));
    expect(image.subarray(SETUP_BYTES, SETUP_BYTES + STUB_SIZE)).toEqual(stubCode(V86_KERNEL_ADDRESS + STUB_SIZE, LOAD, flat.flatSize, LOAD + 0x10));
  });

  it("the stub copies backwards and jumps to the entry with %esi kept", () => {
    const stub = stubCode(0x100040, 0x1000000, 0x2000, 0x1000010);
    const le = (at: number): number => new DataView(stub.buffer).getUint32(at, true);
    expect([...stub.subarray(0, 3)]).toEqual([0x89, 0xf5, 0xbe]); // mov ebp, esi; mov esi, imm32
    expect(le(3)).toBe(0x100040 + 0x2000 - 4);
    expect(stub[7]).toBe(0xbf); // mov edi, imm32
    expect(le(8)).toBe(0x1000000 + 0x2000 - 4);
    expect(stub[12]).toBe(0xb9); // mov ecx, imm32
    expect(le(13)).toBe(0x2000 / 4);
    expect([...stub.subarray(17, 24)]).toEqual([0xfd, 0xf3, 0xa5, 0xfc, 0x89, 0xee, 0xb8]); // std; rep movsd; cld; mov esi, ebp; mov eax
    expect(le(24)).toBe(0x1000010);
    expect([...stub.subarray(28, 30)]).toEqual([0xff, 0xe0]); // jmp eax
    expect(stub.subarray(30).every((b) => b === 0x90)).toBe(true);
    expect(stub.length).toBe(STUB_SIZE);
  });

  it.each([
    ["not a bzImage", new Uint8Array(4096), () => elf, /not a bzImage/],
    ["a payload that is not xz", fakeBzImage(Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0)), () => elf, /not xz-compressed/],
    ["a payload that is not an ELF", fakeBzImage(XZ_HEAD), () => bytes(100, 3), /not a 32-bit little-endian ELF/],
    ["a segment below the load address", fakeBzImage(XZ_HEAD), () => fakeElf(LOAD, [{ paddr: LOAD - 0x1000, bytes: text }]), /below the load address/],
    ["an entry outside the image", fakeBzImage(XZ_HEAD), () => fakeElf(LOAD + 0x100000, [{ paddr: LOAD, bytes: text }]), /entry point/],
    ["a kernel reaching v86's initrd", fakeBzImage(XZ_HEAD), () => fakeElf(LOAD, [{ paddr: LOAD, bytes: text, memSize: 50 << 20 }]), /initrd at 64 MiB/],
  ] as const)("refuses %s", (_, bz, decompress, message) => {
    expect(() => flattenKernel(bz, decompress)).toThrow(KernelPayloadError);
    expect(() => flattenKernel(bz, decompress)).toThrow(message);
  });

  it("reads only the loadable segments", () => {
    expect(readElf32(elf).segments.map((s) => s.paddr)).toEqual([LOAD, LOAD + 0x1000]);
  });

  const haveXz = spawnSync("xz", ["--version"]).status === 0;
  it.skipIf(!haveXz)("decompresses a real xz stream followed by the size word, as in a bzImage", () => {
    const packed = spawnSync("xz", ["-c", "--check=crc32"], { input: elf }).stdout as Buffer;
    const payload = new Uint8Array(packed.length + 4);
    payload.set(packed);
    new DataView(payload.buffer).setUint32(packed.length, elf.length, true);
    const flat = flattenKernel(fakeBzImage(payload), (d) => xzDecompressBytes(d, "the kernel"));
    expect(flat.image.subarray(SETUP_BYTES + STUB_SIZE, SETUP_BYTES + STUB_SIZE + text.length)).toEqual(text);
  });
});
