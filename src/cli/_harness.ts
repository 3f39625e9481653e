/**
 * The M37 contention harness as the CLI and the demo show it: one table
 * row per scenario, a short digest of the report signature, and a
 * Markdown rendering for seeds other than the snapshot's.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { passFailLabel, type Report, reportSignature, scenarioLabel } from "../../mod.ts";
import { renderMarkdownTable } from "./_output.ts";

/** Largest seed the harness accepts (uint32). */
export const HARNESS_SEED_MAX = 0xffff_ffff;
/** Hex digits of the report digest shown in text output. */
const DIGEST_HEX_DIGITS = 16;

/** Everything that went wrong in a report, summed. */
export function matrixFailures(report: Report): number {
  return report.failedScenarios + report.nondeterministicFailures + report.invariantFailures +
    report.failedBudgets;
}

const yesNo = (v: boolean) => (v ? "yes" : "NO");

/** Header and one row per scenario: verdict, determinism, invariants, budget. */
export function matrixRows(report: Report): string[][] {
  const rows = [["scenario", "result", "deterministic", "invariants", "budget"]];
  report.outcomes.forEach((o, i) => {
    const budget = report.budgetResults[i];
    rows.push([
      scenarioLabel(o.scenario),
      passFailLabel(o),
      yesNo(o.deterministic),
      o.invariantsMet ? "met" : "BROKEN",
      budget === undefined ? "-" : budget.passed ? "within" : `OVER: ${budget.reason}`,
    ]);
  });
  return rows;
}

/** SHA-256 of the canonical report signature, shortened: equal reports, equal digests. */
export function reportDigest(report: Report): string {
  return createHash("sha256").update(reportSignature(report)).digest("hex").slice(
    0,
    DIGEST_HEX_DIGITS,
  );
}

/** A Markdown report of any seed: the scenario table and every signature. */
export function matrixMarkdown(report: Report, seed: number): string {
  return `# M37 contention matrix, seed ${seed}\n\n` + renderMarkdownTable(matrixRows(report)) +
    "\n## Scenario signatures\n\n" +
    report.outcomes.map((o) => `- \`${o.signature}\`\n`).join("") +
    "\n## Report signature\n\n```text\n" + reportSignature(report) + "\n```\n";
}
