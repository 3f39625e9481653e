/**
 * Atomic batches, in three steps that never interleave with user code:
 *
 * 1. prepare every item (each argument read once, each payload encoded
 *    once — getters and Proxy traps run here, and only here);
 * 2. plan every item in order against the index plus the earlier items
 *    (idempotency, CAS, fences, sequences, causation) — pure;
 * 3. write BEGIN, the frames, COMMIT, one fsync, then apply all items to
 *    the index (durable before visible).
 *
 * Any failure in 1 or 2 writes nothing; a failure in 3 makes nothing
 * visible.
 *
 * @module
 */

import { describeValue } from "../core/describe.ts";
import {
  ConcurrencyError,
  IdempotencyConflictError,
  InvalidArgumentError,
  PayloadTooLargeError,
} from "../core/errors.ts";
import { checkFence } from "../core/fence.ts";
import { idToBytes, type IdWords, requireId } from "../core/ids.ts";
import { isSystemKind } from "../core/kind.ts";
import { BATCH_BYTES_MAX, BATCH_ITEMS_MAX, FRAME_BODY_BYTES_MAX } from "../core/limits.ts";
import type { AppendReceipt } from "../core/types.ts";
import { utf8Encode } from "../core/utf8.ts";
import type { Engine } from "../engine/engine.ts";
import { eventBodyLength2, type EventParts } from "../log/event_codec.ts";
import { FRAME_HEADER_BYTES, MARKER_FRAME_BYTES } from "../log/frame.ts";
import { assertLogRoom, assertNotDeleted, existingReceipt } from "./append.ts";
import { recordKindNames, type StoreKinds } from "./kinds.ts";
import { ByteArena, prepare, type Prepared, readCausation } from "./prepare.ts";
import { Receipt } from "./receipt.ts";

/** Stands in for a prevHash that the writer links to an earlier item of the batch. */
const LINKED = new Uint8Array(32);

/** One item that will be written. */
interface Plan {
  item: number;
  p: Prepared;
  sequence: number;
  entityId: number;
  /** The plan (index into plans) of this entity's previous event in the batch, or -1. */
  prevPlan: number;
  /** An item whose id is this one's causation (resolved in the write step), or -1. */
  causeItem: number;
  causation: Uint8Array | null;
}

/**
 * Append `items` atomically; see the module doc. `kinds` are the store's
 * registered and recorded kinds, which typed kinds are checked against.
 */
export function appendBatch(
  engine: Engine,
  items: unknown,
  kinds?: StoreKinds,
): AppendReceipt[] {
  engine.requireWriter();
  if (!Array.isArray(items)) {
    throw new InvalidArgumentError(
      `appendBatch needs an array of items, found ${describeValue(items)}`,
    );
  }
  const n = items.length;
  if (n > BATCH_ITEMS_MAX) {
    throw new InvalidArgumentError(`a batch holds at most ${BATCH_ITEMS_MAX} items, found ${n}`);
  }
  // 1. Prepare: every item read once, every payload encoded once (copied: the encoder reuses
  // its buffer).
  const prepared: Prepared[] = new Array(n);
  const causes: ({ priorItem: number } | { eventId: Uint8Array } | undefined)[] = new Array(n);
  const arena = new ByteArena();
  let encodedBytes = 0;
  for (let i = 0; i < n; i++) {
    const where = `appendBatch item ${i}`;
    const item: unknown = items[i];
    if (typeof item !== "object" || item === null) {
      throw new InvalidArgumentError(`${where} must be an object, found ${describeValue(item)}`);
    }
    const { coord, kind, payload, options, causation } = item as Record<string, unknown>;
    const p = prepare(engine.encoder, coord, kind, payload, options, where, false, kinds);
    encodedBytes += p.payload.length;
    if (encodedBytes > BATCH_BYTES_MAX) {
      throw new PayloadTooLargeError(encodedBytes, BATCH_BYTES_MAX);
    }
    p.payload = arena.keep(p.payload);
    causes[i] = readCausation(where, causation, i);
    prepared[i] = p;
  }
  const now = engine.now();
  const writer = engine.requireWriter();
  // 2. Plan, in order, counting earlier items.
  const index = engine.index;
  const receipts: AppendReceipt[] = new Array(n);
  const plans: Plan[] = [];
  const planOf = new Int32Array(n).fill(-1);
  const lastPlanOfEntity = new Map<string, number>();
  const batchKeys = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const p = prepared[i];
    const where = `appendBatch item ${i}`;
    if (p.keyStr !== null) {
      const earlier = batchKeys.get(p.keyStr);
      if (earlier !== undefined) {
        throw new IdempotencyConflictError(
          prepared[earlier].entity,
          p.entity,
          `${where} repeats the idempotency key of item ${earlier}; nothing of the batch was written`,
        );
      }
      batchKeys.set(p.keyStr, i);
      const dup = existingReceipt(engine, p, where);
      if (dup) {
        receipts[i] = dup;
        continue;
      }
    }
    assertNotDeleted(engine, p.entity);
    const prevPlan = lastPlanOfEntity.get(p.entity) ?? -1;
    const entityId = index.entities.lookup(p.entity);
    const last = prevPlan >= 0 ? plans[prevPlan].sequence : index.lastSequence(entityId);
    if (p.expectedSequence !== undefined && p.expectedSequence !== last) {
      throw new ConcurrencyError(p.entity, p.expectedSequence, last);
    }
    if (p.fence) checkFence(engine.system, p.scope, p.fence, now);
    let causeItem = -1;
    let causation = p.causation;
    const c = causes[i];
    if (c !== undefined) {
      if ("priorItem" in c) {
        if (planOf[c.priorItem] >= 0) {
          causeItem = c.priorItem;
          causation = null;
        } else {
          causation = new Uint8Array(16);
          idToBytes(requireId("causation", receipts[c.priorItem].eventId), causation);
        }
      } else causation = c.eventId;
    }
    planOf[i] = plans.length;
    lastPlanOfEntity.set(p.entity, plans.length);
    plans.push({ item: i, p, sequence: last + 1, entityId, prevPlan, causeItem, causation });
  }
  if (plans.length === 0) return receipts;
  assertLogRoom(engine, plans.length);
  // 3. Write: every frame's parts, then BEGIN .. COMMIT and one fsync.
  const firstG = index.count + 1;
  const parts: EventParts[] = new Array(plans.length);
  const prevItem = new Int32Array(plans.length);
  const ids: IdWords[] = new Array(plans.length);
  let total = 2 * MARKER_FRAME_BYTES;
  for (let k = 0; k < plans.length; k++) {
    const { p, sequence, entityId, prevPlan, causeItem } = plans[k];
    const scopeId = index.scopes.lookup(p.scope);
    const entity = entityId >= 0 ? engine.entityNames.bytes(entityId) : utf8Encode(p.entity);
    const scope = scopeId >= 0 ? engine.scopeNames.bytes(scopeId) : utf8Encode(p.scope);
    engine.ids.next(now);
    ids[k] = [...engine.ids.words];
    let causation = plans[k].causation;
    if (causeItem >= 0) {
      causation = new Uint8Array(16);
      idToBytes(ids[planOf[causeItem]], causation);
    }
    prevItem[k] = prevPlan;
    parts[k] = {
      id: ids[k],
      sequence,
      globalSequence: firstG + k,
      timestampMs: Math.floor(now),
      kind: p.kind,
      // An earlier item's hash is linked in by the writer; the placeholder only sizes the body.
      prevHash: sequence === 1 ? null : prevPlan >= 0 ? LINKED : index.entityHash(entityId),
      correlationId: p.correlation,
      causationId: causation,
      entity,
      scope,
      key: p.key,
      keyIsString: p.keyIsString,
      payload: p.payload,
      schemaVersion: p.schemaVersion,
    };
    const length = eventBodyLength2(parts[k]);
    if (length > FRAME_BODY_BYTES_MAX) throw new PayloadTooLargeError(length, FRAME_BODY_BYTES_MAX);
    total += FRAME_HEADER_BYTES + length;
  }
  if (total > BATCH_BYTES_MAX) throw new PayloadTooLargeError(total, BATCH_BYTES_MAX);
  // New kind names are durable before the first events of their kinds are written.
  if (kinds !== undefined && plans.some((plan) => plan.p.kindName !== null)) {
    const ps = plans.map((plan) => plan.p);
    recordKindNames(kinds, ps.map((p) => p.kind), ps.map((p) => p.kindName), "appendBatch");
  }
  const w = writer.appendBatch(parts, prevItem); // durable before visible
  const hashes = w.hashes.map((h) => engine.keepHash(h));
  for (let k = 0; k < plans.length; k++) {
    const { item, p, sequence, entityId } = plans[k];
    // Interned only now, once the batch is durable: a rejected batch leaves no names behind.
    const eid = entityId >= 0 ? entityId : engine.entityNames.intern(p.entity);
    const sid = engine.scopeNames.intern(p.scope);
    engine.apply(
      w.segment,
      w.offsets[k],
      w.lengths[k],
      eid,
      sid,
      sequence,
      p.kind,
      parts[k].timestampMs,
      ids[k],
      hashes[k],
      0,
      p.keyStr,
      isSystemKind(p.kind)
        ? engine.decoder.decode(p.payload, 0, p.payload.length) ?? null
        : undefined,
    );
    receipts[item] = new Receipt(sequence, firstG + k, ids[k], hashes[k], false);
  }
  // The last event frame names the log's end in sidecars (a marker cannot tell stores apart).
  const last = plans.length - 1;
  engine.lastFrame = { segment: w.segment, offset: w.offsets[last], crc: w.crcs[last] };
  engine.afterBatch();
  engine.notify();
  return receipts;
}
