/**
 * The perf gates: the seed's hardware gates (batpak `tests/perf_gates.rs`)
 * with their thresholds ({@linkcode FLOORS}, the hard tier of
 * `deno task perf-gates`), the gate that fails a bench closed when it has no
 * result, and {@linkcode TargetGate}, a TARGETS.md goal as a gate (the
 * warning tier). Each denial carries its measurements as context and an
 * "Investigate:" pointer. Used by the checker (evaluate.ts) and by
 * tests/gate/gate_test.ts and tests/bench/perf_gates_test.ts.
 *
 * @example
 * ```ts
 * import { GateSet, Proposal } from "../../src/gate/mod.ts";
 * import { ColdStartGate, FLOORS } from "./gates.ts";
 *
 * const verdict = new GateSet<{ coldStartMs: number; eventCount: number }>()
 *   .push(new ColdStartGate(FLOORS.coldStartMs))
 *   .evaluate({ coldStartMs: 12, eventCount: 1_000 }, new Proposal(12));
 * console.log(verdict.ok); // true
 * ```
 *
 * @module
 */

import { Denial, type Gate, GateSet } from "../../src/gate/mod.ts";
import { type Target, targetRatio } from "./targets.ts";

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
        "Investigate: src/log/writer.ts reserve/commit/syncNow, src/write/append.ts appendOne, " +
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
        "src/read/events.ts forEachEvent, src/log/reader.ts readFrame.",
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

/** The seed's thresholds: the floors, a breach of which fails `deno task perf-gates`. */
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

// -------------------------------------------------------------- target gates

/** Context of {@linkcode TargetGate}: the achieved value of the target's metric. */
export interface TargetContext {
  bench: string;
  achieved: number;
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

/** A number for gate messages and context: plain digits (machine-readable), `digits` decimals at most. */
function num(n: number, digits = 2): string {
  if (!Number.isFinite(n)) return String(n);
  return String(Number(n.toFixed(digits)));
}
