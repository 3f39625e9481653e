/**
 * Payload decoding for the read path. Event payloads are MessagePack; the
 * common shapes (maps with ASCII string keys, arrays, ASCII strings, small
 * integers, floats, booleans, null) are decoded here directly, several times
 * faster than a general decoder call. Anything else (64-bit integers, which
 * decode to bigints; binary; extensions such as Date; non-ASCII strings;
 * malformed bytes) goes to `@msgpack/msgpack`, so the result is always
 * exactly what the library returns (a property test checks this).
 *
 * @module
 */

import { Decoder } from "@msgpack/msgpack";
import { PAYLOAD_DEPTH_MAX } from "../log/event_codec.ts";

/** Nesting the fast path handles before handing over to the library. */
const FAST_DEPTH_MAX = PAYLOAD_DEPTH_MAX + 4;
/** Longest string built with `String.fromCharCode` one code unit at a time. */
const SHORT_STRING_BYTES = 24;
/** Largest argument list passed to `String.fromCharCode.apply`. */
const APPLY_CHUNK_BYTES = 4096;

const library = new Decoder({ useBigInt64: true });

/** Signals "not the fast path's business": the caller restarts with the library. */
const BAIL: unique symbol = Symbol("bail");

// Decoder state: the buffer being read, a view of it (kept while the same buffer comes back,
// as it does for every event of one read chunk), the position and the payload's end.
let bytes: Uint8Array = new Uint8Array(0);
let view: DataView = new DataView(bytes.buffer);
let pos = 0;
let end = 0;

function ascii(length: number): string | typeof BAIL {
  const stop = pos + length;
  if (stop > end) return BAIL;
  if (length <= SHORT_STRING_BYTES) {
    let s = "";
    for (let i = pos; i < stop; i++) {
      const c = bytes[i];
      if (c >= 0x80) return BAIL;
      s += String.fromCharCode(c);
    }
    pos = stop;
    return s;
  }
  for (let i = pos; i < stop; i++) if (bytes[i] >= 0x80) return BAIL;
  let s = "";
  for (let at = pos; at < stop; at += APPLY_CHUNK_BYTES) {
    const part = bytes.subarray(at, Math.min(stop, at + APPLY_CHUNK_BYTES));
    s += String.fromCharCode.apply(null, part as unknown as number[]);
  }
  pos = stop;
  return s;
}

function array(length: number, depth: number): unknown[] | typeof BAIL {
  // Each element takes at least one byte: a lying length cannot allocate past the input.
  if (length > end - pos) return BAIL;
  const out = new Array(length);
  for (let i = 0; i < length; i++) {
    const v = value(depth);
    if (v === BAIL) return BAIL;
    out[i] = v;
  }
  return out;
}

function map(length: number, depth: number): Record<string, unknown> | typeof BAIL {
  if (length * 2 > end - pos) return BAIL;
  const out: Record<string, unknown> = {};
  for (let i = 0; i < length; i++) {
    const b = bytes[pos];
    let key: string | typeof BAIL;
    if (b >= 0xa0 && b <= 0xbf) {
      pos++;
      key = ascii(b & 0x1f);
    } else if (b === 0xd9 && pos + 1 < end) {
      pos += 2;
      key = ascii(bytes[pos - 1]);
    } else return BAIL;
    if (key === BAIL || key === "__proto__") return BAIL;
    const v = value(depth);
    if (v === BAIL) return BAIL;
    out[key] = v;
  }
  return out;
}

function value(depth: number): unknown {
  if (pos >= end || depth > FAST_DEPTH_MAX) return BAIL;
  const b = bytes[pos++];
  if (b < 0x80) return b;
  if (b >= 0xe0) return b - 0x100;
  if (b < 0x90) return map(b & 0x0f, depth + 1);
  if (b < 0xa0) return array(b & 0x0f, depth + 1);
  if (b < 0xc0) return ascii(b & 0x1f);
  const left = end - pos;
  switch (b) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xca:
      if (left < 4) return BAIL;
      pos += 4;
      return view.getFloat32(pos - 4);
    case 0xcb:
      if (left < 8) return BAIL;
      pos += 8;
      return view.getFloat64(pos - 8);
    case 0xcc:
      if (left < 1) return BAIL;
      return bytes[pos++];
    case 0xcd:
      if (left < 2) return BAIL;
      pos += 2;
      return view.getUint16(pos - 2);
    case 0xce:
      if (left < 4) return BAIL;
      pos += 4;
      return view.getUint32(pos - 4);
    case 0xd0:
      if (left < 1) return BAIL;
      pos += 1;
      return view.getInt8(pos - 1);
    case 0xd1:
      if (left < 2) return BAIL;
      pos += 2;
      return view.getInt16(pos - 2);
    case 0xd2:
      if (left < 4) return BAIL;
      pos += 4;
      return view.getInt32(pos - 4);
    case 0xd9:
      if (left < 1) return BAIL;
      pos += 1;
      return ascii(bytes[pos - 1]);
    case 0xda:
      if (left < 2) return BAIL;
      pos += 2;
      return ascii(view.getUint16(pos - 2));
    case 0xdb:
      if (left < 4) return BAIL;
      pos += 4;
      return ascii(view.getUint32(pos - 4));
    case 0xdc:
      if (left < 2) return BAIL;
      pos += 2;
      return array(view.getUint16(pos - 2), depth + 1);
    case 0xdd:
      if (left < 4) return BAIL;
      pos += 4;
      return array(view.getUint32(pos - 4), depth + 1);
    case 0xde:
      if (left < 2) return BAIL;
      pos += 2;
      return map(view.getUint16(pos - 2), depth + 1);
    case 0xdf:
      if (left < 4) return BAIL;
      pos += 4;
      return map(view.getUint32(pos - 4), depth + 1);
    default:
      // 64-bit integers (bigints), bin, ext and fixext, and the unused 0xc1.
      return BAIL;
  }
}

/**
 * Decode the MessagePack payload in `buf[at .. end)`. Same result as
 * `decode(buf.subarray(at, end), { useBigInt64: true })`; throws the
 * library's error on malformed bytes.
 */
export function decodePayloadAt(buf: Uint8Array, at: number, stop: number): unknown {
  if (buf !== bytes) {
    bytes = buf;
    view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  pos = at;
  end = stop;
  const v = value(0);
  if (v !== BAIL && pos === stop) return v;
  return library.decode(buf.subarray(at, stop));
}
