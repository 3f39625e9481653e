/**
 * The M37 contention harness: deterministic ownership, lease, takeover and
 * checkpoint/replay scenarios run against the real store on an in-memory
 * file system with a simulated clock, with per-scenario budgets, canonical
 * signatures and a markdown snapshot for drift gates.
 *
 * @example
 * ```ts
 * import { runMatrix, runScenario, Scenario } from "@seed/batpak";
 * const outcome = runScenario(Scenario.CheckpointReplayWindows, { seed: 9 });
 * console.log(outcome.passed); // true
 * console.log(runMatrix({ seed: 9 }).failedBudgets); // 0
 * ```
 *
 * @module
 */

export { Scenario, scenarioLabel, SCENARIOS } from "./scenario.ts";
export { type Metrics, metricsSignature } from "./metrics.ts";
export {
  type Budget,
  BUDGET_VERSION,
  budgetFailures,
  type BudgetResult,
  budgetVersionLabel,
  defaultBudget,
  evaluateBudget,
} from "./budget.ts";
export {
  passFailLabel,
  runScenario,
  type RunScenarioOptions,
  type ScenarioOutcome,
} from "./run.ts";
export { type MatrixOptions, type Report, reportSignature, runMatrix } from "./matrix.ts";
export { SNAPSHOT_VERSION, snapshotReportMarkdown, snapshotSignature } from "./snapshot.ts";
