/**
 * The append transaction: one transaction per `append` or `appendBatch`.
 *
 * 1. Lock the batch's entities: a transaction-scoped advisory lock per
 *    entity (sorted, so two batches cannot deadlock), under a shared
 *    schema-wide lock; a batch of more than {@linkcode ENTITY_LOCKS_MAX}
 *    entities takes the schema-wide lock exclusively instead. Advisory locks
 *    need no transaction id, which matters: the transaction's id (`xid8`) is
 *    assigned only after its locks are held, so of two transactions writing
 *    one entity the later one always has the larger id — the global order
 *    (by id) keeps every entity's events in sequence order.
 * 2. In one pipelined round trip: the rows already holding the batch's
 *    idempotency keys, the entities' stream heads (last sequence and hash),
 *    the fences of the fenced scopes (`FOR SHARE`: a takeover's `FOR UPDATE`
 *    waits for this transaction, or this one sees the new epoch), and the
 *    transaction id.
 * 3. Decide every item in order exactly as the embedded store does: a key
 *    already used by the same entity and kind returns that receipt
 *    (`duplicate: true`), by another is `IdempotencyConflictError`; then CAS;
 *    then the fence. Build each event body with the engine's encoder and
 *    hash it (the entity's chain, computed under its lock).
 * 4. Insert the events and move the stream heads; commit; notify.
 *
 * A unique-key race (two transactions inserting the same new key), a
 * deadlock or a serialization failure retries the whole transaction, which
 * then decides again from what committed.
 *
 * @module
 */

import type postgres from "./_driver.ts";
import {
  ConcurrencyError,
  IdempotencyConflictError,
  InternalError,
  PayloadTooLargeError,
  StoreError,
} from "../core/errors.ts";
import type { AppendReceipt } from "../core/types.ts";
import {
  checkFence,
  eventBodyLength,
  type EventParts,
  formatId,
  FRAME_BODY_BYTES_MAX,
  fromHex,
  HASH_BYTES,
  type IdGenerator,
  idToBytes,
  type IdWords,
  readClock,
  requireId,
  SystemState,
  toHex,
  writeEventBody,
} from "./_engine.ts";
import { constraintOf, isConnectionLoss, SQLSTATE, sqlState, storeErrorOf } from "./_errors.ts";
import { inTransaction, TransactionError, type Tx } from "./_tx.ts";
import { transactionIdsBehind } from "./_xid.ts";
import type { PreparedItem } from "./_validate.ts";

/** Positions per transaction: a batch has at most this many items (`BATCH_ITEMS_MAX`). */
export const TX_POSITIONS = 65_536n;
/** Batches touching more entities than this lock the whole schema instead of each entity. */
export const ENTITY_LOCKS_MAX = 256;
/** Advisory lock object (two-key form, with the schema's hash) of the append lock. */
export const APPEND_LOCK_OBJECT = 2;
/** Largest per-entity sequence (a u32 in the event body). */
export const SEQUENCE_MAX = 0xffff_ffff;
/** Attempts of one append when the server asks for a retry. */
const ATTEMPTS_MAX = 6;
/** Rows, and payload bytes, per INSERT statement of a batch. */
const INSERT_ROWS_MAX = 1000;
const INSERT_BYTES_MAX = 8 * 1024 * 1024;

/** What the append transaction needs from the store. */
export interface AppendContext {
  readonly sql: postgres.Sql;
  readonly schema: string;
  readonly where: string;
  readonly table: string;
  readonly xidBase: bigint;
  /**
   * The highest transaction id this client knows the store used (at
   * connect, or committed since): a transaction that starts later must get
   * a higher one (see `_xid.ts`).
   */
  xidFloor(): bigint;
  readonly ids: IdGenerator;
  /** Event timestamps (epoch ms). */
  readonly clock: () => number;
  /** SQL for "now" of lease checks (the injected clock, or the server's). */
  leaseNow(): postgres.PendingQuery<postgres.Row[]> | number;
  /** The NOTIFY channel of the schema. */
  readonly channel: string;
  /**
   * Called after a commit (with its transaction id; `notified` when a NOTIFY
   * went out with it), or after a rollback of a transaction that had an id.
   */
  afterTransaction(xid: bigint | undefined, notified: boolean): void;
}

/** What `append_begin` returns (see migrations.ts). */
interface BeginState {
  xid: string;
  now: number;
  heads: [entity: string, last: number, hash: string | null][] | null;
  keys:
    | [
      key: string,
      entity: string,
      kind: number,
      id: string,
      seq: number,
      g: number,
      hash: string,
    ][]
    | null;
  leases:
    | [
      scope: string,
      owner: string,
      epoch: number,
      tokenHash: string,
      expiresAtMs: number,
      released: boolean,
    ][]
    | null;
}

/** An event about to be inserted. */
interface NewRow {
  g: bigint;
  id: string;
  item: PreparedItem;
  sequence: number;
  timestampMs: number;
  causationId: string | null;
  prevHash: Uint8Array | null;
  hash: Uint8Array;
  /** The receipt handed back (its global position is set once the request is accepted). */
  receipt: AppendReceipt;
}

let scratch = new Uint8Array(64 * 1024);

function hashBody(parts: EventParts): Uint8Array {
  const length = eventBodyLength(parts);
  if (length > FRAME_BODY_BYTES_MAX) throw new PayloadTooLargeError(length, FRAME_BODY_BYTES_MAX);
  if (scratch.length < length) scratch = new Uint8Array(Math.max(length, scratch.length * 2));
  const hashAt = writeEventBody(scratch, 0, parts);
  return scratch.slice(hashAt, hashAt + HASH_BYTES);
}

/** Bytes of a canonical UUID. */
function uuidBytes(id: string): Uint8Array {
  const b = new Uint8Array(16);
  idToBytes(requireId("id", id), b);
  return b;
}

/**
 * The body an event's hash covers: the embedded store's event body, byte
 * for byte, except that its 4-byte `globalSequence` field is 0 — a
 * PostgreSQL position is decided by the server's transaction order and does
 * not fit 32 bits. Exported for `verify`.
 */
export function bodyParts(
  id: IdWords,
  item: Pick<
    PreparedItem,
    | "kind"
    | "correlationBytes"
    | "entityBytes"
    | "scopeBytes"
    | "keyBytes"
    | "keyIsString"
    | "payload"
  >,
  sequence: number,
  timestampMs: number,
  prevHash: Uint8Array | null,
  causation: Uint8Array | null,
): EventParts {
  return {
    id,
    sequence,
    globalSequence: 0,
    timestampMs,
    kind: item.kind,
    prevHash,
    correlationId: item.correlationBytes,
    causationId: causation,
    entity: item.entityBytes,
    scope: item.scopeBytes,
    key: item.keyBytes,
    keyIsString: item.keyIsString,
    payload: item.payload,
  };
}

function retryable(e: unknown): boolean {
  const state = sqlState(e);
  if (state === SQLSTATE.SerializationFailure || state === SQLSTATE.DeadlockDetected) return true;
  if (state !== SQLSTATE.UniqueViolation) return false;
  // A key or id inserted by a transaction that committed meanwhile: decide again.
  const c = constraintOf(e);
  return c === "events_idempotency_key" || c === "events_event_id";
}

/** One append or batch waiting for its group's transaction. */
interface Request {
  items: PreparedItem[];
  resolve(receipts: AppendReceipt[]): void;
  reject(error: unknown): void;
}

/** What a group's decision gives each request: its receipts, or why it was refused. */
type Outcome = { ok: true; receipts: AppendReceipt[] } | { ok: false; error: unknown };

/**
 * Group commit: appends submitted while earlier ones are in flight wait in a
 * queue, and each of up to `committers` loops takes what is queued (up to
 * one batch's worth of positions and bytes) into ONE transaction — one lock
 * round trip, one insert round trip, one commit (one WAL flush) for all of
 * them. Each append keeps its own outcome: they are decided in queue order
 * exactly as if they ran one after the other (CAS and idempotency count the
 * earlier appends of the group), a refused one (CAS, key conflict, fence)
 * writes nothing and does not affect the others, and a batch is never split.
 * A failure of the transaction itself fails every append of the group, with
 * the same typed error.
 */
export class GroupCommitter {
  readonly #ctx: AppendContext;
  readonly #committers: number;
  readonly #queue: Request[] = [];
  #running = 0;

  constructor(ctx: AppendContext, committers: number) {
    this.#ctx = ctx;
    this.#committers = committers;
  }

  /** Append these items (one request: all or none); receipts in item order. */
  submit(items: PreparedItem[]): Promise<AppendReceipt[]> {
    if (items.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.#queue.push({ items, resolve, reject });
      if (this.#running < this.#committers) {
        this.#running++;
        this.#loop().finally(() => this.#running--);
      }
    });
  }

  async #loop(): Promise<void> {
    while (this.#queue.length > 0) {
      const group: Request[] = [];
      let items = 0;
      let bytes = 0;
      while (this.#queue.length > 0) {
        const next = this.#queue[0];
        const size = next.items.reduce((n, p) => n + p.payload.length, 0);
        if (
          group.length > 0 &&
          (items + next.items.length > GROUP_ITEMS_MAX || bytes + size > GROUP_BYTES_MAX)
        ) break;
        group.push(this.#queue.shift()!);
        items += next.items.length;
        bytes += size;
      }
      try {
        const outcomes = await commitGroup(this.#ctx, group.map((r) => r.items));
        outcomes.forEach((o, i) => o.ok ? group[i].resolve(o.receipts) : group[i].reject(o.error));
      } catch (e) {
        for (const r of group) r.reject(e);
      }
    }
  }
}

/** Items (positions) of one group transaction: a transaction has 65536 positions. */
const GROUP_ITEMS_MAX = Number(TX_POSITIONS);
/** Payload bytes of one group transaction (a single batch may be larger). */
const GROUP_BYTES_MAX = 32 * 1024 * 1024;

/** Run one group transaction, retrying what the server asks to retry. */
async function commitGroup(ctx: AppendContext, requests: PreparedItem[][]): Promise<Outcome[]> {
  const all = requests.flat();
  // One INSERT statement holds the whole group: then BEGIN can share a round trip with
  // append_begin, since that statement checks it runs in append_begin's transaction.
  const oneStatement = all.length <= INSERT_ROWS_MAX &&
    all.reduce((n, p) => n + p.payload.length, 0) <= INSERT_BYTES_MAX;
  for (let attempt = 1;; attempt++) {
    let stage = "begin, lock entities, read keys, stream heads and fences";
    let xid: bigint | undefined;
    try {
      const outcomes = await inTransaction(ctx.sql, "BEGIN", async (tx, commit) => {
        // Two round trips: BEGIN and append_begin (the locks, then the reads), then the
        // inserts with the COMMIT and the NOTIFY queued behind them. Statements are sent
        // with execute(), in program order: the client sends a statement when it is first
        // awaited, and Promise.all awaits a microtask late.
        const decided = await readAndDecide(ctx, tx, requests);
        xid = decided.xid;
        stage = "insert events and commit";
        await Promise.all([
          insertRows(tx, decided.rows, decided.xid),
          commit(decided.rows.length > 0 ? (c) => notify(c, ctx.channel) : undefined),
        ]);
        return decided.outcomes;
      }, { pipelineBegin: oneStatement });
      ctx.afterTransaction(xid, true);
      return outcomes;
    } catch (e) {
      if (xid !== undefined) ctx.afterTransaction(undefined, false);
      const cause = e instanceof TransactionError ? e.cause : e;
      // A pooled connection that turns out dead on first use (the server restarted, or
      // dropped idle connections) fails at BEGIN, before the server ran anything: another
      // connection may simply try again. (A loss later is reported: it may be the server
      // ending this very transaction.)
      const staleConnection = e instanceof TransactionError && e.beginFailed &&
        isConnectionLoss(cause);
      if (
        !(cause instanceof StoreError) && (retryable(cause) || staleConnection) &&
        attempt < ATTEMPTS_MAX
      ) {
        await new Promise((r) => setTimeout(r, attempt * attempt * Math.random() * 5));
        continue;
      }
      const unknown = e instanceof TransactionError && e.commitUnknown;
      throw storeErrorOf(cause, `append (${stage})`, ctx.where, unknown ? "unknown" : "none");
    }
  }
}

/**
 * Wake the schema's subscribers, right behind a COMMIT: a NOTIFY in its own
 * transaction, committed asynchronously (a lost notification costs a poll
 * interval, never an event), and outside the append transaction, whose
 * commit would otherwise take the server's notification lock and serialize
 * every commit.
 */
function notify(tx: Tx, channel: string): Promise<unknown> {
  return tx`SELECT set_config('synchronous_commit', 'off', true), pg_notify(${channel}, '')`
    .execute();
}

/** A key's first use: in the log, or by an earlier item of this group. */
interface KeyUse {
  entity: string;
  kind: number;
  receipt: AppendReceipt;
}

type Head = { last: number; hash: Uint8Array | null };

async function readAndDecide(
  ctx: AppendContext,
  tx: Tx,
  requests: PreparedItem[][],
): Promise<{ outcomes: Outcome[]; rows: NewRow[]; xid: bigint }> {
  const all = requests.flat();
  const entities = [...new Set(all.map((p) => p.entity))];
  const keys = [...new Set(all.filter((p) => p.key !== null).map((p) => p.key!))];
  const scopes = [...new Set(all.filter((p) => p.fence).map((p) => p.scope))];
  const leaseNow = ctx.leaseNow();
  // Read before append_begin takes this transaction's id: whatever committed by then has a lower one.
  const floor = ctx.xidFloor();
  const [{ state }] = await tx`
    SELECT append_begin(${entities}::text[], ${keys}::text[], ${scopes}::text[],
      ${typeof leaseNow === "number" ? leaseNow : null}::float8,
      ${entities.length > ENTITY_LOCKS_MAX}) AS state`.execute();
  const begun = state as BeginState;
  const xid = BigInt(begun.xid);
  // The server's ids went back (a restored copy behind the same URL): refuse, before writing.
  if (xid <= floor) throw transactionIdsBehind(ctx.schema, ctx.where, xid, floor);
  const used = new Map<string, KeyUse>();
  for (const [key, entity, kind, id, seq, g, hash] of begun.keys ?? []) {
    used.set(key, {
      entity,
      kind,
      receipt: { eventId: id, sequence: seq, globalSequence: g, eventHash: hash, duplicate: true },
    });
  }
  const heads = new Map<string, Head>();
  for (const [entity, last, hash] of begun.heads ?? []) {
    heads.set(entity, { last, hash: hash === null ? null : fromHex(hash) });
  }
  const fences = new SystemState();
  for (const [scope, owner, epoch, tokenHash, expiresAtMs, released] of begun.leases ?? []) {
    fences.fences.set(scope, { owner, epoch, tokenHash, expiresAtMs, released });
  }
  const leaseNowMs = begun.now;
  const firstG = (xid - ctx.xidBase) * TX_POSITIONS + 1n;
  const rows: NewRow[] = [];
  const outcomes: Outcome[] = [];
  for (const items of requests) {
    try {
      const decided = decideRequest(ctx, items, heads, used, fences, leaseNowMs);
      // Accepted: its positions follow the group's earlier accepted items.
      for (const row of decided.rows) {
        row.g = firstG + BigInt(rows.length);
        if (row.g > BigInt(Number.MAX_SAFE_INTEGER)) {
          throw new StoreError("LOG_FULL", "global positions have reached 2^53");
        }
        row.receipt.globalSequence = Number(row.g);
        rows.push(row);
      }
      for (const [entity, head] of decided.heads) heads.set(entity, head);
      for (const [key, use] of decided.keys) used.set(key, use);
      outcomes.push({ ok: true, receipts: decided.receipts });
    } catch (e) {
      if (!(e instanceof StoreError)) throw e;
      outcomes.push({ ok: false, error: e });
    }
  }
  return { outcomes, rows, xid };
}

/**
 * Decide one request's items in order against the group's state so far,
 * exactly as the embedded store does: a key already used by the same entity
 * and kind returns that receipt (`duplicate: true`), by another is
 * `IdempotencyConflictError`; then CAS; then the fence. Returns the changes
 * to apply if the whole request is accepted; throws its StoreError otherwise.
 */
function decideRequest(
  ctx: AppendContext,
  items: PreparedItem[],
  groupHeads: Map<string, Head>,
  groupKeys: Map<string, KeyUse>,
  fences: SystemState,
  leaseNowMs: number,
): {
  receipts: AppendReceipt[];
  rows: NewRow[];
  heads: Map<string, Head>;
  keys: Map<string, KeyUse>;
} {
  const heads = new Map<string, Head>();
  const keys = new Map<string, KeyUse>();
  const receipts: AppendReceipt[] = new Array(items.length);
  const rows: NewRow[] = [];
  for (let i = 0; i < items.length; i++) {
    const p = items[i];
    if (p.key !== null) {
      const earlier = keys.get(p.key) ?? groupKeys.get(p.key);
      if (earlier !== undefined) {
        if (earlier.entity !== p.entity || earlier.kind !== p.kind) {
          throw new IdempotencyConflictError(
            earlier.entity,
            p.entity,
            `the key was first used for entity "${earlier.entity}" kind 0x${
              earlier.kind.toString(16)
            }, this append is entity "${p.entity}" kind 0x${
              p.kind.toString(16)
            }; nothing was written`,
          );
        }
        receipts[i] = { ...earlier.receipt, duplicate: true };
        continue;
      }
    }
    const head = heads.get(p.entity) ?? groupHeads.get(p.entity) ?? { last: 0, hash: null };
    if (p.expectedSequence !== undefined && p.expectedSequence !== head.last) {
      throw new ConcurrencyError(p.entity, p.expectedSequence, head.last);
    }
    if (p.fence) checkFence(fences, p.scope, p.fence, leaseNowMs);
    const sequence = head.last + 1;
    if (sequence > SEQUENCE_MAX) {
      throw new StoreError("LOG_FULL", `entity "${p.entity}" holds the maximum number of events`);
    }
    const timestampMs = readClock(ctx.clock);
    ctx.ids.next(timestampMs);
    const words = [...ctx.ids.words] as IdWords;
    const id = formatId(words[0], words[1], words[2], words[3]);
    let causationId = p.causationId;
    let causation = p.causationBytes;
    if (p.priorItem >= 0) {
      causationId = receipts[p.priorItem].eventId;
      causation = uuidBytes(causationId);
    }
    const hash = hashBody(bodyParts(words, p, sequence, timestampMs, head.hash, causation));
    heads.set(p.entity, { last: sequence, hash });
    // The global position is given when the whole request is accepted.
    const receipt: AppendReceipt = {
      eventId: id,
      sequence,
      globalSequence: 0,
      eventHash: toHex(hash),
      duplicate: false,
    };
    receipts[i] = receipt;
    if (p.key !== null) keys.set(p.key, { entity: p.entity, kind: p.kind, receipt });
    rows.push({
      g: 0n,
      id,
      item: p,
      sequence,
      timestampMs,
      causationId,
      prevHash: head.hash,
      hash,
      receipt,
    });
  }
  return { receipts, rows, heads, keys };
}

async function insertRows(tx: Tx, rows: NewRow[], xid: bigint): Promise<void> {
  if (rows.length === 0) return;
  const chunks: NewRow[][] = [];
  for (let start = 0; start < rows.length;) {
    let end = start;
    let bytes = 0;
    while (
      end < rows.length && end - start < INSERT_ROWS_MAX &&
      (end === start || bytes < INSERT_BYTES_MAX)
    ) {
      bytes += rows[end].item.payload.length;
      end++;
    }
    chunks.push(rows.slice(start, end));
    start = end;
  }
  // The new head of every entity: its last row.
  const heads = new Map<string, NewRow>();
  for (const r of rows) heads.set(r.item.entity, r);
  const last = [...heads.values()];
  const statements: Promise<unknown>[] = [];
  for (let c = 0; c < chunks.length - 1; c++) {
    statements.push(tx`
      WITH inserted AS (${insertEvents(tx, chunks[c])}) SELECT count(*) FROM inserted`.execute());
  }
  // The last chunk and the stream heads in one statement. It fails (so the pipelined COMMIT
  // becomes a ROLLBACK) when a head does not move forward (impossible under the entity
  // lock) or when it does not run in append_begin's transaction (a BEGIN that failed).
  statements.push(
    tx`
      WITH inserted AS (${insertEvents(tx, chunks[chunks.length - 1])}),
      moved AS (
        INSERT INTO streams (entity, last_sequence, last_hash)
        SELECT * FROM unnest(
          ${last.map((r) => r.item.entity)}::text[],
          ${last.map((r) => r.sequence)}::int8[],
          ${tx.array(last.map((r) => r.hash), BYTEA_OID)}::bytea[]
        )
        ON CONFLICT (entity) DO UPDATE
          SET last_sequence = EXCLUDED.last_sequence, last_hash = EXCLUDED.last_hash
          WHERE streams.last_sequence < EXCLUDED.last_sequence
        RETURNING 1
      )
      SELECT CASE
        WHEN count(*) = ${last.length} AND pg_current_xact_id()::text = ${xid.toString()} THEN 1
        ELSE 1 / (count(*) * 0) END AS ok
      FROM moved`
      .execute().catch((e) => {
        if (sqlState(e) === SQLSTATE.DivisionByZero) {
          throw new InternalError(
            "a stream head did not move forward under its entity lock, or the insert ran " +
              "outside the append transaction",
          );
        }
        throw e;
      }),
  );
  await Promise.all(statements);
}

/** The INSERT of some events, as a fragment (RETURNING 1, for a CTE). */
function insertEvents(tx: Tx, chunk: NewRow[]): postgres.PendingQuery<postgres.Row[]> {
  return tx`
    INSERT INTO events (global_position, event_id, entity, scope, kind, sequence, timestamp_ms,
      correlation_id, causation_id, idempotency_key, payload, prev_hash, event_hash)
    SELECT * FROM unnest(
      ${chunk.map((r) => r.g.toString())}::int8[],
      ${chunk.map((r) => r.id)}::uuid[],
      ${chunk.map((r) => r.item.entity)}::text[],
      ${chunk.map((r) => r.item.scope)}::text[],
      ${chunk.map((r) => r.item.kind)}::int4[],
      ${chunk.map((r) => r.sequence)}::int8[],
      ${chunk.map((r) => r.timestampMs)}::float8[],
      ${chunk.map((r) => r.item.correlationId)}::uuid[],
      ${chunk.map((r) => r.causationId)}::uuid[],
      ${chunk.map((r) => r.item.key)}::text[],
      ${tx.array(chunk.map((r) => r.item.payload), BYTEA_OID)}::bytea[],
      ${tx.array(chunk.map((r) => r.prevHash), BYTEA_OID)}::bytea[],
      ${tx.array(chunk.map((r) => r.hash), BYTEA_OID)}::bytea[]
    )
    RETURNING 1`;
}

/** The type oid of bytea, for array parameters. */
const BYTEA_OID = 17;
