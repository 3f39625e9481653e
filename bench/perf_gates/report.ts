/**
 * The checker's reports: a console summary, bench/results/perf_gates.md (one
 * table row per bench with its floor verdict, target and ratio, then every
 * breach and miss in full) and bench/results/perf_gates.json (the same rows,
 * the samples and Deno's own report, for tools).
 *
 * @module
 */

import type { Denial } from "../../src/gate/mod.ts";
import type { DenoBenchReport, Samples } from "../_deno_bench.ts";
import { fmt, reportHeading, writeResults } from "../_results.ts";
import type { Evaluation } from "./evaluate.ts";

/** The results file names, without extension: bench/results/perf_gates.{md,json}. */
const RESULTS_NAME = "perf_gates";

/** The markdown table of a run. */
export function markdownReport(ev: Evaluation, meta: { runtime?: string; cpu?: string }): string {
  const lines = [
    ...reportHeading("perf-gates", meta),
    "Floors = the seed's thresholds (hard); targets = TARGETS.md goals (ratio ≥ 1 = met).",
    "",
    "| bench | median / iter | metric | floor | floor | target | ratio | target |",
    "| --- | ---: | ---: | --- | --- | --- | ---: | --- |",
  ];
  for (const r of ev.rows) {
    const metric = Number.isNaN(r.value)
      ? "—"
      : `${fmt(r.value, r.unit === "events/s" ? 0 : 2)} ${r.unit}`;
    const median = Number.isNaN(r.medianMs)
      ? "failed"
      : `${fmt(r.medianMs, 3)} ms${r.statistic === "mean" ? " (mean)" : ""}`;
    const target = r.target
      ? `${r.target.id}: ${r.target.better === "higher" ? "≥" : "≤"} ${
        fmt(r.target.goal)
      } ${r.target.unit}`
      : "—";
    const ratio = r.ratio === undefined ? "—" : `${fmt(r.ratio, 3)}×`;
    const tStatus = r.target === undefined || r.ratio === undefined
      ? "—"
      : r.targetDenial
      ? "missed"
      : "met";
    lines.push(
      `| ${r.bench} | ${median} | ${metric} | ${r.floor} | ${
        r.floorDenials.length ? "**BREACH**" : "ok"
      } | ${target} | ${ratio} | ${tStatus} |`,
    );
  }
  if (ev.breaches.length) {
    lines.push("", "## Floor breaches", "");
    for (const d of ev.breaches) lines.push(`- ${String(d)}`);
  }
  if (ev.misses.length) {
    lines.push("", "## Target misses (warnings)", "");
    for (const d of ev.misses) lines.push(`- ${String(d)}`);
  }
  return lines.join("\n") + "\n";
}

/** Print the run to the console: one line per bench, then every miss and breach. */
export function printConsole(ev: Evaluation): void {
  console.log("\nPERF GATES");
  for (const r of ev.rows) {
    const value = Number.isNaN(r.value) ? "failed" : `${fmt(r.value, 1)} ${r.unit}`;
    const floor = r.floorDenials.length ? "FLOOR BREACHED" : "floor ok";
    const target = r.target === undefined
      ? ""
      : r.ratio === undefined
      ? `${r.target.id} n/a (no result)`
      : `${r.target.id} ratio ${fmt(r.ratio, 3)} (${r.targetDenial ? "missed" : "met"})`;
    console.log(`  ${r.bench.padEnd(56)} ${value.padStart(22)}  ${floor}  ${target}`);
  }
  if (ev.misses.length) {
    console.log(`\nWARNING: ${ev.misses.length} target(s) missed (not a failure):`);
    for (const d of ev.misses) console.log(showDenial(d));
  }
  if (ev.breaches.length) {
    console.log(`\nFAILED: ${ev.breaches.length} floor gate(s) denied:`);
    for (const d of ev.breaches) console.log(showDenial(d));
  } else {
    console.log("\nAll floor gates passed.");
  }
}

function showDenial(d: Denial): string {
  const ctx = Object.entries(d.context).map(([k, v]) => `      ${k} = ${v}`).join("\n");
  return `  [${d.gate}] (${d.code}) ${d.message}${ctx ? "\n" + ctx : ""}`;
}

/** The JSON report: the run's metadata, every row with its denials as plain data, the inputs. */
export function jsonReport(ev: Evaluation, report: DenoBenchReport, samples: Samples): unknown {
  return {
    runtime: report.runtime,
    cpu: report.cpu,
    at: new Date().toISOString(),
    passed: ev.breaches.length === 0,
    rows: ev.rows.map((r) => ({
      bench: r.bench,
      medianMs: r.medianMs,
      statistic: r.statistic,
      iterations: r.iterations,
      value: r.value,
      unit: r.unit,
      floor: r.floor,
      floorGates: r.floorGates,
      floorDenials: r.floorDenials.map(plainDenial),
      target: r.target,
      ratio: r.ratio,
      targetDenial: r.targetDenial ? plainDenial(r.targetDenial) : undefined,
    })),
    samples,
    deno: report,
  };
}

/** Write bench/results/perf_gates.md and perf_gates.json; returns the markdown file's path. */
export function writeReports(ev: Evaluation, report: DenoBenchReport, samples: Samples): string {
  return writeResults(RESULTS_NAME, markdownReport(ev, report), jsonReport(ev, report, samples));
}

function plainDenial(d: Denial): Record<string, unknown> {
  return { gate: d.gate, code: d.code, message: d.message, context: d.context };
}
