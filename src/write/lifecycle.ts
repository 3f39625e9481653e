/**
 * Deleting and truncating streams, per-scope retention and redaction: each
 * is checked here and recorded as a system event (entity `"$lifecycle"`,
 * scope `"$system"`), fsynced before it returns, so it is durable at once
 * and survives reopen like any event. The read side hides what they say is
 * gone (`src/read/visibility.ts`); `compact()` erases those payloads from the
 * files (`src/ops/compact.ts`).
 *
 * @module
 */

import { Coordinate } from "../core/coordinate.ts";
import { describeValue } from "../core/describe.ts";
import { InvalidArgumentError, NotFoundError, StreamDeletedError } from "../core/errors.ts";
import { type EventId, requireId } from "../core/ids.ts";
import { isSystemKind } from "../core/kind.ts";
import type { RetentionPolicy } from "../core/lifecycle.ts";
import { LIFECYCLE_ENTITY, SYSTEM_SCOPE, SystemKind } from "../core/system.ts";
import { utf8Encode } from "../core/utf8.ts";
import type { Engine } from "../engine/engine.ts";
import { appendOne } from "./append.ts";
import { RESERVED_ENTITY_PREFIX } from "./prepare.ts";

/** Longest redaction reason, UTF-8 bytes. */
export const REDACTION_REASON_BYTES_MAX = 1024;

const COORD = new Coordinate(LIFECYCLE_ENTITY, SYSTEM_SCOPE);

function record(engine: Engine, kind: number, payload: Record<string, unknown>): void {
  appendOne(engine, COORD, kind, payload, undefined, true);
  // A deletion or redaction the caller was told about must not come back after a crash.
  engine.sync();
}

/** A user entity name: valid as a coordinate's entity and not one of the store's own. */
function userEntity(where: string, entity: unknown): string {
  if (typeof entity !== "string") {
    throw new InvalidArgumentError(
      `${where}: entity must be a string, found ${describeValue(entity)}`,
    );
  }
  new Coordinate(entity, "scope"); // the coordinate rules: throws InvalidCoordinateError
  if (entity.startsWith(RESERVED_ENTITY_PREFIX)) {
    throw new InvalidArgumentError(
      `${where}: entity names starting with "${RESERVED_ENTITY_PREFIX}" are the store's own`,
    );
  }
  return entity;
}

/** Delete `entity`'s stream for good (see `Store.deleteStream`). */
export function deleteStream(engine: Engine, entity: unknown): void {
  engine.requireWriter();
  const name = userEntity("deleteStream", entity);
  if (engine.system.lifecycle.deleted.has(name)) return;
  record(engine, SystemKind.StreamDeleted, { entity: name });
}

/** Hide `entity`'s events below `sequence` (see `Store.truncateBefore`). */
export function truncateBefore(engine: Engine, entity: unknown, sequence: unknown): void {
  engine.requireWriter();
  const name = userEntity("truncateBefore", entity);
  const last = engine.index.lastSequence(engine.index.entities.lookup(name));
  if (
    typeof sequence !== "number" || !Number.isSafeInteger(sequence) || sequence < 1 ||
    sequence > last + 1
  ) {
    throw new InvalidArgumentError(
      `truncateBefore: sequence must be an integer from 1 to ${last + 1} (the entity's last ` +
        `sequence + 1), found ${describeValue(sequence)}`,
    );
  }
  const lifecycle = engine.system.lifecycle;
  if (lifecycle.deleted.has(name)) throw new StreamDeletedError(name, "it cannot be truncated");
  if ((lifecycle.truncated.get(name) ?? 1) >= sequence) return;
  record(engine, SystemKind.StreamTruncated, { entity: name, before: sequence });
}

/** Set (or, with neither limit, remove) `scope`'s retention policy (see `Store.setRetention`). */
export function setRetention(engine: Engine, scope: unknown, policy: unknown): void {
  engine.requireWriter();
  if (typeof scope !== "string") {
    throw new InvalidArgumentError(
      `setRetention: scope must be a string, found ${describeValue(scope)}`,
    );
  }
  new Coordinate("entity", scope); // the coordinate rules: throws InvalidCoordinateError
  if (scope.startsWith(RESERVED_ENTITY_PREFIX)) {
    throw new InvalidArgumentError(
      `setRetention: scope names starting with "${RESERVED_ENTITY_PREFIX}" are the store's own`,
    );
  }
  if (typeof policy !== "object" || policy === null || Array.isArray(policy)) {
    throw new InvalidArgumentError(
      `setRetention: policy must be an object { maxAgeMs?, maxCount? }, found ${
        describeValue(policy)
      }`,
    );
  }
  // Read once: a getter runs one time, and what it returned is what is checked and stored.
  const { maxAgeMs, maxCount, ...rest } = policy as Record<string, unknown>;
  const unknownKeys = Object.keys(rest);
  if (unknownKeys.length > 0) {
    throw new InvalidArgumentError(
      `setRetention: unknown policy field ${describeValue(unknownKeys[0])} (maxAgeMs, maxCount)`,
    );
  }
  const payload: Record<string, unknown> = { scope };
  for (const [name, value] of [["maxAgeMs", maxAgeMs], ["maxCount", maxCount]] as const) {
    if (value === undefined) continue;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
      throw new InvalidArgumentError(
        `setRetention: ${name} must be an integer ≥ 1 or absent, found ${describeValue(value)}`,
      );
    }
    payload[name] = value;
  }
  const current: RetentionPolicy | undefined = engine.system.lifecycle.retention.get(scope);
  if (current?.maxAgeMs === payload.maxAgeMs && current?.maxCount === payload.maxCount) return;
  record(engine, SystemKind.RetentionSet, payload);
}

/** Remove an event's payload for good (see `Store.redact`). */
export function redact(engine: Engine, eventId: unknown, reason: unknown): void {
  engine.requireWriter();
  const words = requireId("redact: eventId", eventId);
  const id = eventId as EventId;
  if (reason !== undefined && typeof reason !== "string") {
    throw new InvalidArgumentError(
      `redact: reason must be a string, found ${describeValue(reason)}`,
    );
  }
  const why = reason ?? "";
  if (!why.isWellFormed() || utf8Encode(why).length > REDACTION_REASON_BYTES_MAX) {
    throw new InvalidArgumentError(
      `redact: reason must be well-formed text of at most ${REDACTION_REASON_BYTES_MAX} UTF-8 bytes`,
    );
  }
  const g = engine.index.findId(words);
  if (g === 0) throw new NotFoundError(`redact: no event with id ${id}`);
  if (isSystemKind(engine.index.kindOf(g))) {
    throw new InvalidArgumentError(`redact: event ${id} is one of the store's own`);
  }
  if (engine.system.lifecycle.redacted.has(g)) return;
  record(engine, SystemKind.EventRedacted, {
    globalSequence: g,
    eventId: engine.index.eventId(g),
    reason: why,
  });
}
