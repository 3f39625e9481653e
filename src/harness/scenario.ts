/**
 * The four M37 contention scenarios and their stable labels.
 *
 * @module
 */

import { InvalidArgumentError } from "./_public.ts";

/**
 * The M37 contention-profiling scenarios. Each value is also the scenario's
 * stable label (see {@linkcode scenarioLabel}).
 *
 * - `OwnershipFencingContention`: workers race to claim and take over one
 *   scope while deposed owners keep writing with old fences and a forger
 *   presents a wrong token.
 * - `LeaseRenewalContention`: holders renew over a link with simulated
 *   latency while waiters poll for the lease.
 * - `TakeoverQueueRetryPressure`: owners die one after another; contenders
 *   queue (bounded) and retry takeovers with deterministic backoff.
 * - `CheckpointReplayWindows`: a consumer checkpoints its cursor, is killed
 *   with the store, and replays from its checkpoint.
 *
 * @example
 * ```ts
 * import { Scenario, SCENARIOS } from "@seed/batpak";
 * console.log(Scenario.LeaseRenewalContention); // lease_renewal_contention
 * console.log(SCENARIOS.length); // 4
 * ```
 */
export const Scenario = {
  /** Claims, takeovers, zombie writers and a forger on one scope. */
  OwnershipFencingContention: "ownership_fencing_contention",
  /** Renewals with latency against polling waiters. */
  LeaseRenewalContention: "lease_renewal_contention",
  /** Dying owners, a bounded takeover queue, backoff. */
  TakeoverQueueRetryPressure: "takeover_queue_retry_pressure",
  /** Cursor checkpoints, a kill, replay. */
  CheckpointReplayWindows: "checkpoint_replay_windows",
} as const;

/** One of the {@linkcode Scenario} values. */
export type Scenario = typeof Scenario[keyof typeof Scenario];

/**
 * Every scenario, in the fixed order reports and signatures use.
 *
 * @example
 * ```ts
 * import { SCENARIOS } from "@seed/batpak";
 * console.log(SCENARIOS[0]); // ownership_fencing_contention
 * ```
 */
export const SCENARIOS: readonly Scenario[] = Object.freeze([
  Scenario.OwnershipFencingContention,
  Scenario.LeaseRenewalContention,
  Scenario.TakeoverQueueRetryPressure,
  Scenario.CheckpointReplayWindows,
]);

/** Throw unless `value` is a {@linkcode Scenario}. */
export function assertScenario(value: unknown, where: string): Scenario {
  if (!(SCENARIOS as readonly unknown[]).includes(value)) {
    throw new InvalidArgumentError(
      `${where}: scenario must be one of ${SCENARIOS.join(", ")}, found ${String(value)}`,
    );
  }
  return value as Scenario;
}

/**
 * The stable label of a scenario, as used in signatures, budgets and the
 * snapshot (snake case; it never changes for a given scenario). Throws
 * `InvalidArgumentError` for anything that is not a scenario.
 *
 * @example
 * ```ts
 * import { Scenario, scenarioLabel } from "@seed/batpak";
 * console.log(scenarioLabel(Scenario.CheckpointReplayWindows)); // checkpoint_replay_windows
 * ```
 */
export function scenarioLabel(scenario: Scenario): string {
  return assertScenario(scenario, "scenarioLabel");
}
