import { describe, expect, it } from "vitest";
import { IMAGE_IMPORT_LOCK, MachineLock, ifExclusiveAvailable, withSharedLock, type LockManagerLike } from "./MachineLock.ts";

type Options = { mode?: "exclusive" | "shared"; ifAvailable?: boolean; steal?: boolean; signal?: AbortSignal };

/** The Web Locks semantics this module relies on: ifAvailable, steal, shared/exclusive, release on callback settle, shared requests queued until free (abortable). */
class FakeLocks implements LockManagerLike {
  private readonly held = new Map<string, { mode: "exclusive" | "shared"; holders: Set<{ abort: (e: Error) => void }> }>();
  private readonly queued: (() => void)[] = [];

  request(name: string, options: Options, callback: (lock: unknown) => unknown): Promise<unknown> {
    const mode = options.mode ?? "exclusive";
    const entry = this.held.get(name);
    if (entry !== undefined && options.steal === true) {
      for (const h of entry.holders) h.abort(Object.assign(new Error("The lock was stolen."), { name: "AbortError" }));
      this.held.delete(name);
    } else if (entry !== undefined && (mode === "exclusive" || entry.mode === "exclusive")) {
      if (options.ifAvailable === true) return Promise.resolve().then(() => callback(null));
      if (mode === "exclusive") return Promise.reject(new Error("the fake queues shared requests only"));
      return new Promise((resolve, reject) => {
        const aborted = (): void => reject(Object.assign(new Error("The request was aborted."), { name: "AbortError" }));
        options.signal?.addEventListener("abort", aborted, { once: true });
        this.queued.push(() => {
          if (options.signal?.aborted === true) return;
          options.signal?.removeEventListener("abort", aborted);
          this.request(name, options, callback).then(resolve, reject);
        });
      });
    }
    const slot = this.held.get(name) ?? { mode, holders: new Set() };
    this.held.set(name, slot);
    return new Promise((resolve, reject) => {
      const holder = { abort: reject };
      slot.holders.add(holder);
      Promise.resolve(callback({ name, mode })).then(
        (value) => {
          this.let(name, slot, holder);
          resolve(value);
        },
        (error: unknown) => {
          this.let(name, slot, holder);
          reject(error as Error);
        },
      );
    });
  }

  private let(name: string, slot: { holders: Set<unknown> }, holder: unknown): void {
    slot.holders.delete(holder);
    if (slot.holders.size > 0 || this.held.get(name) !== slot) return;
    this.held.delete(name);
    for (const grant of this.queued.splice(0)) grant();
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

  it("a tab that found the machine busy hears when the other tab lets it go, and still takes it normally", async () => {
    const locks = new FakeLocks();
    const first = new MachineLock(locks, "default");
    const second = new MachineLock(locks, "default");
    await first.acquire();
    expect(await second.acquire()).toBe("busy");
    let free: boolean | undefined;
    void second.whenFree().then((f) => (free = f));
    await tick();
    expect(free).toBeUndefined();
    first.dispose();
    await tick();
    expect(free).toBe(true);
    // Waiting kept nothing: the lock is free for whoever asks.
    expect(locks.isHeld("virtlab-machine:default")).toBe(false);
    expect(await second.acquire()).toBe("owner");
  });

  it("a wait ends (not free) when this tab takes the machine over, opens it read-only, or is disposed", async () => {
    const locks = new FakeLocks();
    const first = new MachineLock(locks, "default");
    await first.acquire();
    const waits = [
      (lock: MachineLock) => lock.takeOver(),
      (lock: MachineLock) => lock.release(),
      (lock: MachineLock) => lock.dispose(),
    ];
    for (const end of waits) {
      const lock = new MachineLock(locks, "default");
      const free = lock.whenFree();
      await end(lock);
      expect(await free).toBe(false);
      await first.takeOver();
    }
    expect(await new MachineLock(undefined, "default").whenFree()).toBe(false);
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
