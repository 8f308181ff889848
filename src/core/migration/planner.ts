/**
 * When pre-copy stops sending rounds while the guest runs and pauses it for the rest. Pure: a
 * decision from the rounds so far and the dirty set found now.
 */

export interface RoundPolicy {
  /** Live rounds at most (the first, which sends all memory, counts). */
  readonly maxRounds: number;
  /** Stop when no more than this many pages are dirty: the rest fits in a short pause. */
  readonly convergedPages: number;
  /**
   * Stop when the dirty set is not below this fraction of the previous round's (a guest that
   * writes as fast as we send never converges).
   */
  readonly shrinkFactor: number;
  /** Stop before the bytes sent would pass this (undefined: no budget). */
  readonly byteBudget?: number;
}

export const DEFAULT_ROUND_POLICY: RoundPolicy = { maxRounds: 8, convergedPages: 256, shrinkFactor: 0.9 };

/** What one live round did. */
export interface RoundRecord {
  readonly round: number;
  /** Pages sent (zero pages count, by number only). */
  readonly pagesSent: number;
  readonly bytesSent: number;
  /** Pages the guest wrote while this round was on its way: found at the next scan. */
  readonly pagesDirtied: number;
  readonly ms: number;
}

export type StopReason = "converged" | "not-shrinking" | "round-limit" | "byte-budget";

export type RoundDecision = { readonly kind: "round" } | { readonly kind: "stop"; readonly reason: StopReason };

/**
 * After `rounds` (oldest first), with `dirtyNow` pages written since the last one: another live
 * round, or pause and send the rest. `bytesPerPage` estimates a round's size for the budget.
 */
export function nextStep(rounds: readonly RoundRecord[], dirtyNow: number, policy: RoundPolicy, bytesPerPage = 4100): RoundDecision {
  if (dirtyNow <= policy.convergedPages) return { kind: "stop", reason: "converged" };
  if (rounds.length >= policy.maxRounds) return { kind: "stop", reason: "round-limit" };
  const sent = rounds.reduce((sum, r) => sum + r.bytesSent, 0);
  if (policy.byteBudget !== undefined && sent + dirtyNow * bytesPerPage > policy.byteBudget) return { kind: "stop", reason: "byte-budget" };
  // The first round sends everything: shrinking is judged from the second on.
  const last = rounds.at(-1);
  if (rounds.length >= 2 && last !== undefined && dirtyNow >= last.pagesSent * policy.shrinkFactor) return { kind: "stop", reason: "not-shrinking" };
  return { kind: "round" };
}

/** A policy's problems in words (empty when it can work). */
export function policyProblems(policy: RoundPolicy): string[] {
  const out: string[] = [];
  if (!Number.isInteger(policy.maxRounds) || policy.maxRounds < 1) out.push("maxRounds must be a whole number of at least 1");
  if (!Number.isInteger(policy.convergedPages) || policy.convergedPages < 0) out.push("convergedPages must be a whole number of at least 0");
  if (!(policy.shrinkFactor > 0 && policy.shrinkFactor <= 1)) out.push("shrinkFactor must be in (0, 1]");
  if (policy.byteBudget !== undefined && !(policy.byteBudget > 0)) out.push("byteBudget must be positive");
  return out;
}
