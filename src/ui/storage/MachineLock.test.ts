import { describe, expect, it } from "vitest";
import { IMAGE_IMPORT_LOCK, MachineLock, ifExclusiveAvailable, withSharedLock, type LockManagerLike } from "./MachineLock.ts";

/** The Web Locks semantics this module relies on: ifAvailable, steal, shared/exclusive, release on callback settle. */
class FakeLocks implements LockManagerLike {
  private readonly held = new Map<string, { mode: "exclusive" | "shared"; holders: Set<{ abort: (e: Error) => void }> }>();

  request(name: string, options: { mode?: "exclusive" | "shared"; ifAvailable?: boolean; steal?: boolean }, callback: (lock: unknown) => unknown): Promise<unknown> {
    const mode = options.mode ?? "exclusive";
    const entry = this.held.get(name);
    if (entry !== undefined && options.steal === true) {
      for (const h of entry.holders) h.abort(Object.assign(new Error("The lock was stolen."), { name: "AbortError" }));
      this.held.delete(name);
    } else if (entry !== undefined && (mode === "exclusive" || entry.mode === "exclusive")) {
      if (options.ifAvailable === true) return Promise.resolve().then(() => callback(null));
      return Promise.reject(new Error("the fake does not queue"));
    }
    const slot = this.held.get(name) ?? { mode, holders: new Set() };
    this.held.set(name, slot);
    return new Promise((resolve, reject) => {
      const holder = { abort: reject };
      slot.holders.add(holder);
      Promise.resolve(callback({ name, mode })).then(
        (value) => {
          slot.holders.delete(holder);
          if (slot.holders.size === 0 && this.held.get(name) === slot) this.held.delete(name);
          resolve(value);
        },
        (error: unknown) => {
          slot.holders.delete(holder);
          if (slot.holders.size === 0 && this.held.get(name) === slot) this.held.delete(name);
          reject(error as Error);
        },
      );
    });
  }

  isHeld(name: string): boolean {
    return this.held.has(name);
  }
}

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

describe("MachineLock", () => {
  it("the first tab owns the machine, a second one finds it busy", async () => {
    const locks = new FakeLocks();
    const first = new MachineLock(locks, "default");
    const second = new MachineLock(locks, "default");
    expect(await first.acquire()).toBe("owner");
    expect(await second.acquire()).toBe("busy");
    expect([first.state, second.state]).toEqual(["owner", "busy"]);
    // Other machines are independent.
    expect(await new MachineLock(locks, "other").acquire()).toBe("owner");
  });

  it("released by the first tab, the machine can be taken normally", async () => {
    const locks = new FakeLocks();
    const first = new MachineLock(locks, "default");
    await first.acquire();
    first.release();
    await tick();
    expect(first.state).toBe("none");
    expect(await new MachineLock(locks, "default").acquire()).toBe("owner");
  });

  it("take over: the second tab owns it, the first hears it lost it exactly once", async () => {
    const locks = new FakeLocks();
    const first = new MachineLock(locks, "default");
    const second = new MachineLock(locks, "default");
    let lost = 0;
    first.onLost(() => lost++);
    await first.acquire();
    expect(await second.acquire()).toBe("busy");
    await second.takeOver();
    await tick();
    expect([first.state, second.state]).toEqual(["lost", "owner"]);
    expect(lost).toBe(1);
    // The loser can take it back the same way.
    let secondLost = 0;
    second.onLost(() => secondLost++);
    await first.takeOver();
    await tick();
    expect([first.state, second.state, secondLost]).toEqual(["owner", "lost", 1]);
  });

  it("a disposed lock releases and never reports a loss", async () => {
    const locks = new FakeLocks();
    const first = new MachineLock(locks, "default");
    let lost = 0;
    first.onLost(() => lost++);
    await first.acquire();
    first.dispose();
    await tick();
    expect(locks.isHeld("virtlab-machine:default")).toBe(false);
    expect(lost).toBe(0);
  });

  it("without Web Locks every tab is the owner", async () => {
    expect(await new MachineLock(undefined, "default").acquire()).toBe("owner");
  });
});

describe("import and garbage-collection locks", () => {
  it("garbage collection is skipped while an import runs, and runs after", async () => {
    const locks = new FakeLocks();
    let finishImport: () => void = () => undefined;
    const importing = withSharedLock(locks, IMAGE_IMPORT_LOCK, () => new Promise<string>((r) => (finishImport = () => r("imported"))));
    await tick();
    let collected = 0;
    expect(await ifExclusiveAvailable(locks, IMAGE_IMPORT_LOCK, async () => collected++)).toBe(false);
    finishImport();
    expect(await importing).toBe("imported");
    expect(await ifExclusiveAvailable(locks, IMAGE_IMPORT_LOCK, async () => collected++)).toBe(true);
    expect(collected).toBe(1);
  });

  it("an import's error comes out of withSharedLock and frees the lock", async () => {
    const locks = new FakeLocks();
    await expect(withSharedLock(locks, IMAGE_IMPORT_LOCK, () => Promise.reject(new Error("quota")))).rejects.toThrow("quota");
    expect(locks.isHeld(IMAGE_IMPORT_LOCK)).toBe(false);
  });
});
