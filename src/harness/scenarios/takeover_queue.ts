/**
 * TakeoverQueueRetryPressure: an owner dies (stops renewing, never
 * releases); contenders arrive and enter a bounded takeover queue, or are
 * turned away and retry admission with deterministic exponential backoff.
 * Queued contenders read `current()`, and their takeover arrives after a
 * simulated latency, so several may race for the same expiry. Each winner
 * writes a few fenced events and dies in turn, for a fixed number of
 * generations.
 *
 * Invariants: exactly one takeover per expiry, for every expiry; the queue
 * never exceeds its bound; never two unexpired leases; no write from a dead
 * lease; no rejected call wrote anything.
 *
 * @module
 */

import { Prng } from "../_prng.ts";
import {
  type AsyncOwnership,
  Coordinate,
  EventKind,
  type Fence,
  OwnershipError,
} from "../_public.ts";
import { LeaseLedger } from "../_leases.ts";
import { Scheduler } from "../_scheduler.ts";
import { call, type Sim } from "../_sim.ts";
import { SIM_EPOCH_MS, type SimWorld } from "../_world.ts";
import { nearestRank, zeroMetrics } from "../metrics.ts";
import { check, type ScenarioContext, type ScenarioRun } from "./_types.ts";

const SCOPE = "m37-takeover";
const WORK = new Coordinate("m37-takeover:work", SCOPE);
/** User category 0x3, type 0x038: "M37 owner work". */
const WORK_KIND = EventKind.custom(0x3, 0x038);
const CONTENDERS = 10;
/** Bound of the takeover queue. */
const QUEUE_DEPTH_MAX = 4;
const LEASE_MS = 150;
/** Owners that die, each taken over once: the scenario ends at this many takeovers. */
const GENERATIONS = 5;
const ARRIVAL_MS_MAX = 300;
/** Backoff after the n-th turned-away attempt: min(base * 2^(n-1), cap) + jitter. */
const BACKOFF_BASE_MS = 10;
const BACKOFF_CAP_MS = 160;
const BACKOFF_JITTER_MS_MAX = 9;
/** Between reading `current()` and the takeover reaching the store. */
const LATENCY_MS_MIN = 1;
const LATENCY_MS_MAX = 25;
/** A new owner writes this many events, this far apart, then dies. */
const OWNER_WRITES_MIN = 1;
const OWNER_WRITES_MAX = 4;
const WRITE_GAP_MS_MIN = 10;
const WRITE_GAP_MS_MAX = 40;
/** Safety stop; the scenario normally ends long before. */
const HORIZON_MS = 60_000;
const P95 = 95;

interface Contender {
  readonly name: string;
  /** Turned-away admissions or takeovers since it last made progress. */
  failures: number;
  observed: Fence | undefined;
}

/** Run the scenario once, in `world`. */
export function* takeoverQueueRetryPressure(
  ctx: ScenarioContext,
  world: SimWorld,
): Sim<ScenarioRun> {
  const prng = new Prng(ctx.seed);
  const sched = new Scheduler(world);
  const store = world.store;
  const own: AsyncOwnership = store.ownership(SCOPE);
  const ledger = new LeaseLedger();
  const ignoreLease = ctx.mutation === "takeover_ignores_lease";
  const queue: Contender[] = [];
  const takeoversByExpiredEpoch = new Map<number, number>();
  let queuePeak = 0;
  let retries = 0;
  let takeovers = 0;
  let boundExceeded = false;

  const backoff = (failures: number): number =>
    Math.min(BACKOFF_BASE_MS * 2 ** (failures - 1), BACKOFF_CAP_MS) +
    prng.int(0, BACKOFF_JITTER_MS_MAX);

  function* takeover(owner: string, observed: Fence): Sim<Fence> {
    try {
      return yield* call(() => own.takeover(owner, observed, LEASE_MS));
    } catch (e) {
      // The broken rule: a refused takeover is reported as granted.
      if (ignoreLease && e instanceof OwnershipError) {
        return { owner, epoch: observed.epoch + 1, token: "mutated" };
      }
      throw e;
    }
  }

  const ownerLife = (fence: Fence, writesLeft: number): void => {
    if (writesLeft === 0) return; // dies: no renewal, no release
    sched.after(prng.int(WRITE_GAP_MS_MIN, WRITE_GAP_MS_MAX), function* () {
      const r = yield* world.attempt(() =>
        store.append(WORK, WORK_KIND, { epoch: fence.epoch }, { fence })
      );
      if (r.ok) ledger.wrote(fence.epoch, world.nowMs);
      ownerLife(fence, writesLeft - 1);
    });
  };

  function* admit(c: Contender): Sim<void> {
    if (queue.length >= QUEUE_DEPTH_MAX) {
      retries++;
      sched.after(backoff(++c.failures), () => admit(c));
      return;
    }
    queue.push(c);
    c.failures = 0;
    queuePeak = Math.max(queuePeak, queue.length);
    if (queue.length > QUEUE_DEPTH_MAX) boundExceeded = true;
    yield* observe(c);
  }

  function* observe(c: Contender): Sim<void> {
    c.observed = yield* call(() => own.current());
    sched.after(prng.int(LATENCY_MS_MIN, LATENCY_MS_MAX), () => attempt(c));
  }

  function* attempt(c: Contender): Sim<void> {
    const observed = c.observed!;
    const r = yield* world.attempt(takeover(c.name, observed));
    if (!r.ok) {
      retries++;
      sched.after(backoff(++c.failures), () => observe(c));
      return;
    }
    takeovers++;
    takeoversByExpiredEpoch.set(
      observed.epoch,
      (takeoversByExpiredEpoch.get(observed.epoch) ?? 0) + 1,
    );
    ledger.grant(c.name, r.value.epoch, world.nowMs, LEASE_MS);
    queue.splice(queue.indexOf(c), 1);
    ownerLife(r.value, prng.int(OWNER_WRITES_MIN, OWNER_WRITES_MAX));
  }

  const first = yield* call(() => own.claim("owner-0", LEASE_MS));
  ledger.grant(first.owner, first.epoch, world.nowMs, LEASE_MS);
  ownerLife(first, prng.int(OWNER_WRITES_MIN, OWNER_WRITES_MAX));
  for (let i = 0; i < CONTENDERS; i++) {
    const c: Contender = { name: `contender-${i}`, failures: 0, observed: undefined };
    sched.at(SIM_EPOCH_MS + prng.int(0, ARRIVAL_MS_MAX), () => admit(c));
  }
  yield* sched.runUntil(SIM_EPOCH_MS + HORIZON_MS, () => takeovers >= GENERATIONS);

  let onePerExpiry = takeoversByExpiredEpoch.size === GENERATIONS;
  for (let epoch = 1; epoch <= GENERATIONS; epoch++) {
    if (takeoversByExpiredEpoch.get(epoch) !== 1) onePerExpiry = false;
  }
  const metrics = zeroMetrics();
  world.rejections.fill(metrics);
  metrics.takeoverSuccesses = takeovers;
  metrics.leaseWindowP95Ms = nearestRank(ledger.windowsMs, P95);
  metrics.takeoverQueuePeak = queuePeak;
  metrics.retryAttempts = retries;
  return {
    metrics,
    invariants: [
      check("one_takeover_per_expiry", onePerExpiry),
      check("queue_within_bound", !boundExceeded && queuePeak <= QUEUE_DEPTH_MAX),
      check("single_unexpired_lease", ledger.overlaps === 0),
      check("no_dead_lease_write", ledger.deadLeaseWrites === 0),
      check("rejections_write_nothing", world.rejectedButWrote === 0),
    ],
  };
}
