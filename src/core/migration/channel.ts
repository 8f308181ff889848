/** Waiting for the next message of a kind on a migration port, with a deadline and the port's close. */
import type { Clock } from "../clock.ts";
import { AppError } from "../errors.ts";
import { DisposableStore } from "../events.ts";
import type { MigrationPort } from "./protocol.ts";

/**
 * Queues what a port brings so a message that arrives before anyone waits for it is kept, and
 * hands it to `next`. After the port closes every wait fails with migration-failed.
 */
export class Inbox<In extends { readonly type: string }> {
  private readonly queue: In[] = [];
  private closed = false;
  private wake: (() => void) | undefined;
  private readonly store = new DisposableStore();

  constructor(
    port: MigrationPort<In, unknown>,
    private readonly clock: Clock,
  ) {
    this.store.add(
      port.onMessage((m) => {
        this.queue.push(m);
        this.wake?.();
      }),
    );
    this.store.add(
      port.onClose(() => {
        this.closed = true;
        this.wake?.();
      }),
    );
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The next message (any type), or a migration-failed error at the deadline or when the port closes. */
  async next(phase: string, timeoutMs: number): Promise<In> {
    const deadline = this.clock.now() + timeoutMs;
    for (;;) {
      const message = this.queue.shift();
      if (message !== undefined) return message;
      if (this.closed) throw new AppError("migration-failed", `The other side went away (${phase}).`, { details: { phase } });
      const left = deadline - this.clock.now();
      if (left <= 0) throw new AppError("migration-failed", `The other side did not answer within ${timeoutMs} ms (${phase}).`, { details: { phase } });
      await new Promise<void>((resolve) => {
        const timer = this.clock.after(left, () => resolve());
        this.wake = () => {
          timer.dispose();
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  dispose(): void {
    this.store.dispose();
  }
}
