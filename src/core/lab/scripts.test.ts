import { describe, expect, it } from "vitest";
import { concatBytes } from "../bytes.ts";
import { SOURCE_SEED_BYTES, cutSource, makeSource, sourceFile, sourceLayout, sourceStep } from "./scripts.ts";

const seed = Uint8Array.from({ length: SOURCE_SEED_BYTES }, (_, i) => (i * 7 + 3) & 0xff);
/** ASCII only (digits and a newline). */
const text = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** The first `bytes` of seed, "1\n", seed, "2\n", …: what makeSource's file must hold. */
function prefixOfCopies(bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let at = 0;
  for (let n = 1; at < bytes; n++) {
    for (const part of [seed, text(`${n}\n`)]) {
      const take = Math.min(part.length, bytes - at);
      out.set(part.subarray(0, take), at);
      at += take;
    }
  }
  return out;
}

/** What the guest's commands write for a layout, with the same seed. */
function written(bytes: number): Uint8Array {
  const { copies, tail } = sourceLayout(bytes);
  const parts: Uint8Array[] = [];
  for (let n = 1; n <= copies; n++) parts.push(seed, text(`${n}\n`));
  parts.push(seed.subarray(0, tail.seedBytes), text(tail.digits));
  return concatBytes(parts);
}

describe("lab test data (makeSource)", () => {
  const S = SOURCE_SEED_BYTES;
  it.each([1, S - 1, S, S + 1, S + 2, S + 3, 2 * (S + 2), 2 * (S + 2) + S + 1, 786_435, 4 * 1024 * 1024, 16 * 1024 * 1024])(
    "writes exactly the first %i bytes of the copies, no more",
    (bytes) => {
      const got = written(bytes);
      expect(got.length).toBe(bytes);
      const want = prefixOfCopies(bytes);
      expect(got.findIndex((b, i) => b !== want[i])).toBe(-1);
    },
  );

  it("writes the file at its size in one go, with no longer file cut to size", () => {
    const command = makeSource(16 * 1024 * 1024);
    const { copies } = sourceLayout(16 * 1024 * 1024);
    expect(command).toContain(`while [ $i -lt ${copies} ]`);
    const file = sourceFile(16 * 1024 * 1024);
    expect(command).toContain(`> ${file} && rm -f /tmp/lab-src.seed && sha256sum ${file}`);
    expect(command).not.toContain("whole");
  });

  it("cuts a smaller size from a larger file in one block: the same bytes as making it", () => {
    expect(cutSource(16 * 1024 * 1024, 4 * 1024 * 1024)).toBe(
      `dd if=/tmp/lab-src-16777216 of=/tmp/lab-src-4194304 bs=4194304 count=1 2>/dev/null && sha256sum /tmp/lab-src-4194304`,
    );
    // What makes the cut right: the first bytes of a larger file are the smaller file.
    const big = written(16 * 1024 * 1024);
    for (const bytes of [4 * 1024 * 1024, 786_435, S + 1]) {
      const small = written(bytes);
      expect(small.length).toBe(bytes);
      expect(small.findIndex((b, i) => b !== big[i])).toBe(-1);
    }
  });
});

describe("which test data a lab machine makes (sourceStep)", () => {
  const MiB = 1024 * 1024;
  it.each([
    { held: [], bytes: 786_435, exact: false, largest: 16 * MiB, step: { make: 16 * MiB }, why: "the first need makes the largest the machine will read" },
    { held: [16 * MiB], bytes: 786_435, exact: false, largest: 16 * MiB, step: { use: 16 * MiB }, why: "the console takes any file long enough" },
    { held: [16 * MiB], bytes: 16 * MiB, exact: true, largest: 16 * MiB, step: { use: 16 * MiB }, why: "an exact size held is used" },
    { held: [16 * MiB], bytes: 4 * MiB, exact: true, largest: 16 * MiB, step: { cut: 16 * MiB }, why: "a smaller exact size is cut" },
    { held: [16 * MiB, 4 * MiB], bytes: 4 * MiB, exact: true, largest: 16 * MiB, step: { use: 4 * MiB }, why: "a cut file is used again" },
    { held: [4 * MiB, 16 * MiB], bytes: MiB, exact: true, largest: 16 * MiB, step: { cut: 4 * MiB }, why: "the smallest larger file is cut" },
    { held: [4 * MiB, 16 * MiB], bytes: MiB, exact: false, largest: 16 * MiB, step: { use: 4 * MiB }, why: "the smallest file long enough is used" },
    { held: [4 * MiB], bytes: 16 * MiB, exact: true, largest: 4 * MiB, step: { make: 16 * MiB }, why: "a need past the plan makes its own" },
  ])("$why", ({ held, bytes, exact, largest, step }) => {
    expect(sourceStep(held, bytes, exact, largest)).toEqual(step);
  });
});
