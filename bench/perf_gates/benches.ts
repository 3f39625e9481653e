/**
 * The perf-gate benches by name, and the sizes of their workloads: the
 * contract between bench/perf_gates_bench.ts, which defines and times them,
 * and the checker (evaluate.ts), which keys on the names and turns a time
 * per iteration into a rate with the sizes. The batch shape (P2) is shared
 * with the peers bench: bench/_workloads.ts.
 *
 * @module
 */

/** Names of the benches in bench/perf_gates_bench.ts; the checker keys on them. */
export const BENCH = {
  coldStart: "perf-gates/cold start 1K",
  multiWrite: "perf-gates/multi-gate write 1K",
  multiQuery: "perf-gates/multi-gate query 1K x100",
  multiProjection: "perf-gates/multi-gate projection 1K",
  batch: "perf-gates/batch throughput 100x100 sync every event",
  append: "perf-gates/append 5K",
  projection: "perf-gates/projection latency 1K",
  projectionCold: "perf-gates/projection cold path 1K",
  openSingle: "perf-gates/open-only single-entity 100K",
  closeSingle: "perf-gates/close-only single-entity 100K",
  openMixed: "perf-gates/open-only mixed 1000x100",
  closeMixed: "perf-gates/close-only mixed 1000x100",
  closeAfterAppend: "perf-gates/close after one append single-entity 100K",
  imageRestore: "perf-gates/index-image restore 100K",
  rebuildRestore: "perf-gates/rebuild restore 100K",
} as const;

/** Events in the 1K corpora (cold start, multi-gate, projection). */
export const EVENTS_1K = 1_000;
/** Events appended by the append-throughput bench. */
export const EVENTS_APPEND = 5_000;
/** Events in the 100K lifecycle corpora. */
export const EVENTS_100K = 100_000;
/** Queries per iteration of the query bench (the seed averages over 100). */
export const QUERIES_PER_ITERATION = 100;
