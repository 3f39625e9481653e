/**
 * A single append, top to bottom: prepare (validate, encode once) → plan
 * (idempotency, CAS, fence, against the index) → the log writer → apply to
 * the index → notify readers. Nothing changes until the writer has the
 * frame: a rejected append leaves no trace, not even an entity name.
 *
 * @module
 */

import {
  ConcurrencyError,
  IdempotencyConflictError,
  PayloadTooLargeError,
  StoreError,
  StreamDeletedError,
} from "../core/errors.ts";
import { checkFence } from "../core/fence.ts";
import { isSystemKind } from "../core/kind.ts";
import { FRAME_BODY_BYTES_MAX, GLOBAL_SEQUENCE_MAX } from "../core/limits.ts";
import { utf8Encode } from "../core/utf8.ts";
import type { Engine } from "../engine/engine.ts";
import { eventBodyLength2, type EventParts } from "../log/event_codec.ts";
import { recordKindNames, type StoreKinds } from "./kinds.ts";
import { prepare, type Prepared } from "./prepare.ts";
import { Receipt, receiptOf } from "./receipt.ts";

/**
 * The receipt an idempotency key already has, when it is a retry (same
 * entity and kind); `IdempotencyConflictError` when the key belongs to
 * another entity or kind; `undefined` when the key is new.
 */
export function existingReceipt(engine: Engine, p: Prepared, where: string): Receipt | undefined {
  if (p.keyStr === null) return undefined;
  const index = engine.index;
  const g = index.keys.get(p.keyStr);
  if (g === undefined) return undefined;
  const entity = index.entities.names[index.entityOf(g)];
  const kind = index.kindOf(g);
  if (entity !== p.entity || kind !== p.kind) {
    throw new IdempotencyConflictError(
      entity,
      p.entity,
      `${where}: the key was used for entity "${entity}" kind 0x${kind.toString(16)}, ` +
        `not entity "${p.entity}" kind 0x${p.kind.toString(16)}; nothing was written`,
    );
  }
  return receiptOf(engine, g);
}

/** Throw unless the log has room for `count` more events. */
export function assertLogRoom(engine: Engine, count: number): void {
  if (engine.index.count + count > GLOBAL_SEQUENCE_MAX) {
    throw new StoreError("LOG_FULL", "the log holds the maximum number of events (2^32 - 1)");
  }
}

/** Throw {@linkcode StreamDeletedError} when `entity`'s stream was deleted. */
export function assertNotDeleted(engine: Engine, entity: string): void {
  const deleted = engine.system.lifecycle.deleted;
  if (deleted.size > 0 && deleted.has(entity)) throw new StreamDeletedError(entity);
}

/**
 * Append one event. `system` allows the store's own kinds (fences,
 * denials); user appends pass `false`. `kinds` are the store's registered
 * and recorded kinds, which a typed kind is checked against.
 */
export function appendOne(
  engine: Engine,
  coord: unknown,
  kind: unknown,
  payload: unknown,
  options: unknown,
  system: boolean,
  kinds?: StoreKinds,
): Receipt {
  const where = "append";
  engine.requireWriter();
  const p = prepare(engine.encoder, coord, kind, payload, options, where, system, kinds);
  // User code (getters, the clock) has run; from here on nothing outside the store runs.
  const now = engine.now();
  const writer = engine.requireWriter();
  const dup = existingReceipt(engine, p, where);
  if (dup) return dup;
  assertNotDeleted(engine, p.entity);
  const index = engine.index;
  const entityId = index.entities.lookup(p.entity);
  const last = index.lastSequence(entityId);
  if (p.expectedSequence !== undefined && p.expectedSequence !== last) {
    throw new ConcurrencyError(p.entity, p.expectedSequence, last);
  }
  if (p.fence) checkFence(engine.system, p.scope, p.fence, now);
  assertLogRoom(engine, 1);
  const scopeId = index.scopes.lookup(p.scope);
  const entityBytes = entityId >= 0 ? engine.entityNames.bytes(entityId) : utf8Encode(p.entity);
  const scopeBytes = scopeId >= 0 ? engine.scopeNames.bytes(scopeId) : utf8Encode(p.scope);
  engine.ids.next(now);
  const parts: EventParts = {
    id: engine.ids.words,
    sequence: last + 1,
    globalSequence: index.count + 1,
    timestampMs: Math.floor(now),
    kind: p.kind,
    // A view is enough: the body copies it before the entity's hash changes.
    prevHash: last > 0 ? index.entityHash(entityId) : null,
    correlationId: p.correlation,
    causationId: p.causation,
    entity: entityBytes,
    scope: scopeBytes,
    key: p.key,
    keyIsString: p.keyIsString,
    payload: p.payload,
    schemaVersion: p.schemaVersion,
  };
  const length = eventBodyLength2(parts);
  if (length > FRAME_BODY_BYTES_MAX) throw new PayloadTooLargeError(length, FRAME_BODY_BYTES_MAX);
  // A new kind name is durable before the first event of its kind is written.
  if (kinds !== undefined && p.kindName !== null) {
    recordKindNames(kinds, [p.kind], [p.kindName], where);
  }
  const w = writer.appendEvent(parts);
  const hash = engine.keepHash(w.hash);
  const g = parts.globalSequence;
  const cadenceDue = engine.syncDue(1);
  // The Nth append returns durable; if that fsync fails the event is not made visible.
  if (cadenceDue) engine.sync();
  const eid = entityId >= 0 ? entityId : engine.entityNames.intern(p.entity);
  const sid = scopeId >= 0 ? scopeId : engine.scopeNames.intern(p.scope);
  engine.apply(
    w.segment,
    w.offset,
    w.length,
    eid,
    sid,
    last + 1,
    p.kind,
    parts.timestampMs,
    engine.ids.words,
    hash,
    0,
    p.keyStr,
    isSystemKind(p.kind)
      ? engine.decoder.decode(p.payload, 0, p.payload.length) ?? null
      : undefined,
  );
  engine.lastFrame = { segment: w.segment, offset: w.offset, crc: w.crc };
  if (cadenceDue) engine.maybeCheckpoint();
  engine.notify();
  return new Receipt(last + 1, g, engine.ids.words, hash, false);
}
