/**
 * The correctness gates: the store's promises checked against a live store,
 * as {@linkcode Gate}s so a failure is a {@linkcode Denial} naming where to
 * look. They append a few events under entities `gates:<run id>:*` (scope
 * `gates`), so run them on a store you may write to.
 *
 * | gate | checks |
 * | --- | --- |
 * | `cas_rejects_stale` | a stale `expectedSequence` throws `ConcurrencyError` (expected, actual) and writes nothing |
 * | `idempotency_dedupes` | a repeated `idempotencyKey` returns the first receipt and writes nothing |
 * | `batch_all_or_nothing` | a batch whose last item fails its CAS writes none of its items |
 * | `cursor_sees_all` | a guaranteed cursor delivers every event once, gapless, then a new one |
 * | `verify_ok` | `verify()` re-reads every frame and finds no problem |
 *
 * @module
 */

import {
  ConcurrencyError,
  Coordinate,
  Denial,
  EventKind,
  type Gate,
  gate,
  GateSet,
  Region,
  type Store,
} from "../../mod.ts";

/** What the correctness gates run against. */
export interface CorrectnessContext {
  /** An open store the gates may append to. */
  store: Store;
  /** Progress of the `verify_ok` gate's full re-read. */
  onVerifyProgress?: (checked: number, total: number) => void;
}

/** The outcome of one gate. */
export interface GateOutcome {
  /** The gate's name. */
  name: string;
  /** What it checks. */
  description: string;
  /** Why it failed; `undefined` when it passed. */
  denial: Denial | undefined;
  /** Wall time, ms. */
  elapsedMs: number;
}

const SCOPE = "gates";
const KIND = EventKind.custom(0xe, 1);
/** Events read per cursor poll. */
// Small pages: holding thousands of events at once pushes V8 to old-space allocation.
const CURSOR_BATCH_EVENTS = 256;

function errorName(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** The gates, in the order they run; `verify_ok` last so it covers what the others wrote. */
export function correctnessGates(runId: string = crypto.randomUUID()): Gate<CorrectnessContext>[] {
  const entity = (name: string) => `${SCOPE}:${runId}:${name}`;
  return [
    gate<CorrectnessContext>(
      "cas_rejects_stale",
      ({ store }) => {
        const deny = (message: string) =>
          new Denial("cas_rejects_stale", `${message}. Investigate: src/store/store.ts append`);
        const coord = new Coordinate(entity("cas"), SCOPE);
        store.append(coord, KIND, { step: 1 }, { expectedSequence: 0 });
        store.append(coord, KIND, { step: 2 }, { expectedSequence: 1 });
        const before = store.diagnostics().events;
        try {
          store.append(coord, KIND, { step: "stale" }, { expectedSequence: 1 });
          return deny("an append with a stale expectedSequence was accepted");
        } catch (e) {
          if (!(e instanceof ConcurrencyError)) {
            return deny(`expected ConcurrencyError, got ${errorName(e)}`);
          }
          if (e.expected !== 1 || e.actual !== 2) {
            return deny("ConcurrencyError carries the wrong sequences")
              .withContext("expected", String(e.expected)).withContext("actual", String(e.actual));
          }
        }
        const after = store.diagnostics().events;
        if (after !== before) {
          return deny("the rejected append wrote an event").withContext(
            "events_written",
            String(after - before),
          );
        }
        return undefined;
      },
      "a stale expectedSequence throws ConcurrencyError and writes nothing",
    ),
    gate<CorrectnessContext>(
      "idempotency_dedupes",
      ({ store }) => {
        const deny = (message: string) =>
          new Denial("idempotency_dedupes", `${message}. Investigate: src/store/store.ts append`);
        const coord = new Coordinate(entity("idempotency"), SCOPE);
        const key = `${runId}:key`;
        const before = store.diagnostics().events;
        const first = store.append(coord, KIND, { attempt: 1 }, { idempotencyKey: key });
        const second = store.append(coord, KIND, { attempt: 2 }, { idempotencyKey: key });
        if (second.eventId !== first.eventId) {
          return deny("a repeated key returned a new receipt")
            .withContext("first", first.eventId).withContext("second", second.eventId);
        }
        const written = store.diagnostics().events - before;
        if (written !== 1) {
          return deny("a repeated key wrote again").withContext("events_written", String(written));
        }
        const stored = store.get(first.eventId).payload as { attempt?: number };
        if (stored?.attempt !== 1) return deny("the stored payload is not the first one");
        return undefined;
      },
      "a repeated idempotencyKey returns the first receipt and writes nothing",
    ),
    gate<CorrectnessContext>(
      "batch_all_or_nothing",
      ({ store }) => {
        const deny = (message: string) =>
          new Denial(
            "batch_all_or_nothing",
            `${message}. Investigate: src/store/store.ts appendBatch`,
          );
        const coord = new Coordinate(entity("batch"), SCOPE);
        const before = store.diagnostics().events;
        try {
          store.appendBatch([
            { coord, kind: KIND, payload: { item: 0 } },
            { coord, kind: KIND, payload: { item: 1 } },
            { coord, kind: KIND, payload: { item: 2 }, options: { expectedSequence: 0 } },
          ]);
          return deny("a batch with a stale expectedSequence was accepted");
        } catch (e) {
          if (!(e instanceof ConcurrencyError)) {
            return deny(`expected ConcurrencyError, got ${errorName(e)}`);
          }
        }
        const written = store.diagnostics().events - before;
        if (written !== 0 || store.stream(coord.entity).length !== 0) {
          return deny("a failed batch left events behind").withContext(
            "events_written",
            String(written),
          );
        }
        return undefined;
      },
      "a batch whose last item fails its CAS writes none of its items",
    ),
    gate<CorrectnessContext>(
      "cursor_sees_all",
      ({ store }) => {
        const deny = (message: string) =>
          new Denial("cursor_sees_all", `${message}. Investigate: src/read/cursor.ts`);
        const cursor = store.cursorGuaranteed(Region.all());
        let expected = 1;
        for (;;) {
          const batch = cursor.pollBatch(CURSOR_BATCH_EVENTS);
          if (batch.length === 0) break;
          for (const event of batch) {
            if (event.globalSequence !== expected) {
              return deny("the cursor skipped or repeated an event")
                .withContext("expected", String(expected))
                .withContext("delivered", String(event.globalSequence));
            }
            expected++;
          }
        }
        const events = store.diagnostics().events;
        if (expected - 1 !== events) {
          return deny("the cursor stopped early")
            .withContext("delivered", String(expected - 1)).withContext("events", String(events));
        }
        const late = store.append(new Coordinate(entity("cursor"), SCOPE), KIND, { late: true });
        const next = cursor.poll();
        if (next?.globalSequence !== late.globalSequence) {
          return deny("the cursor missed an event appended after it caught up");
        }
        return undefined;
      },
      "a guaranteed cursor delivers every event once, gapless, including new ones",
    ),
    gate<CorrectnessContext>(
      "verify_ok",
      ({ store, onVerifyProgress }) => {
        const report = store.verify({ onProgress: onVerifyProgress });
        if (report.ok) return undefined;
        const first = report.problems[0];
        return new Denial(
          "verify_ok",
          `verify found ${report.problems.length} problem(s); first: ${first.file} at offset ${first.offset}: ${first.message}. Investigate: src/read/verify.ts`,
        ).withContext("events_checked", String(report.eventsChecked));
      },
      "verify() re-reads every frame (CRC, hash chain, index parity) and finds no problem",
    ),
  ];
}

/** Run every correctness gate against `ctx`, each on its own, timing each. */
export function runCorrectnessGates(ctx: CorrectnessContext): GateOutcome[] {
  return correctnessGates().map((g) => {
    const started = performance.now();
    // A one-gate set: a gate that throws becomes a GATE_DEFECT denial, not a crash.
    const [denial] = new GateSet<CorrectnessContext>().push(g).evaluateAll(ctx);
    return {
      name: g.name,
      description: g.description ?? "",
      denial,
      elapsedMs: performance.now() - started,
    };
  });
}
