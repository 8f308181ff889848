import { describe, expect, it } from "vitest";
import type { FromWorker, ToWorker } from "../core/remote/protocol.ts";
import { holdMessages, type PortScope } from "./heldPort.ts";

/** A Worker's scope as far as the port goes: messages the test dispatches, and what is posted. */
function fakeScope(): PortScope & { send(message: ToWorker): void; posted: FromWorker[]; listeners: number } {
  const target = new EventTarget();
  const wrapped = new Map<(event: { data: ToWorker }) => void, EventListener>();
  const scope = {
    posted: [] as FromWorker[],
    listeners: 0,
    send(message: ToWorker) {
      const event = new Event("message") as Event & { data: ToWorker };
      Object.defineProperty(event, "data", { value: message });
      target.dispatchEvent(event);
    },
    postMessage(message: FromWorker) {
      scope.posted.push(message);
    },
    addEventListener(_type: "message", listener: (event: { data: ToWorker }) => void) {
      const inner = (event: Event): void => listener(event as Event & { data: ToWorker });
      wrapped.set(listener, inner);
      target.addEventListener("message", inner);
      scope.listeners += 1;
    },
    removeEventListener(_type: "message", listener: (event: { data: ToWorker }) => void) {
      const inner = wrapped.get(listener);
      if (inner === undefined) return;
      target.removeEventListener("message", inner);
      wrapped.delete(listener);
      scope.listeners -= 1;
    },
  };
  return scope;
}

const warm: ToWorker = { type: "warm", files: { wasm: { name: "v86.wasm", url: "v86.wasm" }, bios: { name: "bios.bin", url: "bios.bin" }, vgaBios: { name: "vgabios.bin", url: "vgabios.bin" } } } as unknown as ToWorker;
const dispose: ToWorker = { type: "dispose" } as ToWorker;
const write: ToWorker = { type: "write", data: "ls\n" } as unknown as ToWorker;

describe("the machine Worker's port while its module loads", () => {
  it("gives its listener what came before it listened, first and in order, then the rest; nothing twice", () => {
    const scope = fakeScope();
    const held = holdMessages(scope);
    scope.send(warm);
    scope.send(write);
    const got: ToWorker[] = [];
    held.port.onMessage((message) => got.push(message));
    // Listening, not yet released: only the hold is gone, nothing delivered twice or early.
    expect(scope.listeners).toBe(1);
    expect(got).toEqual([]);
    held.release();
    expect(got).toEqual([warm, write]);
    scope.send(dispose);
    expect(got).toEqual([warm, write, dispose]);
    held.release();
    expect(got).toEqual([warm, write, dispose]);
  });

  it("gives held messages to every listener still listening, none to one that stopped", () => {
    const scope = fakeScope();
    const held = holdMessages(scope);
    scope.send(warm);
    const kept: ToWorker[] = [];
    const gone: ToWorker[] = [];
    held.port.onMessage((message) => kept.push(message));
    held.port.onMessage((message) => gone.push(message)).dispose();
    held.release();
    expect(kept).toEqual([warm]);
    expect(gone).toEqual([]);
  });

  it("posts to the page through the scope", () => {
    const scope = fakeScope();
    const held = holdMessages(scope);
    held.port.post({ type: "reboot" });
    expect(scope.posted).toEqual([{ type: "reboot" }]);
  });
});
