/**
 * A simulated world for one scenario run: the real store on an in-memory
 * file system, a simulated clock, and the bookkeeping every scenario shares
 * (rejection counts, "a rejected call wrote nothing" checks).
 *
 * @module
 */

import { MemoryFileSystem, OwnershipError, type OwnershipRejection, Store } from "./_public.ts";
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

/** The store, its file system and the simulated clock of one run. */
export class SimWorld {
  /** Simulated now, epoch ms; the store's clock reads it. */
  nowMs: number = SIM_EPOCH_MS;
  fs: MemoryFileSystem = new MemoryFileSystem();
  store: Store;
  readonly rejections: Rejections = new Rejections();
  /** Rejected calls that nevertheless changed the log (must stay 0). */
  rejectedButWrote = 0;
  readonly #dataDir: string;
  readonly #syncEveryNEvents: number | undefined;

  constructor(dataDir: string, syncEveryNEvents?: number) {
    this.#dataDir = dataDir;
    this.#syncEveryNEvents = syncEveryNEvents;
    this.store = this.#open();
  }

  #open(): Store {
    return Store.open({
      dataDir: this.#dataDir,
      fs: this.fs,
      clock: () => this.nowMs,
      sync: this.#syncEveryNEvents === undefined ? undefined : {
        everyNEvents: this.#syncEveryNEvents,
      },
    });
  }

  /** Events in the log (all kinds). */
  events(): number {
    return this.store.diagnostics().events;
  }

  /**
   * Run an ownership call or fenced append; an `OwnershipError` becomes a
   * counted rejection (and is checked to have written nothing), anything
   * else propagates.
   */
  attempt<T>(fn: () => T): Attempt<T> {
    const before = this.events();
    try {
      return { ok: true, value: fn() };
    } catch (e) {
      if (!(e instanceof OwnershipError)) throw e;
      this.rejections.record(e.reason);
      if (this.events() !== before) this.rejectedButWrote++;
      return { ok: false, reason: e.reason };
    }
  }

  /**
   * Kill the process: the file system keeps only what was synced (no torn
   * writes), the old store is abandoned unclosed, and a new store opens on
   * what survived.
   */
  crashAndReopen(): void {
    this.fs = this.fs.crash();
    this.store = this.#open();
  }

  /** Close the store at the end of a run. */
  close(): void {
    this.store.close();
  }
}
