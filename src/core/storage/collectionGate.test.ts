import { describe, expect, it } from "vitest";
import { CollectionGate } from "./collectionGate.ts";

/** A promise settled from outside. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
/** Ten turns of the microtask queue: what was free to run has run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

describe("CollectionGate", () => {
  it("a write asked for while a collection runs waits for it; writes do not wait for each other", async () => {
    const gate = new CollectionGate();
    const log: string[] = [];
    const collection = deferred();
    const collected = gate.collect(async () => {
      log.push("collect start");
      await collection.promise;
      log.push("collect end");
      return 3;
    });
    const slowWrite = deferred();
    const first = gate.write(async () => {
      log.push("write 1 start");
      await slowWrite.promise;
      log.push("write 1 end");
    });
    const second = gate.write(async () => log.push("write 2"));
    await settle();
    expect(log).toEqual(["collect start"]);
    collection.resolve();
    expect(await collected).toBe(3);
    await second;
    expect(log).toEqual(["collect start", "collect end", "write 1 start", "write 2"]);
    slowWrite.resolve();
    await first;
  });

  it("a collection asked for while a write runs waits for it, and writes asked for after it wait for the collection", async () => {
    const gate = new CollectionGate();
    const log: string[] = [];
    const write = deferred();
    const written = gate.write(async () => {
      log.push("write start");
      await write.promise;
      log.push("write end");
    });
    await settle();
    const collected = gate.collect(async () => log.push("collect"));
    const later = gate.write(async () => log.push("later write"));
    await settle();
    expect(log).toEqual(["write start"]);
    write.resolve();
    await Promise.all([written, collected, later]);
    expect(log).toEqual(["write start", "write end", "collect", "later write"]);
  });

  it("a failed write or collection holds nothing up, and the caller gets its error", async () => {
    const gate = new CollectionGate();
    await expect(gate.write(() => Promise.reject(new Error("quota")))).rejects.toThrow("quota");
    await expect(gate.collect(() => Promise.reject(new Error("gone")))).rejects.toThrow("gone");
    expect(await gate.write(async () => "written")).toBe("written");
    expect(await gate.collect(async () => "collected")).toBe("collected");
  });
});
