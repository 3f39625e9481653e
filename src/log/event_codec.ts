/**
 * The event body: a fixed little-endian header, variable fields, the
 * MessagePack-encoded payload, and the event's 32-byte BLAKE3 hash, which
 * covers everything before it (so also the previous event's hash).
 *
 * ```
 * offset size field
 * 0      16   event id (UUIDv7, big-endian)
 * 16     4    sequence (per entity, from 1)
 * 20     4    globalSequence (from 1)
 * 24     8    timestampMs (f64)
 * 32     2    kind
 * 34     1    field flags (1 prevHash, 2 correlationId, 4 causationId, 8 string key, 16 bigint key)
 * 35     1    reserved (0)
 * 36     2    entity UTF-8 bytes
 * 38     2    scope UTF-8 bytes
 * 40     2    idempotency key bytes
 * 42     2    reserved (0)
 * 44     ..   prevHash(32)? correlationId(16)? causationId(16)? entity scope key
 * ..     ..   payload (MessagePack)
 * end-32 32   eventHash = BLAKE3(body[0 .. end-32])
 * ```
 * The scan on open reads only the fixed header and strings; payloads are
 * decoded when an event is read.
 *
 * @module
 */

import { HASH_BYTES, hashInto } from "../core/hash.ts";
import { utf8Decode } from "../core/utf8.ts";

export { PAYLOAD_DEPTH_MAX } from "../core/limits.ts";
/** Bytes of the fixed event header. */
export const EVENT_HEADER_BYTES = 44;
/** Bytes of an id field. */
export const ID_BYTES = 16;

/** Field flags. */
export const EventFlag = {
  PrevHash: 1,
  Correlation: 2,
  Causation: 4,
  StringKey: 8,
  BigintKey: 16,
} as const;
const KNOWN_FLAGS = 31;

/** The variable parts of an event body, already encoded. */
export interface EventParts {
  /** The event id as four big-endian u32 words. */
  id: readonly number[];
  sequence: number;
  globalSequence: number;
  timestampMs: number;
  kind: number;
  prevHash: Uint8Array | null;
  correlationId: Uint8Array | null;
  causationId: Uint8Array | null;
  entity: Uint8Array;
  scope: Uint8Array;
  key: Uint8Array | null;
  keyIsString: boolean;
  payload: Uint8Array;
}

/** Body length of an event with these parts. */
export function eventBodyLength(p: EventParts): number {
  return EVENT_HEADER_BYTES + (p.prevHash ? HASH_BYTES : 0) + (p.correlationId ? ID_BYTES : 0) +
    (p.causationId ? ID_BYTES : 0) + p.entity.length + p.scope.length +
    (p.key ? p.key.length : 0) + p.payload.length + HASH_BYTES;
}

/**
 * Write the body into `buf` at `at` (exactly {@linkcode eventBodyLength}
 * bytes), hashing it in place. Returns the offset of the event hash.
 */
export function writeEventBody(buf: Uint8Array, at: number, p: EventParts): number {
  for (let i = 0; i < 4; i++) {
    const w = p.id[i];
    const o = at + i * 4;
    buf[o] = w >>> 24;
    buf[o + 1] = (w >>> 16) & 255;
    buf[o + 2] = (w >>> 8) & 255;
    buf[o + 3] = w & 255;
  }
  putU32(buf, at + 16, p.sequence);
  putU32(buf, at + 20, p.globalSequence);
  f64[0] = p.timestampMs;
  buf.set(f64Bytes, at + 24);
  putU16(buf, at + 32, p.kind);
  let flags = 0;
  if (p.prevHash) flags |= EventFlag.PrevHash;
  if (p.correlationId) flags |= EventFlag.Correlation;
  if (p.causationId) flags |= EventFlag.Causation;
  if (p.key) flags |= p.keyIsString ? EventFlag.StringKey : EventFlag.BigintKey;
  buf[at + 34] = flags;
  buf[at + 35] = 0;
  putU16(buf, at + 36, p.entity.length);
  putU16(buf, at + 38, p.scope.length);
  putU16(buf, at + 40, p.key ? p.key.length : 0);
  putU16(buf, at + 42, 0);
  let w = at + EVENT_HEADER_BYTES;
  if (p.prevHash) (buf.set(p.prevHash, w), w += HASH_BYTES);
  if (p.correlationId) (buf.set(p.correlationId, w), w += ID_BYTES);
  if (p.causationId) (buf.set(p.causationId, w), w += ID_BYTES);
  buf.set(p.entity, w);
  w += p.entity.length;
  buf.set(p.scope, w);
  w += p.scope.length;
  if (p.key) (buf.set(p.key, w), w += p.key.length);
  buf.set(p.payload, w);
  w += p.payload.length;
  hashInto(buf.subarray(at, w), buf, w);
  return w;
}

// Little-endian helpers: no DataView allocation on the append path.
const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error("batpak requires a little-endian platform");
}

function putU32(buf: Uint8Array, at: number, v: number): void {
  buf[at] = v & 255;
  buf[at + 1] = (v >>> 8) & 255;
  buf[at + 2] = (v >>> 16) & 255;
  buf[at + 3] = v >>> 24;
}

function getU32(buf: Uint8Array, at: number): number {
  return (buf[at] | (buf[at + 1] << 8) | (buf[at + 2] << 16) | (buf[at + 3] << 24)) >>> 0;
}

function getU16(buf: Uint8Array, at: number): number {
  return buf[at] | (buf[at + 1] << 8);
}

function getF64(buf: Uint8Array, at: number): number {
  for (let i = 0; i < 8; i++) f64Bytes[i] = buf[at + i];
  return f64[0];
}

function putU16(buf: Uint8Array, at: number, v: number): void {
  buf[at] = v & 255;
  buf[at + 1] = (v >>> 8) & 255;
}

/** The fixed fields of an event body plus the offsets of its variable parts. */
export interface EventHeader {
  /** Offset of the body (and its event id) in the buffer. */
  bodyAt: number;
  sequence: number;
  globalSequence: number;
  timestampMs: number;
  kind: number;
  flags: number;
  /** Offsets (absolute, in the buffer) of each part; -1 when absent. */
  prevHashAt: number;
  correlationAt: number;
  causationAt: number;
  entityAt: number;
  entityLength: number;
  scopeAt: number;
  scopeLength: number;
  keyAt: number;
  keyLength: number;
  keyIsString: boolean;
  payloadAt: number;
  payloadEnd: number;
  hashAt: number;
}

/**
 * Read the fixed header of the event body at `buf[at .. at+length]` and
 * locate its parts, or return why it is malformed. Never throws.
 */
export function readEventHeader(buf: Uint8Array, at: number, length: number): EventHeader | string {
  if (length < EVENT_HEADER_BYTES + HASH_BYTES) {
    return `event body of ${length} bytes is shorter than the minimum`;
  }
  const flags = buf[at + 34];
  if ((flags & ~KNOWN_FLAGS) !== 0 || buf[at + 35] !== 0) return "unknown event flags";
  if ((flags & EventFlag.StringKey) && (flags & EventFlag.BigintKey)) return "two key types";
  const sequence = getU32(buf, at + 16);
  const globalSequence = getU32(buf, at + 20);
  if (sequence === 0 || globalSequence === 0) return "zero sequence";
  const entityLength = getU16(buf, at + 36);
  const scopeLength = getU16(buf, at + 38);
  const keyLength = getU16(buf, at + 40);
  let w = at + EVENT_HEADER_BYTES;
  const prevHashAt = flags & EventFlag.PrevHash ? w : -1;
  if (prevHashAt >= 0) w += HASH_BYTES;
  const correlationAt = flags & EventFlag.Correlation ? w : -1;
  if (correlationAt >= 0) w += ID_BYTES;
  const causationAt = flags & EventFlag.Causation ? w : -1;
  if (causationAt >= 0) w += ID_BYTES;
  const entityAt = w;
  w += entityLength;
  const scopeAt = w;
  w += scopeLength;
  const hasKey = (flags & (EventFlag.StringKey | EventFlag.BigintKey)) !== 0;
  if (!hasKey && keyLength !== 0) return "key length without a key";
  const keyAt = hasKey ? w : -1;
  w += keyLength;
  const hashAt = at + length - HASH_BYTES;
  if (w > hashAt || entityLength === 0 || scopeLength === 0) {
    return "event field lengths overrun the body";
  }
  return {
    bodyAt: at,
    sequence,
    globalSequence,
    timestampMs: getF64(buf, at + 24),
    kind: getU16(buf, at + 32),
    flags,
    prevHashAt,
    correlationAt,
    causationAt,
    entityAt,
    entityLength,
    scopeAt,
    scopeLength,
    keyAt,
    keyLength,
    keyIsString: (flags & EventFlag.StringKey) !== 0,
    payloadAt: w,
    payloadEnd: hashAt,
    hashAt,
  };
}

/** Decode UTF-8 exactly: a leading U+FEFF is kept; invalid bytes throw. */
export function decodeText(buf: Uint8Array, at: number, length: number): string {
  return utf8Decode(buf, at, length);
}

/**
 * Map key of an idempotency key; distinguishes the string "1" from the
 * bigint 1n, and keeps every byte (no BOM stripping, no normalisation).
 */
export function keyString(isString: boolean, bytes: Uint8Array): string {
  if (isString) return "s:" + utf8Decode(bytes, 0, bytes.length);
  let hex = "b:";
  for (let i = 0; i < bytes.length; i++) hex += bytes[i].toString(16).padStart(2, "0");
  return hex;
}
