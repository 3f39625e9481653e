/**
 * The main-thread client of a store running in a dedicated worker on the
 * Origin Private File System: {@linkcode BrowserStore}, an asynchronous
 * proxy over `postMessage` that satisfies the `EventStore` contract, so UI
 * code never blocks on storage and the same app code runs on every backend.
 *
 * - Every call returns a promise; errors arrive as the same `StoreError`
 *   subclasses the store throws (`instanceof ConcurrencyError` works), with
 *   the worker's stack.
 * - `subscribe` streams across the boundary in batches with flow control:
 *   the worker sends more only as the consumer keeps up.
 * - `project` folds on the client's side (projection functions cannot cross
 *   threads), reading only events appended since the previous call, like the
 *   embedded store's cached projections.
 *
 * @module
 */

import { InvalidArgumentError, InvalidPayloadError, StoreClosedError } from "../core/errors.ts";
import { Coordinate } from "../core/coordinate.ts";
import type { EventId } from "../core/ids.ts";
import type { EventKind } from "../core/kind.ts";
import {
  checkProjectArgs,
  PROJECTION_CACHE_ENTITIES_MAX,
  ProjectionStates,
} from "../read/projection.ts";
import { encodePayload } from "../core/payload.ts";
import type { Region } from "../core/region.ts";
import type {
  AppendOptions,
  AppendReceipt,
  AsyncOwnership,
  BatchAppendItem,
  Diagnostics,
  EventSourced,
  EventStore,
  Fence,
  Freshness,
  ReadOptions,
  ReadStreamOptions,
  StoredEvent,
  SubscribeOptions,
  VerifyReport,
} from "../core/types.ts";
import {
  coordinateToWire,
  errorFromWire,
  type FromWorker,
  regionToWire,
  SUBSCRIPTION_BATCH_EVENTS,
  type ToWorker,
  WORKER_NAME,
} from "./_protocol.ts";

/** Store settings a client may pass to the worker (see `StoreConfig`). */
export interface BrowserStoreConfig {
  /** Rotate the active segment past this size. */
  segmentMaxBytes?: number;
  /** When the writer syncs. */
  sync?: { everyNEvents?: number; mode?: "data" | "all" };
  /** Write and restore the index checkpoint. */
  enableCheckpoint?: boolean;
  /** Write and restore the flat index image. */
  enableMmapIndex?: boolean;
  /** Maximum open read handles. */
  fdBudget?: number;
}

/**
 * Options of {@linkcode BrowserStore.open}.
 *
 * @example
 * ```ts ignore
 * import { BrowserStore, type BrowserStoreOptions } from "./batpak.browser.js";
 * const options: BrowserStoreOptions = { name: "notes", lockWaitMs: 2_000 };
 * const store = await BrowserStore.open(options);
 * ```
 */
export interface BrowserStoreOptions {
  /** The OPFS pool (a directory of the origin's OPFS). Default `"batpak"`. */
  name?: string;
  /** The store's directory inside the pool. Default `"/"`. */
  dataDir?: string;
  /** Store settings. */
  store?: BrowserStoreConfig;
  /** Wait this long for another tab to release the pool before `StoreLockedError`. Default 0. */
  lockWaitMs?: number;
  /** Spare files of the OPFS pool. */
  spares?: number;
  /**
   * The worker: one already running `serveStore()`, or the URL of a module
   * worker script that does. Default: this module's own bundle, started as
   * a module worker (it serves by itself when it runs as one).
   */
  worker?: Worker | string | URL;
  /** For deterministic tests: the store's clock starts here and moves only by `setClock`. */
  manualClockMs?: number;
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

interface Subscription {
  queue: StoredEvent[];
  unacked: number;
  ended: boolean;
  error?: Error;
  wake?: () => void;
}

/** A projection's cached state for one entity. */
interface ProjectionState {
  state: unknown;
  applied: boolean;
  sequence: number;
  atMs: number;
}

function structuredCloneError(err: unknown, what: string): Error {
  return (err as { name?: string })?.name === "DataCloneError"
    ? new InvalidPayloadError(
      `${what} cannot be sent to the store's worker: ${(err as Error).message}`,
      { cause: err },
    )
    : err as Error;
}

/**
 * A store in a dedicated worker, on OPFS, seen from the main thread (or any
 * other thread): every `EventStore` call as a promise over `postMessage`.
 *
 * @example
 * ```ts ignore
 * import { BrowserStore, Coordinate, EventKind, Region } from "./batpak.browser.js";
 * const store = await BrowserStore.open({ name: "notes" });
 * const added = EventKind.custom(1, 1);
 * await store.append(new Coordinate("note:1", "notes"), added, { text: "milk" });
 * await store.durable();
 * for await (const e of store.subscribe(Region.scope("notes"))) console.log(e.payload);
 * ```
 */
export class BrowserStore implements EventStore {
  /** The worker serving the store. */
  readonly worker: Worker;
  #owned: boolean;
  #next = 1;
  #pending = new Map<number, Pending>();
  #subscriptions = new Map<number, Subscription>();
  /** Keyed as the embedded store keys them: by name for a `defineProjection`, else by identity. */
  #projections = new ProjectionStates<ProjectionState>();
  #closed = false;
  #failure: Error | undefined;

  private constructor(worker: Worker, owned: boolean) {
    this.worker = worker;
    this.#owned = owned;
    worker.addEventListener("message", (e) => this.#receive(e.data as FromWorker));
    worker.addEventListener("error", (e) => {
      e.preventDefault?.();
      this.#fail(new StoreClosedError(`the store's worker failed: ${e.message ?? "error"}`));
    });
    worker.addEventListener("messageerror", () => {
      this.#fail(new StoreClosedError("a message from the store's worker could not be read"));
    });
  }

  /**
   * Start (or attach to) the worker and open the store in it. Rejects with
   * `StoreLockedError` when another tab or worker has the pool, and with the
   * store's own errors (`CorruptSegmentError`, ...) when it cannot open.
   */
  static async open(options: BrowserStoreOptions = {}): Promise<BrowserStore> {
    const given = options.worker;
    const owned = !(typeof Worker !== "undefined" && given instanceof Worker);
    const worker = owned
      ? new Worker((given as string | URL | undefined) ?? new URL(import.meta.url), {
        type: "module",
        name: WORKER_NAME,
      })
      : given as Worker;
    const client = new BrowserStore(worker, owned);
    await client.#ready();
    try {
      await client.#call("open", [{
        name: options.name,
        dataDir: options.dataDir,
        store: options.store,
        lockWaitMs: options.lockWaitMs,
        spares: options.spares,
        manualClockMs: options.manualClockMs,
      }]);
    } catch (err) {
      client.#closed = true;
      if (owned) worker.terminate();
      throw err;
    }
    return client;
  }

  #ready(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onMessage = (e: MessageEvent) => {
        if ((e.data as FromWorker)?.type !== "ready") return;
        cleanup();
        resolve();
      };
      const onError = (e: ErrorEvent) => {
        cleanup();
        reject(
          new StoreClosedError(`the store's worker did not start: ${e.message ?? "load error"}`),
        );
      };
      const cleanup = () => {
        this.worker.removeEventListener("message", onMessage);
        this.worker.removeEventListener("error", onError);
      };
      this.worker.addEventListener("message", onMessage);
      this.worker.addEventListener("error", onError);
    });
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
    for (const sub of this.#subscriptions.values()) {
      sub.ended = true;
      sub.error ??= err;
      sub.wake?.();
    }
  }

  #post(message: ToWorker, what: string): void {
    try {
      this.worker.postMessage(message);
    } catch (err) {
      throw structuredCloneError(err, what);
    }
  }

  #receive(message: FromWorker): void {
    switch (message?.type) {
      case "result": {
        const p = this.#pending.get(message.id);
        if (p === undefined) return;
        this.#pending.delete(message.id);
        if (message.ok) p.resolve(message.value);
        else p.reject(errorFromWire(message.error));
        return;
      }
      case "events": {
        const sub = this.#subscriptions.get(message.sub);
        if (sub === undefined || sub.ended) return;
        sub.queue.push(...(message.events as StoredEvent[]));
        sub.unacked++;
        this.#ack(message.sub, sub);
        sub.wake?.();
        return;
      }
      case "end": {
        const sub = this.#subscriptions.get(message.sub);
        if (sub === undefined) return;
        sub.ended = true;
        if (message.error) sub.error = errorFromWire(message.error);
        sub.wake?.();
        return;
      }
    }
  }

  /** Let the worker send more once the consumer has taken most of what arrived. */
  #ack(id: number, sub: Subscription): void {
    while (sub.unacked > 0 && sub.queue.length <= SUBSCRIPTION_BATCH_EVENTS) {
      sub.unacked--;
      this.worker.postMessage({ type: "ack", sub: id } satisfies ToWorker);
    }
  }

  #call<T>(op: string, args: unknown[]): Promise<T> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#closed && op !== "close") return Promise.reject(new StoreClosedError());
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      try {
        this.#post({ type: "call", id, op, args }, `the arguments of ${op}`);
      } catch (err) {
        this.#pending.delete(id);
        reject(err);
      }
    });
  }

  /** Append one event; resolves with its receipt. */
  append(
    coord: Coordinate,
    kind: EventKind,
    payload: unknown,
    options?: AppendOptions,
  ): Promise<AppendReceipt> {
    try {
      // The store's own payload rules, here: structured cloning would turn a class instance
      // into a plain object and run getters, hiding what the store rejects.
      encodePayload(payload);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#call("append", [coordinateToWire(coord), kind, payload, options]);
  }

  /** Append several events atomically (fsynced before it resolves). */
  appendBatch(items: BatchAppendItem[]): Promise<AppendReceipt[]> {
    let wire: unknown = items;
    try {
      if (Array.isArray(items)) {
        wire = items.map((item) => {
          if (item === null || typeof item !== "object") return item;
          encodePayload(item.payload);
          return { ...item, coord: coordinateToWire(item.coord) };
        });
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#call("appendBatch", [wire]);
  }

  /** Resolves once everything appended so far is durable (group commit in the worker). */
  durable(): Promise<void> {
    return this.#call("durable", []);
  }

  /** The event with this id (`NotFoundError` when unknown). */
  get(id: EventId): Promise<StoredEvent> {
    return this.#call("get", [id]);
  }

  /** Events of exactly this entity, with payloads. */
  readStream(entity: string, options?: ReadStreamOptions): Promise<StoredEvent[]> {
    return this.#call("readStream", [entity, options]);
  }

  /** The entity's last sequence, 0 when it has none. */
  lastSequence(entity: string): Promise<number> {
    return this.#call("lastSequence", [entity]);
  }

  /** A page of the region in global order. */
  read(region: Region, options: ReadOptions): Promise<StoredEvent[]> {
    return this.#call("read", [regionToWire(region), options]);
  }

  /** Save a named cursor position. */
  saveCursor(name: string, position: number): Promise<void> {
    return this.#call("saveCursor", [name, position]);
  }

  /** The saved position, or `undefined`. */
  loadCursor(name: string): Promise<number | undefined> {
    return this.#call("loadCursor", [name]);
  }

  /** Re-read every frame in the worker: CRCs, hash chain, index parity. */
  verify(): Promise<VerifyReport> {
    return this.#call("verify", []);
  }

  /** Open report, segments, events, entities. */
  diagnostics(): Promise<Diagnostics> {
    return this.#call("diagnostics", []);
  }

  /** A consistent copy in another directory of the pool (the worker grows the pool first). */
  snapshot(destDir: string): Promise<void> {
    return this.#call("snapshot", [destDir]);
  }

  /** Fsync now. */
  sync(): Promise<void> {
    return this.#call("sync", []);
  }

  /** Move the store's manual clock (opened with `manualClockMs`) to `nowMs`. */
  setClock(nowMs: number): Promise<void> {
    return this.#call("setClock", [nowMs]);
  }

  /** Leases and fences of a scope, each call a promise. */
  ownership(scope: string): AsyncOwnership {
    new Coordinate("scope-check", scope); // the store's rules for a scope: InvalidCoordinateError
    const call = <T>(method: string, ...args: unknown[]) =>
      this.#call<T>("ownership", [scope, method, ...args]);
    return {
      scope,
      claim: (owner: string, leaseMs: number) => call<Fence>("claim", owner, leaseMs),
      renew: (fence: Fence, leaseMs: number) => call<Fence>("renew", fence, leaseMs),
      takeover: (owner: string, observed: Fence, leaseMs: number) =>
        call<Fence>("takeover", owner, observed, leaseMs),
      release: (fence: Fence) => call<void>("release", fence),
      current: () => call<Fence | undefined>("current"),
    };
  }

  /**
   * Fold an entity's events on this side: `undefined` when it has no
   * relevant events. Repeated calls read only events appended since the
   * previous one; `{ maybeStaleMs }` returns a cached state that young
   * without asking the worker.
   */
  async project<T>(
    entity: string,
    projection: EventSourced<T>,
    freshness: Freshness = "consistent",
  ): Promise<T | undefined> {
    // The embedded store's argument checks and cache keys, so both answer alike.
    const { staleMs, kinds } = checkProjectArgs(entity, projection, freshness);
    const byEntity = this.#projections.of(projection as EventSourced<unknown>, kinds);
    const cached = byEntity.get(entity);
    if (cached !== undefined) {
      // Re-insert: Map order is the LRU order.
      byEntity.delete(entity);
      byEntity.set(entity, cached);
      if (staleMs >= 0 && Date.now() - cached.atMs <= staleMs) {
        return cached.applied ? cached.state as T : undefined;
      }
    }
    const events = await this.readStream(entity, { from: (cached?.sequence ?? 0) + 1 });
    let state = cached?.state as T;
    let applied = cached?.applied ?? false;
    try {
      for (const e of events) {
        if (kinds !== null && !kinds.has(e.kind)) continue;
        if (!applied) {
          state = projection.initial();
          applied = true;
        }
        state = projection.apply(state, e);
      }
    } catch (e) {
      // apply may have changed the cached state before failing: fold afresh next time.
      byEntity.delete(entity);
      throw e;
    }
    const sequence = events.length > 0 ? events[events.length - 1].sequence : cached?.sequence ?? 0;
    byEntity.set(entity, { state, applied, sequence, atMs: Date.now() });
    if (byEntity.size > PROJECTION_CACHE_ENTITIES_MAX) {
      byEntity.delete(byEntity.keys().next().value!);
    }
    return applied ? state : undefined;
  }

  /**
   * The region's events after `after` (default 0), then live ones, until
   * `signal` aborts (the iteration then ends cleanly) or the loop breaks.
   */
  subscribe(region: Region, options: SubscribeOptions = {}): AsyncIterable<StoredEvent> {
    return { [Symbol.asyncIterator]: () => this.#iterate(region, options) };
  }

  #iterate(region: Region, options: SubscribeOptions): AsyncIterator<StoredEvent> {
    const id = this.#next++;
    const sub: Subscription = { queue: [], unacked: 0, ended: false };
    const signal = (options as SubscribeOptions | undefined)?.signal;
    let started = false;
    let listening = false;
    const unlisten = () => {
      if (listening) signal!.removeEventListener("abort", stop);
      listening = false;
    };
    const stop = () => {
      if (sub.ended) return;
      sub.ended = true;
      sub.queue = [];
      this.#subscriptions.delete(id);
      if (!this.#closed) {
        this.worker.postMessage({ type: "unsubscribe", sub: id } satisfies ToWorker);
      }
      sub.wake?.();
    };
    const start = () => {
      started = true;
      if (options === null || typeof options !== "object") {
        throw new InvalidArgumentError(
          `subscribe: options must be an object, got ${typeof options}`,
        );
      }
      if (
        signal !== undefined &&
        (signal === null || typeof (signal as AbortSignal).addEventListener !== "function" ||
          typeof (signal as AbortSignal).aborted !== "boolean")
      ) {
        throw new InvalidArgumentError("subscribe: options.signal must be an AbortSignal");
      }
      if (signal?.aborted) {
        sub.ended = true;
        return;
      }
      if (this.#failure || this.#closed) {
        sub.ended = true;
        sub.error = this.#failure ?? new StoreClosedError();
        return;
      }
      this.#subscriptions.set(id, sub);
      signal?.addEventListener("abort", stop, { once: true });
      listening = signal !== undefined;
      this.#post(
        { type: "subscribe", sub: id, region: regionToWire(region), after: options.after },
        "the subscription's region",
      );
    };
    return {
      next: async (): Promise<IteratorResult<StoredEvent>> => {
        if (!started) start();
        while (sub.queue.length === 0 && !sub.ended) {
          await new Promise<void>((resolve) => sub.wake = resolve);
          sub.wake = undefined;
        }
        if (sub.queue.length > 0) {
          const value = sub.queue.shift()!;
          this.#ack(id, sub);
          return { done: false, value };
        }
        this.#subscriptions.delete(id);
        unlisten();
        if (sub.error && !signal?.aborted) throw sub.error;
        return { done: true, value: undefined };
      },
      return: (): Promise<IteratorResult<StoredEvent>> => {
        stop();
        unlisten();
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }

  /** Close the store (flush, fsync, sidecars), release the pool, and end the worker it started. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      if (!this.#failure) await this.#call("close", []);
    } finally {
      for (const [id, sub] of this.#subscriptions) {
        sub.ended = true;
        sub.wake?.();
        this.#subscriptions.delete(id);
      }
      if (this.#owned) this.worker.terminate();
    }
  }
}
