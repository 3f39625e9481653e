/**
 * Contention budgets: per-scenario ceilings on the measured profile.
 *
 * @module
 */

import { InvalidArgumentError } from "./_public.ts";
import type { ScenarioOutcome } from "./run.ts";
import { assertScenario, Scenario, scenarioLabel } from "./scenario.ts";

/**
 * Version of the default budget profile. Bump it whenever
 * {@linkcode defaultBudget} changes, and regenerate the snapshot fixture
 * (`deno task snapshot`).
 *
 * @example
 * ```ts
 * import { BUDGET_VERSION } from "@seed/batpak";
 * console.log(BUDGET_VERSION); // 1
 * ```
 */
export const BUDGET_VERSION: number = 1;

/**
 * Contention ceilings for one scenario. Every limit is an inclusive
 * maximum; `maxQueueDepth` bounds both the lease queue and the takeover
 * queue peaks.
 *
 * @example
 * ```ts
 * import { type Budget, Scenario } from "@seed/batpak";
 * const tight: Budget = {
 *   scenario: Scenario.TakeoverQueueRetryPressure,
 *   maxLeaseWindowP95Ms: 200,
 *   maxCheckpointWindowEvents: 0,
 *   maxReplayWindowMs: 0,
 *   maxQueueDepth: 10,
 *   maxRetryAttempts: 100,
 * };
 * console.log(tight.maxQueueDepth); // 10
 * ```
 */
export interface Budget {
  /** The scenario this budget applies to. */
  scenario: Scenario;
  /** Ceiling of `leaseWindowP95Ms`. */
  maxLeaseWindowP95Ms: number;
  /** Ceiling of `checkpointWindowEvents`. */
  maxCheckpointWindowEvents: number;
  /** Ceiling of `replayWindowMs`. */
  maxReplayWindowMs: number;
  /** Ceiling of both `leaseQueuePeak` and `takeoverQueuePeak`. */
  maxQueueDepth: number;
  /** Ceiling of `retryAttempts`. */
  maxRetryAttempts: number;
}

/**
 * One budget check: `reason` is `"within budget"`, or lists every exceeded
 * limit as `metric=value>max` joined by `; `.
 *
 * @example
 * ```ts
 * import { defaultBudget, evaluateBudget, runScenario, Scenario } from "@seed/batpak";
 * const [result] = evaluateBudget([runScenario(Scenario.LeaseRenewalContention)], defaultBudget());
 * console.log(result.passed, result.reason); // true within budget
 * ```
 */
export interface BudgetResult {
  /** The scenario checked. */
  scenario: Scenario;
  /** True when every metric is within its ceiling. */
  passed: boolean;
  /** Why: `"within budget"`, the exceeded limits, or that no budget was given. */
  reason: string;
}

/**
 * `m37-budget-v<BUDGET_VERSION>`: the label of the default budget profile.
 *
 * @example
 * ```ts
 * import { budgetVersionLabel } from "@seed/batpak";
 * console.log(budgetVersionLabel()); // m37-budget-v1
 * ```
 */
export function budgetVersionLabel(): string {
  return `m37-budget-v${BUDGET_VERSION}`;
}

/**
 * The default M37 budgets, one per scenario in scenario order.
 *
 * How the numbers were chosen: `deno task harness:seeds` runs seeds 0..99
 * and prints the worst value of each metric; a statistical ceiling is about
 * 1.5x that worst value, rounded up, so a new seed does not trip it but a
 * real regression (a lease that lingers, retries that pile up) does.
 * Structural ceilings are exact, because the scenario cannot exceed them
 * unless its rules break: four fencing workers and six lease workers can
 * queue at most that deep, the takeover queue is bounded at four, and a
 * checkpoint every 16 events bounds a replay to 15 events (20 ms restart +
 * 2 ms per event = 50 ms; the ceilings leave one event and 10 ms). Metrics a
 * scenario does not exercise get a ceiling of 0, so a scenario that starts
 * producing them is noticed.
 *
 * @example
 * ```ts
 * import { defaultBudget, SCENARIOS } from "@seed/batpak";
 * console.log(defaultBudget().map((b) => b.scenario).join() === SCENARIOS.join()); // true
 * ```
 */
export function defaultBudget(): Budget[] {
  return [
    {
      // Seeds 0..99, worst: lease window p95 239 ms, 60 retries. Queue: 4 workers.
      scenario: Scenario.OwnershipFencingContention,
      maxLeaseWindowP95Ms: 360,
      maxCheckpointWindowEvents: 0,
      maxReplayWindowMs: 0,
      maxQueueDepth: 4,
      maxRetryAttempts: 90,
    },
    {
      // Seeds 0..99, worst: lease window p95 32 ms, 754 rejected polls. Queue: 6 workers.
      scenario: Scenario.LeaseRenewalContention,
      maxLeaseWindowP95Ms: 50,
      maxCheckpointWindowEvents: 0,
      maxReplayWindowMs: 0,
      maxQueueDepth: 6,
      maxRetryAttempts: 1_150,
    },
    {
      // Seeds 0..99, worst: lease window p95 103 ms, 80 retries. Queue: bounded at 4.
      scenario: Scenario.TakeoverQueueRetryPressure,
      maxLeaseWindowP95Ms: 160,
      maxCheckpointWindowEvents: 0,
      maxReplayWindowMs: 0,
      maxQueueDepth: 4,
      maxRetryAttempts: 120,
    },
    {
      // Seeds 0..99, worst: 15 events, 50 ms, the structural maximum.
      scenario: Scenario.CheckpointReplayWindows,
      maxLeaseWindowP95Ms: 0,
      maxCheckpointWindowEvents: 16,
      maxReplayWindowMs: 60,
      maxQueueDepth: 0,
      maxRetryAttempts: 0,
    },
  ];
}

const LIMIT_KEYS = [
  "maxLeaseWindowP95Ms",
  "maxCheckpointWindowEvents",
  "maxReplayWindowMs",
  "maxQueueDepth",
  "maxRetryAttempts",
] as const;

function checkBudget(b: Budget, i: number): void {
  if (typeof b !== "object" || b === null) {
    throw new InvalidArgumentError(`budgets[${i}] must be a Budget object, found ${String(b)}`);
  }
  assertScenario(b.scenario, `budgets[${i}]`);
  for (const key of LIMIT_KEYS) {
    const v = b[key];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
      throw new InvalidArgumentError(
        `budgets[${i}].${key} must be an integer ≥ 0, found ${String(v)}`,
      );
    }
  }
}

/**
 * Check each outcome against the budget of its scenario, in outcome order.
 * An outcome whose scenario has no budget fails (`"no budget for <label>"`);
 * when several budgets name one scenario, the first applies. Throws
 * `InvalidArgumentError` for a malformed budget.
 *
 * @example
 * ```ts
 * import { type Budget, evaluateBudget, runScenario, Scenario } from "@seed/batpak";
 * const outcome = runScenario(Scenario.CheckpointReplayWindows);
 * const strict: Budget = {
 *   scenario: Scenario.CheckpointReplayWindows,
 *   maxLeaseWindowP95Ms: 0,
 *   maxCheckpointWindowEvents: 0, // no replay allowed at all
 *   maxReplayWindowMs: 0,
 *   maxQueueDepth: 0,
 *   maxRetryAttempts: 0,
 * };
 * const [result] = evaluateBudget([outcome], [strict]);
 * console.log(result.passed); // false
 * console.log(result.reason.startsWith("checkpoint_window_events=")); // true
 * ```
 */
export function evaluateBudget(outcomes: ScenarioOutcome[], budgets: Budget[]): BudgetResult[] {
  if (!Array.isArray(outcomes) || !Array.isArray(budgets)) {
    throw new InvalidArgumentError("evaluateBudget needs an array of outcomes and of budgets");
  }
  budgets.forEach(checkBudget);
  return outcomes.map((o) => {
    const b = budgets.find((x) => x.scenario === o.scenario);
    if (b === undefined) {
      return {
        scenario: o.scenario,
        passed: false,
        reason: `no budget for ${scenarioLabel(o.scenario)}`,
      };
    }
    const m = o.profile;
    const over: string[] = [];
    const limit = (label: string, value: number, max: number): void => {
      if (value > max) over.push(`${label}=${value}>${max}`);
    };
    limit("lease_window_p95_ms", m.leaseWindowP95Ms, b.maxLeaseWindowP95Ms);
    limit("checkpoint_window_events", m.checkpointWindowEvents, b.maxCheckpointWindowEvents);
    limit("replay_window_ms", m.replayWindowMs, b.maxReplayWindowMs);
    limit("lease_queue_peak", m.leaseQueuePeak, b.maxQueueDepth);
    limit("takeover_queue_peak", m.takeoverQueuePeak, b.maxQueueDepth);
    limit("retry_attempts", m.retryAttempts, b.maxRetryAttempts);
    return {
      scenario: o.scenario,
      passed: over.length === 0,
      reason: over.length === 0 ? "within budget" : over.join("; "),
    };
  });
}

/**
 * How many budget checks failed.
 *
 * @example
 * ```ts
 * import { budgetFailures } from "@seed/batpak";
 * console.log(budgetFailures([{ scenario: "lease_renewal_contention", passed: false, reason: "x" }])); // 1
 * ```
 */
export function budgetFailures(results: BudgetResult[]): number {
  return results.filter((r) => !r.passed).length;
}
