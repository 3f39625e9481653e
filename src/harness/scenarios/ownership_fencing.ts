/**
 * OwnershipFencingContention: workers race to claim and take over one scope
 * while deposed owners keep writing with their old fences (some of them
 * adopting the epoch they saw, a split brain) and a forger presents the
 * current owner and epoch with a guessed token.
 *
 * Invariants, judged from the store's log read back at the end: at most one
 * writer per epoch, no write accepted from a dead lease, the scope's writes
 * ordered by epoch, every accepted write there and nothing else, all three
 * rejection kinds seen, and no rejected call wrote anything.
 *
 * @module
 */

import { Prng } from "../_prng.ts";
import { Coordinate, EventKind, type Fence } from "../_public.ts";
import { call, type Sim } from "../_sim.ts";
import { LeaseLedger } from "../_leases.ts";
import type { Attempt, SimWorld } from "../_world.ts";
import { nearestRank, zeroMetrics } from "../metrics.ts";
import { check, type ScenarioContext, type ScenarioRun } from "./_types.ts";

const SCOPE = "m37-fencing";
const LEDGER = new Coordinate("m37-fencing:ledger", SCOPE);
/** User category 0x3, type 0x037: "M37 fenced write". */
const WRITE_KIND = EventKind.custom(0x3, 0x037);
const WORKERS = 4;
const STEPS = 160;
const LEASE_MS = 120;
/** Simulated time between two steps. */
const STEP_MS_MIN = 5;
const STEP_MS_MAX = 35;
/** One step in this many is the forger's. */
const FORGER_ONE_IN = 8;
/** A holder renews on one of its turns in this many, else it writes. */
const RENEW_ONE_IN = 4;
/** A deposed owner keeps writing with its old fence this many times at most. */
const ZOMBIE_WRITES_MAX = 3;
/** One zombie write in this many adopts the epoch it observed (split brain). */
const CONFUSED_ONE_IN = 3;
const FORGED_TOKEN_BYTES = 16;
const P95 = 95;

interface Worker {
  readonly name: string;
  /** The fence it believes in (possibly dead). */
  fence: Fence | undefined;
  /** > 0 while deposed: writes left before it gives up the old fence. */
  zombieWritesLeft: number;
}

interface WritePayload {
  owner: string;
  epoch: number;
  n: number;
}

/** Run the scenario once, in `world`. */
export function* ownershipFencingContention(
  ctx: ScenarioContext,
  world: SimWorld,
): Sim<ScenarioRun> {
  const prng = new Prng(ctx.seed);
  const store = world.store;
  const own = store.ownership(SCOPE);
  const ledger = new LeaseLedger();
  const bypassStaleFence = ctx.mutation === "accept_stale_fence";
  const workers: Worker[] = Array.from({ length: WORKERS }, (_, i) => ({
    name: `worker-${i}`,
    fence: undefined,
    zombieWritesLeft: 0,
  }));
  const accepted: WritePayload[] = [];
  let writes = 0;
  let takeovers = 0;
  let retries = 0;
  let waitingPeak = 0;

  function* write(fence: Fence): Sim<Attempt<unknown>> {
    const payload: WritePayload = { owner: fence.owner, epoch: fence.epoch, n: writes++ };
    const r = yield* world.attempt(() => store.append(LEDGER, WRITE_KIND, payload, { fence }));
    if (r.ok) {
      accepted.push(payload);
      ledger.wrote(fence.epoch, world.nowMs);
    } else if (bypassStaleFence && r.reason === "stale_owner") {
      // The broken rule: the deposed writer's write goes in anyway, unfenced.
      yield* call(() => store.append(LEDGER, WRITE_KIND, payload));
      accepted.push(payload);
      ledger.wrote(fence.epoch, world.nowMs);
    }
    return r;
  }

  function* acquire(w: Worker): Sim<void> {
    const cur = yield* call(() => own.current());
    const r = cur === undefined
      ? yield* world.attempt(() => own.claim(w.name, LEASE_MS))
      : yield* world.attempt(() => own.takeover(w.name, cur, LEASE_MS));
    if (!r.ok) {
      retries++;
      return;
    }
    if (cur !== undefined) takeovers++;
    ledger.grant(w.name, r.value.epoch, world.nowMs, LEASE_MS);
    w.fence = r.value;
    w.zombieWritesLeft = 0;
  }

  const depose = (w: Worker): void => {
    w.zombieWritesLeft = prng.int(1, ZOMBIE_WRITES_MAX);
  };

  function* zombieWrite(w: Worker, fence: Fence): Sim<void> {
    let presented = fence;
    if (prng.oneIn(CONFUSED_ONE_IN)) {
      // It read the current epoch but not the owner: a split brain.
      const cur = yield* call(() => own.current());
      if (cur !== undefined && cur.owner !== w.name) presented = { ...fence, epoch: cur.epoch };
    }
    yield* write(presented);
    if (--w.zombieWritesLeft === 0) w.fence = undefined;
  }

  function* holderTurn(w: Worker, fence: Fence): Sim<void> {
    if (prng.oneIn(RENEW_ONE_IN)) {
      const r = yield* world.attempt(() => own.renew(fence, LEASE_MS));
      if (r.ok) {
        ledger.renewed(fence.epoch, world.nowMs, LEASE_MS);
      } else {
        ledger.renewalRejected(fence.epoch, world.nowMs);
        depose(w);
      }
      return;
    }
    if (!(yield* write(fence)).ok) depose(w);
  }

  function* forge(): Sim<void> {
    const cur = yield* call(() => own.current());
    yield* write({
      owner: cur?.owner ?? "forger",
      epoch: cur?.epoch ?? 1,
      token: prng.hex(FORGED_TOKEN_BYTES),
    });
  }

  for (let step = 0; step < STEPS; step++) {
    world.nowMs += prng.int(STEP_MS_MIN, STEP_MS_MAX);
    waitingPeak = Math.max(waitingPeak, workers.filter((w) => w.fence === undefined).length);
    if (prng.oneIn(FORGER_ONE_IN)) {
      yield* forge();
      continue;
    }
    const w = workers[prng.int(0, WORKERS - 1)];
    if (w.fence === undefined) yield* acquire(w);
    else if (w.zombieWritesLeft > 0) yield* zombieWrite(w, w.fence);
    else yield* holderTurn(w, w.fence);
  }

  // Judge from the log, not from what the workers believe.
  const logged = (yield* call(() => store.readStream(LEDGER.entity))).map((e) =>
    e.payload as WritePayload
  );
  const writersByEpoch = new Map<number, Set<string>>();
  let ordered = true;
  for (let i = 0; i < logged.length; i++) {
    const p = logged[i];
    const set = writersByEpoch.get(p.epoch) ?? new Set<string>();
    set.add(p.owner);
    writersByEpoch.set(p.epoch, set);
    if (i > 0 && p.epoch < logged[i - 1].epoch) ordered = false;
  }
  const sameAsAccepted = logged.length === accepted.length &&
    logged.every((p, i) => p.n === accepted[i].n);
  const r = world.rejections;

  const metrics = zeroMetrics();
  r.fill(metrics);
  metrics.takeoverSuccesses = takeovers;
  metrics.leaseWindowP95Ms = nearestRank(ledger.windowsMs, P95);
  metrics.leaseQueuePeak = waitingPeak;
  metrics.retryAttempts = retries;
  return {
    metrics,
    invariants: [
      check("one_writer_per_epoch", [...writersByEpoch.values()].every((s) => s.size <= 1)),
      check("no_stale_epoch_write", ledger.deadLeaseWrites === 0),
      check("ordered_by_epoch", ordered),
      check("log_matches_accepted_writes", sameAsAccepted),
      check(
        "all_rejection_kinds_seen",
        r.staleOwner > 0 && r.splitBrain > 0 && r.invalidToken > 0,
      ),
      check("single_unexpired_lease", ledger.overlaps === 0 && ledger.lateRenewals === 0),
      check("rejections_write_nothing", world.rejectedButWrote === 0),
    ],
  };
}
