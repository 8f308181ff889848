/**
 * The page's side of a move run in the machine's Worker (migrationServer.ts): it orders the move,
 * answers the Worker's asks through the page's MovePageSide, and settles with the engine's report.
 */
import type { MoveInOrder, MoveOutOrder, MovePageSide, WorkerMigrationHooks } from "../backend.ts";
import { AppError } from "../errors.ts";
import type { MigrationReport } from "../migration/source.ts";
import type { ArrivalReport } from "../migration/target.ts";
import type { AttachedDisks } from "../profile.ts";
import { fromWire } from "./client.ts";
import type { FromWorker, MoveEvent, PagePort } from "./protocol.ts";
import { toWire } from "./server.ts";

interface Running {
  readonly page: MovePageSide;
  resolve(report: MigrationReport | ArrivalReport): void;
  reject(error: unknown): void;
}

export class WorkerMoves implements WorkerMigrationHooks {
  private readonly running = new Map<number, Running>();

  constructor(
    private readonly port: PagePort,
    private readonly nextId: () => number,
    private readonly keys: () => Promise<Float64Array>,
    /** The disks the target's page opened after the handover replace the ones the Worker reads. */
    private readonly replaceDisks: (disks: AttachedDisks) => void,
  ) {}

  migrateOut(order: MoveOutOrder, page: MovePageSide): Promise<MigrationReport> {
    return this.start(page, (id) => this.port.post({ type: "migrate-out", id, order })) as Promise<MigrationReport>;
  }

  migrateIn(order: MoveInOrder, page: MovePageSide): Promise<ArrivalReport> {
    return this.start(page, (id) => this.port.post({ type: "migrate-in", id, order })) as Promise<ArrivalReport>;
  }

  samePageKeys(): Promise<Float64Array> {
    return this.keys();
  }

  /** A move-event from the Worker; false when the message is something else. */
  receive(message: FromWorker): boolean {
    if (message.type !== "move-event") return false;
    const move = this.running.get(message.id);
    if (move !== undefined) this.event(message.id, move, message.event);
    return true;
  }

  /** The machine was shut down: every move still running fails. */
  dispose(): void {
    const error = new AppError("migration-failed", "The machine was shut down during the move.", { details: { phase: "disposed" } });
    for (const move of this.running.values()) move.reject(error);
    this.running.clear();
  }

  private start(page: MovePageSide, order: (id: number) => void): Promise<MigrationReport | ArrivalReport> {
    const id = this.nextId();
    return new Promise((resolve, reject) => {
      this.running.set(id, { page, resolve, reject });
      order(id);
    });
  }

  private event(id: number, move: Running, event: MoveEvent): void {
    switch (event.kind) {
      case "listening":
        move.page.onListening?.();
        return;
      case "round":
        move.page.onRound?.(event.round);
        return;
      case "paused":
        move.page.onPause?.();
        return;
      case "ask":
        void this.answer(event.ask, move.page, event);
        return;
      case "done":
        this.running.delete(id);
        move.resolve(event.report);
        return;
      case "failed":
        this.running.delete(id);
        move.reject(fromWire(event.error, "migration-failed"));
        return;
    }
  }

  private async answer(ask: number, page: MovePageSide, event: Extract<MoveEvent, { kind: "ask" }>): Promise<void> {
    try {
      switch (event.what) {
        case "release-disks":
          await page.releaseDisks();
          break;
        case "reclaim-disks":
          await page.reclaimDisks();
          break;
        case "take-disks":
          this.replaceDisks(await page.takeDisks());
          break;
        case "landed":
          if (event.guest === undefined) throw new AppError("migration-failed", "The Worker landed a machine without its state at the pause.", { details: { phase: "arrival" } });
          await page.landed(event.guest);
          break;
      }
      this.port.post({ type: "move-answer", ask, ok: true });
    } catch (error) {
      this.port.post({ type: "move-answer", ask, ok: false, error: toWire(error) });
    }
  }
}
