/**
 * The full M37 matrix: every scenario, then the budgets.
 *
 * @module
 */

import {
  type Budget,
  budgetFailures,
  type BudgetResult,
  defaultBudget,
  evaluateBudget,
} from "./budget.ts";
import type { HarnessBackend } from "./backend.ts";
import {
  outcomeOf,
  passFailLabel,
  resolveSeed,
  runScenario,
  runScenarioOn,
  type ScenarioOutcome,
} from "./run.ts";
import { scenarioLabel, SCENARIOS } from "./scenario.ts";

/**
 * The full M37 report: every scenario's outcome, its budget check, and the
 * failure counts.
 *
 * @example
 * ```ts
 * import { runMatrix } from "@seed/batpak";
 * const report = runMatrix();
 * console.log(report.outcomes.length, report.failedScenarios, report.failedBudgets); // 4 0 0
 * ```
 */
export interface Report {
  /** One outcome per scenario, in scenario order. */
  outcomes: ScenarioOutcome[];
  /** One budget check per outcome, in the same order. */
  budgetResults: BudgetResult[];
  /** Outcomes that did not pass. */
  failedScenarios: number;
  /** Outcomes whose two runs disagreed. */
  nondeterministicFailures: number;
  /** Outcomes whose invariants did not hold. */
  invariantFailures: number;
  /** Budget checks that failed. */
  failedBudgets: number;
}

/**
 * Options of {@linkcode runMatrix}.
 *
 * @example Tighter budgets than the defaults
 * ```ts
 * import { defaultBudget, type MatrixOptions, runMatrix } from "@seed/batpak";
 * const budgets = defaultBudget().map((b) => ({ ...b, maxRetryAttempts: 0 }));
 * const options: MatrixOptions = { seed: 3, budgets };
 * console.log(runMatrix(options).failedBudgets > 0); // true
 * ```
 */
export interface MatrixOptions {
  /** Seed of every scenario (uint32); default 37. */
  seed?: number;
  /** Budgets to check; default {@linkcode defaultBudget}. */
  budgets?: Budget[];
}

/**
 * Run every scenario (each twice, see {@linkcode runScenario}) with one seed
 * and check the budgets. A matrix passes when `failedScenarios` and
 * `failedBudgets` are both 0.
 *
 * @example Default budgets, another seed
 * ```ts
 * import { runMatrix } from "@seed/batpak";
 * const report = runMatrix({ seed: 2024 });
 * console.log(report.failedScenarios + report.failedBudgets); // 0
 * ```
 */
export function runMatrix(options?: MatrixOptions): Report {
  const seed = resolveSeed(options?.seed, "runMatrix");
  return reportOf(SCENARIOS.map((s) => runScenario(s, { seed })), options?.budgets);
}

/**
 * {@linkcode runMatrix} on any backend, one scenario after the other (see
 * `runScenarioOn`). Not part of the package's public surface: `deno task
 * harness:postgres` runs it on PostgreSQL, and its report signature must
 * equal the embedded store's for the same seed.
 */
export async function runMatrixOn(
  backend: HarnessBackend,
  options?: MatrixOptions,
): Promise<Report> {
  const seed = resolveSeed(options?.seed, "runMatrixOn");
  const outcomes: ScenarioOutcome[] = [];
  for (const s of SCENARIOS) outcomes.push(outcomeOf(await runScenarioOn(backend, s, { seed })));
  return reportOf(outcomes, options?.budgets);
}

/** The report of `outcomes` (one per scenario, in order), checked against `budgets`. */
function reportOf(outcomes: ScenarioOutcome[], budgets: Budget[] = defaultBudget()): Report {
  const budgetResults = evaluateBudget(outcomes, budgets);
  return {
    outcomes,
    budgetResults,
    failedScenarios: outcomes.filter((o) => !o.passed).length,
    nondeterministicFailures: outcomes.filter((o) => !o.deterministic).length,
    invariantFailures: outcomes.filter((o) => !o.invariantsMet).length,
    failedBudgets: budgetFailures(budgetResults),
  };
}

/**
 * The canonical signature of a report: each outcome (its signature, verdict
 * and determinism), each budget check, then the counts, in a fixed order,
 * joined by `|`. Labels and integers only: equal reports give equal strings.
 *
 * @example
 * ```ts
 * import { reportSignature, runMatrix } from "@seed/batpak";
 * console.log(reportSignature(runMatrix({ seed: 5 })) === reportSignature(runMatrix({ seed: 5 }))); // true
 * ```
 */
export function reportSignature(report: Report): string {
  const parts = ["m37"];
  for (const o of report.outcomes) {
    parts.push(
      `outcome(${o.signature};result=${passFailLabel(o)};deterministic=${o.deterministic ? 1 : 0})`,
    );
  }
  for (const b of report.budgetResults) {
    parts.push(
      `budget(scenario=${scenarioLabel(b.scenario)};result=${
        b.passed ? "pass" : "fail"
      };reason=${b.reason})`,
    );
  }
  parts.push(
    `failed_scenarios=${report.failedScenarios};nondeterministic_failures=${report.nondeterministicFailures};` +
      `invariant_failures=${report.invariantFailures};failed_budgets=${report.failedBudgets}`,
  );
  return parts.join("|");
}
