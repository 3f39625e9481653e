/**
 * The perf-gate checker's old address, kept so that existing imports
 * (tests/bench/perf_gates_test.ts) and command lines keep working: it re-exports
 * bench/perf_gates/ and, run as a script, runs bench/perf_gates/main.ts
 * (`deno task perf-gates`). New code imports from bench/perf_gates/ directly.
 *
 * @module
 */

import { main } from "./perf_gates/main.ts";

export { BATCH_COUNT, BATCH_SIZE } from "./_workloads.ts";
export { median } from "./_deno_bench.ts";
export type { DenoBenchReport } from "./_deno_bench.ts";
export * from "./perf_gates/benches.ts";
export * from "./perf_gates/evaluate.ts";
export * from "./perf_gates/gates.ts";
export { markdownReport } from "./perf_gates/report.ts";
export * from "./perf_gates/targets.ts";

if (import.meta.main) Deno.exit(await main(Deno.args));
