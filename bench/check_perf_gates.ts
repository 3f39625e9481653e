/**
 * The perf-gate checker: runs `bench/perf_gates_bench.ts` with `deno bench
 * --json`, then judges each result through a {@linkcode GateSet} at two tiers.
 *
 * - **Floors** are the seed's thresholds (batpak `tests/perf_gates.rs`). A
 *   breach prints each {@linkcode Denial} with its context and "Investigate:"
 *   pointer and makes the process exit non-zero.
 * - **Targets** are the goals of TARGETS.md (P1–P9) where a bench maps to one.
 *   Each is printed with the ratio achieved (≥ 1 = met); a miss is a warning.
 *
 * Medians come from per-iteration samples the bench file writes to the path in
 * `BATPAK_BENCH_SAMPLES`; Deno's JSON has no median, so without samples the
 * checker falls back to the mean and says so.
 *
 * Usage:
 *   deno task perf-gates
 *   deno run -A bench/check_perf_gates.ts --input run.json [--samples samples.json]
 *
 * Writes bench/results/perf_gates.md and bench/results/perf_gates.json.
 *
 * The gate classes are exported for tests/perf_gates_test.ts.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Denial, type Gate, GateSet, Proposal } from "../src/gate/mod.ts";

// ----------------------------------------------------------------- bench names

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
/** Items per batch and batches per iteration of the batch bench. */
export const BATCH_SIZE = 100;
/** Batches per iteration of the batch bench. */
export const BATCH_COUNT = 100;

const MS_PER_S = 1_000;
const US_PER_MS = 1_000;
const NS_PER_MS = 1_000_000;

// ------------------------------------------------------------ the seed's gates

/** Context of {@linkcode ColdStartGate}. */
export interface ColdStartContext {
  coldStartMs: number;
  eventCount: number;
}

/** Seed `ColdStartGate`: opening a store of `eventCount` events must take at most `maxMs`. */
export class ColdStartGate implements Gate<ColdStartContext> {
  readonly name = "cold_start_performance";
  constructor(readonly maxMs: number) {}
  evaluate(ctx: ColdStartContext): Denial | undefined {
    if (ctx.coldStartMs <= this.maxMs) return undefined;
    return new Denial(
      this.name,
      `Cold start took ${
        num(ctx.coldStartMs)
      }ms for ${ctx.eventCount} events (max: ${this.maxMs}ms). ` +
        "Investigate: src/store/store.ts Store.open, src/log/recovery.ts scanLog, " +
        "src/index/sidecar.ts loadSidecar.",
      "COLD_START_SLOW",
    )
      .withContext("event_count", String(ctx.eventCount))
      .withContext("cold_start_ms", num(ctx.coldStartMs))
      .withContext("max_ms", String(this.maxMs));
  }
}

/** Context of the write, query and projection gates (seed `PerfContext`). */
export interface PerfContext {
  eventCount: number;
  eventsPerSec: number;
  queryUs: number;
  projectionMs: number;
}

/** Seed `WriteThroughputGate`: appends per second must reach `minEventsPerSec`. */
export class WriteThroughputGate implements Gate<PerfContext> {
  readonly name = "write_throughput";
  constructor(readonly minEventsPerSec: number) {}
  evaluate(ctx: PerfContext): Denial | undefined {
    if (ctx.eventsPerSec >= this.minEventsPerSec) return undefined;
    return new Denial(
      this.name,
      `Write throughput ${
        num(ctx.eventsPerSec, 0)
      } events/sec < minimum ${this.minEventsPerSec}. ` +
        "Investigate: src/log/writer.ts reserve/commit/syncNow, src/store/store.ts #appendOne, " +
        "src/log/event_codec.ts writeEventBody (encode + hash).",
      "WRITE_THROUGHPUT_LOW",
    )
      .withContext("events_per_sec", num(ctx.eventsPerSec, 0))
      .withContext("min_required", String(this.minEventsPerSec))
      .withContext("event_count", String(ctx.eventCount));
  }
}

/** Seed `QueryLatencyGate`: one region query must take at most `maxUsPerQuery`. */
export class QueryLatencyGate implements Gate<PerfContext> {
  readonly name = "query_latency";
  constructor(readonly maxUsPerQuery: number) {}
  evaluate(ctx: PerfContext): Denial | undefined {
    if (ctx.queryUs <= this.maxUsPerQuery) return undefined;
    return new Denial(
      this.name,
      `Query latency ${num(ctx.queryUs, 1)}µs > max ${num(this.maxUsPerQuery, 1)}µs. ` +
        "Investigate: src/index/query.ts queryIndex, src/index/index.ts entry().",
      "QUERY_LATENCY_HIGH",
    )
      .withContext("query_us", num(ctx.queryUs, 1))
      .withContext("max_us", num(this.maxUsPerQuery, 1));
  }
}

/** Seed `ProjectionGate`: replaying `eventCount` events must take at most `maxMs`. */
export class ProjectionGate implements Gate<PerfContext> {
  readonly name = "projection_replay";
  constructor(readonly maxMs: number) {}
  evaluate(ctx: PerfContext): Denial | undefined {
    if (ctx.projectionMs <= this.maxMs) return undefined;
    return new Denial(
      this.name,
      `Projection replay ${num(ctx.projectionMs, 1)}ms > max ${num(this.maxMs, 1)}ms for ` +
        `${ctx.eventCount} events. Investigate: src/read/projection.ts ProjectionCache.project, ` +
        "src/store/store.ts #readEvent, src/log/reader.ts readFrame.",
      "PROJECTION_SLOW",
    )
      .withContext("projection_ms", num(ctx.projectionMs, 1))
      .withContext("max_ms", num(this.maxMs, 1))
      .withContext("event_count", String(ctx.eventCount));
  }
}

/** Context of {@linkcode BatchThroughputGate}. */
export interface BatchPerfContext {
  batchSize: number;
  batchCount: number;
  batchEventsPerSec: number;
}

/** Seed `BatchThroughputGate`: durable batches must reach `minEventsPerSec`. */
export class BatchThroughputGate implements Gate<BatchPerfContext> {
  readonly name = "batch_throughput";
  constructor(readonly minEventsPerSec: number) {}
  evaluate(ctx: BatchPerfContext): Denial | undefined {
    if (ctx.batchEventsPerSec >= this.minEventsPerSec) return undefined;
    return new Denial(
      this.name,
      `Batch throughput ${num(ctx.batchEventsPerSec, 0)} events/sec < minimum ` +
        `${this.minEventsPerSec}. Batch size: ${ctx.batchSize}, batches: ${ctx.batchCount}. ` +
        "Investigate: src/store/store.ts appendBatch/#planBatch, src/log/writer.ts syncNow.",
      "BATCH_THROUGHPUT_LOW",
    )
      .withContext("events_per_sec", num(ctx.batchEventsPerSec, 0))
      .withContext("min_required", String(this.minEventsPerSec))
      .withContext("batch_size", String(ctx.batchSize))
      .withContext("batch_count", String(ctx.batchCount));
  }
}

/** Context of {@linkcode LifecycleLatencyGate}. */
export interface LifecycleContext {
  phase: string;
  corpus: string;
  elapsedMs: number;
  eventCount: number;
}

/** Seed `LifecycleLatencyGate`: an open or close of a corpus must take at most `maxMs`. */
export class LifecycleLatencyGate implements Gate<LifecycleContext> {
  readonly name = "lifecycle_latency";
  constructor(readonly maxMs: number) {}
  evaluate(ctx: LifecycleContext): Denial | undefined {
    if (ctx.elapsedMs <= this.maxMs) return undefined;
    const where = ctx.phase.startsWith("close")
      ? "src/store/store.ts close, src/index/sidecar.ts saveSidecar, " +
        "src/log/writer.ts close."
      : "src/store/store.ts Store.open/#restore, src/index/sidecar.ts loadSidecar, " +
        "src/log/recovery.ts scanLog, src/index/index.ts.";
    return new Denial(
      this.name,
      `${ctx.corpus} ${ctx.phase} took ${num(ctx.elapsedMs)}ms for ${ctx.eventCount} events ` +
        `(max: ${this.maxMs}ms). Investigate: ${where}`,
      "LIFECYCLE_SLOW",
    )
      .withContext("phase", ctx.phase)
      .withContext("corpus", ctx.corpus)
      .withContext("elapsed_ms", num(ctx.elapsedMs))
      .withContext("event_count", String(ctx.eventCount))
      .withContext("max_ms", String(this.maxMs));
  }
}

/** Context of {@linkcode BenchCompletedGate}. */
export interface BenchRunContext {
  bench: string;
  /** Undefined when the bench ran; otherwise why it has no result. */
  failure?: string;
}

/** Fails closed: a bench that threw or never reported breaches its floor. */
export class BenchCompletedGate implements Gate<BenchRunContext> {
  readonly name = "bench_completed";
  evaluate(ctx: BenchRunContext): Denial | undefined {
    if (ctx.failure === undefined) return undefined;
    return new Denial(
      this.name,
      `Bench "${ctx.bench}" has no result: ${ctx.failure}. ` +
        "Investigate: bench/perf_gates_bench.ts (the bench's own assertion, e.g. openReport.path).",
      "BENCH_FAILED",
    )
      .withContext("bench", ctx.bench)
      .withContext("failure", ctx.failure);
  }
}

// ------------------------------------------------------------------- targets

/** Which way is better for a metric. */
export type Better = "higher" | "lower";

/** A TARGETS.md goal for one metric. */
export interface Target {
  /** Goal id, e.g. `"P1"`. */
  id: string;
  /** What the goal says, for the report. */
  label: string;
  goal: number;
  unit: string;
  better: Better;
}

/** Context of {@linkcode TargetGate}: the achieved value of the target's metric. */
export interface TargetContext {
  bench: string;
  achieved: number;
}

/** Achieved over goal, oriented so that ≥ 1 means the goal is met. */
export function targetRatio(target: Target, achieved: number): number {
  return target.better === "higher" ? achieved / target.goal : target.goal / achieved;
}

/** A TARGETS.md goal as a gate: denies (code `TARGET_MISSED`) below ratio 1. */
export class TargetGate implements Gate<TargetContext> {
  readonly name: string;
  constructor(readonly target: Target, readonly investigate: string) {
    this.name = `target_${target.id}`;
  }
  evaluate(ctx: TargetContext): Denial | undefined {
    const ratio = targetRatio(this.target, ctx.achieved);
    if (ratio >= 1) return undefined;
    const { id, label, goal, unit, better } = this.target;
    return new Denial(
      this.name,
      `${id} missed on "${ctx.bench}": ${num(ctx.achieved)} ${unit}, goal ${
        better === "higher" ? "≥" : "≤"
      } ${num(goal)} ${unit} (${label}); ratio ${num(ratio, 3)}. Investigate: ${this.investigate}`,
      "TARGET_MISSED",
    )
      .withContext("target", id)
      .withContext("achieved", num(ctx.achieved))
      .withContext("goal", num(goal))
      .withContext("unit", unit)
      .withContext("ratio", num(ratio, 3));
  }
}

const P1: Target = {
  id: "P1",
  label: "single append, sync every 1000",
  goal: 250_000,
  unit: "events/s",
  better: "higher",
};
const P2: Target = {
  id: "P2",
  label: "100 × 100 batches, fsync per batch",
  goal: 250_000,
  unit: "events/s",
  better: "higher",
};
const P5_IMAGE: Target = {
  id: "P5",
  label: "index image open, 300 ms per 1M events scaled to 100K",
  goal: 30,
  unit: "ms",
  better: "lower",
};
const P5_REBUILD: Target = {
  id: "P5",
  label: "full rebuild ≥ 1M events/s",
  goal: 1_000_000,
  unit: "events/s",
  better: "higher",
};
const P6_COLD: Target = {
  id: "P6",
  label: "1K-event projection cold ≤ 2 ms",
  goal: 2,
  unit: "ms",
  better: "lower",
};
const P7_STREAM: Target = {
  id: "P7",
  label: "read of a 1K-event entity ≤ 20 µs (here: query of Region.entity)",
  goal: 20,
  unit: "µs",
  better: "lower",
};
const P9: Target = {
  id: "P9",
  label: "close of a 100K-event store ≤ 100 ms",
  goal: 100,
  unit: "ms",
  better: "lower",
};

// ------------------------------------------------------------- measurements

/** One bench's timing, per iteration, in milliseconds. */
export interface Measurement {
  bench: string;
  /** Median of the recorded samples; the mean when no samples were recorded. */
  medianMs: number;
  /** Which statistic `medianMs` holds. */
  statistic: "median" | "mean";
  meanMs: number;
  minMs: number;
  maxMs: number;
  p75Ms: number;
  p99Ms: number;
  iterations: number;
}

/** A bench result: its measurement, or why it has none. */
export type BenchOutcome = { ok: true; m: Measurement } | { ok: false; failure: string };

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The subset of `deno bench --json` output the checker reads. */
export interface DenoBenchReport {
  runtime?: string;
  cpu?: string;
  benches: {
    name: string;
    group?: string | null;
    results: (
      | {
        ok: {
          n: number;
          min: number;
          max: number;
          avg: number;
          p75: number;
          p99: number;
        };
      }
      | { failed: { message?: string; exceptionMessage?: string } }
    )[];
  }[];
}

/** Turn a `deno bench --json` report (nanoseconds) plus optional samples (ms) into outcomes. */
export function readBenchReport(
  report: DenoBenchReport,
  samples: Readonly<Record<string, readonly number[]>> = {},
): Map<string, BenchOutcome> {
  const out = new Map<string, BenchOutcome>();
  for (const b of report.benches) {
    const r = b.results[0];
    if (r === undefined) {
      out.set(b.name, { ok: false, failure: "no result" });
    } else if ("failed" in r) {
      const why = r.failed.message ?? r.failed.exceptionMessage ?? "threw";
      out.set(b.name, { ok: false, failure: `threw: ${why}` });
    } else {
      const ok = r.ok;
      // Deno calls a bench a few more times than it measures; it measures the last n.
      const s = samples[b.name]?.slice(-ok.n);
      const meanMs = ok.avg / NS_PER_MS;
      const hasSamples = s !== undefined && s.length > 0;
      out.set(b.name, {
        ok: true,
        m: {
          bench: b.name,
          medianMs: hasSamples ? median(s) : meanMs,
          statistic: hasSamples ? "median" : "mean",
          meanMs,
          minMs: ok.min / NS_PER_MS,
          maxMs: ok.max / NS_PER_MS,
          p75Ms: ok.p75 / NS_PER_MS,
          p99Ms: ok.p99 / NS_PER_MS,
          iterations: hasSamples ? s.length : ok.n,
        },
      });
    }
  }
  return out;
}

// ---------------------------------------------------------------- evaluation

/** One row of the report: a bench, its derived metric, and both tiers' verdicts. */
export interface Row {
  bench: string;
  /** The derived metric, e.g. events/s or ms. NaN when the bench failed. */
  value: number;
  unit: string;
  medianMs: number;
  statistic: "median" | "mean" | "none";
  iterations: number;
  /** The seed's floor, as text. */
  floor: string;
  floorGates: string[];
  floorDenials: Denial[];
  target?: Target;
  /** Achieved/goal, ≥ 1 = met. */
  ratio?: number;
  targetDenial?: Denial;
}

/** The checker's verdict over a whole run. */
export interface Evaluation {
  rows: Row[];
  /** Every floor denial, in row order. A non-empty list fails the run. */
  breaches: Denial[];
  /** Every target denial, in row order. Warnings only. */
  misses: Denial[];
}

interface Spec {
  bench: string;
  unit: string;
  /** The metric from the median ms per iteration. */
  metric(ms: number): number;
  floor: string;
  /** Floor gates, evaluated over the measurement. */
  floorGates(
    m: Measurement,
    all: Map<string, BenchOutcome>,
  ): { gates: string[]; denials: Denial[] };
  target?: Target;
  investigate?: string;
}

const rate = (events: number) => (ms: number): number => events / (ms / MS_PER_S);
const asMs = (ms: number): number => ms;

/** Evaluate one context through a GateSet, stopping at the first denial (seed `evaluate`). */
function gateOne<C>(
  gate: Gate<C>,
  ctx: C,
  payload: number,
): { gates: string[]; denials: Denial[] } {
  const verdict = new GateSet<C>().push(gate).evaluate(ctx, new Proposal(payload));
  return verdict.ok
    ? { gates: [...verdict.receipt.gatesPassed], denials: [] }
    : { gates: [gate.name], denials: [verdict.denial] };
}

function lifecycle(
  bench: string,
  phase: string,
  corpus: string,
  maxMs: number,
  target: Target,
): Spec {
  return {
    bench,
    unit: "ms",
    metric: asMs,
    floor: `≤ ${maxMs} ms`,
    floorGates: (m) =>
      gateOne(new LifecycleLatencyGate(maxMs), {
        phase,
        corpus,
        elapsedMs: m.medianMs,
        eventCount: EVENTS_100K,
      }, m.medianMs),
    target,
    investigate: phase.startsWith("close")
      ? "src/store/store.ts close, src/index/sidecar.ts saveSidecar"
      : "src/index/sidecar.ts loadSidecar, src/store/store.ts #restore",
  };
}

/** A projection replay of the 1K corpus, floored by {@linkcode ProjectionGate} at `maxMs`. */
function projection(bench: string, maxMs: number, investigate: string): Spec {
  return {
    bench,
    unit: "ms",
    metric: asMs,
    floor: `≤ ${maxMs} ms`,
    floorGates: (m) =>
      gateOne(new ProjectionGate(maxMs), {
        eventCount: EVENTS_1K,
        eventsPerSec: 0,
        queryUs: 0,
        projectionMs: m.medianMs,
      }, m.medianMs),
    target: P6_COLD,
    investigate,
  };
}

/** Seed floor values. */
export const FLOORS = {
  coldStartMs: 2_000,
  multiWriteEventsPerSec: 1_000,
  queryUs: 50_000,
  projectionMs: 5_000,
  batchEventsPerSec: 2_000,
  appendEventsPerSec: 5_000,
  projectionColdMs: 50,
  openMs: 5_000,
  closeMs: 12_000,
} as const;

/** The multi-gate GateSet of the seed: write, query, projection, in that order. */
export function multiGateSet(): GateSet<PerfContext> {
  return new GateSet<PerfContext>()
    .push(new WriteThroughputGate(FLOORS.multiWriteEventsPerSec))
    .push(new QueryLatencyGate(FLOORS.queryUs))
    .push(new ProjectionGate(FLOORS.projectionMs));
}

/**
 * The seed's multi-gate check over the three multi-gate benches, evaluated
 * together (evaluateAll); each row keeps the gate named `gate`.
 */
function multiGate(
  all: Map<string, BenchOutcome>,
  gate: string,
): { gates: string[]; denials: Denial[] } {
  const ms = (name: string): number => {
    const o = all.get(name);
    return o?.ok ? o.m.medianMs : NaN;
  };
  const writeMs = ms(BENCH.multiWrite);
  const ctx: PerfContext = {
    eventCount: EVENTS_1K,
    eventsPerSec: EVENTS_1K / (writeMs / MS_PER_S),
    queryUs: (ms(BENCH.multiQuery) / QUERIES_PER_ITERATION) * US_PER_MS,
    projectionMs: ms(BENCH.multiProjection),
  };
  return { gates: [gate], denials: multiGateSet().evaluateAll(ctx).filter((d) => d.gate === gate) };
}

const SPECS: Spec[] = [
  {
    bench: BENCH.coldStart,
    unit: "ms",
    metric: asMs,
    floor: `≤ ${FLOORS.coldStartMs} ms`,
    floorGates: (m) =>
      gateOne(
        new ColdStartGate(FLOORS.coldStartMs),
        { coldStartMs: m.medianMs, eventCount: EVENTS_1K },
        m.medianMs,
      ),
  },
  {
    bench: BENCH.multiWrite,
    unit: "events/s",
    metric: rate(EVENTS_1K),
    floor: `≥ ${FLOORS.multiWriteEventsPerSec} events/s (multi-gate)`,
    floorGates: (_m, all) => multiGate(all, "write_throughput"),
    target: P1,
    investigate: "src/log/writer.ts, src/store/store.ts #appendOne",
  },
  {
    bench: BENCH.multiQuery,
    unit: "µs/query",
    metric: (ms) => (ms / QUERIES_PER_ITERATION) * US_PER_MS,
    floor: `≤ ${FLOORS.queryUs} µs (multi-gate)`,
    floorGates: (_m, all) => multiGate(all, "query_latency"),
    target: P7_STREAM,
    investigate: "src/index/query.ts queryIndex, src/index/index.ts entry()",
  },
  {
    bench: BENCH.multiProjection,
    unit: "ms",
    metric: asMs,
    floor: `≤ ${FLOORS.projectionMs} ms (multi-gate)`,
    floorGates: (_m, all) => multiGate(all, "projection_replay"),
    target: P6_COLD,
    investigate: "src/read/projection.ts, src/store/store.ts #readEvent",
  },
  {
    bench: BENCH.batch,
    unit: "events/s",
    metric: rate(BATCH_SIZE * BATCH_COUNT),
    floor: `≥ ${FLOORS.batchEventsPerSec} events/s`,
    floorGates: (m) => {
      const eventsPerSec = rate(BATCH_SIZE * BATCH_COUNT)(m.medianMs);
      return gateOne(new BatchThroughputGate(FLOORS.batchEventsPerSec), {
        batchSize: BATCH_SIZE,
        batchCount: BATCH_COUNT,
        batchEventsPerSec: eventsPerSec,
      }, eventsPerSec);
    },
    target: P2,
    investigate: "src/store/store.ts appendBatch, src/log/writer.ts syncNow",
  },
  {
    bench: BENCH.append,
    unit: "events/s",
    metric: rate(EVENTS_APPEND),
    floor: `≥ ${FLOORS.appendEventsPerSec} events/s`,
    floorGates: (m) => {
      const eventsPerSec = rate(EVENTS_APPEND)(m.medianMs);
      return gateOne(new WriteThroughputGate(FLOORS.appendEventsPerSec), {
        eventCount: EVENTS_APPEND,
        eventsPerSec,
        queryUs: 0,
        projectionMs: 0,
      }, eventsPerSec);
    },
    target: P1,
    investigate: "src/log/writer.ts, src/store/store.ts #appendOne",
  },
  projection(
    BENCH.projection,
    FLOORS.projectionMs,
    "src/read/projection.ts, src/store/store.ts #readEvent",
  ),
  projection(
    BENCH.projectionCold,
    FLOORS.projectionColdMs,
    "src/read/projection.ts, src/log/reader.ts readFrame (cold handles)",
  ),
  lifecycle(BENCH.openSingle, "open_only", "single_entity_100k", FLOORS.openMs, P5_IMAGE),
  lifecycle(BENCH.closeSingle, "close_only", "single_entity_100k", FLOORS.closeMs, P9),
  lifecycle(BENCH.openMixed, "open_only", "mixed_entity_100k", FLOORS.openMs, P5_IMAGE),
  lifecycle(BENCH.closeMixed, "close_only", "mixed_entity_100k", FLOORS.closeMs, P9),
  lifecycle(BENCH.imageRestore, "open_only_mmap", "single_entity_100k", FLOORS.openMs, P5_IMAGE),
  {
    ...lifecycle(
      BENCH.rebuildRestore,
      "open_only_rebuild",
      "single_entity_100k",
      FLOORS.openMs,
      P5_REBUILD,
    ),
    investigate:
      "src/log/recovery.ts scanLog, src/store/store.ts #scanSink, src/index/index.ts add",
  },
];

/** Judge every perf-gate bench: floors (hard) and targets (warnings). */
export function evaluateRun(all: Map<string, BenchOutcome>): Evaluation {
  const rows: Row[] = [];
  for (const spec of SPECS) {
    const outcome = all.get(spec.bench) ??
      { ok: false as const, failure: "missing from the run (filtered out or never registered)" };
    if (!outcome.ok) {
      const failed = new GateSet<BenchRunContext>().push(new BenchCompletedGate())
        .evaluateAll({ bench: spec.bench, failure: outcome.failure });
      rows.push({
        bench: spec.bench,
        value: NaN,
        unit: spec.unit,
        medianMs: NaN,
        statistic: "none",
        iterations: 0,
        floor: spec.floor,
        floorGates: ["bench_completed"],
        floorDenials: failed,
        target: spec.target,
      });
      continue;
    }
    const m = outcome.m;
    const value = spec.metric(m.medianMs);
    const { gates, denials } = spec.floorGates(m, all);
    const row: Row = {
      bench: spec.bench,
      value,
      unit: spec.unit,
      medianMs: m.medianMs,
      statistic: m.statistic,
      iterations: m.iterations,
      floor: spec.floor,
      floorGates: gates,
      floorDenials: denials,
    };
    if (spec.target) {
      const target = spec.target;
      // A rate target on a ms bench (P5 rebuild) is judged on the rate.
      const achieved = target.unit === "events/s" && spec.unit === "ms"
        ? rate(EVENTS_100K)(m.medianMs)
        : value;
      row.target = target;
      row.ratio = targetRatio(target, achieved);
      const [miss] = new GateSet<TargetContext>()
        .push(new TargetGate(target, spec.investigate ?? spec.bench))
        .evaluateAll({ bench: spec.bench, achieved });
      row.targetDenial = miss;
    }
    rows.push(row);
  }
  return {
    rows,
    breaches: rows.flatMap((r) => r.floorDenials),
    misses: rows.flatMap((r) => (r.targetDenial ? [r.targetDenial] : [])),
  };
}

// ------------------------------------------------------------------- reports

/** A number for gate messages and context: plain digits (machine-readable), `digits` decimals at most. */
function num(n: number, digits = 2): string {
  if (!Number.isFinite(n)) return String(n);
  return String(Number(n.toFixed(digits)));
}

/** Format a number for people: thousands separators, `digits` decimals. */
function fmt(n: number, digits = 2): string {
  if (!Number.isFinite(n)) return String(n);
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, useGrouping: true });
}

function showDenial(d: Denial): string {
  const ctx = Object.entries(d.context).map(([k, v]) => `      ${k} = ${v}`).join("\n");
  return `  [${d.gate}] (${d.code}) ${d.message}${ctx ? "\n" + ctx : ""}`;
}

/** The markdown table of a run. */
export function markdownReport(ev: Evaluation, meta: { runtime?: string; cpu?: string }): string {
  const lines = [
    "# perf-gates",
    "",
    `${meta.runtime ?? "Deno"} on ${meta.cpu ?? "unknown CPU"}, ${new Date().toISOString()}.`,
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

function printConsole(ev: Evaluation): void {
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

// ---------------------------------------------------------------------- main

const HERE = dirname(fileURLToPath(import.meta.url));
const BENCH_FILE = join(HERE, "perf_gates_bench.ts");
const RESULTS_DIR = join(HERE, "results");

async function runBench(samplesPath: string): Promise<DenoBenchReport> {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["bench", "-A", "--json", "--filter", "perf-gates", BENCH_FILE],
    env: { BATPAK_BENCH_SAMPLES: samplesPath },
    stdout: "piped",
    stderr: "inherit",
  });
  const { code, stdout } = await cmd.output();
  const text = new TextDecoder().decode(stdout);
  try {
    return JSON.parse(text) as DenoBenchReport;
  } catch {
    throw new Error(
      `deno bench exited with ${code} and printed no JSON report:\n${text.slice(0, 2000)}`,
    );
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: { input: { type: "string" }, samples: { type: "string" } },
  });
  let report: DenoBenchReport;
  let samples: Record<string, number[]> = {};
  if (values.input) {
    report = JSON.parse(Deno.readTextFileSync(values.input));
    if (values.samples) samples = JSON.parse(Deno.readTextFileSync(values.samples));
  } else {
    const samplesPath = Deno.makeTempFileSync({ prefix: "perf_gates_samples_", suffix: ".json" });
    try {
      console.error(`Running: deno bench -A --json --filter perf-gates ${BENCH_FILE}`);
      report = await runBench(samplesPath);
      const text = Deno.readTextFileSync(samplesPath);
      if (text.length) samples = JSON.parse(text);
    } finally {
      Deno.removeSync(samplesPath);
    }
  }
  const ev = evaluateRun(readBenchReport(report, samples));
  printConsole(ev);
  Deno.mkdirSync(RESULTS_DIR, { recursive: true });
  Deno.writeTextFileSync(join(RESULTS_DIR, "perf_gates.md"), markdownReport(ev, report));
  Deno.writeTextFileSync(
    join(RESULTS_DIR, "perf_gates.json"),
    JSON.stringify(
      {
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
      },
      (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v),
      2,
    ) + "\n",
  );
  console.log(`\nWrote ${join(RESULTS_DIR, "perf_gates.md")} and perf_gates.json`);
  return ev.breaches.length === 0 ? 0 : 1;
}

function plainDenial(d: Denial): Record<string, unknown> {
  return { gate: d.gate, code: d.code, message: d.message, context: d.context };
}

if (import.meta.main) Deno.exit(await main());
