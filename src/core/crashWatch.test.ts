import { describe, expect, it } from "vitest";
import { ManualClock } from "./clock.ts";
import { CrashWatch, RAN_FINE_AFTER_MS, REPEATED_CRASH_WINDOW_MS, machinesThatRanFine, machinesToOffer, noteRanFine, parseRanFine } from "./crashWatch.ts";

function watch(): { clock: ManualClock; crashes: CrashWatch; fine: string[] } {
  const clock = new ManualClock();
  const crashes = new CrashWatch(clock);
  const fine: string[] = [];
  crashes.onRanFine((id) => fine.push(id));
  return { clock, crashes, fine };
}

describe("CrashWatch", () => {
  it("a reset that crashes again within seconds is a repeated crash", () => {
    const { clock, crashes } = watch();
    crashes.started("m");
    clock.advance(2_000);
    expect(crashes.crashed("m")).toEqual({ repeated: false, afterMs: 2_000 });
    clock.advance(10_000); // the user reads the message, then resets
    crashes.started("m");
    clock.advance(3_000);
    expect(crashes.crashed("m")).toEqual({ repeated: true, afterMs: 3_000 });
  });

  it("a crash long after the reset is not a repeated one", () => {
    const { clock, crashes } = watch();
    crashes.started("m");
    crashes.crashed("m");
    crashes.started("m");
    clock.advance(REPEATED_CRASH_WINDOW_MS + 1);
    expect(crashes.crashed("m").repeated).toBe(false);
  });

  it("a crash after the shell came back is not a repeated one", () => {
    const { clock, crashes, fine } = watch();
    crashes.started("m");
    crashes.crashed("m");
    crashes.started("m");
    clock.advance(1_000);
    crashes.shellReady("m");
    clock.advance(1_000);
    expect(crashes.crashed("m").repeated).toBe(false);
    expect(fine).toEqual(["m"]);
  });

  it("another machine in between breaks the chain", () => {
    const { crashes } = watch();
    crashes.started("a");
    crashes.crashed("a");
    crashes.started("b");
    crashes.started("a");
    expect(crashes.crashed("a").repeated).toBe(false);
  });

  it("a run that lasts without crashing ran fine, once", () => {
    const { clock, crashes, fine } = watch();
    crashes.started("vga-only");
    clock.advance(RAN_FINE_AFTER_MS - 1);
    expect(fine).toEqual([]);
    clock.advance(1);
    crashes.shellReady("vga-only");
    expect(fine).toEqual(["vga-only"]);
  });

  it("a run that crashes before its time never ran fine", () => {
    const { clock, crashes, fine } = watch();
    crashes.started("m");
    clock.advance(1_000);
    crashes.crashed("m");
    clock.advance(RAN_FINE_AFTER_MS * 2);
    expect(fine).toEqual([]);
  });
});

describe("the ran-fine record", () => {
  const machines = [{ id: "default" }, { id: "grub" }, { id: "crashy" }, { id: "old" }, { id: "gone-soon" }];

  it("offers the machines that ran fine, newest first, never the one that crashed", () => {
    let record = noteRanFine({}, "old", 1);
    record = noteRanFine(record, "default", 5);
    record = noteRanFine(record, "crashy", 9);
    record = noteRanFine(record, "grub", 7);
    expect(machinesThatRanFine(record, machines, "crashy").map((m) => m.id)).toEqual(["grub", "default", "old"]);
  });

  it("at most three, and only machines that still exist", () => {
    const record = { default: 1, grub: 2, old: 3, "gone-soon": 4, deleted: 5 };
    expect(machinesThatRanFine(record, machines, "crashy").map((m) => m.id)).toEqual(["gone-soon", "old", "grub"]);
  });

  it("offers the built-in machine when none ran fine, unless it is the one that crashed", () => {
    expect(machinesToOffer({}, machines, "crashy").map((m) => m.id)).toEqual(["default"]);
    expect(machinesToOffer({}, machines, "default")).toEqual([]);
    expect(machinesToOffer({ grub: 2 }, machines, "crashy").map((m) => m.id)).toEqual(["grub"]);
  });

  it("reads back what it stored and drops anything malformed", () => {
    expect(parseRanFine(JSON.stringify(noteRanFine({}, "a", 42)))).toEqual({ a: 42 });
    expect(parseRanFine(null)).toEqual({});
    expect(parseRanFine("not json")).toEqual({});
    expect(parseRanFine("[1,2]")).toEqual({});
    expect(parseRanFine('{"a":"x","b":3}')).toEqual({ b: 3 });
  });
});
