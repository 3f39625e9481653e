/**
 * LeaseRenewalContention: workers take turns holding one scope's lease.
 * A holder sends each renewal a fixed margin before expiry over a link with
 * simulated latency, so some renewals arrive after the lease expired; the
 * others wait, polling `claim`. A holder's tenure ends after a seeded number
 * of renewals (it releases, or lets the lease run out), then it rests and
 * queues again.
 *
 * Invariants: never two unexpired leases at once; no renewal accepted after
 * expiry (and late renewals did happen, so the rule was exercised); no
 * rejected call wrote anything.
 *
 * @module
 */

import { Prng } from "../_prng.ts";
import { type AsyncOwnership, type Fence, OwnershipError } from "../_public.ts";
import { LeaseLedger } from "../_leases.ts";
import { Scheduler } from "../_scheduler.ts";
import { call, type Sim } from "../_sim.ts";
import { SIM_EPOCH_MS, type SimWorld } from "../_world.ts";
import { nearestRank, zeroMetrics } from "../metrics.ts";
import { check, type ScenarioContext, type ScenarioRun } from "./_types.ts";

const SCOPE = "m37-lease";
const WORKERS = 6;
const LEASE_MS = 100;
/** A holder sends its renewal this long before its lease expires. */
const RENEW_MARGIN_MS = 30;
/** One-way latency of a renewal; above the margin it arrives too late. */
const LATENCY_MS_MIN = 1;
const LATENCY_MS_MAX = 40;
/** A waiter polls `claim` this often. */
const POLL_MS_MIN = 10;
const POLL_MS_MAX = 50;
/** Renewals a holder wants before it gives the lease up. */
const TENURE_RENEWALS_MIN = 2;
const TENURE_RENEWALS_MAX = 6;
/** One tenure in this many ends in `release`, the others by letting the lease expire. */
const RELEASE_ONE_IN = 2;
const REST_MS_MIN = 50;
const REST_MS_MAX = 300;
const ARRIVAL_MS_MAX = 200;
const HORIZON_MS = 5_000;
const P95 = 95;

type State = "resting" | "waiting" | "holding";

interface Worker {
  readonly name: string;
  state: State;
  fence: Fence | undefined;
  tenureLeft: number;
}

/** Run the scenario once, in `world`. */
export function* leaseRenewalContention(ctx: ScenarioContext, world: SimWorld): Sim<ScenarioRun> {
  const prng = new Prng(ctx.seed);
  const sched = new Scheduler(world);
  const own: AsyncOwnership = world.store.ownership(SCOPE);
  const ledger = new LeaseLedger();
  const renewIgnoresExpiry = ctx.mutation === "renew_after_expiry";
  const workers: Worker[] = Array.from({ length: WORKERS }, (_, i) => ({
    name: `worker-${i}`,
    state: "resting",
    fence: undefined,
    tenureLeft: 0,
  }));
  let waiting = 0;
  let waitingPeak = 0;
  let retries = 0;

  function* renew(fence: Fence): Sim<Fence> {
    try {
      return yield* call(() => own.renew(fence, LEASE_MS));
    } catch (e) {
      // The broken rule: a late renewal is reported as accepted.
      if (renewIgnoresExpiry && e instanceof OwnershipError) return fence;
      throw e;
    }
  }

  const rest = (w: Worker): void => {
    w.state = "resting";
    w.fence = undefined;
    sched.after(prng.int(REST_MS_MIN, REST_MS_MAX), () => join(w));
  };

  function* join(w: Worker): Sim<void> {
    w.state = "waiting";
    waitingPeak = Math.max(waitingPeak, ++waiting);
    yield* poll(w);
  }

  function* poll(w: Worker): Sim<void> {
    const r = yield* world.attempt(() => own.claim(w.name, LEASE_MS));
    if (!r.ok) {
      retries++;
      sched.after(prng.int(POLL_MS_MIN, POLL_MS_MAX), () => poll(w));
      return;
    }
    waiting--;
    w.state = "holding";
    w.fence = r.value;
    w.tenureLeft = prng.int(TENURE_RENEWALS_MIN, TENURE_RENEWALS_MAX);
    ledger.grant(w.name, r.value.epoch, world.nowMs, LEASE_MS);
    scheduleRenewal(w);
  }

  const scheduleRenewal = (w: Worker): void => {
    sched.after(LEASE_MS - RENEW_MARGIN_MS, () => {
      sched.after(prng.int(LATENCY_MS_MIN, LATENCY_MS_MAX), () => arrive(w));
    });
  };

  function* arrive(w: Worker): Sim<void> {
    const fence = w.fence!;
    const r = yield* world.attempt(renew(fence));
    if (!r.ok) {
      ledger.renewalRejected(fence.epoch, world.nowMs);
      rest(w);
      return;
    }
    ledger.renewed(fence.epoch, world.nowMs, LEASE_MS);
    if (--w.tenureLeft > 0) {
      scheduleRenewal(w);
      return;
    }
    if (prng.oneIn(RELEASE_ONE_IN) && (yield* world.attempt(() => own.release(fence))).ok) {
      ledger.released(fence.epoch, world.nowMs);
    }
    rest(w);
  }

  for (const w of workers) sched.at(SIM_EPOCH_MS + prng.int(0, ARRIVAL_MS_MAX), () => join(w));
  yield* sched.runUntil(SIM_EPOCH_MS + HORIZON_MS);

  const metrics = zeroMetrics();
  world.rejections.fill(metrics);
  metrics.leaseWindowP95Ms = nearestRank(ledger.windowsMs, P95);
  metrics.leaseQueuePeak = waitingPeak;
  metrics.retryAttempts = retries;
  return {
    metrics,
    invariants: [
      check("single_unexpired_lease", ledger.overlaps === 0),
      check("no_renewal_after_expiry", ledger.lateRenewals === 0),
      check("late_renewals_rejected", ledger.lateRenewalsRejected > 0),
      check("rejections_write_nothing", world.rejectedButWrote === 0),
    ],
  };
}
