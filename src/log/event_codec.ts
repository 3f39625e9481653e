/**
 * Event bodies, in two formats. The writer writes format 2; both are read.
 *
 * Format 2 (frame kind 4) — compact, and its hash covers a hash of the
 * payload, so a payload can be erased (redaction, compaction) while the
 * chain stays provable:
 *
 * ```
 * offset size field
 * 0      16   event id (UUIDv7, big-endian)
 * 16     1    flags (1 prevLink, 2 correlationId, 4 causationId, 8 string key,
 *             16 bigint key, 32 erased payload, 64 schema version)
 * 17     2    kind, little-endian
 * 19     ..   varint sequence, varint globalSequence, varint (id ms − timestampMs),
 *             varint entity length + entity, varint scope length + scope,
 *             [varint key length + key], [varint schema version],
 *             [correlationId 16], [causationId 16], [prevLink 8]
 * ..     ..   payload (MessagePack), or, erased: BLAKE3(payload) (32)
 * end-32 32   eventHash = BLAKE3(body[0 .. payload] ‖ prevHash ‖ BLAKE3(payload)),
 *             with the erased flag read as 0
 * ```
 * `prevHash` is the entity's previous event's hash (32 zero bytes for its
 * first event); the body keeps only its first 8 bytes (`prevLink`), enough
 * for recovery to tell that consecutive events chain, while `verify()`
 * recomputes the whole chain. Varints are LEB128; the timestamp is the
 * (small) distance from the millisecond in the event id.
 *
 * Format 1 (frame kind 1, written before 0.2): a fixed little-endian
 * header, variable fields, the payload, and a hash over all of it:
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
 * The scan on open reads only the header and strings; payloads are
 * decoded when an event is read.
 *
 * @module
 */

import { HASH_BYTES, hashInto, hashRange } from "../core/hash.ts";
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

/** Frame kinds of the two event formats. */
export const EventFormat = { V1: 1, V2: 4 } as const;

/** Flags of a format-2 body. */
export const Flag2 = {
  PrevLink: 1,
  Correlation: 2,
  Causation: 4,
  StringKey: 8,
  BigintKey: 16,
  Erased: 32,
  Schema: 64,
} as const;
const KNOWN_FLAGS_2 = 127;
/** Bytes of a format-2 prevLink: the first bytes of the previous event's hash. */
export const PREV_LINK_BYTES = 8;
/** Bytes of the fixed start of a format-2 body (id, flags, kind). */
const FIXED_2_BYTES = 19;
/** Offset of the flags byte in a format-2 body. */
const FLAGS_2_AT = 16;

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
  /** Schema version of the payload (format 2; 0 = none written). */
  schemaVersion?: number;
  /** Format 2: the payload was erased and this is its BLAKE3 (`payload` is then empty). */
  erasedHash?: Uint8Array | null;
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

/** Bytes of `v` (a safe integer ≥ 0) as a LEB128 varint. */
export function varintLength(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    n++;
  }
  return n;
}

function putVarint(buf: Uint8Array, at: number, v: number): number {
  while (v >= 0x80) {
    buf[at++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 0x80);
  }
  buf[at++] = v;
  return at;
}

/** The millisecond a UUIDv7's words carry. */
function idMillis(id: readonly number[]): number {
  return id[0] * 0x10000 + (id[1] >>> 16);
}

/** Body length of a format-2 event with these parts. */
export function eventBodyLength2(p: EventParts): number {
  const key = p.key ? varintLength(p.key.length) + p.key.length : 0;
  const schema = p.schemaVersion ? varintLength(p.schemaVersion) : 0;
  return FIXED_2_BYTES + varintLength(p.sequence) + varintLength(p.globalSequence) +
    varintLength(idMillis(p.id) - p.timestampMs) + varintLength(p.entity.length) +
    p.entity.length + varintLength(p.scope.length) + p.scope.length + key + schema +
    (p.correlationId ? ID_BYTES : 0) + (p.causationId ? ID_BYTES : 0) +
    (p.prevHash ? PREV_LINK_BYTES : 0) + (p.erasedHash ? HASH_BYTES : p.payload.length) +
    HASH_BYTES;
}

/** Copies up to this many bytes are byte loops (cheaper than a view and a `set`). */
const SHORT_COPY_BYTES = 128;

/**
 * Hash material and scratch of one writer (or verifier): the prefix of a
 * body, the previous hash and the payload hash are hashed as one input,
 * assembled in a scratch buffer (the payload's hash is written straight
 * into it). Short copies are byte loops: for the tens of bytes an event
 * has, a `subarray` + `set` costs more than the copy.
 */
export class EventHasher {
  #scratch = new Uint8Array(1024);

  /**
   * The format-2 event hash into `out[outAt ..]`: over `body[bodyAt ..
   * payloadAt]`, `prevHash` (zeros for null) and the payload's hash (or
   * `erasedHash`).
   */
  hash2(
    body: Uint8Array,
    bodyAt: number,
    payloadAt: number,
    payloadEnd: number,
    prevHash: Uint8Array | null,
    erasedHash: Uint8Array | null,
    out: Uint8Array,
    outAt: number,
  ): void {
    const fields = payloadAt - bodyAt;
    const need = fields + 2 * HASH_BYTES;
    if (need > this.#scratch.length) this.#scratch = new Uint8Array(need * 2);
    const s = this.#scratch;
    if (fields <= SHORT_COPY_BYTES) { for (let i = 0; i < fields; i++) s[i] = body[bodyAt + i]; }
    else s.set(body.subarray(bodyAt, payloadAt), 0);
    // The erased flag is not part of what the hash proves: erasing keeps the hash.
    s[FLAGS_2_AT] &= ~Flag2.Erased;
    if (prevHash === null) { for (let i = 0; i < HASH_BYTES; i++) s[fields + i] = 0; }
    else for (let i = 0; i < HASH_BYTES; i++) s[fields + i] = prevHash[i];
    const payloadHashAt = fields + HASH_BYTES;
    if (erasedHash) { for (let i = 0; i < HASH_BYTES; i++) s[payloadHashAt + i] = erasedHash[i]; }
    else hashRange(body, payloadAt, payloadEnd, s, payloadHashAt);
    hashRange(s, 0, need, out, outAt);
  }
}

/**
 * Write a format-2 body into `buf` at `at` (exactly
 * {@linkcode eventBodyLength2} bytes), hashing it with `hasher`. Returns the
 * offset of the event hash.
 */
export function writeEventBody2(
  buf: Uint8Array,
  at: number,
  p: EventParts,
  hasher: EventHasher,
): number {
  for (let i = 0; i < 4; i++) {
    const w = p.id[i];
    const o = at + i * 4;
    buf[o] = w >>> 24;
    buf[o + 1] = (w >>> 16) & 255;
    buf[o + 2] = (w >>> 8) & 255;
    buf[o + 3] = w & 255;
  }
  let flags = 0;
  if (p.prevHash) flags |= Flag2.PrevLink;
  if (p.correlationId) flags |= Flag2.Correlation;
  if (p.causationId) flags |= Flag2.Causation;
  if (p.key) flags |= p.keyIsString ? Flag2.StringKey : Flag2.BigintKey;
  if (p.erasedHash) flags |= Flag2.Erased;
  if (p.schemaVersion) flags |= Flag2.Schema;
  buf[at + 16] = flags;
  putU16(buf, at + 17, p.kind);
  let w = at + FIXED_2_BYTES;
  w = putVarint(buf, w, p.sequence);
  w = putVarint(buf, w, p.globalSequence);
  w = putVarint(buf, w, idMillis(p.id) - p.timestampMs);
  w = putVarint(buf, w, p.entity.length);
  w = copyInto(buf, w, p.entity, p.entity.length);
  w = putVarint(buf, w, p.scope.length);
  w = copyInto(buf, w, p.scope, p.scope.length);
  if (p.key) {
    w = putVarint(buf, w, p.key.length);
    w = copyInto(buf, w, p.key, p.key.length);
  }
  if (p.schemaVersion) w = putVarint(buf, w, p.schemaVersion);
  if (p.correlationId) w = copyInto(buf, w, p.correlationId, ID_BYTES);
  if (p.causationId) w = copyInto(buf, w, p.causationId, ID_BYTES);
  if (p.prevHash) w = copyInto(buf, w, p.prevHash, PREV_LINK_BYTES);
  const payloadAt = w;
  if (p.erasedHash) w = copyInto(buf, w, p.erasedHash, HASH_BYTES);
  else w = copyInto(buf, w, p.payload, p.payload.length);
  hasher.hash2(buf, at, payloadAt, w, p.prevHash, p.erasedHash ?? null, buf, w);
  return w;
}

/** Copy `src[0 .. n)` to `buf[at ..]`; returns the offset after it. */
function copyInto(buf: Uint8Array, at: number, src: Uint8Array, n: number): number {
  if (n <= SHORT_COPY_BYTES) { for (let i = 0; i < n; i++) buf[at + i] = src[i]; }
  else buf.set(n === src.length ? src : src.subarray(0, n), at);
  return at + n;
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

/** The fields of an event body (either format) plus the offsets of its variable parts. */
export interface EventHeader {
  /** 1 or 2. */
  format: 1 | 2;
  /** Offset of the body (and its event id) in the buffer. */
  bodyAt: number;
  sequence: number;
  globalSequence: number;
  timestampMs: number;
  kind: number;
  flags: number;
  /** Offsets (absolute, in the buffer) of each part; -1 when absent. */
  prevHashAt: number;
  /** Format 2: the 8-byte link to the previous hash (-1 for an entity's first event). */
  prevLinkAt: number;
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
  /** Format 2: the payload was erased; `payloadAt .. payloadEnd` holds its hash. */
  erased: boolean;
  /** Schema version of the payload (0 when none was written). */
  schemaVersion: number;
}

/**
 * Read the header of the event body at `buf[at .. at+length]` (of frame
 * kind `frameKind`: {@linkcode EventFormat}) and locate its parts, or return
 * why it is malformed. Never throws. A format-2 header is written into
 * `into` when given (a scratch object: no allocation per event).
 */
export function readEventHeader(
  buf: Uint8Array,
  at: number,
  length: number,
  frameKind: number = EventFormat.V1,
  into?: EventHeader,
): EventHeader | string {
  if (frameKind === EventFormat.V2) return readEventHeader2(buf, at, length, into);
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
    format: 1,
    bodyAt: at,
    sequence,
    globalSequence,
    timestampMs: getF64(buf, at + 24),
    kind: getU16(buf, at + 32),
    flags,
    prevHashAt,
    prevLinkAt: -1,
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
    erased: false,
    schemaVersion: 0,
  };
}

/** A varint at `buf[at]`, no further than `end`: [value, next offset], or undefined. */
function getVarint(buf: Uint8Array, at: number, end: number): number {
  let v = 0;
  let scale = 1;
  for (let i = 0; i < 8 && at < end; i++) {
    const b = buf[at++];
    v += (b & 0x7f) * scale;
    if (b < 0x80) {
      varintEnd = at;
      return v;
    }
    scale *= 0x80;
  }
  varintEnd = -1;
  return 0;
}
let varintEnd = 0;

function readEventHeader2(
  buf: Uint8Array,
  at: number,
  length: number,
  into: EventHeader | undefined,
): EventHeader | string {
  const end = at + length;
  const hashAt = end - HASH_BYTES;
  if (length < FIXED_2_BYTES + 6 + HASH_BYTES) {
    return `event body of ${length} bytes is shorter than the minimum`;
  }
  const flags = buf[at + 16];
  if ((flags & ~KNOWN_FLAGS_2) !== 0) return "unknown event flags";
  if ((flags & Flag2.StringKey) && (flags & Flag2.BigintKey)) return "two key types";
  let w = at + FIXED_2_BYTES;
  const sequence = getVarint(buf, w, hashAt);
  if ((w = varintEnd) < 0) return "a field runs past the body";
  const globalSequence = getVarint(buf, w, hashAt);
  if ((w = varintEnd) < 0) return "a field runs past the body";
  const delta = getVarint(buf, w, hashAt);
  if ((w = varintEnd) < 0) return "a field runs past the body";
  if (sequence === 0 || globalSequence === 0) return "zero sequence";
  const entityLength = getVarint(buf, w, hashAt);
  if ((w = varintEnd) < 0) return "a field runs past the body";
  const entityAt = w;
  w += entityLength;
  const scopeLength = getVarint(buf, w, hashAt);
  if ((w = varintEnd) < 0) return "a field runs past the body";
  const scopeAt = w;
  w += scopeLength;
  let keyAt = -1;
  let keyLength = 0;
  if (flags & (Flag2.StringKey | Flag2.BigintKey)) {
    keyLength = getVarint(buf, w, hashAt);
    if ((w = varintEnd) < 0) return "a field runs past the body";
    keyAt = w;
    w += keyLength;
  }
  let schemaVersion = 0;
  if (flags & Flag2.Schema) {
    schemaVersion = getVarint(buf, w, hashAt);
    if ((w = varintEnd) < 0 || schemaVersion === 0) return "a malformed schema version";
  }
  const correlationAt = flags & Flag2.Correlation ? w : -1;
  if (correlationAt >= 0) w += ID_BYTES;
  const causationAt = flags & Flag2.Causation ? w : -1;
  if (causationAt >= 0) w += ID_BYTES;
  const prevLinkAt = flags & Flag2.PrevLink ? w : -1;
  if (prevLinkAt >= 0) w += PREV_LINK_BYTES;
  const erased = (flags & Flag2.Erased) !== 0;
  if (
    w > hashAt || entityLength === 0 || scopeLength === 0 || (erased && hashAt - w !== HASH_BYTES)
  ) {
    return "event field lengths overrun the body";
  }
  const idMs = ((buf[at] << 24 | buf[at + 1] << 16 | buf[at + 2] << 8 | buf[at + 3]) >>> 0) *
      0x10000 + (buf[at + 4] << 8 | buf[at + 5]);
  const h = into ?? newHeader();
  h.format = 2;
  h.bodyAt = at;
  h.sequence = sequence;
  h.globalSequence = globalSequence;
  h.timestampMs = idMs - delta;
  h.kind = getU16(buf, at + 17);
  h.flags = flags;
  h.prevHashAt = -1;
  h.prevLinkAt = prevLinkAt;
  h.correlationAt = correlationAt;
  h.causationAt = causationAt;
  h.entityAt = entityAt;
  h.entityLength = entityLength;
  h.scopeAt = scopeAt;
  h.scopeLength = scopeLength;
  h.keyAt = keyAt;
  h.keyLength = keyLength;
  h.keyIsString = (flags & Flag2.StringKey) !== 0;
  h.payloadAt = w;
  h.payloadEnd = hashAt;
  h.hashAt = hashAt;
  h.erased = erased;
  h.schemaVersion = schemaVersion;
  return h;
}

/** A blank header (a scratch object callers may pass to {@linkcode readEventHeader} to fill). */
export function newHeader(): EventHeader {
  return {
    format: 2,
    bodyAt: 0,
    sequence: 0,
    globalSequence: 0,
    timestampMs: 0,
    kind: 0,
    flags: 0,
    prevHashAt: -1,
    prevLinkAt: -1,
    correlationAt: -1,
    causationAt: -1,
    entityAt: 0,
    entityLength: 0,
    scopeAt: 0,
    scopeLength: 0,
    keyAt: -1,
    keyLength: 0,
    keyIsString: false,
    payloadAt: 0,
    payloadEnd: 0,
    hashAt: 0,
    erased: false,
    schemaVersion: 0,
  };
}

/**
 * The hash an event's body must carry, into `out[outAt ..]`: format 1 over
 * the body, format 2 over its fields, `prevHash` (the entity's previous
 * event's hash, or null) and the payload's hash.
 */
export function expectedEventHash(
  buf: Uint8Array,
  h: EventHeader,
  prevHash: Uint8Array | null,
  hasher: EventHasher,
  out: Uint8Array,
  outAt: number,
): void {
  if (h.format === 1) {
    hashInto(buf.subarray(h.bodyAt, h.hashAt), out, outAt);
    return;
  }
  const erased = h.erased ? buf.subarray(h.payloadAt, h.payloadEnd) : null;
  hasher.hash2(buf, h.bodyAt, h.payloadAt, h.payloadEnd, prevHash, erased, out, outAt);
}

/** True when the event has a link to a previous one (any format). */
export function hasPrev(h: EventHeader): boolean {
  return h.prevHashAt >= 0 || h.prevLinkAt >= 0;
}

/**
 * True when the link the body holds to its previous hash agrees with
 * `prev[prevAt ..]` (32 bytes compared in format 1, the first 8 in format 2).
 */
export function prevMatches(
  buf: Uint8Array,
  h: EventHeader,
  prev: Uint8Array,
  prevAt: number,
): boolean {
  const at = h.format === 1 ? h.prevHashAt : h.prevLinkAt;
  if (at < 0) return false;
  const n = h.format === 1 ? HASH_BYTES : PREV_LINK_BYTES;
  for (let i = 0; i < n; i++) if (buf[at + i] !== prev[prevAt + i]) return false;
  return true;
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
