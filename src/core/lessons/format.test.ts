import { describe, expect, it } from "vitest";
import { describeAction, parseLesson, parseLessonIndex } from "./format.ts";

const good = {
  format: "virtlab-lesson/1",
  id: "io",
  title: "I/O",
  summary: "Emulated and paravirtual devices.",
  text: ["One.", "Two."],
  steps: [
    { title: "Look", text: "At the card.", action: { type: "command", command: "ls /sys/class/net", expect: "eth0", timeoutSeconds: 30 } },
    { title: "Flip", action: { type: "devices", set: { nic: "virtio", memoryMiB: 512 } } },
    { title: "Measure", action: { type: "benchmark", pairs: ["console", "network"] } },
    { title: "Save", action: { type: "snapshot-save", name: "before" } },
    { title: "Back", action: { type: "snapshot-restore", name: "before" } },
    { title: "Read only" },
    { title: "Balloon on", action: { type: "devices", set: { balloon: true } } },
    { title: "Take 64", action: { type: "balloon", mib: 64 } },
    { title: "Give back", action: { type: "balloon", mib: 0 } },
    { title: "Walk", action: { type: "address-walk", target: "process" } },
    { title: "Count", action: { type: "page-tables", command: "ls", timeoutSeconds: 90 } },
  ],
};

const problemsOf = (lesson: unknown, id?: string): readonly string[] => {
  const parsed = parseLesson(JSON.stringify(lesson), id);
  return parsed.ok ? [] : parsed.problems;
};

describe("lesson files", () => {
  it("a complete lesson parses, with defaults filled in", () => {
    const parsed = parseLesson(JSON.stringify(good), "io");
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.value.steps).toHaveLength(11);
    expect(parsed.value.steps[9]?.action).toEqual({ type: "address-walk", target: "process" });
    expect(parsed.value.steps[10]?.action).toEqual({ type: "page-tables", command: "ls", timeoutSeconds: 90 });
    expect(parsed.value.steps[0]).toEqual({ title: "Look", text: ["At the card."], action: { type: "command", command: "ls /sys/class/net", expect: "eth0", timeoutSeconds: 30 } });
    expect(parsed.value.steps[2]?.action).toEqual({ type: "benchmark", pairs: ["console", "network"], size: "quick" });
    expect(parsed.value.steps[5]).toEqual({ title: "Read only", text: [] });
  });

  it("microscope steps: traps (with the bytes it moves) and the live JIT switch, checked like the others", () => {
    const steps = [
      { title: "Count", action: { type: "traps", command: "cat /tmp/t", bytes: 65536, timeoutSeconds: 120 } },
      { title: "Both ways", action: { type: "jit-switch", command: "true" } },
    ];
    const parsed = parseLesson(JSON.stringify({ ...good, steps }), "io");
    expect(parsed.ok && parsed.value.steps.map((s) => s.action)).toEqual([
      { type: "traps", command: "cat /tmp/t", bytes: 65536, timeoutSeconds: 120 },
      { type: "jit-switch", command: "true" },
    ]);
    expect(
      problemsOf({
        ...good,
        steps: [
          { title: "a", action: { type: "traps", command: "ls", bytes: 0 } },
          { title: "b", action: { type: "jit-switch", command: "ls", bytes: 5 } },
        ],
      }),
    ).toEqual([expect.stringMatching(/^steps\[1\]\.action\.bytes: must be a positive whole number/), expect.stringMatching(/^steps\[2\]\.action\.bytes: is not part of the lesson format/)]);
  });

  it("not JSON, not an object, another format: one clear problem each", () => {
    expect(parseLesson("{ nope")).toMatchObject({ ok: false, problems: [expect.stringMatching(/^not valid JSON/)] });
    expect(parseLesson("[1]")).toEqual({ ok: false, problems: ["must be a JSON object"] });
    expect(problemsOf({ ...good, format: "virtlab-lesson/9" })).toEqual(['format: must be "virtlab-lesson/1"']);
  });

  it("every mistake is reported with where it is, not only the first", () => {
    const bad = {
      ...good,
      id: "I O",
      comand: "x",
      steps: [
        { title: "", action: { type: "command", command: "a\nb" } },
        { title: "x", action: { type: "devices", set: { nic: "e1000", memoryMiB: 5 } } },
        { title: "y", action: { type: "benchmark", pairs: ["disk"] } },
        { title: "z", action: { type: "reboot" } },
        { title: "w", action: { type: "command", command: "ls", expect: "(" } },
        "step",
        { title: "v", action: { type: "devices", set: { balloon: "yes" } } },
        { title: "u", action: { type: "balloon", mib: 1.5 } },
        { title: "t", action: { type: "address-walk", target: "user" } },
        { title: "s", action: { type: "page-tables", command: "a\nb" } },
      ],
    };
    expect(problemsOf(bad)).toEqual([
      expect.stringMatching(/^comand: is not part of the lesson format/),
      expect.stringMatching(/^id: must be lower-case letters/),
      "steps[1].title: must be a non-empty text",
      "steps[1].action.command: must be one line (join commands with ; or &&)",
      "steps[2].action.set.nic: must be one of none, ne2k, virtio",
      "steps[2].action.set.memoryMiB: must be a whole number from 128 to 2048",
      "steps[3].action.pairs: must be a list of device pairs from console, storage, network, cpu",
      "steps[4].action.type: must be one of command, devices, benchmark, snapshot-save, snapshot-restore, balloon, address-walk, page-tables, traps, jit-switch, network-reset, network-add, network-mode, network-run, network-capture",
      "steps[5].action.expect: is not a valid regular expression",
      "steps[6]: must be an object with a title",
      "steps[7].action.set.balloon: must be true or false",
      "steps[8].action.mib: must be a whole number of MiB from 0 to 2048",
      "steps[9].action.target: must be one of kernel, process",
      "steps[10].action.command: must be one line (join commands with ; or &&)",
    ]);
  });

  it("the id must match the name the index gives the file", () => {
    expect(problemsOf(good, "memory")).toEqual(['id: is "io" but the index lists this file as "memory"']);
  });

  it("a lesson needs steps", () => {
    expect(problemsOf({ ...good, steps: [] })).toEqual(["steps: must be a list of at least one step"]);
  });

  it("the index lists ids once each", () => {
    expect(parseLessonIndex(JSON.stringify({ format: "virtlab-lessons/1", lessons: ["a", "b"] }))).toEqual({ ok: true, value: ["a", "b"] });
    expect(parseLessonIndex(JSON.stringify({ format: "virtlab-lessons/1", lessons: ["a", "a", "B!"] }))).toEqual({
      ok: false,
      problems: ['lessons: "B!" is not a lesson id (lower-case letters, digits, dashes)', 'lessons: "a" is listed twice'],
    });
    expect(parseLessonIndex("[]").ok).toBe(false);
  });

  it("describes each action in a button's words", () => {
    const parsed = parseLesson(JSON.stringify(good));
    const steps = parsed.ok ? parsed.value.steps : [];
    expect(steps.flatMap((s) => (s.action === undefined ? [] : [describeAction(s.action)]))).toEqual([
      "Run ls /sys/class/net",
      "Restart with nic virtio, memory 512 MiB",
      "Benchmark console, network (quick sizes)",
      'Save snapshot "before"',
      'Restore snapshot "before"',
      "Restart with a balloon device",
      "Inflate the balloon to 64 MiB",
      "Deflate the balloon",
      "Walk a process's address through the page tables",
      "Count page-table traps while running ls",
    ]);
  });
});
