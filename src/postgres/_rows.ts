/**
 * Rows of `events` as `StoredEvent`s, and regions as SQL conditions.
 *
 * @module
 */

import type postgres from "./_driver.ts";
import { CorruptSegmentError } from "../core/errors.ts";
import type { EventKind } from "../core/kind.ts";
import type { Region } from "../core/region.ts";
import type { StoredEvent } from "../core/types.ts";
import { decodePayload, toHex } from "./_engine.ts";
import { couldBeName } from "./_validate.ts";

/**
 * The columns every event read selects, bigints as float8 (exact: positions
 * stay below 2^53, sequences below 2^32).
 */
export const EVENT_COLUMNS = "global_position::float8 AS g, event_id::text AS id, entity, scope, " +
  "kind, sequence::float8 AS seq, timestamp_ms, correlation_id::text AS corr, " +
  "causation_id::text AS caus, payload, prev_hash, event_hash";

/** One row as selected with {@linkcode EVENT_COLUMNS}. */
export interface EventRow {
  g: number;
  id: string;
  entity: string;
  scope: string;
  kind: number;
  seq: number;
  timestamp_ms: number;
  corr: string | null;
  caus: string | null;
  payload: Uint8Array;
  prev_hash: Uint8Array | null;
  event_hash: Uint8Array;
}

/** A plain Uint8Array view of a driver Buffer (so decoded binary payloads are Uint8Arrays). */
export function plainBytes(b: Uint8Array): Uint8Array {
  return b.constructor === Uint8Array ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** The event of a row (fields in the embedded store's order). `table` names it in errors. */
export function eventOf(r: EventRow, table: string): StoredEvent {
  let payload: unknown;
  try {
    payload = decodePayload(plainBytes(r.payload));
  } catch (e) {
    throw new CorruptSegmentError(
      table,
      r.g,
      `the payload of event ${r.id} does not decode: ${(e as Error).message}`,
    );
  }
  const event: StoredEvent = {
    eventId: r.id,
    entity: r.entity,
    scope: r.scope,
    kind: r.kind as EventKind,
    sequence: r.seq,
    globalSequence: r.g,
    timestampMs: r.timestamp_ms,
    payload,
    prevHash: r.prev_hash === null ? "" : toHex(r.prev_hash),
    eventHash: toHex(r.event_hash),
  };
  if (r.corr !== null) event.correlationId = r.corr;
  if (r.caus !== null) event.causationId = r.caus;
  return event;
}

const KIND_CATEGORY_SHIFT = 12;
/** Kinds below this are category 0x0, the store's own (none are written on PostgreSQL). */
const FIRST_USER_KIND = 1 << KIND_CATEGORY_SHIFT;
/** The last Unicode scalar value below the surrogates, and the first after them. */
const BEFORE_SURROGATES = 0xd7ff;
const AFTER_SURROGATES = 0xe000;
const LAST_SCALAR = 0x10ffff;

/**
 * The smallest string greater than every string starting with `prefix`
 * (in code point order, which is UTF-8 byte order, the "C" collation), or
 * undefined when there is none: `entity >= prefix AND entity < upper` is
 * exactly "starts with prefix", and uses the index.
 */
export function prefixUpperBound(prefix: string): string | undefined {
  const points = [...prefix].map((c) => c.codePointAt(0)!);
  while (points.length > 0) {
    const last = points.pop()!;
    if (last === LAST_SCALAR) continue;
    points.push(last === BEFORE_SURROGATES ? AFTER_SURROGATES : last + 1);
    return String.fromCodePoint(...points);
  }
  return undefined;
}

/** The SQL condition selecting the region's events (`TRUE` for all). */
export function regionCondition(
  sql: postgres.Sql,
  region: Region,
): postgres.PendingQuery<postgres.Row[]> {
  const parts: postgres.PendingQuery<postgres.Row[]>[] = [];
  const names = [region.entity, region.entityPrefix, region.scope].filter((n) => n !== undefined);
  // A name no entity or scope can hold (a control character, a lone surrogate) matches
  // nothing; PostgreSQL text could not even carry a NUL.
  if (names.some((n) => !couldBeName(n!))) return sql`FALSE`;
  if (region.entity !== undefined) parts.push(sql`entity = ${region.entity}`);
  if (region.entityPrefix !== undefined && region.entityPrefix.length > 0) {
    const upper = prefixUpperBound(region.entityPrefix);
    parts.push(sql`entity >= ${region.entityPrefix}`);
    if (upper !== undefined) parts.push(sql`entity < ${upper}`);
  }
  if (region.scope !== undefined) parts.push(sql`scope = ${region.scope}`);
  if (region.kinds !== undefined) parts.push(sql`kind = ANY(${[...region.kinds]}::int4[])`);
  if (region.category !== undefined) {
    parts.push(sql`(kind >> ${KIND_CATEGORY_SHIFT}) = ${region.category}`);
  }
  // Region semantics: the store's own kinds only when asked for; PostgreSQL keeps none in
  // `events`, but the condition keeps a hand-inserted row out as the embedded store would.
  const asksForSystem = region.includeSystem || region.category === 0 ||
    (region.kinds?.some((k) => k < FIRST_USER_KIND) ?? false);
  if (!asksForSystem) parts.push(sql`kind >= ${FIRST_USER_KIND}`);
  if (parts.length === 0) return sql`TRUE`;
  return parts.reduce((a, b) => sql`${a} AND ${b}`);
}
