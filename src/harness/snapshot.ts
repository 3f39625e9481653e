/**
 * The deterministic markdown snapshot of the default matrix, used as a
 * drift gate (`tests/fixtures/contention_m37.md`).
 *
 * @module
 */

import { BUDGET_VERSION, budgetVersionLabel, defaultBudget } from "./budget.ts";
import { type Report, reportSignature, runMatrix } from "./matrix.ts";
import { METRIC_FIELDS } from "./metrics.ts";
import { DEFAULT_SEED, passFailLabel } from "./run.ts";
import { scenarioLabel } from "./scenario.ts";

/**
 * Version of the snapshot format and scenario definitions. Bump it when a
 * scenario or the report layout changes on purpose, and regenerate the
 * fixture with `deno task snapshot`.
 *
 * - 1: the four scenarios on the embedded store.
 * - 2: the scenarios speak only the `EventStore` contract, so they run on
 *   PostgreSQL too; checkpoint replay's producer commits each burst (a kill
 *   no longer takes unsynced inputs back), which changes its schedule for
 *   most seeds (not for the default seed 37).
 *
 * @example
 * ```ts
 * import { SNAPSHOT_VERSION } from "@seed/batpak";
 * console.log(SNAPSHOT_VERSION); // 2
 * ```
 */
export const SNAPSHOT_VERSION: number = 2;

/**
 * The snapshot signature of a report of the default seed, from any
 * backend: what {@linkcode snapshotSignature} gives for the embedded store.
 */
export function snapshotSignatureOf(report: Report): string {
  return `m37-snapshot;snapshot_version=${SNAPSHOT_VERSION};budget_version=${BUDGET_VERSION};seed=${DEFAULT_SEED}|${
    reportSignature(report)
  }`;
}

const yesNo = (v: boolean): string => (v ? "yes" : "no");

/**
 * A markdown table padded the way `deno fmt` pads it, so the committed
 * fixture passes `deno fmt --check` byte for byte. `right[i]` right-aligns
 * column `i`.
 */
function table(
  header: readonly string[],
  rows: readonly (readonly (string | number)[])[],
  right: readonly boolean[] = [],
): string[] {
  const cells = [header, ...rows].map((r) => r.map(String));
  const widths = header.map((_, i) => Math.max(3, ...cells.map((r) => r[i].length)));
  const line = (r: readonly string[]): string =>
    `| ${r.map((c, i) => right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])).join(" | ")} |`;
  const rule = widths.map((w, i) => right[i] ? `${"-".repeat(w - 1)}:` : "-".repeat(w));
  return [line(cells[0]), `| ${rule.join(" | ")} |`, ...cells.slice(1).map(line)];
}

/**
 * The snapshot markdown of a report of the default seed, from any backend:
 * what {@linkcode snapshotReportMarkdown} gives for the embedded store.
 */
export function snapshotMarkdownOf(report: Report): string {
  const labels = report.outcomes.map((o) => scenarioLabel(o.scenario));
  const budgets = defaultBudget();
  const lines: string[] = [
    "# M37 contention harness snapshot",
    "",
    "Written by `deno task snapshot` with the default seed and the default budgets.",
    "",
    "`tests/harness/harness_test.ts` fails when the harness drifts from this file without a version bump.",
    "",
    ...table(["field", "value"], [
      ["snapshot_version", SNAPSHOT_VERSION],
      ["budget_version", BUDGET_VERSION],
      ["budget_label", budgetVersionLabel()],
      ["seed", DEFAULT_SEED],
    ]),
    "",
    "## Scenarios",
    "",
    ...table(
      ["scenario", "result", "deterministic", "invariants"],
      report.outcomes.map((o) => [
        scenarioLabel(o.scenario),
        passFailLabel(o),
        yesNo(o.deterministic),
        o.invariantsMet ? "met" : "broken",
      ]),
    ),
    "",
    "## Metrics",
    "",
    ...table(
      ["metric", ...labels],
      METRIC_FIELDS.map(([key, label]) => [label, ...report.outcomes.map((o) => o.profile[key])]),
      [false, ...labels.map(() => true)],
    ),
    "",
    `## Budgets (${budgetVersionLabel()})`,
    "",
    "Each cell is measured / ceiling.",
    "",
    ...table(
      [
        "scenario",
        "result",
        "lease_window_p95_ms",
        "checkpoint_window_events",
        "replay_window_ms",
        "queue_peak",
        "retry_attempts",
        "reason",
      ],
      report.budgetResults.map((r, i) => {
        const m = report.outcomes[i].profile;
        const b = budgets.find((x) => x.scenario === r.scenario);
        const cell = (value: number, max: number | undefined): string =>
          `${value} / ${max ?? "none"}`;
        return [
          scenarioLabel(r.scenario),
          r.passed ? "pass" : "fail",
          cell(m.leaseWindowP95Ms, b?.maxLeaseWindowP95Ms),
          cell(m.checkpointWindowEvents, b?.maxCheckpointWindowEvents),
          cell(m.replayWindowMs, b?.maxReplayWindowMs),
          cell(Math.max(m.leaseQueuePeak, m.takeoverQueuePeak), b?.maxQueueDepth),
          cell(m.retryAttempts, b?.maxRetryAttempts),
          r.reason,
        ];
      }),
      [false, false, true, true, true, true, true, false],
    ),
    "",
    "## Totals",
    "",
    ...table(["count", "value"], [
      ["failed_scenarios", report.failedScenarios],
      ["nondeterministic_failures", report.nondeterministicFailures],
      ["invariant_failures", report.invariantFailures],
      ["failed_budgets", report.failedBudgets],
    ], [false, true]),
    "",
    "## Scenario signatures",
    "",
    ...report.outcomes.map((o) => `- \`${o.signature}\``),
    "",
    "## Snapshot signature",
    "",
    "```text",
    snapshotSignatureOf(report),
    "```",
    "",
  ];
  return lines.join("\n");
}

/**
 * The markdown report of the default matrix (seed 37, default budgets):
 * versions, each scenario's verdict, metrics, budget checks, counts and
 * signatures. Deterministic: the same code gives the same bytes.
 *
 * @example
 * ```ts
 * import { snapshotReportMarkdown } from "@seed/batpak";
 * const md = snapshotReportMarkdown();
 * console.log(md.startsWith("# M37 contention harness snapshot")); // true
 * console.log(md === snapshotReportMarkdown()); // true
 * ```
 */
export function snapshotReportMarkdown(): string {
  return snapshotMarkdownOf(runMatrix());
}

/**
 * The signature of the default matrix, embedding {@linkcode SNAPSHOT_VERSION},
 * `BUDGET_VERSION` and the seed before the report signature: a drift gate
 * compares it across builds.
 *
 * @example
 * ```ts
 * import { snapshotSignature } from "@seed/batpak";
 * console.log(snapshotSignature().startsWith("m37-snapshot;snapshot_version=2;budget_version=1;")); // true
 * ```
 */
export function snapshotSignature(): string {
  return snapshotSignatureOf(runMatrix());
}
