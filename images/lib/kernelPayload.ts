/**
 * The kernel stored decompressed. Debian's bzImage carries vmlinux xz-compressed, and its own
 * decompressor unpacks it at every boot: in v86 that alone took about 6 s of an 11–13 s cold boot
 * in Node (measured with earlyprintk: "Probing EDD" at 0.7 s, the kernel's first line at 6.7 s).
 *
 * So the build decompresses it once, on the host, into a bzImage of the same boot protocol:
 * - the real-mode setup code is Debian's, unchanged (it reads the BIOS memory map and switches to
 *   protected mode, then jumps to code32_start, 1 MiB, with %esi = the boot parameters);
 * - the protected-mode part is a 64-byte stub followed by the kernel's loadable segments laid out
 *   flat from LOAD_PHYSICAL_ADDR (the header's pref_address, 16 MiB);
 * - the stub copies that image to 16 MiB (backwards: the ranges overlap), puts %esi back and
 *   jumps to the ELF entry (startup_32, a physical address), as the decompressor does after
 *   unpacking. At the preferred address a relocatable kernel needs no relocation, and the kernel
 *   clears its own .bss.
 * The file grows from about 5.7 to 15 MB; only a cold boot fetches it (a start from a saved state
 * has the kernel in the state's memory).
 */

/** Offsets in the bzImage setup header (Documentation/arch/x86/boot.rst). */
const HDR = { setupSects: 0x1f1, syssize: 0x1f4, bootFlag: 0x1fe, magic: 0x202, version: 0x206, loadflags: 0x211, code32Start: 0x214, payloadOffset: 0x248, payloadLength: 0x24c, prefAddress: 0x258 } as const;
const HDRS_MAGIC = 0x53726448;
const XZ_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const ELF_MAGIC = 0x464c457f;
/** Where v86 puts the protected-mode part (code32_start) and the initrd (src/kernel.js). */
export const V86_KERNEL_ADDRESS = 0x100000;
export const V86_INITRD_ADDRESS = 64 << 20;
export const STUB_SIZE = 64;

export interface KernelSegment {
  readonly paddr: number;
  readonly fileOffset: number;
  readonly fileSize: number;
  readonly memSize: number;
}

export interface FlatKernel {
  /** The new bzImage. */
  readonly image: Uint8Array;
  /** Where the kernel runs (16 MiB) and its entry point. */
  readonly loadAddress: number;
  readonly entry: number;
  /** Bytes copied by the stub, and the kernel's end in memory (.bss included). */
  readonly flatSize: number;
  readonly memoryEnd: number;
}

export class KernelPayloadError extends Error {}

/** The xz-compressed payload of a bzImage, with the fields the new image needs. */
export function readBzImage(bz: Uint8Array): { readonly payload: Uint8Array; readonly setupBytes: number; readonly loadAddress: number } {
  const view = new DataView(bz.buffer, bz.byteOffset, bz.byteLength);
  if (bz.length < 0x270 || view.getUint16(HDR.bootFlag, true) !== 0xaa55 || view.getUint32(HDR.magic, true) !== HDRS_MAGIC) throw new KernelPayloadError("not a bzImage (no boot sector flag or HdrS header)");
  if (view.getUint16(HDR.version, true) < 0x208) throw new KernelPayloadError("boot protocol older than 2.08 has no payload fields");
  if ((bz[HDR.loadflags]! & 1) === 0) throw new KernelPayloadError("not loaded high: v86 boots only bzImages");
  const setupBytes = ((bz[HDR.setupSects] || 4) + 1) * 512;
  const offset = setupBytes + view.getUint32(HDR.payloadOffset, true);
  const payload = bz.subarray(offset, offset + view.getUint32(HDR.payloadLength, true));
  if (!XZ_MAGIC.every((b, i) => payload[i] === b)) throw new KernelPayloadError("the payload is not xz-compressed (this build only knows Debian's xz kernels)");
  const loadAddress = view.getUint32(HDR.prefAddress, true);
  if (view.getUint32(HDR.code32Start, true) !== V86_KERNEL_ADDRESS) throw new KernelPayloadError("code32_start is not 1 MiB");
  return { payload, setupBytes, loadAddress };
}

/** The PT_LOAD segments and entry of a 32-bit little-endian ELF (vmlinux). */
export function readElf32(elf: Uint8Array): { readonly entry: number; readonly segments: KernelSegment[] } {
  const view = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  if (elf.length < 52 || view.getUint32(0, true) !== ELF_MAGIC || elf[4] !== 1 || elf[5] !== 1) throw new KernelPayloadError("the decompressed payload is not a 32-bit little-endian ELF");
  const phoff = view.getUint32(0x1c, true);
  const phentsize = view.getUint16(0x2a, true);
  const phnum = view.getUint16(0x2c, true);
  const segments: KernelSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    if (view.getUint32(p, true) !== 1) continue;
    const segment = { fileOffset: view.getUint32(p + 4, true), paddr: view.getUint32(p + 12, true), fileSize: view.getUint32(p + 16, true), memSize: view.getUint32(p + 20, true) };
    if (segment.fileOffset + segment.fileSize > elf.length) throw new KernelPayloadError("an ELF segment runs past the end of the file");
    segments.push(segment);
  }
  if (segments.length === 0) throw new KernelPayloadError("the ELF has no loadable segment");
  return { entry: view.getUint32(0x18, true), segments };
}

/** i386 machine code of the stub: copy `size` bytes from `from` to `to` backwards, then jump to `entry` with %esi kept. */
export function stubCode(from: number, to: number, size: number, entry: number): Uint8Array {
  const code: number[] = [];
  const imm32 = (v: number): void => void code.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  code.push(0x89, 0xf5); // mov ebp, esi       (the boot parameters)
  code.push(0xbe); // mov esi, the source's last dword
  imm32(from + size - 4);
  code.push(0xbf); // mov edi, the destination's last dword
  imm32(to + size - 4);
  code.push(0xb9); // mov ecx, dwords
  imm32(size / 4);
  code.push(0xfd); // std                (backwards: the destination overlaps the source's end)
  code.push(0xf3, 0xa5); // rep movsd
  code.push(0xfc); // cld
  code.push(0x89, 0xee); // mov esi, ebp
  code.push(0xb8); // mov eax, entry
  imm32(entry);
  code.push(0xff, 0xe0); // jmp eax
  const stub = new Uint8Array(STUB_SIZE).fill(0x90); // nop padding
  stub.set(code);
  return stub;
}

/** Debian's bzImage with its payload stored decompressed (see the file comment). */
export function flattenKernel(bz: Uint8Array, decompressXz: (data: Uint8Array) => Uint8Array): FlatKernel {
  const { payload, setupBytes, loadAddress } = readBzImage(bz);
  const elf = decompressXz(payload);
  const { entry, segments } = readElf32(elf);
  let fileEnd = 0;
  let memoryEnd = 0;
  for (const s of segments) {
    if (s.paddr < loadAddress) throw new KernelPayloadError(`a segment at 0x${s.paddr.toString(16)} lies below the load address 0x${loadAddress.toString(16)}`);
    fileEnd = Math.max(fileEnd, s.paddr + s.fileSize);
    memoryEnd = Math.max(memoryEnd, s.paddr + s.memSize);
  }
  if (entry < loadAddress || entry >= fileEnd) throw new KernelPayloadError("the entry point is outside the kernel's image");
  const flatSize = (fileEnd - loadAddress + 3) & ~3;
  // v86 loads the initrd at 64 MiB: neither the loaded file nor the running kernel may reach it.
  if (V86_KERNEL_ADDRESS + STUB_SIZE + flatSize > V86_INITRD_ADDRESS || memoryEnd > V86_INITRD_ADDRESS) throw new KernelPayloadError("the decompressed kernel would overlap v86's initrd at 64 MiB");
  const image = new Uint8Array(setupBytes + STUB_SIZE + flatSize);
  image.set(bz.subarray(0, setupBytes));
  image.set(stubCode(V86_KERNEL_ADDRESS + STUB_SIZE, loadAddress, flatSize, entry), setupBytes);
  for (const s of segments) image.set(elf.subarray(s.fileOffset, s.fileOffset + s.fileSize), setupBytes + STUB_SIZE + s.paddr - loadAddress);
  // syssize: the protected-mode part in 16-byte paragraphs.
  new DataView(image.buffer).setUint32(HDR.syssize, Math.ceil((STUB_SIZE + flatSize) / 16), true);
  return { image, loadAddress, entry, flatSize, memoryEnd };
}
