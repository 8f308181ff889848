import { describe, expect, it } from "vitest";
import { decodeText, encodeText } from "../host.ts";
import { SectionMeter } from "./meter.ts";

const begin = (id: number): string => `\x1eLB${id}\x1f`;
const end = (id: number): string => `\x1eLE${id}\x1f`;

describe("SectionMeter", () => {
  it("times and keeps exactly the bytes between its markers, whatever the chunking", () => {
    const payload = "abc\x1eE1 0\x1fdef\x1eLE9\x1fxyz"; // other markers inside are payload
    const stream = encodeText(`echo ${begin(4)}junk\x1eLB3\x1f${begin(4)}${payload}${end(4)}tail`);
    for (const size of [1, 2, 3, 7, 1000]) {
      const meter = new SectionMeter(4, true);
      let t = 0;
      for (let i = 0; i < stream.length; i += size) meter.push(stream.subarray(i, i + size), t++);
      const result = meter.result;
      expect(result).toBeDefined();
      expect(decodeText(result?.bytes ?? new Uint8Array())).toBe(`junk\x1eLB3\x1f${begin(4)}${payload}`);
      expect(result?.byteCount).toBe(result?.bytes.length);
      if (size === 1) expect(result?.endedAt).toBeGreaterThan(result?.startedAt ?? Infinity);
    }
  });

  it("counts without keeping bytes and reports nothing before the end marker", () => {
    const meter = new SectionMeter(1, false);
    meter.push(encodeText(`${begin(1)}${"x".repeat(5000)}`), 10);
    expect(meter.started).toBe(true);
    expect(meter.result).toBeUndefined();
    meter.push(encodeText(end(1)), 25);
    expect(meter.result).toMatchObject({ startedAt: 10, endedAt: 25, byteCount: 5000 });
    expect(meter.result?.bytes.length).toBe(0);
  });
});

