/**
 * The checker: turns a `deno bench --json` report of the perf-gate benches
 * (plus their samples) into measurements, then judges each bench at two
 * tiers through a {@linkcode GateSet}: its seed floor (gates.ts; a denial is
 * a breach and fails the run) and, where a bench maps to one, its TARGETS.md
 * goal (targets.ts; a miss is a warning, reported with the ratio achieved).
 * A bench that threw or is missing from the run breaches its floor.
 *
 * @module
 */

import { type Denial, type Gate, GateSet, Proposal } from "../../src/gate/mod.ts";
import {
  benchMedian,
  type DenoBenchReport,
  MS_PER_S,
  NS_PER_MS,
  type Samples,
  US_PER_MS,
} from "../_deno_bench.ts";
import { BATCH_COUNT, BATCH_SIZE } from "../_workloads.ts";
import { BENCH, EVENTS_100K, EVENTS_1K, EVENTS_APPEND, QUERIES_PER_ITERATION } from "./benches.ts";
import {
  BatchThroughputGate,
  BenchCompletedGate,
  type BenchRunContext,
  ColdStartGate,
  FLOORS,
  LifecycleLatencyGate,
  multiGateSet,
  type PerfContext,
  ProjectionGate,
  type TargetContext,
  TargetGate,
  WriteThroughputGate,
} from "./gates.ts";
import { type Target, targetRatio, TARGETS } from "./targets.ts";

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

/** Turn a `deno bench --json` report (nanoseconds) plus optional samples (ms) into outcomes. */
export function readBenchReport(
  report: DenoBenchReport,
  samples: Readonly<Samples> = {},
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
      const typical = benchMedian(ok, samples[b.name]);
      out.set(b.name, {
        ok: true,
        m: {
          bench: b.name,
          medianMs: typical.ms,
          statistic: typical.statistic,
          meanMs: ok.avg / NS_PER_MS,
          minMs: ok.min / NS_PER_MS,
          maxMs: ok.max / NS_PER_MS,
          p75Ms: ok.p75 / NS_PER_MS,
          p99Ms: ok.p99 / NS_PER_MS,
          iterations: typical.iterations,
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
      ? "src/engine/engine.ts close, src/index/sidecar.ts saveSidecar"
      : "src/index/sidecar.ts loadSidecar, src/engine/open.ts restore",
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
    target: TARGETS.p6Cold,
    investigate,
  };
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
    target: TARGETS.p1Append,
    investigate: "src/log/writer.ts, src/write/append.ts appendOne, src/write/prepare.ts",
  },
  {
    bench: BENCH.multiQuery,
    unit: "µs/query",
    metric: (ms) => (ms / QUERIES_PER_ITERATION) * US_PER_MS,
    floor: `≤ ${FLOORS.queryUs} µs (multi-gate)`,
    floorGates: (_m, all) => multiGate(all, "query_latency"),
    target: TARGETS.p7Stream,
    investigate: "src/index/query.ts queryIndex, src/read/stream.ts",
  },
  {
    bench: BENCH.multiProjection,
    unit: "ms",
    metric: asMs,
    floor: `≤ ${FLOORS.projectionMs} ms (multi-gate)`,
    floorGates: (_m, all) => multiGate(all, "projection_replay"),
    target: TARGETS.p6Cold,
    investigate: "src/read/projection.ts, src/read/events.ts forEachEvent",
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
    target: TARGETS.p2Batch,
    investigate: "src/write/batch.ts appendBatch, src/log/writer.ts syncNow",
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
    target: TARGETS.p1Append,
    investigate: "src/log/writer.ts, src/write/append.ts appendOne, src/write/prepare.ts",
  },
  projection(
    BENCH.projection,
    FLOORS.projectionMs,
    "src/read/projection.ts, src/read/events.ts forEachEvent",
  ),
  projection(
    BENCH.projectionCold,
    FLOORS.projectionColdMs,
    "src/read/projection.ts, src/log/reader.ts readFrame (cold handles)",
  ),
  lifecycle(BENCH.openSingle, "open_only", "single_entity_100k", FLOORS.openMs, TARGETS.p5Image),
  lifecycle(BENCH.closeSingle, "close_only", "single_entity_100k", FLOORS.closeMs, TARGETS.p9Close),
  lifecycle(BENCH.openMixed, "open_only", "mixed_entity_100k", FLOORS.openMs, TARGETS.p5Image),
  lifecycle(BENCH.closeMixed, "close_only", "mixed_entity_100k", FLOORS.closeMs, TARGETS.p9Close),
  // A close that has an image to write (the two above find theirs current and write nothing).
  lifecycle(
    BENCH.closeAfterAppend,
    "close_after_append",
    "single_entity_100k",
    FLOORS.closeMs,
    TARGETS.p9Close,
  ),
  lifecycle(
    BENCH.imageRestore,
    "open_only_mmap",
    "single_entity_100k",
    FLOORS.openMs,
    TARGETS.p5Image,
  ),
  {
    ...lifecycle(
      BENCH.rebuildRestore,
      "open_only_rebuild",
      "single_entity_100k",
      FLOORS.openMs,
      TARGETS.p5Rebuild,
    ),
    investigate:
      "src/log/recovery.ts scanLog, src/engine/replay.ts replaySink, src/index/index.ts add",
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
