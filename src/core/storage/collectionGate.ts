/**
 * Lets a store collect its garbage beside its other work instead of before it. A collection lists
 * the store's keys, works out which records nothing names, and deletes them. A write that lands
 * meanwhile could be cut in two: a snapshot's pieces listed before its record is written, or a
 * record named again just before the collection deletes it. So a collection waits for the writes
 * in progress, and a write waits for the collection in progress or asked for. Writes do not wait
 * for each other, and reads and deletions need not wait at all (a collection only deletes records
 * nothing names).
 *
 * Within one page. Another tab's writes are not held (as before: its collection, at its start,
 * could meet this tab's write-back).
 */
export class CollectionGate {
  private collecting: Promise<void> = Promise.resolve();
  /** Collections running or waiting. */
  private pending = 0;
  private readonly writes = new Set<Promise<void>>();

  /** Run a collection once the writes in progress and the collections asked for before it have ended. */
  collect<T>(work: () => Promise<T>): Promise<T> {
    this.pending++;
    const result = Promise.all([this.collecting, ...this.writes]).then(work);
    this.collecting = result.then(settled, settled).then(() => void this.pending--);
    return result;
  }

  /**
   * Run a write once no collection runs or waits (at once, in this turn, when none does);
   * collections asked for meanwhile wait for it.
   */
  write<T>(work: () => Promise<T>): Promise<T> {
    const result = this.pending === 0 ? now(work) : this.collecting.then(work);
    const ended = result.then(settled, settled);
    this.writes.add(ended);
    void ended.then(() => this.writes.delete(ended));
    return result;
  }
}

function settled(): void {}

/** `work()`, a throw as a rejection. */
function now<T>(work: () => Promise<T>): Promise<T> {
  try {
    return work();
  } catch (error) {
    return Promise.reject(error);
  }
}
