/**
 * `deno task harness:seeds [count] [first]`: run the M37 matrix for many
 * seeds (default 100, from seed 0) with the default budgets; print each
 * failing seed, and per scenario the worst value of every budgeted metric
 * (what the default budgets are sized from). Exits 1 when any seed fails.
 *
 * @module
 */

import { defaultBudget } from "./budget.ts";
import { runMatrix } from "./matrix.ts";
import { METRIC_FIELDS, type Metrics } from "./metrics.ts";
import { scenarioLabel } from "./scenario.ts";

/** Run `count` seeds from `first`; returns the number of failing seeds. */
export function runSeeds(count: number, first: number, log: (line: string) => void): number {
  const worst = new Map<string, Metrics>();
  let failing = 0;
  for (let seed = first; seed < first + count; seed++) {
    const report = runMatrix({ seed, budgets: defaultBudget() });
    report.outcomes.forEach((o, i) => {
      const label = scenarioLabel(o.scenario);
      const w = worst.get(label) ?? { ...o.profile };
      for (const [key] of METRIC_FIELDS) w[key] = Math.max(w[key], o.profile[key]);
      worst.set(label, w);
      const b = report.budgetResults[i];
      if (!o.passed || !b.passed) {
        log(
          `seed ${seed} ${label}: ${o.passed ? "pass" : "FAIL"} ` +
            `(deterministic=${o.deterministic}, invariants=${o.invariantsMet}); budget: ${b.reason}`,
        );
        log(`  ${o.signature}`);
      }
    });
    if (report.failedScenarios + report.failedBudgets > 0) failing++;
  }
  log(`worst values over seeds ${first}..${first + count - 1}:`);
  for (const [label, w] of worst) {
    log(`  ${label}: ${METRIC_FIELDS.map(([k, l]) => `${l}=${w[k]}`).join(" ")}`);
  }
  log(`${count - failing} passed, ${failing} failed`);
  return failing;
}

if (import.meta.main) {
  const count = Number(Deno.args[0] ?? 100);
  const first = Number(Deno.args[1] ?? 0);
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(first) || first < 0) {
    console.error("usage: deno task harness:seeds [count ≥ 1] [first seed ≥ 0]");
    Deno.exit(2);
  }
  Deno.exit(runSeeds(count, first, console.log) === 0 ? 0 : 1);
}
