/**
 * CheckpointReplayWindows: a producer appends events; a consumer reads them
 * with a guaranteed cursor and applies each one by appending an output event
 * keyed by the input's global sequence (an idempotency key, so a replayed
 * input is applied at most once), syncs its outputs every tick, and saves a
 * named cursor checkpoint (`saveCursor`) every few events. The process is
 * killed several times: the in-memory file system crashes (unsynced bytes
 * are lost), the store reopens on what survived, and the consumer resumes
 * from `loadCursor`, replaying what it had applied since the checkpoint.
 *
 * Invariants: the checkpoint survives each kill; the replay never exceeds
 * one checkpoint interval; after each restart, and at the end, the consumer's
 * projection (`store.project` over its outputs) equals a fresh fold of the
 * inputs; no input applied twice; none skipped.
 *
 * @module
 */

import { Prng } from "../_prng.ts";
import { Coordinate, EventKind, Region, type StoredEvent } from "../_public.ts";
import { SimWorld } from "../_world.ts";
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
  /** Order-sensitive checksum of the applied global sequences. */
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

interface OutputPayload {
  source: number;
  amount: number;
}

/** Run the scenario once. */
export function checkpointReplayWindows(ctx: ScenarioContext): ScenarioRun {
  const prng = new Prng(ctx.seed);
  const world = new SimWorld("/m37/checkpoint_replay_windows");
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
  let cursor = world.store.cursorGuaranteed(INPUTS);
  let sinceCheckpoint = 0;
  let lastCheckpoint = 0;
  let windowMax = 0;
  let replayMsMax = 0;
  let checkpointSurvived = true;
  let windowBounded = true;
  let foldsMatched = true;

  const apply = (e: StoredEvent): void => {
    const amount = (e.payload as { amount: number }).amount;
    const payload: OutputPayload = { source: e.globalSequence, amount };
    world.store.append(
      OUTPUT,
      OUTPUT_KIND,
      payload,
      dedupe ? { idempotencyKey: `m37-replay:${e.globalSequence}` } : undefined,
    );
    if (++sinceCheckpoint === CHECKPOINT_EVERY_EVENTS) {
      world.store.saveCursor(CURSOR_NAME, e.globalSequence);
      lastCheckpoint = e.globalSequence;
      sinceCheckpoint = 0;
    }
  };

  /** A fold of the inputs up to `position`, from scratch. */
  const freshFold = (position: number): Fold => {
    let state = emptyFold();
    for (const entry of world.store.queryAfter(INPUTS, 0, Number.MAX_SAFE_INTEGER)) {
      if (entry.globalSequence > position) break;
      const amount = (world.store.get(entry.eventId).payload as { amount: number }).amount;
      state = foldIn(state, entry.globalSequence, amount);
    }
    return state;
  };

  const restart = (killPosition: number): void => {
    world.crashAndReopen();
    produced = world.store.query(INPUTS).length;
    const saved = world.store.loadCursor(CURSOR_NAME) ?? 0;
    if (saved !== lastCheckpoint) checkpointSurvived = false;
    cursor = world.store.cursorGuaranteed(INPUTS, { after: saved });
    sinceCheckpoint = 0;
    let window = 0;
    while (cursor.position < killPosition) {
      const batch = cursor.pollBatch(POLL_BATCH_MAX);
      if (batch.length === 0) break;
      for (const e of batch) {
        if (e.globalSequence <= killPosition) window++;
        apply(e);
      }
    }
    world.store.sync();
    const replayMs = RESTART_COST_MS + window * REPLAY_COST_MS_PER_EVENT;
    world.nowMs += replayMs;
    windowMax = Math.max(windowMax, window);
    replayMsMax = Math.max(replayMsMax, replayMs);
    if (window >= CHECKPOINT_EVERY_EVENTS) windowBounded = false;
    if (!sameFold(world.store.project(OUTPUT.entity, projection), freshFold(cursor.position))) {
      foldsMatched = false;
    }
  };

  for (;;) {
    world.nowMs += prng.int(TICK_MS_MIN, TICK_MS_MAX);
    if (produced < EVENTS_TOTAL) {
      const burst = Math.min(prng.int(1, BURST_MAX), EVENTS_TOTAL - produced);
      for (let i = 0; i < burst; i++) {
        const account = new Coordinate(
          `m37-replay:account-${prng.int(0, ACCOUNTS - 1)}`,
          INPUT_SCOPE,
        );
        world.store.append(account, INPUT_KIND, {
          n: produced++,
          amount: prng.int(1, AMOUNT_MAX),
        });
      }
    }
    if (kills < killAt.length && produced >= killAt[kills]) {
      kills++;
      restart(cursor.position);
      continue;
    }
    const batch = cursor.pollBatch(prng.int(1, POLL_BATCH_MAX));
    for (const e of batch) apply(e);
    world.store.sync(); // the consumer commits its outputs every tick
    if (batch.length === 0 && produced >= EVENTS_TOTAL && kills === killAt.length) break;
  }

  // Judge from the log: the consumer's outputs against the inputs.
  const sources = world.store.stream(OUTPUT.entity).map((e) =>
    (world.store.get(e.eventId).payload as OutputPayload).source
  );
  const inputs = world.store.query(INPUTS).map((e) => e.globalSequence);
  const appliedOnce = sources.every((s, i) => i === 0 || s > sources[i - 1]);
  const applied = new Set(sources);
  const noneSkipped = inputs.every((g) => applied.has(g));
  const finalFold = sameFold(
    world.store.project(OUTPUT.entity, projection),
    freshFold(cursor.position),
  );

  const metrics = zeroMetrics();
  metrics.checkpointWindowEvents = windowMax;
  metrics.replayWindowMs = replayMsMax;
  world.close();
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
