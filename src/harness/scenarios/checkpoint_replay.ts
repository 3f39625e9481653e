/**
 * CheckpointReplayWindows: a producer appends numbered events and commits
 * each burst; a consumer reads them in pages (`read` after its position)
 * and applies each one by appending an output event keyed by the input's
 * number (an idempotency key, so a replayed input is applied at most once),
 * commits its outputs every tick, and saves a named cursor checkpoint
 * (`saveCursor`) every few events. The process is killed several times: the
 * store is abandoned and reopens on what survived (on the embedded store,
 * the in-memory file system crashes: what was not synced is lost), and the
 * consumer resumes from `loadCursor`, replaying what it had applied since
 * the checkpoint.
 *
 * Everything a run measures is in the contract's terms, so every backend
 * gives the same profile: the outputs and the fold count inputs by their
 * number (their rank in the global order), never by `globalSequence`
 * (which has gaps on PostgreSQL); positions are only compared and saved.
 *
 * Invariants: the checkpoint survives each kill; the replay never exceeds
 * one checkpoint interval; after each restart, and at the end, the consumer's
 * projection (`store.project` over its outputs) equals a fresh fold of the
 * inputs; no input applied twice; none skipped.
 *
 * @module
 */

import { Prng } from "../_prng.ts";
import { Coordinate, EventKind, type EventStore, Region, type StoredEvent } from "../_public.ts";
import { call, type Sim } from "../_sim.ts";
import type { SimWorld } from "../_world.ts";
import { zeroMetrics } from "../metrics.ts";
import { check, type ScenarioContext, type ScenarioRun } from "./_types.ts";

const INPUT_SCOPE = "m37-replay";
const OUTPUT = new Coordinate("m37-replay-out:ledger", "m37-replay-out");
/** User category 0x3, types 0x039 (input) and 0x03a (the consumer's output). */
const INPUT_KIND = EventKind.custom(0x3, 0x039);
const OUTPUT_KIND = EventKind.custom(0x3, 0x03a);
const INPUTS = Region.scope(INPUT_SCOPE).withKinds(INPUT_KIND);
const CURSOR_NAME = "m37-replay-consumer";
const ACCOUNTS = 4;
const AMOUNT_MAX = 100;
/** Inputs the producer writes (lost ones are written again). */
const EVENTS_TOTAL = 240;
/** The consumer checkpoints after every this many applied events. */
const CHECKPOINT_EVERY_EVENTS = 16;
const BURST_MAX = 12;
const POLL_BATCH_MAX = 10;
const TICK_MS_MIN = 5;
const TICK_MS_MAX = 20;
/** Kills happen once this many inputs exist, each moved by up to the jitter. */
const KILL_AT_EVENTS: readonly number[] = [60, 130, 200];
const KILL_JITTER_EVENTS = 20;
/** Simulated cost of a restart (reopen, load the checkpoint), and of replaying one event. */
const RESTART_COST_MS = 20;
const REPLAY_COST_MS_PER_EVENT = 2;

interface Fold {
  count: number;
  sum: number;
  /** Order-sensitive checksum of the applied inputs' numbers. */
  checksum: number;
  last: number;
}

const emptyFold = (): Fold => ({ count: 0, sum: 0, checksum: 0, last: 0 });

function foldIn(state: Fold, source: number, amount: number): Fold {
  return {
    count: state.count + 1,
    sum: state.sum + amount,
    checksum: (Math.imul(state.checksum, 31) + source) >>> 0,
    last: source,
  };
}

const sameFold = (a: Fold | undefined, b: Fold): boolean =>
  (a ?? emptyFold()).count === b.count && (a ?? emptyFold()).sum === b.sum &&
  (a ?? emptyFold()).checksum === b.checksum && (a ?? emptyFold()).last === b.last;

/** An input: the producer's number for it (0, 1, 2, … in global order) and an amount. */
interface InputPayload {
  n: number;
  amount: number;
}

/** An output: the number of the input it applies, and its amount. */
interface OutputPayload {
  source: number;
  amount: number;
}

/** Events read per page when a run reads a whole region. */
const READ_PAGE_EVENTS = 100;

/** Every event of `region`, in global order, page by page. */
function* readAll(store: EventStore, region: Region): Sim<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for (;;) {
    const after = out.length === 0 ? 0 : out[out.length - 1].globalSequence;
    const page = yield* call(() => store.read(region, { after, limit: READ_PAGE_EVENTS }));
    out.push(...page);
    if (page.length < READ_PAGE_EVENTS) return out;
  }
}

/** Run the scenario once, in `world`. */
export function* checkpointReplayWindows(
  ctx: ScenarioContext,
  world: SimWorld,
): Sim<ScenarioRun> {
  const prng = new Prng(ctx.seed);
  const dedupe = ctx.mutation !== "apply_without_dedupe";
  const killAt = KILL_AT_EVENTS.map((n) => n + prng.int(0, KILL_JITTER_EVENTS));
  const projection = {
    kinds: [OUTPUT_KIND],
    initial: emptyFold,
    apply: (s: Fold, e: StoredEvent): Fold => {
      const p = e.payload as OutputPayload;
      return foldIn(s, p.source, p.amount);
    },
  };

  let produced = 0;
  let kills = 0;
  /** The consumer's cursor: the global position of the last input it read. */
  let position = 0;
  let sinceCheckpoint = 0;
  let lastCheckpoint = 0;
  let windowMax = 0;
  let replayMsMax = 0;
  let checkpointSurvived = true;
  let windowBounded = true;
  let foldsMatched = true;

  /** The next page of inputs after the cursor; moves the cursor past it. */
  function* poll(limit: number): Sim<StoredEvent[]> {
    const after = position;
    const page = yield* call(() => world.store.read(INPUTS, { after, limit }));
    if (page.length > 0) position = page[page.length - 1].globalSequence;
    return page;
  }

  function* apply(e: StoredEvent): Sim<void> {
    const { n, amount } = e.payload as InputPayload;
    const payload: OutputPayload = { source: n, amount };
    const options = dedupe ? { idempotencyKey: `m37-replay:${n}` } : undefined;
    yield* call(() => world.store.append(OUTPUT, OUTPUT_KIND, payload, options));
    if (++sinceCheckpoint === CHECKPOINT_EVERY_EVENTS) {
      yield* call(() => world.store.saveCursor(CURSOR_NAME, e.globalSequence));
      lastCheckpoint = e.globalSequence;
      sinceCheckpoint = 0;
    }
  }

  /** A fold of the inputs up to global position `upto`, from scratch. */
  function* freshFold(upto: number): Sim<Fold> {
    let state = emptyFold();
    for (const e of yield* readAll(world.store, INPUTS)) {
      if (e.globalSequence > upto) break;
      const { n, amount } = e.payload as InputPayload;
      state = foldIn(state, n, amount);
    }
    return state;
  }

  function* projectionMatches(): Sim<boolean> {
    const projected = yield* call(() => world.store.project(OUTPUT.entity, projection));
    return sameFold(projected, yield* freshFold(position));
  }

  function* restart(killPosition: number): Sim<void> {
    yield* world.crashAndReopen();
    produced = (yield* readAll(world.store, INPUTS)).length;
    const saved = (yield* call(() => world.store.loadCursor(CURSOR_NAME))) ?? 0;
    if (saved !== lastCheckpoint) checkpointSurvived = false;
    position = saved;
    sinceCheckpoint = 0;
    let window = 0;
    while (position < killPosition) {
      const batch = yield* poll(POLL_BATCH_MAX);
      if (batch.length === 0) break;
      for (const e of batch) {
        if (e.globalSequence <= killPosition) window++;
        yield* apply(e);
      }
    }
    yield* world.commit();
    const replayMs = RESTART_COST_MS + window * REPLAY_COST_MS_PER_EVENT;
    world.nowMs += replayMs;
    windowMax = Math.max(windowMax, window);
    replayMsMax = Math.max(replayMsMax, replayMs);
    if (window >= CHECKPOINT_EVERY_EVENTS) windowBounded = false;
    if (!(yield* projectionMatches())) foldsMatched = false;
  }

  for (;;) {
    world.nowMs += prng.int(TICK_MS_MIN, TICK_MS_MAX);
    if (produced < EVENTS_TOTAL) {
      const burst = Math.min(prng.int(1, BURST_MAX), EVENTS_TOTAL - produced);
      for (let i = 0; i < burst; i++) {
        const account = new Coordinate(
          `m37-replay:account-${prng.int(0, ACCOUNTS - 1)}`,
          INPUT_SCOPE,
        );
        const input: InputPayload = { n: produced++, amount: prng.int(1, AMOUNT_MAX) };
        yield* call(() => world.store.append(account, INPUT_KIND, input));
      }
      // The producer acknowledges a burst once it is committed: a kill cannot take it back.
      yield* world.commit();
    }
    if (kills < killAt.length && produced >= killAt[kills]) {
      kills++;
      yield* restart(position);
      continue;
    }
    const batch = yield* poll(prng.int(1, POLL_BATCH_MAX));
    for (const e of batch) yield* apply(e);
    yield* world.commit(); // the consumer commits its outputs every tick
    if (batch.length === 0 && produced >= EVENTS_TOTAL && kills === killAt.length) break;
  }

  // Judge from the log: the consumer's outputs against the inputs.
  const outputs = yield* call(() => world.store.readStream(OUTPUT.entity));
  const sources = outputs.map((e) => (e.payload as OutputPayload).source);
  const inputs = (yield* readAll(world.store, INPUTS)).map((e) => (e.payload as InputPayload).n);
  const appliedOnce = sources.every((s, i) => i === 0 || s > sources[i - 1]);
  const applied = new Set(sources);
  const noneSkipped = inputs.every((n) => applied.has(n));
  const finalFold = yield* projectionMatches();

  const metrics = zeroMetrics();
  metrics.checkpointWindowEvents = windowMax;
  metrics.replayWindowMs = replayMsMax;
  return {
    metrics,
    invariants: [
      check("checkpoint_survives_kill", checkpointSurvived),
      check("replay_within_checkpoint_interval", windowBounded),
      check("projection_equals_fresh_fold", foldsMatched && finalFold),
      check("no_event_applied_twice", appliedOnce),
      check("no_event_skipped", noneSkipped),
    ],
  };
}
