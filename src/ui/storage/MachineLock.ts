/**
 * One tab at a time writes a machine's disks: a Web Lock (navigator.locks) per machine. A tab
 * that finds the lock held offers read-only or take-over; a tab whose lock is stolen hears of it
 * through `onLost` and must stop writing.
 */
import { Emitter, type Disposable } from "../../core/index.ts";

/** The part of the Web Locks API used here (navigator.locks). */
export interface LockManagerLike {
  request(
    name: string,
    options: { mode?: "exclusive" | "shared"; ifAvailable?: boolean; steal?: boolean; signal?: AbortSignal },
    callback: (lock: unknown) => unknown,
  ): Promise<unknown>;
  /** Who holds which lock (Web Locks `query`): each holder by its client id. */
  query?(): Promise<{ readonly held?: readonly { readonly name?: string; readonly clientId?: string }[] }>;
}

/** The client id (a tab) holding `machineId`'s lock now, if any: a move's tabs name each other by it. */
export async function machineLockHolder(locks: LockManagerLike | undefined, machineId: string): Promise<string | undefined> {
  if (locks?.query === undefined) return undefined;
  const { held } = await locks.query();
  return held?.find((l) => l.name === machineLockName(machineId))?.clientId;
}

/** none: not asked yet or released; owner: this tab writes; busy: another tab has it; lost: another tab took it over. */
export type LockState = "none" | "owner" | "busy" | "lost";

export const machineLockName = (machineId: string): string => `virtlab-machine:${machineId}`;
/** Imports hold this shared; garbage collection runs only when it can take it exclusively. */
export const IMAGE_IMPORT_LOCK = "virtlab-image-import";

export class MachineLock implements Disposable {
  private current: LockState = "none";
  private releaseHeld: (() => void) | undefined;
  /** Ends a `whenFree` wait (the lock taken, released or disposed here first). */
  private waiting: AbortController | undefined;
  private disposed = false;
  private readonly lostEmitter = new Emitter<void>();
  /** Another tab took the machine over: stop writing to its disks. */
  readonly onLost = this.lostEmitter.event;

  /** `locks` undefined: a browser without Web Locks; every tab is then the owner. */
  constructor(
    private readonly locks: LockManagerLike | undefined,
    readonly machineId: string,
  ) {}

  get state(): LockState {
    return this.current;
  }

  /** Take the lock if no other tab has it. */
  acquire(): Promise<"owner" | "busy"> {
    return this.hold({ ifAvailable: true });
  }

  /** Take the lock from whichever tab has it; that tab's `onLost` fires. */
  async takeOver(): Promise<void> {
    await this.hold({ steal: true });
  }

  /**
   * Whether the tab that holds the machine lets it go (closed, or moved to another machine): true
   * then, false when this tab took the lock, released or disposed it first, or has no Web Locks.
   * Waits in shared mode and lets go at once, so it never keeps another tab from the lock.
   */
  async whenFree(): Promise<boolean> {
    this.waiting?.abort();
    if (this.locks === undefined) return false;
    const waiting = new AbortController();
    this.waiting = waiting;
    try {
      await this.locks.request(machineLockName(this.machineId), { mode: "shared", signal: waiting.signal }, () => undefined);
      return !waiting.signal.aborted;
    } catch {
      return false;
    } finally {
      if (this.waiting === waiting) this.waiting = undefined;
    }
  }

  release(): void {
    this.waiting?.abort();
    const release = this.releaseHeld;
    this.releaseHeld = undefined;
    if (this.current !== "lost") this.current = "none";
    release?.();
  }

  dispose(): void {
    this.disposed = true;
    this.release();
    this.lostEmitter.dispose();
  }

  private hold(options: { ifAvailable?: boolean; steal?: boolean }): Promise<"owner" | "busy"> {
    this.waiting?.abort();
    if (this.current === "owner") return Promise.resolve("owner");
    if (this.locks === undefined) {
      this.current = "owner";
      return Promise.resolve("owner");
    }
    return new Promise((resolve, reject) => {
      let granted = false;
      const request = this.locks as LockManagerLike;
      request
        .request(machineLockName(this.machineId), options, (lock) => {
          if (lock === null || lock === undefined) {
            this.current = "busy";
            resolve("busy");
            return undefined;
          }
          granted = true;
          if (this.disposed) return undefined;
          this.current = "owner";
          resolve("owner");
          // Held until release() resolves this promise.
          return new Promise<void>((release) => {
            this.releaseHeld = release;
          });
        })
        .then(
          () => undefined,
          (error: unknown) => {
            if (!granted) {
              reject(error instanceof Error ? error : new Error(String(error)));
              return;
            }
            // A granted lock's request rejects when another tab steals it.
            if (this.current === "owner") {
              this.current = "lost";
              this.releaseHeld = undefined;
              if (!this.disposed) this.lostEmitter.fire();
            }
          },
        );
    });
  }
}

/** Run `job` while holding `name` in shared mode (many at once, but never during an exclusive holder). */
export async function withSharedLock<T>(locks: LockManagerLike | undefined, name: string, job: () => Promise<T>): Promise<T> {
  if (locks === undefined) return job();
  let result: T | undefined;
  await locks.request(name, { mode: "shared" }, async () => {
    result = await job();
  });
  return result as T;
}

/** Run `job` only if nobody holds `name` at all; returns false when it was skipped. */
export async function ifExclusiveAvailable(locks: LockManagerLike | undefined, name: string, job: () => Promise<unknown>): Promise<boolean> {
  if (locks === undefined) {
    await job();
    return true;
  }
  let ran = false;
  await locks.request(name, { mode: "exclusive", ifAvailable: true }, async (lock) => {
    if (lock === null || lock === undefined) return;
    ran = true;
    await job();
  });
  return ran;
}
