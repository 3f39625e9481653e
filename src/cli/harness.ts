/**
 * `batpak harness`: run the M37 contention matrix and check its budgets.
 *
 * @module
 */

import { runMatrix, snapshotReportMarkdown } from "../../mod.ts";
import { type Command, EXIT_FAILURE, EXIT_OK, integerFlag, parseCommand } from "./_args.ts";
import {
  HARNESS_SEED_MAX,
  matrixFailures,
  matrixMarkdown,
  matrixRows,
  reportDigest,
} from "./_harness.ts";
import { type CliIo, formatMs, renderTable } from "./_output.ts";

const HELP = `Usage: batpak harness [--seed N] [--markdown]

Run the M37 contention matrix: ownership fencing contention, lease renewal
contention, takeover queue retry pressure and checkpoint/replay windows,
each run twice against the real store on an in-memory file system with a
simulated clock, and checked for determinism, invariants and budgets.

Options:
  --seed N     seed of the scenarios' schedules, 0..${HARNESS_SEED_MAX} (default: the harness's)
  --markdown   print a Markdown report with every signature; without --seed,
               the canonical snapshot that the drift gate compares
  -h, --help   show this help

Exit codes: 0 every scenario passed within budget, 1 a failure, 2 bad command line.
`;

/** The `harness` command. */
export const harness: Command = {
  name: "harness",
  summary: "run the M37 contention matrix (--seed N, --markdown)",
  help: HELP,
  run(args: string[], io: CliIo): number {
    const { values, help } = parseCommand(args, {
      seed: { type: "string" },
      markdown: { type: "boolean" },
    }, []);
    if (help) {
      io.out(HELP);
      return EXIT_OK;
    }
    const seed = integerFlag("seed", values.seed, HARNESS_SEED_MAX);
    const started = performance.now();
    const report = runMatrix(seed === undefined ? {} : { seed });
    const elapsedMs = performance.now() - started;
    const failures = matrixFailures(report);
    if (values.markdown) {
      io.out(seed === undefined ? snapshotReportMarkdown() : matrixMarkdown(report, seed));
    } else {
      const total = report.outcomes.length;
      io.out(renderTable(matrixRows(report)));
      io.out(
        `\n${total - report.failedScenarios}/${total} scenarios passed, ` +
          `${report.failedBudgets} budget(s) exceeded, ` +
          `${report.nondeterministicFailures} nondeterministic, ` +
          `${report.invariantFailures} invariant failure(s), in ${formatMs(elapsedMs)}\n` +
          `report digest: ${reportDigest(report)} (sha-256 of the report signature; ` +
          `--markdown shows it in full)\n`,
      );
    }
    if (failures === 0) return EXIT_OK;
    io.err(`batpak harness: ${failures} failure(s) in the M37 matrix\n`);
    return EXIT_FAILURE;
  },
};
