import { describe, expect, it } from "vitest";
import type { LessonAction, MachineStatus, StepOutcome } from "../core/index.ts";
import type { LabReport } from "../core/lab/index.ts";
import { decideShortcut, shortcutRows } from "./actionDispatcher.ts";
import { ACTIONS, DEFAULT_STEP_TIMEOUT_S, STEP_ACTIONS, runStep, type ActionContext, type StepContext } from "./actions.ts";

const status = (stage: MachineStatus["stage"], running = true): MachineStatus => ({ stage, running, mips: undefined, error: undefined, shell: "ready" });
const ctx = { lessonsVisible: false, microscopeVisible: false, vgaVisible: false, theme: "dark", fullscreen: false } as unknown as ActionContext;
const key = (code: string, extra: Partial<{ repeat: boolean; ctrlKey: boolean }> = {}) => ({ altKey: true, shiftKey: true, ctrlKey: false, metaKey: false, code, repeat: false, ...extra });

describe("shortcuts through the registry", () => {
  it("runs the action of an Alt+Shift key when it is enabled", () => {
    const decision = decideShortcut(key("KeyP"), ACTIONS, status("ready"), ctx);
    expect(decision.kind === "run" && decision.action.id).toBe("pause");
  });

  it("takes a disabled action's key or a held key's repeat from the guest without running it", () => {
    expect(decideShortcut(key("KeyS"), ACTIONS, status("idle", false), ctx)).toEqual({ kind: "swallow" });
    expect(decideShortcut(key("KeyP", { repeat: true }), ACTIONS, status("ready"), ctx)).toEqual({ kind: "swallow" });
  });

  it("Reset starts a machine whose guest powered itself off (a restart, as after a crash); Pause and Ctrl-Alt-Del have nothing to act on", () => {
    const off = status("off", false);
    const enabled = (id: string): boolean | undefined => ACTIONS.find((a) => a.id === id)?.enabled(off, ctx);
    expect({ reset: enabled("reset"), pause: enabled("pause"), ctrlAltDel: enabled("ctrl-alt-del") }).toEqual({ reset: true, pause: false, ctrlAltDel: false });
  });

  it("Reset of a powered-off machine restarts the session rather than resetting the stopped emulator", async () => {
    const calls: string[] = [];
    const machine = { status: status("off", false), reset: async () => void calls.push("machine.reset") };
    const offCtx = { ...ctx, machine, restart: async () => void calls.push("restart") } as unknown as ActionContext;
    await ACTIONS.find((a) => a.id === "reset")?.run(offCtx);
    expect(calls).toEqual(["restart"]);
  });

  it("leaves other keys to the guest", () => {
    expect(decideShortcut(key("KeyP", { ctrlKey: true }), ACTIONS, status("ready"), ctx)).toEqual({ kind: "not-ours" });
    expect(decideShortcut(key("KeyQ"), ACTIONS, status("ready"), ctx)).toEqual({ kind: "not-ours" });
  });

  it("the help lists every shortcut once, the help key as 'This help'", () => {
    const rows = shortcutRows(ACTIONS, status("idle", false), ctx);
    expect(rows).toHaveLength(ACTIONS.filter((a) => a.shortcut !== undefined).length);
    expect(rows.find(([keys]) => keys === "Alt+Shift+H")?.[1]).toBe("This help");
    expect(new Set(rows.map(([keys]) => keys)).size).toBe(rows.length);
  });
});

function recordingSteps(calls: unknown[][]): StepContext {
  const outcome: StepOutcome = { ok: true, lines: ["done"] };
  return {
    run: async (...args) => (calls.push(["run", ...args]), { output: "hello", exitCode: 0 } as never),
    setDevices: async (...args) => (calls.push(["setDevices", ...args]), "restarted"),
    benchmark: async (...args) => (calls.push(["benchmark", ...args]), { results: [] } as unknown as LabReport),
    saveSnapshot: async (...args) => (calls.push(["saveSnapshot", ...args]), "saved"),
    restoreSnapshot: async (...args) => (calls.push(["restoreSnapshot", ...args]), "restored"),
    balloon: async (...args) => (calls.push(["balloon", ...args]), outcome),
    addressWalk: async (...args) => (calls.push(["addressWalk", ...args]), outcome),
    pageTables: async (...args) => (calls.push(["pageTables", ...args]), outcome),
    traps: async (...args) => (calls.push(["traps", ...args]), outcome),
    jitSwitch: async (...args) => (calls.push(["jitSwitch", ...args]), outcome),
    network: async (...args) => (calls.push(["network", ...args]), outcome),
  };
}

describe("lesson steps through the registry", () => {
  it("every step type has an entry", () => {
    expect(Object.keys(STEP_ACTIONS).sort()).toEqual(["address-walk", "balloon", "benchmark", "command", "devices", "jit-switch", "network-add", "network-capture", "network-mode", "network-reset", "network-run", "page-tables", "snapshot-restore", "snapshot-save", "traps"]);
  });

  it("passes each step's values on, with the default deadline when the lesson names none", async () => {
    const calls: unknown[][] = [];
    const steps = recordingSteps(calls);
    const all: LessonAction[] = [
      { type: "command", command: "uname -a" },
      { type: "page-tables", command: "ls", timeoutSeconds: 5 },
      { type: "traps", command: "dd", bytes: 4096 },
      { type: "jit-switch", command: "true" },
      { type: "snapshot-save", name: "before" },
      { type: "snapshot-restore", name: "before" },
      { type: "balloon", mib: 64 },
      { type: "network-run", machine: "vm1", command: "ping -c 1 {{vm2}}" },
    ];
    const outcomes = [];
    for (const step of all) outcomes.push(await runStep(steps, step));
    const ms = DEFAULT_STEP_TIMEOUT_S * 1000;
    expect(calls).toEqual([
      ["run", "uname -a", ms],
      ["pageTables", "ls", 5000],
      ["traps", "dd", ms, 4096],
      ["jitSwitch", "true", ms],
      ["saveSnapshot", "before"],
      ["restoreSnapshot", "before"],
      ["balloon", 64],
      ["network", { type: "network-run", machine: "vm1", command: "ping -c 1 {{vm2}}" }],
    ]);
    expect(outcomes[4]).toEqual({ ok: true, lines: ["saved"] });
  });

  it("a failing step's error reaches the lesson panel (which shows and reports it)", async () => {
    const steps = { ...recordingSteps([]), setDevices: () => Promise.reject(new Error("no restart")) };
    await expect(runStep(steps, { type: "devices", set: { nic: "virtio" } })).rejects.toThrow("no restart");
  });
});
