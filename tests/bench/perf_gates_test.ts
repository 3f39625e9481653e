/**
 * The seed's perf-gate suite (batpak `tests/perf_gates.rs`), ported: the gate
 * logic of the hardware gates (never timed here: timing lives in
 * bench/perf_gates_bench.ts and `deno task perf-gates`), and the six
 * correctness gates self-validating on a real store.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  BatchThroughputGate,
  BENCH,
  type BenchOutcome,
  type ColdStartContext,
  ColdStartGate,
  evaluateRun,
  FLOORS,
  LifecycleLatencyGate,
  markdownReport,
  median,
  multiGateSet,
  type PerfContext,
  readBenchReport,
  type Target,
  TargetGate,
  targetRatio,
  TARGETS,
} from "../../bench/check_perf_gates.ts";
import {
  ConcurrencyError,
  Coordinate,
  Denial,
  type Gate,
  GateSet,
  Proposal,
  Region,
  Store,
} from "../../mod.ts";
import { EventKind } from "../../src/core/kind.ts";

const KIND = EventKind.custom(0xf, 1);

// ------------------------------------------------------- hardware gate logic

Deno.test("cold start gate rejects a slow cold start, with context and a pointer", () => {
  const gates = new GateSet<ColdStartContext>().push(new ColdStartGate(1));
  const verdict = gates.evaluate({ coldStartMs: 100, eventCount: 1_000 }, new Proposal(100));
  assert.ok(
    !verdict.ok,
    "PROPERTY: ColdStartGate must reject a cold start over maxMs.\n" +
      "Investigate: bench/check_perf_gates.ts ColdStartGate, src/gate/gate.ts GateSet.evaluate.",
  );
  const d = verdict.denial;
  assert.equal(d.gate, "cold_start_performance");
  assert.equal(d.code, "COLD_START_SLOW");
  assert.deepEqual(d.context, { event_count: "1000", cold_start_ms: "100", max_ms: "1" });
  assert.match(d.message, /Investigate: src\/store\/store\.ts/);
  assert.match(d.message, /src\/log\/recovery\.ts/);
});

Deno.test("cold start gate passes under the seed's 2000 ms and names itself in the receipt", () => {
  const gates = new GateSet<ColdStartContext>().push(new ColdStartGate(FLOORS.coldStartMs));
  const verdict = gates.evaluate({ coldStartMs: 12, eventCount: 1_000 }, new Proposal(12));
  assert.ok(verdict.ok);
  assert.deepEqual(verdict.receipt.intoParts(), [12, ["cold_start_performance"]]);
});

Deno.test("multi-gate collects all denials, in order, each naming the file to investigate", () => {
  const ctx: PerfContext = {
    eventCount: 1_000,
    eventsPerSec: 1,
    queryUs: 999_999,
    projectionMs: 999_999,
  };
  const denials = multiGateSet().evaluateAll(ctx);
  assert.equal(
    denials.length,
    3,
    "PROPERTY: evaluateAll must collect all 3 failures, not stop at the first.\n" +
      "Investigate: src/gate/gate.ts GateSet.evaluateAll.",
  );
  assert.deepEqual(denials.map((d) => d.gate), [
    "write_throughput",
    "query_latency",
    "projection_replay",
  ]);
  const files = ["src/log/writer.ts", "src/index/query.ts", "src/read/projection.ts"];
  denials.forEach((d, i) => {
    assert.ok(d.message.includes("Investigate:"), d.message);
    assert.ok(d.message.includes(files[i]), `${d.gate} must point at ${files[i]}: ${d.message}`);
  });
  assert.equal(denials[0].context.events_per_sec, "1");
  assert.equal(denials[1].context.query_us, "999999");
  assert.equal(denials[2].context.event_count, "1000");
});

Deno.test("multi-gate passes at the seed's thresholds exactly", () => {
  const ctx: PerfContext = {
    eventCount: 1_000,
    eventsPerSec: FLOORS.multiWriteEventsPerSec,
    queryUs: FLOORS.queryUs,
    projectionMs: FLOORS.projectionMs,
  };
  assert.deepEqual(multiGateSet().evaluateAll(ctx), []);
});

Deno.test("batch and lifecycle gates deny with context and point at the right files", () => {
  const batch = new BatchThroughputGate(2_000).evaluate({
    batchSize: 100,
    batchCount: 100,
    batchEventsPerSec: 10,
  });
  assert.ok(batch);
  assert.equal(batch.code, "BATCH_THROUGHPUT_LOW");
  assert.deepEqual(Object.keys(batch.context), [
    "events_per_sec",
    "min_required",
    "batch_size",
    "batch_count",
  ]);
  assert.match(batch.message, /Investigate: src\/store\/store\.ts appendBatch/);

  const open = new LifecycleLatencyGate(5_000).evaluate({
    phase: "open_only",
    corpus: "single_entity_100k",
    elapsedMs: 9_000,
    eventCount: 100_000,
  });
  assert.ok(open);
  assert.match(open.message, /src\/log\/recovery\.ts/);
  assert.match(open.message, /src\/index\/sidecar\.ts/);
  assert.equal(open.context.phase, "open_only");

  const close = new LifecycleLatencyGate(12_000).evaluate({
    phase: "close_only",
    corpus: "mixed_entity_100k",
    elapsedMs: 20_000,
    eventCount: 100_000,
  });
  assert.ok(close);
  assert.match(close.message, /Investigate: src\/store\/store\.ts close/);
  assert.equal(
    new LifecycleLatencyGate(12_000).evaluate({
      phase: "close_only",
      corpus: "c",
      elapsedMs: 12_000,
      eventCount: 1,
    }),
    undefined,
  );
});

Deno.test("target gates report the ratio achieved, oriented so that ≥ 1 is met", () => {
  const higher: Target = {
    id: "P1",
    label: "appends",
    goal: 250_000,
    unit: "events/s",
    better: "higher",
  };
  const lower: Target = { id: "P9", label: "close", goal: 100, unit: "ms", better: "lower" };
  assert.equal(targetRatio(higher, 125_000), 0.5);
  assert.equal(targetRatio(lower, 50), 2);
  const miss = new TargetGate(higher, "src/log/writer.ts")
    .evaluate({ bench: "b", achieved: 125_000 });
  assert.ok(miss);
  assert.equal(miss.code, "TARGET_MISSED");
  assert.equal(miss.context.ratio, "0.5");
  assert.match(miss.message, /Investigate: src\/log\/writer\.ts/);
  assert.equal(
    new TargetGate(lower, "x").evaluate({ bench: "b", achieved: 50 }),
    undefined,
  );
});

Deno.test("median: odd and even lengths, unsorted input", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
});

/** A fake `deno bench --json` report: every perf-gate bench at `ms` per iteration. */
function fakeReport(msByBench: Partial<Record<string, number | "failed">>) {
  return {
    runtime: "Deno/test",
    cpu: "test",
    benches: Object.values(BENCH).map((name) => {
      const ms = msByBench[name] ?? 1;
      const ns = typeof ms === "number" ? ms * 1e6 : 0;
      return {
        name,
        results: [
          ms === "failed"
            ? { failed: { message: "expected the mmap open path, got rebuild" } }
            : { ok: { n: 3, min: ns, max: ns, avg: ns, p75: ns, p99: ns } },
        ],
      };
    }),
  };
}

Deno.test("checker: a healthy run breaches no floor, and samples give the median", () => {
  const outcomes = readBenchReport(fakeReport({}), {
    // Deno measures the last n = 3 calls: the first sample is dropped.
    [BENCH.append]: [1_000, 10, 20, 30],
  });
  const append = outcomes.get(BENCH.append) as Extract<BenchOutcome, { ok: true }>;
  assert.equal(append.m.medianMs, 20);
  assert.equal(append.m.statistic, "median");
  const ev = evaluateRun(outcomes);
  assert.equal(ev.rows.length, Object.keys(BENCH).length);
  assert.deepEqual(ev.breaches, []);
  const appendRow = ev.rows.find((r) => r.bench === BENCH.append);
  assert.equal(appendRow?.value, 5_000 / 0.02);
  assert.equal(appendRow?.target?.id, "P1");
  assert.equal(appendRow?.ratio, 250_000 / TARGETS.p1Append.goal);
  assert.match(markdownReport(ev, {}), /\| perf-gates\/append 5K \| 20 ms \|/);
});

Deno.test("checker: slow results breach floors; failed benches fail closed; targets only warn", () => {
  const ev = evaluateRun(readBenchReport(fakeReport({
    [BENCH.coldStart]: 3_000,
    [BENCH.multiWrite]: 2_000, // 500 events/s < 1000
    [BENCH.closeSingle]: 13_000,
    [BENCH.imageRestore]: "failed",
    [BENCH.projection]: 3, // over P6's 2 ms: a warning, not a breach
  })));
  assert.deepEqual(ev.breaches.map((d) => [d.gate, d.code]), [
    ["cold_start_performance", "COLD_START_SLOW"],
    ["write_throughput", "WRITE_THROUGHPUT_LOW"],
    ["lifecycle_latency", "LIFECYCLE_SLOW"],
    ["bench_completed", "BENCH_FAILED"],
  ]);
  for (const d of ev.breaches) assert.match(d.message, /Investigate: /);
  assert.equal(ev.breaches[3].context.bench, BENCH.imageRestore);
  assert.match(ev.breaches[3].context.failure, /mmap open path/);
  assert.ok(ev.misses.some((d) => d.context.target === "P6" && d.context.achieved === "3"));
  assert.match(markdownReport(ev, {}), /\*\*BREACH\*\*/);
});

Deno.test("checker: a bench missing from the run is a floor breach", () => {
  const report = fakeReport({});
  report.benches = report.benches.filter((b) => b.name !== BENCH.batch);
  const ev = evaluateRun(readBenchReport(report));
  assert.equal(ev.breaches.length, 1);
  assert.equal(ev.breaches[0].code, "BENCH_FAILED");
  assert.equal(ev.breaches[0].context.bench, BENCH.batch);
});

// ---------------------------------------------------------- correctness gates

/** What the FD-eviction round trip observed. */
interface FdEvictionObservation {
  fdBudget: number;
  segments: number;
  eventsRead: number;
  /** "globalSequence: what was wrong" for each bad read. */
  mismatches: string[];
}
/** What reading across segment boundaries observed. */
interface CrossSegmentObservation {
  segments: number;
  streamed: number;
  expected: number;
}
/** What a stale `expectedSequence` did. */
interface CasObservation {
  expectedSequence: number;
  actualSequence: number;
  /** `"rejected"` when a ConcurrencyError was thrown, else what happened. */
  outcome: string;
  streamGrowth: number;
}
/** What a repeated idempotency key did. */
interface IdempotencyObservation {
  firstEventId: string;
  secondEventId: string;
  streamGrowth: number;
}
/** What a guaranteed cursor delivered. */
interface CursorObservation {
  expected: number;
  polled: number;
  /** Global sequences delivered, in order. */
  positions: number[];
}
/** What booting a snapshot found. */
interface SnapshotObservation {
  booted: boolean;
  error: string;
  eventsOriginal: number;
  eventsSnapshot: number;
  /** First event that differs ("" when none). */
  firstDifference: string;
  verifyOk: boolean;
  verifyProblems: number;
}

/** Seed `CorrectnessContext`, carrying what was observed instead of bare booleans. */
interface CorrectnessContext {
  fdEviction: FdEvictionObservation;
  crossSegment: CrossSegmentObservation;
  cas: CasObservation;
  idempotency: IdempotencyObservation;
  cursor: CursorObservation;
  snapshot: SnapshotObservation;
}

/** A Denial with every field of `obs` as snake_case context, in declaration order. */
function denial(
  gate: string,
  code: string,
  message: string,
  obs: object,
): Denial {
  let d = new Denial(gate, message, code);
  for (const [k, v] of Object.entries(obs)) {
    const key = k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    d = d.withContext(key, Array.isArray(v) ? v.join(",") : String(v));
  }
  return d;
}

const fdEvictionGate: Gate<CorrectnessContext> = {
  name: "fd_eviction_integrity",
  evaluate({ fdEviction: o }) {
    if (o.eventsRead > 0 && o.mismatches.length === 0) return undefined;
    return denial(
      this.name,
      "FD_EVICTION_CORRUPT",
      "Data wrong after read-handle eviction. " +
        "Investigate: src/log/reader.ts SegmentReader handle LRU (fdBudget), readFrame.",
      o,
    );
  },
};

const crossSegmentGate: Gate<CorrectnessContext> = {
  name: "cross_segment_reads",
  evaluate({ crossSegment: o }) {
    if (o.segments > 1 && o.streamed === o.expected) return undefined;
    return denial(
      this.name,
      "CROSS_SEGMENT_READ",
      "Cannot read events across segment boundaries. " +
        "Investigate: src/log/writer.ts ensureRoom rotation, src/log/reader.ts readFrame offsets.",
      o,
    );
  },
};

const casGate: Gate<CorrectnessContext> = {
  name: "cas_correctness",
  evaluate({ cas: o }) {
    if (o.outcome === "rejected" && o.streamGrowth === 0) return undefined;
    return denial(
      this.name,
      "CAS_NOT_ENFORCED",
      "A stale expectedSequence was not rejected. " +
        "Investigate: src/store/store.ts #appendOne expectedSequence check.",
      o,
    );
  },
};

const idempotencyGate: Gate<CorrectnessContext> = {
  name: "idempotency",
  evaluate({ idempotency: o }) {
    if (o.firstEventId === o.secondEventId && o.streamGrowth === 1) return undefined;
    return denial(
      this.name,
      "IDEMPOTENCY_NOT_ENFORCED",
      "A repeated idempotency key did not deduplicate. " +
        "Investigate: src/store/store.ts #appendOne idempotency lookup, src/index/index.ts keys.",
      o,
    );
  },
};

const cursorGate: Gate<CorrectnessContext> = {
  name: "cursor_completeness",
  evaluate({ cursor: o }) {
    const increasing = o.positions.every((g, i) => i === 0 || g > o.positions[i - 1]);
    if (o.polled === o.expected && increasing && !o.positions.includes(0)) return undefined;
    return denial(
      this.name,
      "CURSOR_INCOMPLETE",
      "The cursor missed or repeated events (or delivered globalSequence 0). " +
        "Investigate: src/read/cursor.ts poll, src/index/query.ts queryIndex.",
      o,
    );
  },
};

const snapshotGate: Gate<CorrectnessContext> = {
  name: "snapshot_bootable",
  evaluate({ snapshot: o }) {
    if (
      o.booted && o.eventsSnapshot === o.eventsOriginal && o.firstDifference === "" && o.verifyOk
    ) return undefined;
    return denial(
      this.name,
      "SNAPSHOT_NOT_BOOTABLE",
      "The snapshot did not open as the same store. " +
        "Investigate: src/read/snapshot.ts snapshotStore, src/index/sidecar.ts, " +
        "src/log/recovery.ts scanLog.",
      o,
    );
  },
};

function correctnessGates(): GateSet<CorrectnessContext> {
  return new GateSet<CorrectnessContext>()
    .push(fdEvictionGate)
    .push(crossSegmentGate)
    .push(casGate)
    .push(idempotencyGate)
    .push(cursorGate)
    .push(snapshotGate);
}

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** Drive a real store through the six properties and record what happened. */
function observe(root: string): CorrectnessContext {
  const dataDir = join(root, "store");
  const fdBudget = 2;
  const n = 50;
  const store = Store.open({
    dataDir,
    segmentMaxBytes: 512,
    fdBudget,
    sync: { everyNEvents: 1 },
  });
  try {
    const coord = new Coordinate("correctness:entity", "correctness:scope");
    for (let i = 0; i < n; i++) store.append(coord, KIND, { i });
    store.sync();
    const entries = store.stream("correctness:entity");
    const segments = [...Deno.readDirSync(dataDir)].filter((e) => e.name.endsWith(".fbat")).length;

    // FD eviction: first, last, then every event in order (cycling the 2 handles), then first again.
    const mismatches: string[] = [];
    let eventsRead = 0;
    const check = (k: number): unknown => {
      const entry = entries[k];
      try {
        const ev = store.get(entry.eventId);
        eventsRead++;
        const i = (ev.payload as { i?: unknown })?.i;
        if (ev.eventId !== entry.eventId || i !== k) {
          mismatches.push(`${entry.globalSequence}: got ${ev.eventId} {i: ${String(i)}}`);
        }
        return ev;
      } catch (e) {
        mismatches.push(`${entry?.globalSequence}: ${errorText(e)}`);
        return undefined;
      }
    };
    const first = check(0);
    check(entries.length - 1);
    for (let k = 0; k < entries.length; k++) check(k);
    const firstAgain = check(0);
    if (first !== undefined && JSON.stringify(first) !== JSON.stringify(firstAgain)) {
      mismatches.push("first event read differently after eviction");
    }

    // CAS: one more event, then a stale expectedSequence of 0.
    store.append(coord, KIND, { extra: true });
    const actualSequence = store.stream("correctness:entity").length;
    let outcome: string;
    try {
      store.append(coord, KIND, { cas: "stale" }, { expectedSequence: 0 });
      outcome = "accepted";
    } catch (e) {
      outcome = e instanceof ConcurrencyError ? "rejected" : `threw ${errorText(e)}`;
    }
    const casGrowth = store.stream("correctness:entity").length - actualSequence;

    // Idempotency: the same 128-bit key twice, different payloads.
    const key = 0xCAFE_BABE_DEAD_BEEF_1234_5678_9ABC_DEF0n;
    const before = store.stream("correctness:entity").length;
    const r1 = store.append(coord, KIND, { x: 1 }, { idempotencyKey: key });
    const r2 = store.append(coord, KIND, { x: 2 }, { idempotencyKey: key });
    const idemGrowth = store.stream("correctness:entity").length - before;

    // Cursor: 5 events of a new entity, polled one at a time.
    const coord2 = new Coordinate("cursor:test", "correctness:scope");
    for (let i = 0; i < 5; i++) store.append(coord2, KIND, { c: i });
    const cursor = store.cursorGuaranteed(Region.entity("cursor:test"));
    const positions: number[] = [];
    for (let ev = cursor.poll(); ev !== undefined; ev = cursor.poll()) {
      positions.push(ev.globalSequence);
    }

    // Snapshot: copy, open the copy, compare every event, verify.
    const snapDir = join(root, "snapshot");
    const snapshot: SnapshotObservation = {
      booted: false,
      error: "",
      eventsOriginal: store.diagnostics().events,
      eventsSnapshot: 0,
      firstDifference: "",
      verifyOk: false,
      verifyProblems: 0,
    };
    try {
      store.snapshot(snapDir);
      const copy = Store.open(snapDir);
      try {
        snapshot.booted = true;
        const original = store.query(Region.all());
        const copied = copy.query(Region.all());
        snapshot.eventsSnapshot = copied.length;
        for (let k = 0; k < Math.max(original.length, copied.length); k++) {
          const a = original[k];
          const b = copied[k];
          if (
            a?.eventId !== b?.eventId ||
            store.get(a.eventId).eventHash !== copy.get(b.eventId).eventHash
          ) {
            snapshot.firstDifference = `globalSequence ${k + 1}`;
            break;
          }
        }
        const report = copy.verify();
        snapshot.verifyOk = report.ok;
        snapshot.verifyProblems = report.problems.length;
      } finally {
        copy.close();
      }
    } catch (e) {
      snapshot.error = errorText(e);
    }

    return {
      fdEviction: { fdBudget, segments, eventsRead, mismatches },
      crossSegment: { segments, streamed: entries.length, expected: n },
      cas: { expectedSequence: 0, actualSequence, outcome, streamGrowth: casGrowth },
      idempotency: {
        firstEventId: r1.eventId,
        secondEventId: r2.eventId,
        streamGrowth: idemGrowth,
      },
      cursor: { expected: 5, polled: positions.length, positions },
      snapshot,
    };
  } finally {
    store.close();
  }
}

Deno.test("correctness gates self-validate on a real store (512-byte segments, fdBudget 2, sync every event)", () => {
  const root = Deno.makeTempDirSync({ prefix: "batpak_correctness_" });
  try {
    const ctx = observe(root);
    const denials = correctnessGates().evaluateAll(ctx);
    assert.deepEqual(
      denials.map(String),
      [],
      "CORRECTNESS SELF-TEST FAILED: each denial names the file to investigate.",
    );
    // The run must actually have exercised what the gates claim.
    assert.ok(ctx.fdEviction.segments > ctx.fdEviction.fdBudget, "more segments than handles");
    assert.equal(ctx.fdEviction.eventsRead, 50 + 3);
    assert.equal(ctx.cursor.polled, 5);
    assert.ok(ctx.snapshot.eventsSnapshot > 50);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("correctness gates fire on violations, each with its code, context and pointer", () => {
  const broken: CorrectnessContext = {
    fdEviction: { fdBudget: 2, segments: 9, eventsRead: 53, mismatches: ["7: got x {i: 3}"] },
    crossSegment: { segments: 1, streamed: 50, expected: 50 },
    cas: { expectedSequence: 0, actualSequence: 51, outcome: "accepted", streamGrowth: 1 },
    idempotency: { firstEventId: "a", secondEventId: "b", streamGrowth: 2 },
    cursor: { expected: 5, polled: 4, positions: [0, 52, 53, 54] },
    snapshot: {
      booted: false,
      error: "CorruptSegmentError: 000001.fbat at 64",
      eventsOriginal: 60,
      eventsSnapshot: 0,
      firstDifference: "",
      verifyOk: false,
      verifyProblems: 0,
    },
  };
  const denials = correctnessGates().evaluateAll(broken);
  assert.deepEqual(denials.map((d) => [d.gate, d.code]), [
    ["fd_eviction_integrity", "FD_EVICTION_CORRUPT"],
    ["cross_segment_reads", "CROSS_SEGMENT_READ"],
    ["cas_correctness", "CAS_NOT_ENFORCED"],
    ["idempotency", "IDEMPOTENCY_NOT_ENFORCED"],
    ["cursor_completeness", "CURSOR_INCOMPLETE"],
    ["snapshot_bootable", "SNAPSHOT_NOT_BOOTABLE"],
  ]);
  const files = [
    "src/log/reader.ts",
    "src/log/writer.ts",
    "src/store/store.ts",
    "src/store/store.ts",
    "src/read/cursor.ts",
    "src/read/snapshot.ts",
  ];
  denials.forEach((d, i) => assert.ok(d.message.includes(`Investigate: ${files[i]}`), d.message));
  assert.deepEqual(denials[0].context, {
    fd_budget: "2",
    segments: "9",
    events_read: "53",
    mismatches: "7: got x {i: 3}",
  });
  assert.equal(denials[1].context.segments, "1");
  assert.equal(denials[2].context.outcome, "accepted");
  assert.equal(denials[3].context.second_event_id, "b");
  assert.equal(denials[4].context.positions, "0,52,53,54");
  assert.equal(denials[5].context.error, "CorruptSegmentError: 000001.fbat at 64");
});

Deno.test("each correctness gate fires alone on its own violation", () => {
  const root = Deno.makeTempDirSync({ prefix: "batpak_correctness_" });
  try {
    const good = observe(root);
    const violations: [string, (c: CorrectnessContext) => void][] = [
      ["fd_eviction_integrity", (c) => c.fdEviction.eventsRead = 0],
      ["cross_segment_reads", (c) => c.crossSegment.streamed = 49],
      ["cas_correctness", (c) => c.cas.streamGrowth = 1],
      ["idempotency", (c) => c.idempotency.streamGrowth = 2],
      ["cursor_completeness", (c) => c.cursor.positions = [5, 4, 6, 7, 8]],
      ["snapshot_bootable", (c) => c.snapshot.verifyOk = false],
    ];
    for (const [gate, spoil] of violations) {
      const ctx = structuredClone(good);
      spoil(ctx);
      assert.deepEqual(correctnessGates().evaluateAll(ctx).map((d) => d.gate), [gate]);
    }
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});
