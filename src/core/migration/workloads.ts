/**
 * What the guest does while it moves (issue 15): the class sees when pre-copy wins (an idle guest
 * converges after one round) and when it cannot converge (a guest rewriting memory without pause).
 * Data: the page offers these; `TabMover.moveTo` starts the workload's command in the guest, on
 * the control channel the user never sees, just before the move.
 */
export type MigrationWorkloadId = "idle" | "memory-writer";

export interface MigrationWorkload {
  readonly id: MigrationWorkloadId;
  readonly label: string;
  /** Started in the background in the guest before the move; none: the guest is left as it is. */
  readonly command: string | undefined;
}

export const MIGRATION_WORKLOADS: readonly MigrationWorkload[] = [
  { id: "idle", label: "as it is (an idle guest, or what you started)", command: undefined },
  {
    id: "memory-writer",
    label: "a process writing 32 MiB of memory without pause",
    // tmpfs is RAM: each pass rewrites 32 MiB of guest memory with new random bytes. Started once:
    // a pid file keeps a second move from starting a second writer.
    command:
      "[ -s /tmp/memory-writer.pid ] && kill -0 $(cat /tmp/memory-writer.pid) 2>/dev/null || { (while :; do dd if=/dev/urandom of=/tmp/memory-writer bs=1M count=32 2>/dev/null; done) >/dev/null 2>&1 & echo $! > /tmp/memory-writer.pid; }",
  },
];

export function migrationWorkload(id: MigrationWorkloadId): MigrationWorkload {
  const found = MIGRATION_WORKLOADS.find((w) => w.id === id);
  if (found === undefined) throw new RangeError(`no migration workload ${id}`);
  return found;
}
