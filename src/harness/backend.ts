/**
 * The harness's storage port: what a backend provides so the M37 scenarios
 * run on it. A run gets an empty store speaking the `EventStore` contract
 * with the run's simulated clock, plus the four things the contract does
 * not say: make the writes so far survive a kill (`commit`), kill and
 * reopen, detect that a call wrote anything (`writeMark`), and close.
 *
 * {@linkcode embeddedBackend} is the real `Store` on an in-memory file
 * system (what `runScenario` uses). The PostgreSQL backend lives beside the
 * PostgreSQL tests (`tests/fixtures/pg/harness_backend.ts`): the harness
 * imports no backend but the embedded one.
 *
 * @module
 */

import { type Awaitable, type EventStore, MemoryFileSystem, Store } from "./_public.ts";

/** One scenario run's store on a backend. */
export interface BackendRun {
  /** The store; a new one after each {@linkcode BackendRun.crashAndReopen}. */
  readonly store: EventStore;
  /** Make everything written so far survive a kill (the embedded store fsyncs). */
  commit(): Awaitable<void>;
  /**
   * A value that changes whenever the store writes anything a scenario
   * could observe: events, leases and fences, cursor positions. Compared
   * before and after a rejected call, which must have written nothing.
   */
  writeMark(): Awaitable<string>;
  /**
   * Kill the process between two calls: the store is abandoned (never
   * closed), and a new one opens on what survived (what was committed; a
   * backend may keep more).
   */
  crashAndReopen(): Awaitable<void>;
  /** Close the store and release what the run holds (a backend may delete the run's data). */
  close(): Awaitable<void>;
}

/** Where scenarios run: opens one empty store per run. */
export interface HarnessBackend {
  /** Short name, for reports (`"embedded"`, `"postgres"`). */
  readonly name: string;
  /**
   * An empty store for the run `name` (unique within one matrix run, e.g.
   * `/m37/lease_renewal_contention`), whose clock is `clock` (simulated epoch
   * ms): event timestamps and lease expiry both read it.
   */
  open(name: string, clock: () => number): Awaitable<BackendRun>;
}

class EmbeddedRun implements BackendRun {
  #fs = new MemoryFileSystem();
  #store: Store;
  readonly #dataDir: string;
  readonly #clock: () => number;

  constructor(dataDir: string, clock: () => number) {
    this.#dataDir = dataDir;
    this.#clock = clock;
    this.#store = this.#open();
  }

  #open(): Store {
    return Store.open({ dataDir: this.#dataDir, fs: this.#fs, clock: this.#clock });
  }

  get store(): EventStore {
    return this.#store;
  }

  commit(): void {
    this.#store.sync();
  }

  /** Fence changes are system events here, so the event count moves with every write. */
  writeMark(): string {
    return String(this.#store.diagnostics().events);
  }

  /** The file system keeps only what was synced (no torn writes); the old store is abandoned. */
  crashAndReopen(): void {
    this.#fs = this.#fs.crash();
    this.#store = this.#open();
  }

  close(): void {
    this.#store.close();
  }
}

/**
 * The real embedded `Store` on a fresh in-memory file system per run, with
 * the run's clock. Every call returns synchronously, so scenarios on it run
 * with no event loop at all.
 */
export function embeddedBackend(): HarnessBackend {
  return {
    name: "embedded",
    open: (name, clock) => new EmbeddedRun(name, clock),
  };
}
