/**
 * The {@linkcode Store} facade: argument checks and delegation. The work is
 * below it — `src/write/` (prepare, append, batch), `src/read/` (events,
 * cursors, subscriptions, projections), `src/ownership/`, `src/ops/`
 * (verify, snapshot), over `src/engine/` (state, apply, sync policy, open,
 * the follower).
 *
 * @module
 */

import { describeValue } from "../core/describe.ts";
import { InvalidArgumentError, NotFoundError, ReadOnlyError } from "../core/errors.ts";
import { type EventId, requireId } from "../core/ids.ts";
import type { Coordinate } from "../core/coordinate.ts";
import type { EventKind, TypedKind } from "../core/kind.ts";
import { KindRegistry } from "../core/kind_registry.ts";
import { Region } from "../core/region.ts";
import type {
  AppendOptions,
  AppendReceipt,
  CheckedBatchItems,
  Cursor,
  Diagnostics,
  EventSourced,
  Freshness,
  IndexEntry,
  ReadOptions,
  ReadStreamOptions,
  ReplayedEvent,
  ReplayOptions,
  StoredEvent,
  StoreSubscribeOptions,
  VerifyReport,
} from "../core/types.ts";
import type { Engine } from "../engine/engine.ts";
import { openStoreKinds, type StoreKinds } from "../engine/kind_names.ts";
import { openEngine } from "../engine/open.ts";
import { resolveConfig, type StoreConfig } from "../engine/settings.ts";
import { refreshFollower } from "../engine/tail.ts";
import { defaultFileSystem } from "../fs/default.ts";
import type { Denial } from "../gate/denial.ts";
import { snapshotStore } from "../ops/snapshot.ts";
import { verifyStore } from "../ops/verify.ts";
import { type Ownership, OwnershipImpl } from "../ownership/ownership.ts";
import { checkCursorName, checkPosition, GuaranteedCursor } from "../read/cursor.ts";
import { type EventSource, EventText, readEvents, readOne } from "../read/events.ts";
import { ProjectionCache } from "../read/projection.ts";
import { subscribe } from "../read/subscription.ts";
import { hiddenNow, queryVisible, Visibility, visiblePostings } from "../read/visibility.ts";
import { appendOne } from "../write/append.ts";
import { appendBatch } from "../write/batch.ts";
import { appendDenial } from "../write/denial.ts";
import { deleteStream, redact, setRetention, truncateBefore } from "../write/lifecycle.ts";
import { type CompactOptions, type CompactReport, compactStore } from "../ops/compact.ts";
import type { RetentionPolicy } from "../core/lifecycle.ts";
import { readStream } from "../read/stream.ts";
import { replayEvents } from "../read/replay.ts";
import type { StoreReader } from "./reader.ts";

/** Each store's engine, for this package's tests and benchmarks only (see `_internals.ts`). */
const engines = new WeakMap<object, Engine>();

/** The engine of `store` (tests and benchmarks only; not exported from the package). */
export function engineOf(store: Store | StoreReader): Engine {
  const e = engines.get(store);
  if (e === undefined) throw new InvalidArgumentError("not a Store");
  return e;
}

function need(where: string, what: string, ok: boolean, value: unknown): void {
  if (!ok) {
    throw new InvalidArgumentError(`${where} must be ${what}, found ${describeValue(value)}`);
  }
}

function entityArg(where: string, entity: unknown): string {
  need(`${where}: entity`, "a string", typeof entity === "string", entity);
  return entity as string;
}

function regionArg(where: string, region: unknown): Region {
  need(`${where}: region`, "a Region", region instanceof Region, region);
  return region as Region;
}

function objectArg(where: string, v: unknown, optional: boolean): void {
  const ok = (optional && v === undefined) || (typeof v === "object" && v !== null);
  need(where, "an object", ok, v);
}

function count(where: string, v: unknown): number {
  need(where, "an integer ≥ 0", typeof v === "number" && Number.isSafeInteger(v) && v >= 0, v);
  return v as number;
}

/**
 * An embedded, append-only event store over segment files.
 *
 * @example Append, read back, reopen
 * ```ts
 * import { Coordinate, EventKind, Store } from "@seed/batpak";
 * const dir = Deno.makeTempDirSync();
 * const store = Store.open(dir);
 * const placed = EventKind.custom(0x1, 1);
 * const r = store.append(new Coordinate("order:1", "shop"), placed, { total: 42 });
 * console.log(r.sequence, r.globalSequence); // 1 1
 * console.log(store.get(r.eventId).payload); // { total: 42 }
 * store.close();
 * using again = Store.open(dir); // closed at the end of the scope
 * console.log(again.lastSequence("order:1")); // 1
 * ```
 */
export class Store implements StoreReader {
  readonly #e: Engine;
  readonly #source: EventSource;
  readonly #projections = new ProjectionCache();
  readonly #kinds: StoreKinds;

  private constructor(engine: Engine, kinds: StoreKinds) {
    this.#e = engine;
    this.#kinds = kinds;
    engines.set(this, engine);
    let replayText: EventText | undefined;
    this.#source = {
      kinds: kinds.registry.size > 0 ? kinds.registry : undefined,
      get index() {
        return engine.index;
      },
      get end() {
        return engine.end;
      },
      reader: engine.reader,
      decoder: engine.decoder,
      text: new EventText(),
      get replayText() {
        return replayText ??= new EventText(false);
      },
      get closed() {
        return engine.closed;
      },
      get lifecycle() {
        return engine.system.lifecycle;
      },
      visibility: new Visibility(),
      onAppend: (listener) => engine.onAppend(listener),
      now: () => engine.now(),
    };
  }

  /**
   * Open (or create) the store in `config.dataDir` (a path string = the
   * directory with defaults), restoring the index from the index image, a
   * checkpoint, or a full scan (see {@linkcode Store.diagnostics}). Throws
   * {@linkcode StoreLockedError} when another `Store` holds the directory,
   * {@linkcode CorruptSegmentError} when the log is damaged or shorter than
   * its sidecars record, and another {@linkcode StoreError} for any bad
   * config or I/O failure. With `readOnly: true` it returns a
   * {@linkcode StoreReader}: no lock, nothing on disk changes, and
   * {@linkcode Store.refresh} follows another process's appends.
   */
  static open(config: StoreConfig & { readOnly: true }): StoreReader;
  /** Open (or create) the store in `config.dataDir` (or the directory path given), writable. */
  static open(config: StoreConfig | string): Store;
  static open(config: StoreConfig | string): Store {
    const settings = resolveConfig(config, defaultFileSystem);
    const registry = KindRegistry.from(settings.kinds); // checked before anything is opened
    const engine = openEngine(settings);
    try {
      return new Store(
        engine,
        openStoreKinds(settings.fs, settings.dataDir, engine.writer === undefined, registry),
      );
    } catch (e) {
      engine.close();
      throw e;
    }
  }

  // ------------------------------------------------------------------ writes

  /**
   * Append one event; visible to every read at once, durable after the next
   * sync (every `sync.everyNEvents`, {@linkcode Store.sync},
   * {@linkcode Store.durable}, {@linkcode Store.close}). `expectedSequence`
   * is a CAS on the entity's last sequence (`ConcurrencyError`); a repeated
   * `idempotencyKey` with the same entity and kind returns the first receipt
   * (`duplicate: true`), with another entity or kind throws
   * `IdempotencyConflictError`; a stale `fence` throws `OwnershipError`. The
   * payload is read once. A rejected append writes nothing.
   *
   * With a typed kind (`EventKind.define`) the payload must have its type;
   * the store records the kind's name before its first event
   * (`KindConflictError` for a second name), and a versioned kind, which
   * must be listed in `StoreConfig.kinds`, writes its schema version.
   */
  append<P>(
    coord: Coordinate,
    kind: TypedKind<P>,
    payload: NoInfer<P>,
    options?: AppendOptions,
  ): AppendReceipt;
  /** Append one event of a plain kind (any payload). */
  append(
    coord: Coordinate,
    kind: EventKind,
    payload: unknown,
    options?: AppendOptions,
  ): AppendReceipt;
  append(
    coord: Coordinate,
    kind: EventKind | TypedKind<unknown>,
    payload: unknown,
    options?: AppendOptions,
  ): AppendReceipt {
    return appendOne(this.#e, coord, kind, payload, options, false, this.#kinds);
  }

  /**
   * Append several events atomically (all or none, also after a crash),
   * fsynced before they become visible. CAS and idempotency are checked per
   * item in order, counting earlier items; the same key twice in one batch
   * throws `IdempotencyConflictError`. If any item fails, nothing is written.
   * Items of typed kinds are checked against their own kind's payload type.
   */
  appendBatch<const T extends readonly object[]>(items: T & CheckedBatchItems<T>): AppendReceipt[] {
    return appendBatch(this.#e, items, this.#kinds);
  }

  /**
   * Record a gate's {@linkcode Denial} as a system event (entity
   * `"$denials"`, scope `"$system"`), for audit: payload `{ gate, code,
   * message, context, attempt? }`, `context` and `attempt` as `[key, value]`
   * pairs. Read it back with `Region.all().withSystem()` or `get`.
   */
  appendDenial(denial: Denial, attempt?: Readonly<Record<string, string>>): AppendReceipt {
    return appendDenial(this.#e, denial, attempt);
  }

  /** Resolves once everything appended (and every cursor saved) so far is on disk; overlapping callers share one fsync. */
  durable(): Promise<void> {
    try {
      return this.#e.durable();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Fsync now, blocking. */
  sync(): void {
    this.#e.sync();
  }

  /**
   * For a store opened with `readOnly: true`: read what another process
   * appended since the open (or the last refresh), wake subscribers, and
   * return how many events arrived. A writable store is always current: 0.
   */
  refresh(): number {
    this.#e.assertOpen();
    if (this.#e.writer !== undefined) return 0;
    this.#kinds.names.reload();
    return refreshFollower(this.#e);
  }

  /**
   * The name of a kind in this store: recorded by an append of a typed kind
   * (`EventKind.define`) or registered in `StoreConfig.kinds`; `undefined`
   * for a kind that never had one.
   */
  kindName(kind: EventKind | TypedKind<unknown>): string | undefined {
    this.#e.assertOpen();
    const code = typeof kind === "object" && kind !== null ? kind.code : kind;
    return this.#kinds.names.get(code) ?? this.#kinds.registry.get(code)?.name;
  }

  // ------------------------------------------------------------------- reads

  /** The event with this id; {@linkcode NotFoundError} when unknown. */
  get(id: EventId): StoredEvent {
    this.#e.assertOpen();
    const g = this.#e.index.findId(requireId("get: id", id));
    if (g === 0) throw new NotFoundError(`no event with id ${id}`);
    if (hiddenNow(this.#source)?.(g)) {
      const why = Visibility.reason(this.#e.index, this.#e.system.lifecycle, g, this.#e.now());
      throw new NotFoundError(`event ${id} is no longer returned: ${why}`);
    }
    return readOne(this.#source, g);
  }

  /** Every event of one entity, in sequence order (index entries; payloads via {@linkcode Store.readStream}). */
  stream(entity: string): IndexEntry[] {
    this.#e.assertOpen();
    const index = this.#e.index;
    const id = index.entities.lookup(entityArg("stream", entity));
    if (id < 0) return [];
    const gs = visiblePostings(this.#source, id);
    const out: IndexEntry[] = new Array(gs.length);
    for (let i = 0; i < gs.length; i++) out[i] = index.entry(gs[i]);
    return out;
  }

  /**
   * Events of exactly `entity`, with payloads: from sequence `from`
   * (inclusive; default the first, or the last going backwards), at most
   * `maxCount`, in `direction` order (default `"forwards"`).
   */
  readStream(entity: string, options?: ReadStreamOptions): StoredEvent[] {
    this.#e.assertOpen();
    return readStream(this.#source, entity, options);
  }

  /** The entity's last sequence (its event count), 0 when it has none. O(1). */
  lastSequence(entity: string): number {
    this.#e.assertOpen();
    const index = this.#e.index;
    return index.lastSequence(index.entities.lookup(entityArg("lastSequence", entity)));
  }

  /** Up to `limit` events of the region after global sequence `after`, with payloads, in global order. */
  read(region: Region, options: ReadOptions): StoredEvent[] {
    this.#e.assertOpen();
    objectArg("read: options", options, false);
    const { after, limit } = options;
    return readEvents(this.#source, this.#query("read", region, after, limit));
  }

  /**
   * Every event in the region, in global order (index entries). Costs what it
   * returns: entity prefixes and scopes walk their postings, not the log.
   */
  query(region: Region): IndexEntry[] {
    return this.queryAfter(region, 0, Number.MAX_SAFE_INTEGER);
  }

  /** Up to `limit` events of the region with `globalSequence > afterGlobalSequence`: a page of {@linkcode Store.query}. */
  queryAfter(region: Region, afterGlobalSequence: number, limit: number): IndexEntry[] {
    this.#e.assertOpen();
    const index = this.#e.index;
    return this.#query("queryAfter", region, afterGlobalSequence, limit, "afterGlobalSequence")
      .map((g) => index.entry(g));
  }

  #query(
    where: string,
    region: unknown,
    after: unknown,
    limit: unknown,
    afterName = "after",
  ): number[] {
    const r = regionArg(where, region);
    const a = count(`${where}: ${afterName}`, after);
    return queryVisible(this.#source, r, a, count(`${where}: limit`, limit));
  }

  /**
   * Visit every event of the region in global order, after `options.after`
   * (default 0), at most `options.limit`, as {@linkcode ReplayedEvent}s: the
   * events without their id and hash texts, checked as every read is (CRC,
   * index, hash chain). The fastest way to rebuild a read model. Visits the
   * events that exist when it starts; a deletion the visitor makes takes
   * effect at once. Returns the last visited global sequence (`after` when
   * none), which resumes it. `visit` is called synchronously: an `async`
   * one is refused at its first event (`InvalidArgumentError`).
   *
   * @example
   * ```ts
   * import { Coordinate, EventKind, Region, Store } from "@seed/batpak";
   * const store = Store.open(Deno.makeTempDirSync());
   * for (let i = 1; i <= 3; i++) store.append(new Coordinate("acct:1", "s"), EventKind.custom(1, 1), { amount: i });
   * let balance = 0;
   * const last = store.replay(Region.stream("acct:1"), (e) => balance += (e.payload as { amount: number }).amount);
   * console.log(balance, last); // 6 3
   * store.close();
   * ```
   */
  replay(region: Region, visit: (event: ReplayedEvent) => void, options?: ReplayOptions): number {
    this.#e.assertOpen();
    regionArg("replay", region);
    need("replay: visit", "a function", typeof visit === "function", visit);
    objectArg("replay: options", options, true);
    const after = checkPosition(this.#source, "replay: after", options?.after ?? 0);
    const limit = options?.limit;
    return replayEvents(
      this.#source,
      region,
      visit,
      after,
      limit === undefined ? Number.MAX_SAFE_INTEGER : count("replay: limit", limit),
    );
  }

  /**
   * A pull cursor over the region in global order, after `options.after`
   * (default 0): never skips or repeats, sees later appends. Resume after a
   * restart with {@linkcode Store.saveCursor} / {@linkcode Store.loadCursor}.
   */
  cursorGuaranteed(region: Region, options?: { after?: number }): Cursor {
    this.#e.assertOpen();
    regionArg("cursorGuaranteed", region);
    objectArg("cursorGuaranteed: options", options, true);
    const after = checkPosition(this.#source, "cursorGuaranteed: after", options?.after ?? 0);
    return new GuaranteedCursor(this.#source, region, after);
  }

  /**
   * Save `position` (a global sequence, at most the last) as the named
   * cursor's position. Kept beside the log, not in it: no event, and saving
   * after every poll does not grow the log. Durable with the next sync.
   */
  saveCursor(name: string, position: number): void {
    const e = this.#e;
    e.assertOpen();
    if (e.writer === undefined) throw new ReadOnlyError();
    const n = checkCursorName(name, "saveCursor");
    e.cursors.save(n, checkPosition(this.#source, "saveCursor: position", position));
  }

  /** The position last saved for the named cursor, or `undefined`. */
  loadCursor(name: string): number | undefined {
    this.#e.assertOpen();
    const n = checkCursorName(name, "loadCursor");
    return this.#e.cursors.get(n) ?? this.#e.system.cursors.get(n);
  }

  /**
   * Live events of the region: catches up from the log after
   * `options.after`, then delivers new events as they are appended, with no
   * gap and no duplicate. Ends on `options.signal` abort, on
   * {@linkcode Store.close}, or when the loop breaks.
   * `options.onCaughtUp(position)` is called once per iteration, when
   * catch-up ends: after the last historical event, before the first live
   * one (at once when there is no history).
   */
  subscribe(region: Region, options?: StoreSubscribeOptions): AsyncIterable<StoredEvent> {
    this.#e.assertOpen();
    return subscribe(this.#source, regionArg("subscribe", region), options);
  }

  /**
   * Fold an entity's events (only `projection.kinds`, when given) into a
   * state, cached per projection and entity: a later call applies only
   * events appended since. A projection from `defineProjection(name, …)` is
   * cached by its name (an inline definition is cached too); any other by
   * object identity (an inline `{ initial, apply }` literal folds afresh on
   * every call). `undefined` when the entity has no relevant events.
   */
  project<T>(
    entity: string,
    projection: EventSourced<T>,
    freshness: Freshness = "consistent",
  ): T | undefined {
    this.#e.assertOpen();
    return this.#projections.project(this.#source, entity, projection, freshness);
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Delete `entity`'s stream, for good: from now on no read returns its
   * events (`get` throws {@linkcode NotFoundError}; `stream`, `readStream`,
   * `query`, cursors, subscriptions and projections leave them out),
   * {@linkcode Store.lastSequence} keeps its last sequence, and appending to
   * it throws `StreamDeletedError` (a retry of an earlier append by
   * its idempotency key still returns the first receipt). Durable when it
   * returns (a system event, fsynced). {@linkcode Store.compact} then erases
   * the payloads from the files. Deleting again does nothing.
   *
   * @example
   * ```ts
   * import { Coordinate, EventKind, Store } from "@seed/batpak";
   * using store = Store.open(Deno.makeTempDirSync());
   * store.append(new Coordinate("user:7", "crm"), EventKind.custom(1, 1), { email: "a@b.c" });
   * store.deleteStream("user:7");
   * console.log(store.readStream("user:7").length, store.lastSequence("user:7")); // 0 1
   * ```
   */
  deleteStream(entity: string): void {
    this.#e.assertOpen();
    deleteStream(this.#e, entity);
  }

  /**
   * Stop returning `entity`'s events with a sequence below `sequence` (from
   * 1 to its last sequence + 1; a lower value than an earlier truncation
   * does nothing). Appends continue at `lastSequence + 1`. Durable when it
   * returns; {@linkcode Store.compact} erases the payloads.
   *
   * @example
   * ```ts
   * import { Coordinate, EventKind, Store } from "@seed/batpak";
   * using store = Store.open(Deno.makeTempDirSync());
   * const c = new Coordinate("log:1", "ops");
   * for (let i = 1; i <= 5; i++) store.append(c, EventKind.custom(1, 1), { i });
   * store.truncateBefore("log:1", 4);
   * console.log(store.readStream("log:1").map((e) => e.sequence)); // [ 4, 5 ]
   * ```
   */
  truncateBefore(entity: string, sequence: number): void {
    this.#e.assertOpen();
    truncateBefore(this.#e, entity, sequence);
  }

  /**
   * Set `scope`'s retention: its events older than `maxAgeMs` (by the store
   * clock, at each read) and those not among their entity's last `maxCount`
   * (by sequence) are no longer returned. An empty policy removes it. Until
   * {@linkcode Store.compact} erases them, removing the policy brings the
   * events back; after it, they come back as redacted (no payload).
   *
   * @example
   * ```ts
   * import { Coordinate, EventKind, Store } from "@seed/batpak";
   * using store = Store.open(Deno.makeTempDirSync());
   * const c = new Coordinate("sensor:1", "metrics");
   * for (let i = 1; i <= 5; i++) store.append(c, EventKind.custom(1, 1), { i });
   * store.setRetention("metrics", { maxCount: 2 });
   * console.log(store.readStream("sensor:1").map((e) => e.sequence)); // [ 4, 5 ]
   * ```
   */
  setRetention(scope: string, policy: RetentionPolicy): void {
    this.#e.assertOpen();
    setRetention(this.#e, scope, policy);
  }

  /**
   * Remove an event's payload for good: reads return it with `payload:
   * undefined` and `redacted: true`, its hashes and place in the stream are
   * kept, and {@linkcode Store.verify} still proves the chain. Durable when it
   * returns; {@linkcode Store.compact} erases the payload bytes from the
   * files. `reason` (at most 1024 UTF-8 bytes) is kept in the redaction's
   * system event.
   *
   * @example
   * ```ts
   * import { Coordinate, EventKind, Store } from "@seed/batpak";
   * using store = Store.open(Deno.makeTempDirSync());
   * const r = store.append(new Coordinate("user:1", "crm"), EventKind.custom(1, 1), { ssn: "x" });
   * store.redact(r.eventId, "GDPR request 42");
   * const e = store.get(r.eventId);
   * console.log(e.payload, e.redacted, store.verify().ok); // undefined true true
   * ```
   */
  redact(eventId: EventId, reason?: string): void {
    this.#e.assertOpen();
    redact(this.#e, eventId, reason);
  }

  /**
   * Rewrite sealed segments (sealing the active one first when it holds
   * something to erase) without the payload bytes of deleted, truncated,
   * expired and redacted events, and reclaim the space. The events stay as
   * headers with their hashes: global order, cursors, subscriptions and
   * `verify()` are unaffected. Crash-safe at every step; appends and reads
   * run between segments. A read-only follower in another process must
   * reopen after a compaction.
   *
   * @example
   * ```ts
   * import { Coordinate, EventKind, Store } from "@seed/batpak";
   * using store = Store.open(Deno.makeTempDirSync());
   * const c = new Coordinate("user:9", "crm");
   * store.append(c, EventKind.custom(1, 1), { secret: "x".repeat(1000) });
   * store.deleteStream("user:9");
   * const report = await store.compact({ onProgress: (done, total) => console.log(done, total) });
   * console.log(report.eventsDropped, report.bytesAfter < report.bytesBefore); // 1 true
   * ```
   */
  compact(options?: CompactOptions): Promise<CompactReport> {
    try {
      this.#e.assertOpen();
      return compactStore(this.#e, options);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  // --------------------------------------------------------------- operations

  /**
   * Write a consistent point-in-time copy into `destDir` (must not exist or
   * be empty), fsynced, with an index image; it opens as a store only once
   * complete. Appends wait until it is done.
   */
  snapshot(destDir: string): void {
    this.#e.assertOpen();
    snapshotStore(this.#e, destDir, [this.#kinds.names]);
  }

  /**
   * Re-read every frame and check CRCs, batch markers, hashes and the hash
   * chain, the gapless global sequence, and that the index matches the log.
   * Problems are reported with file and offset, not thrown.
   */
  verify(options?: { onProgress?: (checked: number, total: number) => void }): VerifyReport {
    const e = this.#e;
    e.assertOpen();
    if (e.writer === undefined) refreshFollower(e);
    return verifyStore({
      fs: e.fs,
      dataDir: e.dataDir,
      segments: e.segments,
      end: e.end,
      index: e.index,
      system: e.system,
      decoder: e.decoder,
      following: e.writer === undefined,
      flush: () => e.writer?.flush(),
    }, options);
  }

  /** The ownership (lease and fence) handle of a scope. */
  ownership(scope: string): Ownership {
    const e = this.#e;
    e.assertOpen();
    return new OwnershipImpl({
      get system() {
        return e.system;
      },
      get closed() {
        return e.closed;
      },
      now: () => e.now(),
      random: (bytes) => e.settings.random(bytes),
      appendSystem: (coord, kind, payload) => {
        appendOne(e, coord, kind, payload, undefined, true);
      },
    }, scope);
  }

  /** How the index was restored, and the log's size. */
  diagnostics(): Diagnostics {
    const e = this.#e;
    const report = e.openReport;
    return {
      openReport: { ...report, rejectedSidecars: [...report.rejectedSidecars] },
      segments: e.segments.length,
      events: e.index.count,
      entities: e.index.entities.names.length,
      lifecycle: {
        deletedStreams: e.system.lifecycle.deleted.size,
        truncatedStreams: e.system.lifecycle.truncated.size,
        retentionPolicies: e.system.lifecycle.retention.size,
        redactedEvents: e.system.lifecycle.redacted.size,
      },
    };
  }

  /** Flush, fsync, write the index image, release the directory lock. Idempotent. */
  close(): void {
    try {
      this.#e.close();
    } finally {
      this.#kinds.names.close();
    }
  }

  /** `using store = Store.open(dir)` closes it at the end of the scope. */
  [Symbol.dispose](): void {
    this.close();
  }
}
