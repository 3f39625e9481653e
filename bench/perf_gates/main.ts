/**
 * `deno task perf-gates`: runs the perf-gate benches
 * (`deno bench -A --json --filter perf-gates bench/perf_gates_bench.ts`),
 * judges them afterwards (evaluate.ts: the seed's floors, hard; the
 * TARGETS.md goals, reported with their ratio, warnings), prints the result
 * and writes bench/results/perf_gates.md and perf_gates.json. Exits 1 when a
 * floor is breached or a bench has no result.
 *
 * Medians come from per-iteration samples the bench file records
 * (bench/_deno_bench.ts); without samples the checker falls back to Deno's
 * mean and says so.
 *
 * Usage:
 *   deno task perf-gates
 *   deno run -A bench/perf_gates/main.ts --input run.json [--samples samples.json]
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type DenoBenchReport, runDenoBench, type Samples } from "../_deno_bench.ts";
import { evaluateRun, readBenchReport } from "./evaluate.ts";
import { printConsole, writeReports } from "./report.ts";

const BENCH_FILE = fileURLToPath(new URL("../perf_gates_bench.ts", import.meta.url));

/** Run (or, with `--input`, read) the perf-gate benches and check them; returns the exit code. */
export async function main(args: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: { input: { type: "string" }, samples: { type: "string" } },
  });
  let report: DenoBenchReport;
  let samples: Samples = {};
  if (values.input) {
    report = JSON.parse(Deno.readTextFileSync(values.input));
    if (values.samples) samples = JSON.parse(Deno.readTextFileSync(values.samples));
  } else {
    ({ report, samples } = await runDenoBench([
      "bench",
      "-A",
      "--json",
      "--filter",
      "perf-gates",
      BENCH_FILE,
    ]));
  }
  const ev = evaluateRun(readBenchReport(report, samples));
  printConsole(ev);
  const written = writeReports(ev, report, samples);
  console.log(`\nWrote ${written} and perf_gates.json`);
  return ev.breaches.length === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
