/**
 * {@linkcode PostgresStore}: the `EventStore` contract on a PostgreSQL
 * server, for many processes on many machines writing one store.
 *
 * @module
 */

import postgres, { holdWriteRaceGuard } from "./_driver.ts";
import { InvalidArgumentError, NotFoundError, StoreClosedError } from "../core/errors.ts";
import type { Coordinate } from "../core/coordinate.ts";
import type { EventId } from "../core/ids.ts";
import type { EventKind } from "../core/kind.ts";
import { Region } from "../core/region.ts";
import type {
  AppendOptions,
  AppendReceipt,
  AsyncOwnership,
  BatchAppendItem,
  EventSourced,
  EventStore,
  Freshness,
  ReadOptions,
  ReadStreamOptions,
  StoredEvent,
  SubscribeOptions,
  VerifyReport,
} from "../core/types.ts";
import { type AppendContext, GroupCommitter } from "./_append.ts";
import { describeValue, IdGenerator, readClock, requireId } from "./_engine.ts";
import { isConnectionLoss, storeErrorOf } from "./_errors.ts";
import { PostgresOwnership } from "./_ownership.ts";
import { ProjectionCache } from "./_project.ts";
import { EVENT_COLUMNS, eventOf, type EventRow, regionCondition } from "./_rows.ts";
import { subscription, WakeHub } from "./_subscribe.ts";
import {
  checkCountArg,
  checkCursorName,
  checkEntityArg,
  checkPositionArg,
  couldBeName,
  prepareBatch,
  prepareItem,
} from "./_validate.ts";
import { verifyEvents } from "./_verify.ts";
import { checkTransactionIds } from "./_xid.ts";
import { migrate, requireSchema, SCHEMA_VERSION } from "./migrations.ts";
import { type PostgresStoreOptions, resolveOptions, type Settings } from "./options.ts";

/** Events fetched per round trip by reads that return more (readStream, read). */
export const READ_PAGE_EVENTS = 1000;
/** Longest NOTIFY channel name (an identifier). */
const CHANNEL_BYTES_MAX = 63;

type Sql = postgres.Sql;

/**
 * What {@linkcode PostgresStore.diagnostics} reports.
 *
 * @example
 * ```ts
 * import type { PostgresDiagnostics } from "@seed/batpak/postgres";
 * const d: PostgresDiagnostics = {
 *   server: "postgres://app@db:5432/app?schema=shop",
 *   schema: "shop",
 *   schemaVersion: 1,
 *   clientSchemaVersion: 1,
 *   events: 3,
 *   entities: 1,
 *   cursors: 0,
 *   leases: 0,
 *   lastGlobalSequence: 196611,
 *   firstTimestampMs: 1_700_000_000_000,
 *   lastTimestampMs: 1_700_000_000_500,
 *   tableBytes: 98_304,
 * };
 * console.log(d.events / d.entities); // 3
 * ```
 */
export interface PostgresDiagnostics {
  /** The server and schema, without the password. */
  server: string;
  /** The PostgreSQL schema holding the store. */
  schema: string;
  /** The highest migration the schema records (`schema_migrations`). */
  schemaVersion: number;
  /** The version this client reads and writes (`SCHEMA_VERSION`). */
  clientSchemaVersion: number;
  /** Committed events. */
  events: number;
  /** Entities with at least one event (rows of `streams`). */
  entities: number;
  /** Saved cursor positions. */
  cursors: number;
  /** Scopes that ever had a lease (rows of `leases`, released ones too). */
  leases: number;
  /** The largest committed global position, 0 when empty (positions have gaps: not a count). */
  lastGlobalSequence: number;
  /** Time of the first event in global order, `undefined` when empty. */
  firstTimestampMs: number | undefined;
  /** Time of the last event in global order, `undefined` when empty. */
  lastTimestampMs: number | undefined;
  /** Bytes of the schema's tables with their indexes and TOAST (`pg_total_relation_size`). */
  tableBytes: number;
}

/**
 * The event store on PostgreSQL. Same contract, errors and semantics as the
 * embedded `Store` — CAS, idempotency, atomic batches, the per-entity hash
 * chain, fences, cursors, projections — with every method returning a
 * promise. Any number of processes may connect to one schema and append
 * concurrently.
 *
 * What differs from the embedded store:
 * - `globalSequence` is strictly increasing in the order every consumer
 *   sees events, and no consumer ever skips or repeats one, however many
 *   processes write; but it has **gaps**: it is `(transaction id − base) ×
 *   65536 + item + 1`, so positions jump between transactions. Compare
 *   positions, never count them.
 * - An event reaches `read` and `subscribe` once every older transaction on
 *   the server has finished (that is what makes the order gapless), so one
 *   long transaction anywhere on the server delays consumers (never
 *   reorders them). A client's own appends are visible to its own reads
 *   (they wait up to `visibilityWaitMs`).
 * - Each append is a round trip and a commit (≈ 1 ms on a local server);
 *   `durable()` has nothing left to do once appends resolved.
 * - `eventHash` covers the embedded event body with its 32-bit
 *   `globalSequence` field set to 0 (see `verify`).
 *
 * @example
 * ```ts ignore
 * import { Coordinate, EventKind, Region } from "@seed/batpak";
 * import { PostgresStore } from "@seed/batpak/postgres";
 *
 * const store = await PostgresStore.connect({ url: Deno.env.get("DATABASE_URL")!, schema: "shop" });
 * const placed = EventKind.custom(0x1, 1);
 * await store.append(new Coordinate("order:1", "shop"), placed, { sku: "apple" }, {
 *   expectedSequence: 0,
 *   idempotencyKey: "order-1-placed",
 * });
 * const page = await store.read(Region.scope("shop"), { after: 0, limit: 100 });
 * console.log(page.length); // 1
 * await store.close();
 * ```
 */
export class PostgresStore implements EventStore {
  readonly #s: Settings;
  readonly #sql: Sql;
  /** Releases this store's hold on the postgres.js write-race guard (see `_driver.ts`). */
  readonly #releaseGuard: () => void;
  readonly #xidBase: bigint;
  /** The highest transaction id the store had used at connect (see `_xid.ts`). */
  readonly #xidFloor: bigint;
  readonly #ids = new IdGenerator();
  readonly #hub: WakeHub;
  readonly #projections = new ProjectionCache();
  readonly #channel: string;
  readonly #table: string;
  readonly #inFlight = new Set<Promise<unknown>>();
  #closed = false;
  /** The newest transaction id this client committed events in. */
  #lastXid: bigint | undefined;
  /** The highest `pg_snapshot_xmin` this client has seen. */
  #seenXmin = 0n;
  #notifying: Promise<void> | undefined;
  #notifyAgain = false;
  readonly #committer: GroupCommitter;

  private constructor(
    s: Settings,
    sql: Sql,
    xidBase: bigint,
    xidFloor: bigint,
    releaseGuard: () => void,
  ) {
    this.#releaseGuard = releaseGuard;
    this.#s = s;
    this.#sql = sql;
    this.#xidBase = xidBase;
    this.#xidFloor = xidFloor;
    this.#channel = `batpak_${s.schema}`.slice(0, CHANNEL_BYTES_MAX);
    this.#table = `${s.schema}.events`;
    this.#hub = new WakeHub(sql, this.#channel, s.pollIntervalMs);
    this.#committer = new GroupCommitter(this.#appendContext(), s.committers);
  }

  /**
   * Connect (a pool of `poolSize` connections), create the schema or
   * migrate it to this version, and return the store. Throws
   * `InvalidArgumentError` for bad options and `IoError` when the server
   * cannot be reached (naming it, without the password).
   *
   * @example
   * ```ts ignore
   * import { PostgresStore } from "@seed/batpak/postgres";
   * const store = await PostgresStore.connect({
   *   url: "postgres://app:secret@127.0.0.1:5432/app",
   *   schema: "orders",
   *   poolSize: 20,
   * });
   * await store.close();
   * ```
   */
  static async connect(options: PostgresStoreOptions): Promise<PostgresStore> {
    const s = resolveOptions(options);
    // Until close: a server that drops a connection must not end the process (see _driver.ts).
    const releaseGuard = holdWriteRaceGuard();
    const sql = postgres(s.url, {
      max: s.poolSize,
      connect_timeout: Math.max(1, Math.ceil(s.connectTimeoutMs / 1000)),
      idle_timeout: 60,
      onnotice: () => {},
      connection: {
        application_name: s.applicationName,
        search_path: s.schema,
        statement_timeout: s.statementTimeoutMs,
        // A client that stalls inside a transaction holds every consumer back: cut it off.
        idle_in_transaction_session_timeout: s.statementTimeoutMs,
      },
    });
    let xidBase: bigint;
    let xidFloor: bigint;
    try {
      xidBase = s.create
        ? await migrate(sql, s.schema)
        : await requireSchema(sql, s.schema, s.where);
      // A schema restored into another cluster: its transaction ids went back (see _xid.ts).
      xidFloor = await checkTransactionIds(sql, s.schema, xidBase, s.where);
    } catch (e) {
      await sql.end({ timeout: 1 }).catch(() => {});
      releaseGuard();
      throw storeErrorOf(
        e,
        s.create ? "connect (create or migrate the schema)" : "connect (read the schema)",
        s.where,
      );
    }
    return new PostgresStore(s, sql, xidBase, xidFloor, releaseGuard);
  }

  /** The PostgreSQL schema holding this store. */
  get schema(): string {
    return this.#s.schema;
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError();
  }

  /** Run a read statement; one transparent retry when the connection was lost. */
  async #query<T>(name: string, run: () => Promise<T>): Promise<T> {
    this.#assertOpen();
    try {
      return await run();
    } catch (e) {
      if (!this.#closed && isConnectionLoss(e)) {
        try {
          return await run();
        } catch (again) {
          throw storeErrorOf(again, name, this.#s.where);
        }
      }
      throw storeErrorOf(e, name, this.#s.where);
    }
  }

  #leaseNow = (): postgres.PendingQuery<postgres.Row[]> | number => {
    return this.#s.clock
      ? readClock(this.#s.clock)
      : this.#sql`(extract(epoch from clock_timestamp()) * 1000)`;
  };

  #appendContext(): AppendContext {
    return {
      sql: this.#sql,
      schema: this.#s.schema,
      where: this.#s.where,
      table: this.#table,
      xidBase: this.#xidBase,
      xidFloor: () =>
        this.#lastXid !== undefined && this.#lastXid > this.#xidFloor
          ? this.#lastXid
          : this.#xidFloor,
      ids: this.#ids,
      clock: this.#s.clock ?? Date.now,
      leaseNow: this.#leaseNow,
      channel: this.#channel,
      afterTransaction: (xid, notified) => {
        if (xid !== undefined && (this.#lastXid === undefined || xid > this.#lastXid)) {
          this.#lastXid = xid;
        }
        if (notified) this.#hub.wake();
        else this.#notify();
      },
    };
  }

  /**
   * Wake every subscriber of the schema (coalesced: one NOTIFY in flight at a
   * time): after a transaction that rolled back with a transaction id, which
   * may have held consumers back. A commit notifies on its own connection.
   */
  #notify(): void {
    if (this.#closed) return;
    this.#hub.wake(); // this client's own subscribers, at once
    if (this.#notifying) {
      this.#notifyAgain = true;
      return;
    }
    this.#notifying = this.#sql`
      SELECT set_config('synchronous_commit', 'off', true), pg_notify(${this.#channel}, '')`
      .then(() => {}, () => {})
      .finally(() => {
        this.#notifying = undefined;
        if (this.#notifyAgain) {
          this.#notifyAgain = false;
          this.#notify();
        }
      });
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#inFlight.add(p);
    p.then(() => this.#inFlight.delete(p), () => this.#inFlight.delete(p));
    return p;
  }

  /**
   * Append one event in its own transaction. Same options and errors as
   * the embedded `Store.append`; resolves once committed (durable).
   *
   * @example
   * ```ts ignore
   * import { Coordinate, EventKind } from "@seed/batpak";
   * import { PostgresStore } from "@seed/batpak/postgres";
   * const store = await PostgresStore.connect({ url: Deno.env.get("DATABASE_URL")! });
   * const r = await store.append(new Coordinate("a", "s"), EventKind.custom(1, 1), { n: 1 });
   * console.log(r.sequence); // 1
   * await store.close();
   * ```
   */
  append(
    coord: Coordinate,
    kind: EventKind,
    payload: unknown,
    options?: AppendOptions,
  ): Promise<AppendReceipt> {
    try {
      this.#assertOpen();
      const item = prepareItem(coord, kind, payload, options, "append");
      return this.#track(this.#committer.submit([item]).then((r) => r[0]));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Append several events atomically, in one transaction: all or none.
   * CAS, idempotency and fences are checked per item in order, counting
   * earlier items; a key used twice in the batch is an
   * `IdempotencyConflictError`.
   */
  appendBatch(items: BatchAppendItem[]): Promise<AppendReceipt[]> {
    try {
      this.#assertOpen();
      const prepared = prepareBatch(items);
      return this.#track(this.#committer.submit(prepared));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Resolves once every append started so far has settled (a commit is durable). */
  async durable(): Promise<void> {
    this.#assertOpen();
    await Promise.allSettled([...this.#inFlight]);
  }

  /** The event with this id; `NotFoundError` when there is none. */
  async get(id: EventId): Promise<StoredEvent> {
    this.#assertOpen();
    requireId("get: id", id);
    const rows = await this.#query(
      "get",
      () =>
        this.#sql`SELECT ${
          this.#sql.unsafe(EVENT_COLUMNS)
        } FROM events WHERE event_id = ${id}::uuid`,
    );
    if (rows.length === 0) throw new NotFoundError(`no event with id ${id}`);
    return eventOf(rows[0] as unknown as EventRow, this.#table);
  }

  /** Events of exactly `entity`, from `from`, at most `maxCount`, in `direction` order. */
  async readStream(entity: string, options?: ReadStreamOptions): Promise<StoredEvent[]> {
    this.#assertOpen();
    checkEntityArg("readStream", entity);
    if (options !== undefined && (typeof options !== "object" || options === null)) {
      throw new InvalidArgumentError(
        `readStream: options must be an object, found ${describeValue(options)}`,
      );
    }
    const { from, maxCount, direction = "forwards" } = options ?? {};
    if (direction !== "forwards" && direction !== "backwards") {
      throw new InvalidArgumentError(
        `readStream: direction must be "forwards" or "backwards", found ${
          describeValue(direction)
        }`,
      );
    }
    if (from !== undefined && (!Number.isSafeInteger(from) || from < 1)) {
      throw new InvalidArgumentError(
        `readStream: from must be an integer ≥ 1, found ${describeValue(from)}`,
      );
    }
    if (maxCount !== undefined) checkCountArg("readStream: maxCount", maxCount);
    if (!couldBeName(entity) || entity.length === 0) return [];
    const out: StoredEvent[] = [];
    const want = maxCount ?? Number.MAX_SAFE_INTEGER;
    const forwards = direction === "forwards";
    let edge = forwards ? (from ?? 1) - 1 : (from ?? Number.MAX_SAFE_INTEGER) + 1;
    while (out.length < want) {
      const n = Math.min(READ_PAGE_EVENTS, want - out.length);
      const rows = await this.#query(
        "readStream",
        () =>
          forwards
            ? this.#sql`SELECT ${this.#sql.unsafe(EVENT_COLUMNS)} FROM events
              WHERE entity = ${entity} AND sequence > ${edge} ORDER BY sequence LIMIT ${n}`
            : this.#sql`SELECT ${this.#sql.unsafe(EVENT_COLUMNS)} FROM events
              WHERE entity = ${entity} AND sequence < ${edge} ORDER BY sequence DESC LIMIT ${n}`,
      );
      for (const r of rows) out.push(eventOf(r as unknown as EventRow, this.#table));
      if (rows.length < n) break;
      edge = out[out.length - 1].sequence;
    }
    return out;
  }

  /** The entity's last sequence, 0 when it has none. */
  async lastSequence(entity: string): Promise<number> {
    this.#assertOpen();
    checkEntityArg("lastSequence", entity);
    if (!couldBeName(entity) || entity.length === 0) return 0;
    const rows = await this.#query(
      "lastSequence",
      () => this.#sql`SELECT last_sequence::float8 AS last FROM streams WHERE entity = ${entity}`,
    );
    return rows.length === 0 ? 0 : rows[0].last as number;
  }

  /**
   * Wait (up to `visibilityWaitMs`) until every transaction older than this
   * client's last append has finished, so its own events are in the global order.
   */
  async #awaitOwnWrites(): Promise<void> {
    const target = this.#lastXid;
    if (target === undefined || this.#seenXmin > target) return;
    const deadline = performance.now() + this.#s.visibilityWaitMs;
    for (let delayMs = 1;; delayMs = Math.min(delayMs * 2, 50)) {
      const [row] = await this.#query(
        "read (wait for own appends)",
        () => this.#sql`SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin`,
      );
      const xmin = BigInt(row.xmin as string);
      if (xmin > this.#seenXmin) this.#seenXmin = xmin;
      if (xmin > target || performance.now() >= deadline) return;
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }

  /** One page of the region in global order, only transactions below every snapshot's xmin. */
  async #page(region: Region, after: number, limit: number): Promise<StoredEvent[]> {
    await this.#awaitOwnWrites();
    const where = regionCondition(this.#sql, region);
    const rows = await this.#query(
      "read",
      () =>
        this.#sql`SELECT ${this.#sql.unsafe(EVENT_COLUMNS)} FROM events
        WHERE global_position > ${after} AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
          AND ${where}
        ORDER BY global_position LIMIT ${limit}`,
    );
    return rows.map((r) => eventOf(r as unknown as EventRow, this.#table));
  }

  /**
   * The last `count` events of the region, oldest first, in the global
   * order consumers see (only transactions below every snapshot's xmin, as
   * {@linkcode PostgresStore.read}). Subscribing after the last one's
   * `globalSequence` then follows the region without a gap: what
   * `batpak tail` does. One statement, newest first through the position
   * index, however long the log.
   *
   * @example
   * ```ts ignore
   * import { Region } from "@seed/batpak";
   * import { PostgresStore } from "@seed/batpak/postgres";
   * const store = await PostgresStore.connect({ url: Deno.env.get("DATABASE_URL")! });
   * const last = await store.readLast(Region.entity("order:"), 10);
   * for await (const e of store.subscribe(Region.entity("order:"), {
   *   after: last.at(-1)?.globalSequence ?? 0,
   * })) console.log(e.entity, e.sequence);
   * ```
   */
  async readLast(region: Region, count: number): Promise<StoredEvent[]> {
    this.#assertOpen();
    if (!(region instanceof Region)) {
      throw new InvalidArgumentError(
        `readLast: region must be a Region, found ${describeValue(region)}`,
      );
    }
    const n = checkCountArg("readLast: count", count);
    if (n === 0) return [];
    await this.#awaitOwnWrites();
    const where = regionCondition(this.#sql, region);
    const rows = await this.#query(
      "readLast",
      () =>
        this.#sql`SELECT ${this.#sql.unsafe(EVENT_COLUMNS)} FROM events
        WHERE tx_id < pg_snapshot_xmin(pg_current_snapshot()) AND ${where}
        ORDER BY global_position DESC LIMIT ${n}`,
    );
    return rows.map((r) => eventOf(r as unknown as EventRow, this.#table)).reverse();
  }

  /**
   * Up to `limit` events of the region after global position `after`, in
   * global order: a page of a catch-up read that never skips an event
   * (pass the last event's `globalSequence` as the next `after`).
   */
  async read(region: Region, options: ReadOptions): Promise<StoredEvent[]> {
    this.#assertOpen();
    if (!(region instanceof Region)) {
      throw new InvalidArgumentError(
        `read: region must be a Region, found ${describeValue(region)}`,
      );
    }
    if (typeof options !== "object" || options === null) {
      throw new InvalidArgumentError(
        `read: options must be { after, limit }, found ${describeValue(options)}`,
      );
    }
    let after = checkPositionArg("read: after", options.after);
    const limit = checkCountArg("read: limit", options.limit);
    const out: StoredEvent[] = [];
    while (out.length < limit) {
      const n = Math.min(READ_PAGE_EVENTS, limit - out.length);
      const page = await this.#page(region, after, n);
      out.push(...page);
      if (page.length < n) break;
      after = page[page.length - 1].globalSequence;
    }
    return out;
  }

  /** The largest committed global position (0 when empty): the end of the log. */
  async #endOfLog(where: string): Promise<number> {
    const [row] = await this.#query(
      where,
      () => this.#sql`SELECT coalesce(max(global_position), 0)::float8 AS g FROM events`,
    );
    return row.g as number;
  }

  async #checkPosition(where: string, position: unknown): Promise<number> {
    const p = checkPositionArg(where, position);
    if (p === 0) return p;
    const end = await this.#endOfLog(where);
    if (p > end) {
      throw new InvalidArgumentError(
        `${where} is ${p}, past the end of the log (last global position ${end})`,
      );
    }
    return p;
  }

  /**
   * The region's events after `options.after` (default 0), then live ones
   * as they commit, in global order, without gaps or repeats, until
   * `options.signal` aborts, the loop breaks, or the store closes.
   * LISTEN/NOTIFY wakes it; it also polls every `pollIntervalMs`.
   */
  subscribe(region: Region, options?: SubscribeOptions): AsyncIterable<StoredEvent> {
    this.#assertOpen();
    if (!(region instanceof Region)) {
      throw new InvalidArgumentError(
        `subscribe: region must be a Region, found ${describeValue(region)}`,
      );
    }
    if (options !== undefined && (typeof options !== "object" || options === null)) {
      throw new InvalidArgumentError(
        `subscribe: options must be an object, found ${describeValue(options)}`,
      );
    }
    const signal = options?.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new InvalidArgumentError("subscribe: signal must be an AbortSignal");
    }
    const after = checkPositionArg("subscribe: after", options?.after ?? 0);
    const source = {
      page: (position: number, limit: number) => this.#page(region, position, limit),
      isClosed: () => this.#closed,
      hub: this.#hub,
      pollIntervalMs: this.#s.pollIntervalMs,
    };
    const check = (): Promise<number> => this.#checkPosition("subscribe: after", after);
    return {
      [Symbol.asyncIterator]: () => {
        const inner = (async function* () {
          yield* subscription(source, await check(), signal);
        })();
        return inner;
      },
    };
  }

  /** Fold an entity's events (cached and incremental, as the embedded store). */
  project<T>(
    entity: string,
    projection: EventSourced<T>,
    freshness: Freshness = "consistent",
  ): Promise<T | undefined> {
    try {
      this.#assertOpen();
      this.#projections.check(entity, projection, freshness);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#projections.project(
      {
        lastSequence: (e) => this.lastSequence(e),
        page: async (e, after, upto, kinds, limit) => {
          const rows = await this.#query(
            "project",
            () =>
              kinds === null
                ? this.#sql`SELECT ${this.#sql.unsafe(EVENT_COLUMNS)} FROM events
                WHERE entity = ${e} AND sequence > ${after} AND sequence <= ${upto}
                ORDER BY sequence LIMIT ${limit}`
                : this.#sql`SELECT ${this.#sql.unsafe(EVENT_COLUMNS)} FROM events
                WHERE entity = ${e} AND sequence > ${after} AND sequence <= ${upto}
                  AND kind = ANY(${[...kinds]}::int4[])
                ORDER BY sequence LIMIT ${limit}`,
          );
          return rows.map((r) => eventOf(r as unknown as EventRow, this.#table));
        },
        now: () => readClock(this.#s.clock ?? Date.now),
      },
      entity,
      projection,
      freshness,
    );
  }

  /** The ownership (lease and fence) handle of a scope. */
  ownership(scope: string): AsyncOwnership {
    this.#assertOpen();
    return new PostgresOwnership({
      sql: this.#sql,
      schema: this.#s.schema,
      where: this.#s.where,
      isClosed: () => this.#closed,
      leaseNow: this.#leaseNow,
    }, scope);
  }

  /**
   * Save `position` (a global position, at most the last one) as the named
   * cursor's checkpoint, in the `cursors` table: durable at once, and never
   * an event.
   */
  async saveCursor(name: string, position: number): Promise<void> {
    this.#assertOpen();
    const n = checkCursorName("saveCursor", name);
    const p = await this.#checkPosition("saveCursor: position", position);
    await this.#query(
      "saveCursor",
      () =>
        this.#sql`INSERT INTO cursors (name, position) VALUES (${n}, ${p})
        ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_at = now()
        WHERE cursors.position IS DISTINCT FROM EXCLUDED.position`,
    );
  }

  /** The saved position of the named cursor, or `undefined`. */
  async loadCursor(name: string): Promise<number | undefined> {
    this.#assertOpen();
    const n = checkCursorName("loadCursor", name);
    const rows = await this.#query(
      "loadCursor",
      () => this.#sql`SELECT position::float8 AS p FROM cursors WHERE name = ${n}`,
    );
    return rows.length === 0 ? undefined : rows[0].p as number;
  }

  /**
   * Re-read every event in one snapshot and check the hash chain, each
   * event's hash against its re-encoded body, gapless sequences, positions
   * and stream heads (problems are reported with the table and global
   * position, not thrown).
   */
  async verify(
    options?: { onProgress?: (checked: number, total: number) => void },
  ): Promise<VerifyReport> {
    this.#assertOpen();
    try {
      return await verifyEvents(this.#sql, this.#table, this.#xidBase, options?.onProgress);
    } catch (e) {
      throw storeErrorOf(e, "verify", this.#s.where);
    }
  }

  /**
   * What the schema holds, for `batpak inspect`: counts of events, entities
   * (streams), saved cursors and leases, the schema version, the last global
   * position, the first and last event times (in global order) and the size
   * of the schema's tables with their indexes. Counting reads every row of
   * `events` (PostgreSQL keeps no exact row count): seconds on a large log.
   *
   * @example
   * ```ts ignore
   * import { PostgresStore } from "@seed/batpak/postgres";
   * const store = await PostgresStore.connect({ url: Deno.env.get("DATABASE_URL")!, create: false });
   * const d = await store.diagnostics();
   * console.log(d.schemaVersion, d.events, d.entities);
   * await store.close();
   * ```
   */
  async diagnostics(): Promise<PostgresDiagnostics> {
    this.#assertOpen();
    const [row] = await this.#query(
      "diagnostics",
      () =>
        this.#sql`SELECT
          (SELECT coalesce(max(version), 0) FROM schema_migrations)::int AS version,
          (SELECT count(*) FROM events)::float8 AS events,
          (SELECT count(*) FROM streams)::float8 AS entities,
          (SELECT count(*) FROM cursors)::float8 AS cursors,
          (SELECT count(*) FROM leases)::float8 AS leases,
          (SELECT coalesce(max(global_position), 0) FROM events)::float8 AS last_position,
          (SELECT timestamp_ms FROM events ORDER BY global_position LIMIT 1) AS first_ms,
          (SELECT timestamp_ms FROM events ORDER BY global_position DESC LIMIT 1) AS last_ms,
          (SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = ${this.#s.schema} AND c.relkind = 'r')::float8 AS bytes`,
    );
    return {
      server: this.#s.where,
      schema: this.#s.schema,
      schemaVersion: row.version as number,
      clientSchemaVersion: SCHEMA_VERSION,
      events: row.events as number,
      entities: row.entities as number,
      cursors: row.cursors as number,
      leases: row.leases as number,
      lastGlobalSequence: row.last_position as number,
      firstTimestampMs: (row.first_ms as number | null) ?? undefined,
      lastTimestampMs: (row.last_ms as number | null) ?? undefined,
      tableBytes: row.bytes as number,
    };
  }

  /** Wait for in-flight appends, end the subscriptions, close the pool. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await Promise.allSettled([...this.#inFlight]);
    this.#closed = true;
    await this.#notifying;
    await this.#hub.close();
    // Healthy connections end at once; one the server dropped mid-transaction is destroyed.
    await this.#sql.end({ timeout: 1 }).catch(() => {});
    this.#releaseGuard();
  }
}
