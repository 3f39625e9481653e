/**
 * A simulated world for one scenario run: a backend's store, a simulated
 * clock, and the bookkeeping every scenario shares (rejection counts, "a
 * rejected call wrote nothing" checks). Every store call goes through
 * {@linkcode call} (or the world's own steps), so the scenario runs on any
 * backend (see `_sim.ts`).
 *
 * @module
 */

import {
  type Awaitable,
  type EventStore,
  OwnershipError,
  type OwnershipRejection,
} from "./_public.ts";
import { call, type Sim } from "./_sim.ts";
import type { BackendRun, HarnessBackend } from "./backend.ts";
import type { Metrics } from "./metrics.ts";

/** Simulated time starts here (a fixed epoch ms: ids stay time-ordered and reproducible). */
export const SIM_EPOCH_MS = 1_700_000_000_000;

/** The outcome of one ownership call or fenced append. */
export type Attempt<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: OwnershipRejection };

/** Rejection counts by reason. */
export class Rejections {
  staleOwner = 0;
  splitBrain = 0;
  invalidToken = 0;
  leaseHeld = 0;

  record(reason: OwnershipRejection): void {
    if (reason === "stale_owner") this.staleOwner++;
    else if (reason === "split_brain") this.splitBrain++;
    else if (reason === "invalid_token") this.invalidToken++;
    else this.leaseHeld++;
  }

  /** Copy the counts into `metrics`; every rejection is an ownership conflict. */
  fill(metrics: Metrics): void {
    metrics.staleOwnerRejections = this.staleOwner;
    metrics.splitBrainRejections = this.splitBrain;
    metrics.invalidTokenRejections = this.invalidToken;
    metrics.ownershipConflicts = this.staleOwner + this.splitBrain + this.invalidToken +
      this.leaseHeld;
  }
}

/** The store and the simulated clock of one run. */
export class SimWorld {
  /** Simulated now, epoch ms; the store's clock reads it. */
  nowMs: number = SIM_EPOCH_MS;
  readonly rejections: Rejections = new Rejections();
  /** Rejected calls that nevertheless changed the store (must stay 0). */
  rejectedButWrote = 0;
  #run: BackendRun | undefined;

  private constructor() {}

  /** Open the run `name` on `backend`, its clock reading the world's simulated now. */
  static *open(backend: HarnessBackend, name: string): Sim<SimWorld> {
    const world = new SimWorld();
    world.#run = yield* call(() => backend.open(name, () => world.nowMs));
    return world;
  }

  /** The store (a new one after each crash). */
  get store(): EventStore {
    return this.#run!.store;
  }

  /**
   * Run an ownership call or fenced append (a call, or a {@linkcode Sim}
   * making it); an `OwnershipError` becomes a counted rejection (and is
   * checked to have written nothing), anything else propagates.
   */
  *attempt<T>(op: (() => Awaitable<T>) | Sim<T>): Sim<Attempt<T>> {
    const run = this.#run!;
    const before = yield* call(() => run.writeMark());
    try {
      return { ok: true, value: yield* (typeof op === "function" ? call(op) : op) };
    } catch (e) {
      if (!(e instanceof OwnershipError)) throw e;
      this.rejections.record(e.reason);
      if ((yield* call(() => run.writeMark())) !== before) this.rejectedButWrote++;
      return { ok: false, reason: e.reason };
    }
  }

  /** Make everything written so far survive a kill. */
  *commit(): Sim<void> {
    const run = this.#run!;
    yield* call(() => run.commit());
  }

  /** Kill the process and reopen the store on what survived (see `BackendRun.crashAndReopen`). */
  *crashAndReopen(): Sim<void> {
    const run = this.#run!;
    yield* call(() => run.crashAndReopen());
  }

  /** Close the store at the end of a run. */
  *close(): Sim<void> {
    const run = this.#run;
    if (run === undefined) return;
    this.#run = undefined;
    yield* call(() => run.close());
  }
}
