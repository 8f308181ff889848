/**
 * How much memory a machine's images call for (issue 16): the machine form shows the guest's
 * memory next to the size of its images, and suggests more when a kernel + initrd is large.
 * The default memory stays as it is; this only advises.
 */
import { MAX_MEMORY_MIB, MIN_LINUX_MEMORY_MIB } from "./profile.ts";

const MIB = 1024 * 1024;
/** v86 loads the initrd at 64 MiB: everything below is out of its reach. */
export const INITRD_LOAD_MIB = 64;
/** Kernel + initrd from this size on look like an installer (Debian's netboot is ~36 MiB). */
export const INSTALLER_BYTES = 24 * MIB;
/** What an installer-type guest gets suggested: they warn about low memory at 256 MiB and below. */
export const INSTALLER_MEMORY_MIB = 512;

export interface MemoryAdviceInput {
  readonly memoryMiB: number;
  /** Sizes of the kernel and initrd a kernel + initrd machine boots (undefined otherwise). */
  readonly kernelBytes?: number | undefined;
  readonly initrdBytes?: number | undefined;
  /** Sizes of the images on the machine's drives. */
  readonly diskBytes?: readonly number[];
}

export interface MemoryAdvice {
  readonly memoryMiB: number;
  /** Kernel + initrd + drive images, in bytes. */
  readonly imageBytes: number;
  /** What the kernel + initrd need at least, in MiB (undefined without a kernel + initrd). */
  readonly neededMiB: number | undefined;
  /** More memory to suggest, when the machine has less than its images call for. */
  readonly suggestMiB: number | undefined;
  /** Why: the initrd must fit above 64 MiB and unpack, or the guest looks like an installer. */
  readonly reason: "initrd" | "installer" | undefined;
}

const roundUp = (mib: number, step: number): number => Math.ceil(mib / step) * step;

export function memoryAdvice(input: MemoryAdviceInput): MemoryAdvice {
  const kernel = input.kernelBytes ?? 0;
  const initrd = input.initrdBytes ?? 0;
  const imageBytes = kernel + initrd + (input.diskBytes ?? []).reduce((sum, n) => sum + n, 0);
  if (input.kernelBytes === undefined && input.initrdBytes === undefined) {
    return { memoryMiB: input.memoryMiB, imageBytes, neededMiB: undefined, suggestMiB: undefined, reason: undefined };
  }
  const initrdMiB = Math.ceil(initrd / MIB);
  const kernelMiB = Math.ceil(kernel / MIB);
  // The initrd sits above 64 MiB and unpacks into memory (a compressed one to about 3 times its
  // size), the kernel decompresses itself, and the guest needs room to run.
  const fits = INITRD_LOAD_MIB + initrdMiB + 3 * initrdMiB + 2 * kernelMiB + 32;
  const installer = kernel + initrd >= INSTALLER_BYTES;
  const neededMiB = Math.min(MAX_MEMORY_MIB, Math.max(MIN_LINUX_MEMORY_MIB, roundUp(fits, 64), installer ? INSTALLER_MEMORY_MIB : 0));
  const more = input.memoryMiB < neededMiB;
  return {
    memoryMiB: input.memoryMiB,
    imageBytes,
    neededMiB,
    suggestMiB: more ? neededMiB : undefined,
    reason: more ? (installer ? "installer" : "initrd") : undefined,
  };
}
