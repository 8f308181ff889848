import { describe, expect, it } from "vitest";
import { concatBytes } from "../bytes.ts";
import { SOURCE_FILE, SOURCE_SEED_BYTES, makeSource, sourceLayout } from "./scripts.ts";

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
    expect(command).toContain(`> ${SOURCE_FILE} && rm -f ${SOURCE_FILE}.seed && sha256sum ${SOURCE_FILE}`);
    expect(command).not.toContain("whole");
  });
});
