/**
 * The contention profile one scenario run produces, and its signature.
 *
 * @module
 */

/**
 * Contention metrics of one scenario run. Integers only (counts and
 * simulated milliseconds), so a run's profile is exactly reproducible from
 * its seed. A scenario reports 0 for what it does not exercise.
 *
 * @example
 * ```ts
 * import { runScenario, Scenario } from "@seed/batpak";
 * const { profile } = runScenario(Scenario.TakeoverQueueRetryPressure);
 * console.log(profile.takeoverSuccesses > 0); // true
 * ```
 */
export interface Metrics {
  /** Ownership calls and fenced appends rejected, for any reason. */
  ownershipConflicts: number;
  /** Rejections with reason `split_brain`. */
  splitBrainRejections: number;
  /** Rejections with reason `stale_owner`. */
  staleOwnerRejections: number;
  /** Rejections with reason `invalid_token`. */
  invalidTokenRejections: number;
  /** Successful takeovers (`Ownership.takeover`). */
  takeoverSuccesses: number;
  /** 95th percentile (nearest rank) of the ownerless gap between one lease ending and the next grant, simulated ms. */
  leaseWindowP95Ms: number;
  /** Most workers waiting for the lease at once. */
  leaseQueuePeak: number;
  /** Most contenders in the bounded takeover queue at once. */
  takeoverQueuePeak: number;
  /** Attempts that were turned away and retried (queue admissions, claims, takeovers). */
  retryAttempts: number;
  /** Most events a restarted consumer had to replay (delivered before the kill, again after). */
  checkpointWindowEvents: number;
  /** Most simulated time a restarted consumer spent replaying, ms. */
  replayWindowMs: number;
}

/** The metric names in signature order, with their snake-case labels. */
export const METRIC_FIELDS: readonly (readonly [keyof Metrics, string])[] = [
  ["ownershipConflicts", "ownership_conflicts"],
  ["splitBrainRejections", "split_brain_rejections"],
  ["staleOwnerRejections", "stale_owner_rejections"],
  ["invalidTokenRejections", "invalid_token_rejections"],
  ["takeoverSuccesses", "takeover_successes"],
  ["leaseWindowP95Ms", "lease_window_p95_ms"],
  ["leaseQueuePeak", "lease_queue_peak"],
  ["takeoverQueuePeak", "takeover_queue_peak"],
  ["retryAttempts", "retry_attempts"],
  ["checkpointWindowEvents", "checkpoint_window_events"],
  ["replayWindowMs", "replay_window_ms"],
];

/** All-zero metrics, for a scenario to fill in. */
export function zeroMetrics(): Metrics {
  return {
    ownershipConflicts: 0,
    splitBrainRejections: 0,
    staleOwnerRejections: 0,
    invalidTokenRejections: 0,
    takeoverSuccesses: 0,
    leaseWindowP95Ms: 0,
    leaseQueuePeak: 0,
    takeoverQueuePeak: 0,
    retryAttempts: 0,
    checkpointWindowEvents: 0,
    replayWindowMs: 0,
  };
}

/**
 * The canonical signature of a profile: `name=value` pairs in a fixed field
 * order, joined by `;`. Every value must be a safe integer; anything else
 * throws `RangeError` (a float would make signatures platform-dependent).
 *
 * @example
 * ```ts
 * import { metricsSignature, runScenario, Scenario } from "@seed/batpak";
 * const sig = metricsSignature(runScenario(Scenario.LeaseRenewalContention).profile);
 * console.log(sig.startsWith("ownership_conflicts=")); // true
 * ```
 */
export function metricsSignature(metrics: Metrics): string {
  const parts: string[] = [];
  for (const [key, label] of METRIC_FIELDS) {
    const value = metrics[key];
    if (!Number.isSafeInteger(value)) {
      throw new RangeError(`metric ${label} must be an integer, found ${String(value)}`);
    }
    parts.push(`${label}=${value}`);
  }
  return parts.join(";");
}

/**
 * Nearest-rank percentile of integer samples (0 when there are none):
 * the smallest sample with at least `percent`% of the samples at or below it.
 */
export function nearestRank(samples: readonly number[], percent: number): number {
  if (samples.length === 0) return 0;
  const sorted = [...samples].sort((a, b) => a - b);
  // rank = ceil(percent/100 * n), in integers.
  const rank = Math.max(1, Math.floor((percent * sorted.length + 99) / 100));
  return sorted[rank - 1];
}
