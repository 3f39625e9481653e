/**
 * Argument checks of the PostgreSQL backend, before anything reaches the
 * server: the same rules, limits and error classes as the embedded store,
 * so a call rejected by one backend is rejected by the other.
 *
 * @module
 */

import {
  IdempotencyConflictError,
  InvalidArgumentError,
  InvalidCoordinateError,
  PayloadTooLargeError,
} from "../core/errors.ts";
import type { AppendOptions, BatchAppendItem } from "../core/types.ts";
import {
  BATCH_BYTES_MAX,
  BATCH_ITEMS_MAX,
  BIGINT_KEY_MAX,
  checkUserKind,
  Coordinate,
  describeValue,
  encodePayload,
  type FenceCheck,
  formatId,
  FRAME_BODY_BYTES_MAX,
  IDEMPOTENCY_KEY_BYTES_MAX,
  idToBytes,
  readFence,
  requireId,
  toHex,
  validateCoordinatePart,
} from "./_engine.ts";

const textEncoder = new TextEncoder();
const BIGINT_KEY_BYTES = 16;

/** One append, validated and encoded, ready for the transaction. */
export interface PreparedItem {
  entity: string;
  scope: string;
  entityBytes: Uint8Array;
  scopeBytes: Uint8Array;
  kind: number;
  /** MessagePack bytes (an owned copy). */
  payload: Uint8Array;
  /** The key as stored: `s:<key>` or `b:<32 hex>`; null without one. */
  key: string | null;
  keyBytes: Uint8Array | null;
  keyIsString: boolean;
  expectedSequence: number | undefined;
  correlationId: string | null;
  correlationBytes: Uint8Array | null;
  /** Causation by id (a `{ priorItem }` causation is resolved in the transaction). */
  causationId: string | null;
  causationBytes: Uint8Array | null;
  /** Index of an earlier item of the batch that caused this one, or -1. */
  priorItem: number;
  fence: FenceCheck | undefined;
}

function idArg(where: string, id: unknown): { text: string; bytes: Uint8Array } {
  const w = requireId(where, id);
  const bytes = new Uint8Array(16);
  idToBytes(w, bytes);
  return { text: formatId(w[0], w[1], w[2], w[3]), bytes };
}

/** Validate and encode one append (`where` names it in errors). */
export function prepareItem(
  coord: unknown,
  kind: unknown,
  payload: unknown,
  options: unknown,
  where: string,
): PreparedItem {
  if (!(coord instanceof Coordinate)) {
    throw new InvalidCoordinateError(
      `${where}: coord must be a Coordinate, found ${describeValue(coord)}`,
    );
  }
  // Read each part once and check it again: a subclass or a mutated object cannot smuggle
  // an invalid name past the constructor's checks.
  const entity = validateCoordinatePart("entity", coord.entity);
  const scope = validateCoordinatePart("scope", coord.scope);
  const k = checkUserKind(kind, where);
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw new InvalidArgumentError(
      `${where}: options must be an object, found ${describeValue(options)}`,
    );
  }
  const o = (options ?? {}) as AppendOptions;
  const expected = o.expectedSequence;
  if (
    expected !== undefined &&
    (typeof expected !== "number" || !Number.isInteger(expected) || expected < 0)
  ) {
    throw new InvalidArgumentError(
      `${where}: expectedSequence must be an integer ≥ 0, found ${describeValue(expected)}`,
    );
  }
  let key: string | null = null;
  let keyBytes: Uint8Array | null = null;
  let keyIsString = false;
  const rawKey = o.idempotencyKey as unknown;
  if (rawKey !== undefined) {
    if (typeof rawKey === "string") {
      if (rawKey.length === 0) {
        throw new InvalidArgumentError(`${where}: idempotencyKey must not be empty`);
      }
      if (!rawKey.isWellFormed()) {
        throw new InvalidArgumentError(`${where}: idempotencyKey has a lone UTF-16 surrogate`);
      }
      if (rawKey.includes("\u0000")) {
        // PostgreSQL text cannot hold NUL; the log stores the key's bytes, so refuse it on both.
        throw new InvalidArgumentError(`${where}: idempotencyKey must not contain NUL`);
      }
      keyBytes = textEncoder.encode(rawKey);
      if (keyBytes.length > IDEMPOTENCY_KEY_BYTES_MAX) {
        throw new InvalidArgumentError(
          `${where}: idempotencyKey is ${keyBytes.length} bytes; the maximum is ${IDEMPOTENCY_KEY_BYTES_MAX}`,
        );
      }
      keyIsString = true;
      key = "s:" + rawKey;
    } else if (typeof rawKey === "bigint") {
      if (rawKey < 0n || rawKey > BIGINT_KEY_MAX) {
        throw new InvalidArgumentError(
          `${where}: a bigint idempotencyKey must be in 0..2^128-1, found ${rawKey}`,
        );
      }
      keyBytes = new Uint8Array(BIGINT_KEY_BYTES);
      let v = rawKey;
      for (let i = BIGINT_KEY_BYTES - 1; i >= 0; i--) {
        keyBytes[i] = Number(v & 0xffn);
        v >>= 8n;
      }
      key = "b:" + toHex(keyBytes);
    } else {
      throw new InvalidArgumentError(
        `${where}: idempotencyKey must be a bigint or a string, found ${describeValue(rawKey)}`,
      );
    }
  }
  const correlation = o.correlationId === undefined
    ? undefined
    : idArg(`${where}: correlationId`, o.correlationId);
  const causation = o.causationId === undefined
    ? undefined
    : idArg(`${where}: causationId`, o.causationId);
  const fence = o.fence === undefined ? undefined : readFence(o.fence, where);
  const encoded = encodePayload(payload);
  if (encoded.length > FRAME_BODY_BYTES_MAX) {
    throw new PayloadTooLargeError(encoded.length, FRAME_BODY_BYTES_MAX);
  }
  return {
    entity,
    scope,
    entityBytes: textEncoder.encode(entity),
    scopeBytes: textEncoder.encode(scope),
    kind: k,
    payload: encoded,
    key,
    keyBytes,
    keyIsString,
    expectedSequence: expected,
    correlationId: correlation?.text ?? null,
    correlationBytes: correlation?.bytes ?? null,
    causationId: causation?.text ?? null,
    causationBytes: causation?.bytes ?? null,
    priorItem: -1,
    fence,
  };
}

/**
 * Validate every item of a batch: shapes, causations, limits, and no key
 * used twice (an `IdempotencyConflictError`: the contract forbids it).
 */
export function prepareBatch(items: unknown): PreparedItem[] {
  if (!Array.isArray(items)) {
    throw new InvalidArgumentError(
      `appendBatch needs an array of items, found ${describeValue(items)}`,
    );
  }
  if (items.length > BATCH_ITEMS_MAX) {
    throw new InvalidArgumentError(
      `a batch holds at most ${BATCH_ITEMS_MAX} items, found ${items.length}`,
    );
  }
  const out: PreparedItem[] = [];
  const keys = new Map<string, number>();
  let bytes = 0;
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as BatchAppendItem;
    const where = `appendBatch item ${i}`;
    if (typeof item !== "object" || item === null) {
      throw new InvalidArgumentError(`${where} must be an object, found ${describeValue(item)}`);
    }
    const p = prepareItem(item.coord, item.kind, item.payload, item.options, where);
    const c = item.causation as { priorItem?: unknown; eventId?: unknown } | undefined;
    if (c !== undefined) {
      if (typeof c !== "object" || c === null) {
        throw new InvalidArgumentError(`${where}: causation must be { priorItem } or { eventId }`);
      }
      if ("priorItem" in c) {
        const j = c.priorItem;
        if (typeof j !== "number" || !Number.isInteger(j) || j < 0 || j >= i) {
          throw new InvalidArgumentError(
            `${where}: causation.priorItem must index an earlier item (0..${i - 1}), found ${
              describeValue(j)
            }`,
          );
        }
        p.priorItem = j;
        p.causationId = null;
        p.causationBytes = null;
      } else if ("eventId" in c) {
        const id = idArg(`${where}: causation.eventId`, c.eventId);
        p.causationId = id.text;
        p.causationBytes = id.bytes;
      } else {
        throw new InvalidArgumentError(`${where}: causation must be { priorItem } or { eventId }`);
      }
    }
    if (p.key !== null) {
      const earlier = keys.get(p.key);
      if (earlier !== undefined) {
        throw new IdempotencyConflictError(
          out[earlier].entity,
          p.entity,
          `items ${earlier} and ${i} of one batch use the same idempotency key; nothing was written`,
        );
      }
      keys.set(p.key, i);
    }
    bytes += p.payload.length;
    if (bytes > BATCH_BYTES_MAX) throw new PayloadTooLargeError(bytes, BATCH_BYTES_MAX);
    out.push(p);
  }
  return out;
}

/** Position arguments (`after`, cursor positions): safe integers ≥ 0. */
export function checkPositionArg(where: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw new InvalidArgumentError(`${where} must be an integer ≥ 0, found ${describeValue(v)}`);
  }
  return v;
}

/** Count arguments (`limit`, `maxCount`): safe integers ≥ 0. */
export function checkCountArg(where: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw new InvalidArgumentError(`${where} must be an integer ≥ 0, found ${describeValue(v)}`);
  }
  return v;
}

/** An entity argument of a read: any string (a name no entity can have simply matches nothing). */
export function checkEntityArg(where: string, v: unknown): string {
  if (typeof v !== "string") {
    throw new InvalidArgumentError(`${where}: entity must be a string, found ${describeValue(v)}`);
  }
  return v;
}

// C0 controls, DEL and C1 controls: no entity or scope holds one.
// deno-lint-ignore no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

/** True when `s` could be (a prefix of) an entity or scope name, so a query can match it. */
export function couldBeName(s: string): boolean {
  return s.isWellFormed() && !CONTROL_CHARS.test(s);
}

/** Longest cursor name, UTF-8 bytes (the embedded store's entity limit less `$cursor:`). */
export const CURSOR_NAME_BYTES_MAX = 1016;

/** A cursor name: non-empty, no control characters, at most {@linkcode CURSOR_NAME_BYTES_MAX} bytes. */
export function checkCursorName(where: string, name: unknown): string {
  if (typeof name !== "string" || name.length === 0) {
    throw new InvalidArgumentError(
      `${where}: cursor name must be a non-empty string, found ${describeValue(name)}`,
    );
  }
  if (
    !couldBeName(name) || textEncoder.encode(name).length > CURSOR_NAME_BYTES_MAX
  ) {
    throw new InvalidArgumentError(
      `${where}: cursor name ${describeValue(name)} must be well-formed, without control ` +
        `characters, at most ${CURSOR_NAME_BYTES_MAX} UTF-8 bytes`,
    );
  }
  return name;
}
