/**
 * Everything the PostgreSQL backend takes from the embedded engine, in one
 * place: the payload codec, the event body layout and its hash, the fence
 * rules, ids, limits and argument helpers. The backend never builds an event
 * body or judges a fence by itself, so both backends agree byte for byte
 * and rejection reason for rejection reason; when the engine moves a
 * module, this file is the only one to follow it.
 *
 * @module
 */

export { decodePayload, encodePayload } from "../core/payload.ts";
export {
  BATCH_BYTES_MAX,
  BATCH_ITEMS_MAX,
  BIGINT_KEY_MAX,
  FRAME_BODY_BYTES_MAX,
  IDEMPOTENCY_KEY_BYTES_MAX,
} from "../core/limits.ts";
export { eventBodyLength, type EventParts, writeEventBody } from "../log/event_codec.ts";
export {
  checkFence,
  checkLease,
  checkOwner,
  claimEpoch,
  type FenceCheck,
  leaseOver,
  readFence,
  takeoverEpoch,
  tokenHash,
} from "../core/fence.ts";
export { type FenceRecord, SystemState } from "../core/system.ts";
export { describeValue } from "../core/describe.ts";
export { checkProjectArgs, ProjectionStates } from "../read/projection.ts";
export { readClock } from "../core/clock.ts";
export { HASH_BYTES } from "../core/hash.ts";
export {
  formatId,
  fromHex,
  IdGenerator,
  idToBytes,
  type IdWords,
  requireId,
  toHex,
} from "../core/ids.ts";
export { checkUserKind, EventKind, isEventKind } from "../core/kind.ts";
export { Coordinate, validateCoordinatePart } from "../core/coordinate.ts";
