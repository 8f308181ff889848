import { describe, expect, it } from "vitest";
import { decodeText, encodeText } from "../host.ts";
import { ManualClock, type Clock } from "../clock.ts";
import { Emitter } from "../events.ts";
import { INSTRUCTION_SAMPLE_MS, InstructionMeter, SectionMeter } from "./meter.ts";

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

describe("InstructionMeter", () => {
  /** A machine whose 32-bit counter the test advances, each output chunk bringing it. */
  function machine(): { source: { instructionCounter(): number; onOutput: Emitter<unknown>["event"] }; run(instructions: number, chunk?: boolean): void; dispose(): void } {
    let counter = 0xffff_0000;
    const output = new Emitter<unknown>();
    return {
      source: { instructionCounter: () => counter, onOutput: output.event },
      run(instructions, chunk = true) {
        counter = (counter + instructions) >>> 0;
        if (chunk) output.fire(undefined);
      },
      dispose: () => output.dispose(),
    };
  }

  it("counts across the counter's wraps, read on the clock", () => {
    const clock = new ManualClock();
    const m = machine();
    const meter = new InstructionMeter(m.source, clock);
    meter.start();
    for (let i = 0; i < 10; i++) {
      m.run(3_000_000_000, false);
      clock.advance(INSTRUCTION_SAMPLE_MS);
    }
    expect(meter.stop()).toBe(30_000_000_000);
    m.dispose();
  });

  it("counts across wraps when its timer runs late (a page in the background), from the output chunks", () => {
    const clock = new ManualClock();
    // None of this clock's timers comes within the test, as a hidden page's once a minute.
    const late: Clock = { now: () => clock.now(), after: () => ({ dispose() {} }) };
    const m = machine();
    const meter = new InstructionMeter(m.source, late);
    meter.start();
    for (let i = 0; i < 10; i++) m.run(3_000_000_000);
    m.run(5);
    expect(meter.stop()).toBe(30_000_000_005);
    // Stopped: later chunks are not counted.
    m.run(1000);
    expect(meter.stop()).toBe(30_000_000_005);
    m.dispose();
  });
});
