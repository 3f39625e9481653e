/**
 * Preparing an append: every argument read exactly once, validated, and the
 * payload encoded once — before anything is planned. User code (payload
 * getters, Proxy traps, option getters) runs only here, so it can never
 * see, or change, a half-planned write: whatever it does (even appending to
 * the same entity) happens before the plan reads the store's state.
 *
 * @module
 */

import { Coordinate } from "../core/coordinate.ts";
import { describeValue } from "../core/describe.ts";
import { InvalidArgumentError, InvalidCoordinateError } from "../core/errors.ts";
import { type FenceCheck, readFence } from "../core/fence.ts";
import { idToBytes, requireId } from "../core/ids.ts";
import { checkUserKind, isEventKind, TypedKind } from "../core/kind.ts";
import { BIGINT_KEY_MAX, IDEMPOTENCY_KEY_BYTES_MAX } from "../core/limits.ts";
import type { PayloadEncoder } from "../core/payload.ts";
import { utf8Encode } from "../core/utf8.ts";
import { keyString } from "../log/event_codec.ts";
import { admitKind, type StoreKinds } from "./kinds.ts";

/** Entity names with this prefix belong to the store (fences, denials). */
export const RESERVED_ENTITY_PREFIX = "$";

/** An append that passed validation, ready to plan. */
export interface Prepared {
  entity: string;
  scope: string;
  kind: number;
  /** The encoded payload (a view of the encoder's buffer until copied). */
  payload: Uint8Array;
  key: Uint8Array | null;
  keyIsString: boolean;
  /** The key as the index stores it (distinguishes "1" from 1n), or null. */
  keyStr: string | null;
  correlation: Uint8Array | null;
  causation: Uint8Array | null;
  expectedSequence: number | undefined;
  fence: FenceCheck | undefined;
  /** The typed kind's schema version to write (0: none, version 1). */
  schemaVersion: number;
  /** The typed kind's name when the store has not recorded it yet, else null. */
  kindName: string | null;
}

function idField(where: string, id: unknown): Uint8Array {
  const b = new Uint8Array(16);
  idToBytes(requireId(where, id), b);
  return b;
}

/** Read and check the key; returns its bytes and map key. */
function readKey(
  where: string,
  key: unknown,
): { key: Uint8Array; isString: boolean; str: string } {
  if (typeof key === "string") {
    if (key.length === 0) {
      throw new InvalidArgumentError(`${where}: idempotencyKey must not be empty`);
    }
    // UTF-8 turns every lone surrogate into U+FFFD: distinct keys would collide.
    if (!key.isWellFormed()) {
      throw new InvalidArgumentError(`${where}: idempotencyKey has a lone UTF-16 surrogate`);
    }
    const bytes = utf8Encode(key);
    if (bytes.length > IDEMPOTENCY_KEY_BYTES_MAX) {
      throw new InvalidArgumentError(
        `${where}: idempotencyKey is ${bytes.length} bytes; the maximum is ${IDEMPOTENCY_KEY_BYTES_MAX}`,
      );
    }
    return { key: bytes, isString: true, str: "s:" + key };
  }
  if (typeof key === "bigint") {
    if (key < 0n || key > BIGINT_KEY_MAX) {
      throw new InvalidArgumentError(
        `${where}: a bigint idempotencyKey must be in 0..2^128-1, found ${key}`,
      );
    }
    const bytes = new Uint8Array(16);
    let v = key;
    for (let i = 15; i >= 0; i--) {
      bytes[i] = Number(v & 0xffn);
      v >>= 8n;
    }
    return { key: bytes, isString: false, str: keyString(false, bytes) };
  }
  throw new InvalidArgumentError(
    `${where}: idempotencyKey must be a bigint or a string, found ${describeValue(key)}`,
  );
}

/**
 * Validate one append's arguments and encode its payload with `encoder`.
 * `system` allows the store's own kinds (categories 0x0 and 0xD). A
 * {@linkcode TypedKind} is checked against the store's `kinds` and becomes
 * its number, schema version and (when new to the store) name.
 */
export function prepare(
  encoder: PayloadEncoder,
  coord: unknown,
  kind: unknown,
  payload: unknown,
  options: unknown,
  where: string,
  system = false,
  kinds?: StoreKinds,
): Prepared {
  if (!Coordinate.is(coord)) {
    throw new InvalidCoordinateError(
      `${where}: coord must be a Coordinate (new Coordinate(entity, scope)), found ${
        describeValue(coord)
      }`,
    );
  }
  // "$"-prefixed entities are the store's own ($fence:…, $denials): a user event there would
  // share a stream (sequence numbers, hash chain, CAS) with store-internal events.
  if (!system && coord.entity.startsWith(RESERVED_ENTITY_PREFIX)) {
    throw new InvalidCoordinateError(
      `${where}: entity names starting with "${RESERVED_ENTITY_PREFIX}" are reserved for the ` +
        `store's own events, found ${describeValue(coord.entity)}`,
    );
  }
  let schemaVersion = 0;
  let kindName: string | null = null;
  if (kind instanceof TypedKind) {
    if (kinds !== undefined) kindName = admitKind(kinds, kind, where);
    if (kind.version > 1) schemaVersion = kind.version;
    kind = kind.code;
  }
  if (system) {
    if (!isEventKind(kind)) {
      throw new InvalidArgumentError(
        `${where}: kind must be an EventKind, found ${describeValue(kind)}`,
      );
    }
  } else checkUserKind(kind, where);
  let expectedSequence: unknown;
  let idempotencyKey: unknown;
  let correlationId: unknown;
  let causationId: unknown;
  let fence: unknown;
  if (options !== undefined) {
    if (typeof options !== "object" || options === null) {
      throw new InvalidArgumentError(
        `${where}: options must be an object, found ${describeValue(options)}`,
      );
    }
    // One read of each option.
    ({ expectedSequence, idempotencyKey, correlationId, causationId, fence } = options as Record<
      string,
      unknown
    >);
  }
  if (
    expectedSequence !== undefined &&
    (typeof expectedSequence !== "number" || !Number.isSafeInteger(expectedSequence) ||
      expectedSequence < 0)
  ) {
    throw new InvalidArgumentError(
      `${where}: expectedSequence must be an integer ≥ 0, found ${describeValue(expectedSequence)}`,
    );
  }
  const k = idempotencyKey === undefined ? undefined : readKey(where, idempotencyKey);
  const correlation = correlationId === undefined
    ? null
    : idField(`${where}: correlationId`, correlationId);
  const causation = causationId === undefined
    ? null
    : idField(`${where}: causationId`, causationId);
  const f = fence === undefined ? undefined : readFence(fence, where);
  return {
    entity: coord.entity,
    scope: coord.scope,
    kind: kind as number,
    payload: encoder.encode(payload),
    key: k?.key ?? null,
    keyIsString: k?.isString ?? false,
    keyStr: k?.str ?? null,
    correlation,
    causation,
    expectedSequence: expectedSequence as number | undefined,
    fence: f,
    schemaVersion,
    kindName,
  };
}

/** Read the optional `causation` of a batch item: `{ priorItem }` or `{ eventId }`, once. */
export function readCausation(
  where: string,
  causation: unknown,
  item: number,
): { priorItem: number } | { eventId: Uint8Array } | undefined {
  if (causation === undefined) return undefined;
  if (typeof causation !== "object" || causation === null) {
    throw new InvalidArgumentError(`${where}: causation must be { priorItem } or { eventId }`);
  }
  const { priorItem, eventId } = causation as { priorItem?: unknown; eventId?: unknown };
  if (priorItem !== undefined) {
    if (
      typeof priorItem !== "number" || !Number.isInteger(priorItem) || priorItem < 0 ||
      priorItem >= item
    ) {
      throw new InvalidArgumentError(
        `${where}: causation.priorItem must index an earlier item (0..${item - 1}), found ${
          describeValue(priorItem)
        }`,
      );
    }
    return { priorItem };
  }
  if (eventId !== undefined) return { eventId: idField(`${where}: causation.eventId`, eventId) };
  throw new InvalidArgumentError(`${where}: causation must be { priorItem } or { eventId }`);
}

const ARENA_CHUNK_BYTES = 64 * 1024;

/** Copies of short-lived byte views carved from shared chunks (one allocation per 64 KiB, not per item). */
export class ByteArena {
  #chunk = new Uint8Array(0);
  #at = 0;
  /** A stable copy of `view`. */
  keep(view: Uint8Array): Uint8Array {
    if (view.length > ARENA_CHUNK_BYTES / 4) return view.slice();
    if (this.#at + view.length > this.#chunk.length) {
      this.#chunk = new Uint8Array(ARENA_CHUNK_BYTES);
      this.#at = 0;
    }
    const out = this.#chunk.subarray(this.#at, this.#at + view.length);
    out.set(view);
    this.#at += view.length;
    return out;
  }
}
