/**
 * Event payloads as MessagePack: one encoder that validates while it
 * encodes, and one decoder, both byte-exact.
 *
 * The encoder reads every property of the payload exactly once (a getter or
 * Proxy trap runs once, and what it returned the first time is what is
 * stored), rejects what MessagePack would not give back unchanged (Maps,
 * Sets, class instances, functions, symbols, cycles, invalid Dates, bigints
 * beyond 64 bits, strings with lone surrogates, an own `"__proto__"` key),
 * and stops as soon as the encoded size passes the largest frame, so a tiny
 * payload that would encode huge (`{ a: new Array(2 ** 32 - 1) }`) fails at
 * once instead of walking every hole. `-0` is kept (as a float).
 *
 * The decoder reads everything this encoder and earlier versions (written
 * with `@msgpack/msgpack`) produced, to the same values that library
 * returns — except that strings keep a leading U+FEFF (the library's
 * `TextDecoder` strips it) and invalid UTF-8 is an error, not U+FFFD.
 *
 * Each store owns one encoder and one decoder: their scratch buffers are
 * never shared between stores.
 *
 * @module
 */

import { InvalidPayloadError, PayloadTooLargeError, StoreError } from "./errors.ts";
import { FRAME_BODY_BYTES_MAX, PAYLOAD_DEPTH_MAX } from "./limits.ts";
import { utf8Decode, utf8Length } from "./utf8.ts";

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;
const INITIAL_BUFFER_BYTES = 4096;
/** ASCII strings up to this many bytes are decoded eight bytes per `fromCharCode` call. */
const SHORT_STRING_BYTES = 64;
/** Largest argument list passed to `String.fromCharCode.apply`. */
const APPLY_CHUNK_BYTES = 4096;
/** Map keys up to this many bytes are cached by the decoder. */
const KEY_CACHE_BYTES_MAX = 16;
/** Slots of the decoder's key cache (a power of two). */
const KEY_CACHE_SLOTS = 512;
/** Nesting the decoder accepts (deeper than anything the encoder writes; forged input stops here). */
const DECODE_DEPTH_MAX = 100;
/** MessagePack extension type of timestamps (Dates). */
const EXT_TIMESTAMP = -1;
const SECONDS_32_MAX = 0xffffffff;
const SECONDS_34_MAX = 0x3ffffffff;
const TWO_POW_32 = 0x100000000;

/** Thrown by {@linkcode PayloadDecoder.decode} for bytes that are not a payload. */
export class PayloadDecodeError extends Error {
  /** Build the error; `message` says what was malformed. */
  constructor(message: string) {
    super(message);
    this.name = "PayloadDecodeError";
  }
}

function describeKind(value: unknown): string {
  if (typeof value === "function") return "a function";
  if (typeof value === "symbol") return "a symbol";
  try {
    const proto = Object.getPrototypeOf(value);
    const ctor = proto && Object.getOwnPropertyDescriptor(proto, "constructor")?.value;
    return typeof ctor === "function" && ctor.name
      ? `a ${ctor.name}`
      : "an object with a non-plain prototype";
  } catch {
    return "an object whose prototype cannot be read";
  }
}

/** Encodes payloads into one reused buffer (the result is a view: use or copy it before the next call). */
export class PayloadEncoder {
  readonly #maxBytes: number;
  #buf = new Uint8Array(INITIAL_BUFFER_BYTES);
  #view = new DataView(this.#buf.buffer);
  #pos = 0;
  /** Objects being encoded, outermost first: a repeat is a cycle. */
  readonly #stack: object[] = [];
  /** The key or index being encoded at each depth, for error messages only. */
  readonly #path: (string | number)[] = [];

  /**
   * `maxBytes` bounds the encoding (default: the largest frame body); the
   * index sidecars, which hold every name and key, pass a larger bound.
   */
  constructor(maxBytes: number = FRAME_BODY_BYTES_MAX) {
    this.#maxBytes = maxBytes;
  }

  /**
   * Validate and encode `payload`. Throws {@linkcode InvalidPayloadError}
   * (also for a getter or Proxy trap that throws) or
   * {@linkcode PayloadTooLargeError} (as soon as the encoding passes the
   * largest frame body).
   */
  encode(payload: unknown): Uint8Array {
    this.#pos = 0;
    this.#stack.length = 0;
    this.#path.length = 0;
    try {
      this.#value(payload, 0);
    } catch (e) {
      if (e instanceof StoreError) throw e;
      throw new InvalidPayloadError(
        `${this.#where()} cannot be read: ${(e as Error)?.message ?? String(e)}`,
        { cause: e },
      );
    }
    return this.#buf.subarray(0, this.#pos);
  }

  #where(): string {
    let s = "payload";
    for (const p of this.#path) s += typeof p === "number" ? `[${p}]` : `.${p}`;
    return s;
  }

  #invalid(what: string): never {
    throw new InvalidPayloadError(`${this.#where()} ${what}`);
  }

  #room(bytes: number): void {
    const need = this.#pos + bytes;
    if (need <= this.#buf.length) return;
    if (need > this.#maxBytes) throw new PayloadTooLargeError(need, this.#maxBytes);
    let size = this.#buf.length * 2;
    while (size < need) size *= 2;
    const grown = new Uint8Array(Math.min(size, this.#maxBytes));
    grown.set(this.#buf.subarray(0, this.#pos));
    this.#buf = grown;
    this.#view = new DataView(grown.buffer);
  }

  #u8(b: number): void {
    this.#room(1);
    this.#buf[this.#pos++] = b;
  }

  #head(code: number, width: 1 | 2 | 4, n: number): void {
    this.#room(1 + width);
    this.#buf[this.#pos] = code;
    if (width === 1) this.#buf[this.#pos + 1] = n;
    else if (width === 2) this.#view.setUint16(this.#pos + 1, n);
    else this.#view.setUint32(this.#pos + 1, n);
    this.#pos += 1 + width;
  }

  #value(v: unknown, depth: number): void {
    switch (typeof v) {
      case "string":
        return this.#string(v);
      case "number":
        return this.#number(v);
      case "boolean":
        return this.#u8(v ? 0xc3 : 0xc2);
      case "undefined":
        // Like JSON: an undefined member is dropped (by #object); elsewhere it is nil (null).
        return this.#u8(0xc0);
      case "bigint":
        return this.#bigint(v);
      case "object":
        if (v === null) return this.#u8(0xc0);
        return this.#object(v, depth);
      default:
        this.#invalid(`is ${describeKind(v)}, which MessagePack cannot store`);
    }
  }

  #number(v: number): void {
    if (Number.isInteger(v) && !Object.is(v, -0)) {
      if (v >= 0) {
        if (v < 0x80) return this.#u8(v);
        if (v < 0x100) return this.#head(0xcc, 1, v);
        if (v < 0x10000) return this.#head(0xcd, 2, v);
        if (v < TWO_POW_32) return this.#head(0xce, 4, v);
      } else {
        if (v >= -0x20) return this.#u8(v & 0xff);
        if (v >= -0x80) return this.#head(0xd0, 1, v & 0xff);
        if (v >= -0x8000) return this.#head(0xd1, 2, v & 0xffff);
        if (v >= -0x80000000) return this.#head(0xd2, 4, v >>> 0);
      }
    }
    // Fractions, -0, NaN, infinities and integers past 32 bits: a float64 holds them exactly.
    this.#room(9);
    this.#buf[this.#pos] = 0xcb;
    this.#view.setFloat64(this.#pos + 1, v);
    this.#pos += 9;
  }

  #bigint(v: bigint): void {
    if (v < INT64_MIN || v > UINT64_MAX) {
      this.#invalid(`is a bigint outside the 64-bit range: ${v}`);
    }
    this.#room(9);
    if (v >= 0n) {
      this.#buf[this.#pos] = 0xcf;
      this.#view.setBigUint64(this.#pos + 1, v);
    } else {
      this.#buf[this.#pos] = 0xd3;
      this.#view.setBigInt64(this.#pos + 1, v);
    }
    this.#pos += 9;
  }

  #string(s: string): void {
    // UTF-8 cannot hold a lone surrogate: it would come back as U+FFFD.
    if (!s.isWellFormed()) this.#invalid("is a string with a lone UTF-16 surrogate");
    const n = s.length;
    let ascii = true;
    for (let i = 0; i < n; i++) {
      if (s.charCodeAt(i) >= 0x80) {
        ascii = false;
        break;
      }
    }
    const bytes = ascii ? n : utf8Length(s);
    if (bytes < 32) this.#u8(0xa0 | bytes);
    else if (bytes < 0x100) this.#head(0xd9, 1, bytes);
    else if (bytes < 0x10000) this.#head(0xda, 2, bytes);
    else this.#head(0xdb, 4, bytes);
    this.#room(bytes);
    const buf = this.#buf;
    let w = this.#pos;
    if (ascii) {
      for (let i = 0; i < n; i++) buf[w++] = s.charCodeAt(i);
    } else {
      w += textEncoder.encodeInto(s, buf.subarray(w, w + bytes)).written;
    }
    this.#pos = w;
  }

  #object(v: object, depth: number): void {
    if (v instanceof Uint8Array) return this.#binary(v);
    if (v instanceof Date) return this.#date(v);
    if (depth >= PAYLOAD_DEPTH_MAX) this.#invalid(`nests deeper than ${PAYLOAD_DEPTH_MAX} levels`);
    if (this.#stack.includes(v)) this.#invalid("is a cyclic reference");
    this.#stack.push(v);
    if (Array.isArray(v)) this.#array(v, depth);
    else this.#map(v, depth);
    this.#stack.pop();
  }

  #binary(v: Uint8Array): void {
    const n = v.length;
    if (n < 0x100) this.#head(0xc4, 1, n);
    else if (n < 0x10000) this.#head(0xc5, 2, n);
    else this.#head(0xc6, 4, n);
    this.#room(n);
    this.#buf.set(v, this.#pos);
    this.#pos += n;
  }

  #date(v: Date): void {
    const ms = Date.prototype.getTime.call(v);
    // MessagePack has no invalid timestamp: it would come back as 1970-01-01.
    if (Number.isNaN(ms)) this.#invalid("is an invalid Date");
    const sec = Math.floor(ms / 1000);
    const nsec = (ms - sec * 1000) * 1e6;
    const at = this.#pos;
    if (sec >= 0 && sec <= SECONDS_34_MAX) {
      if (nsec === 0 && sec <= SECONDS_32_MAX) {
        this.#room(6);
        this.#buf[at] = 0xd6;
        this.#buf[at + 1] = EXT_TIMESTAMP & 0xff;
        this.#view.setUint32(at + 2, sec);
        this.#pos += 6;
        return;
      }
      this.#room(10);
      this.#buf[at] = 0xd7;
      this.#buf[at + 1] = EXT_TIMESTAMP & 0xff;
      const hi = Math.floor(sec / TWO_POW_32);
      this.#view.setUint32(at + 2, ((nsec << 2) | hi) >>> 0);
      this.#view.setUint32(at + 6, sec >>> 0);
      this.#pos += 10;
      return;
    }
    this.#room(15);
    this.#buf[at] = 0xc7;
    this.#buf[at + 1] = 12;
    this.#buf[at + 2] = EXT_TIMESTAMP & 0xff;
    this.#view.setUint32(at + 3, nsec);
    this.#view.setBigInt64(at + 7, BigInt(sec));
    this.#pos += 15;
  }

  #array(v: unknown[], depth: number): void {
    const n = v.length;
    // Every element takes at least one byte: a huge (even sparse) array fails here, at once.
    if (n > this.#maxBytes) throw new PayloadTooLargeError(n, this.#maxBytes);
    if (n < 16) this.#u8(0x90 | n);
    else if (n < 0x10000) this.#head(0xdc, 2, n);
    else this.#head(0xdd, 4, n);
    const path = this.#path;
    const d = path.length;
    for (let i = 0; i < n; i++) {
      path[d] = i;
      this.#value(v[i], depth + 1);
    }
    path.length = d;
  }

  #map(v: object, depth: number): void {
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) {
      this.#invalid(
        `is ${describeKind(v)}; payloads hold plain objects, arrays, strings, numbers, ` +
          `booleans, null, bigints, Uint8Array and Date`,
      );
    }
    const keys = Object.keys(v);
    const n = keys.length;
    if (n * 2 > this.#maxBytes) throw new PayloadTooLargeError(n * 2, this.#maxBytes);
    // The header is sized for every key; members that are undefined are dropped, so the count
    // is patched in afterwards (a map16 may then hold fewer than 16 entries: still valid).
    const width = n < 16 ? 0 : n < 0x10000 ? 2 : 4;
    const headerAt = this.#pos;
    this.#room(1 + width);
    this.#pos += 1 + width;
    const path = this.#path;
    const d = path.length;
    const record = v as Record<string, unknown>;
    let count = 0;
    for (let i = 0; i < n; i++) {
      const key = keys[i];
      path[d] = key;
      if (!key.isWellFormed()) this.#invalid("is a key with a lone UTF-16 surrogate");
      // An own "__proto__" key (JSON.parse makes them) encodes, but no decoder gives it back.
      if (key === "__proto__") {
        this.#invalid('is an own "__proto__" key, which cannot be read back');
      }
      const member = record[key];
      if (member === undefined) continue;
      this.#string(key);
      this.#value(member, depth + 1);
      count++;
    }
    path.length = d;
    if (width === 0) this.#buf[headerAt] = 0x80 | count;
    else if (width === 2) {
      this.#buf[headerAt] = 0xde;
      this.#view.setUint16(headerAt + 1, count);
    } else {
      this.#buf[headerAt] = 0xdf;
      this.#view.setUint32(headerAt + 1, count);
    }
  }
}

const textEncoder = new TextEncoder();

/** Decodes payloads; keeps a view of the last buffer it read (events of one read chunk share it). */
export class PayloadDecoder {
  readonly #keyBytes: (Uint8Array | undefined)[] = new Array(KEY_CACHE_SLOTS);
  readonly #keyText: string[] = new Array(KEY_CACHE_SLOTS);
  #bytes: Uint8Array = new Uint8Array(0);
  #view: DataView = new DataView(this.#bytes.buffer);
  #pos = 0;
  #end = 0;

  /**
   * Decode the payload in `buf[at .. end)`. Throws
   * {@linkcode PayloadDecodeError} when the bytes are not exactly one
   * MessagePack value.
   */
  decode(buf: Uint8Array, at: number, end: number): unknown {
    if (buf !== this.#bytes) {
      this.#bytes = buf;
      this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    this.#pos = at;
    this.#end = end;
    const v = this.#value(0);
    if (this.#pos !== end) {
      throw new PayloadDecodeError(`${end - this.#pos} extra bytes after the payload`);
    }
    return v;
  }

  #need(n: number): number {
    const at = this.#pos;
    if (at + n > this.#end) throw new PayloadDecodeError("the payload ends early");
    this.#pos = at + n;
    return at;
  }

  #value(depth: number): unknown {
    if (depth > DECODE_DEPTH_MAX) throw new PayloadDecodeError("the payload nests too deep");
    const b = this.#bytes[this.#need(1)];
    if (b < 0x80) return b;
    if (b >= 0xe0) return b - 0x100;
    if (b < 0x90) return this.#map(b & 0x0f, depth);
    if (b < 0xa0) return this.#array(b & 0x0f, depth);
    if (b < 0xc0) return this.#string(b & 0x1f);
    const view = this.#view;
    switch (b) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return this.#binary(this.#bytes[this.#need(1)]);
      case 0xc5:
        return this.#binary(view.getUint16(this.#need(2)));
      case 0xc6:
        return this.#binary(view.getUint32(this.#need(4)));
      case 0xc7:
        return this.#ext(this.#bytes[this.#need(1)]);
      case 0xc8:
        return this.#ext(view.getUint16(this.#need(2)));
      case 0xc9:
        return this.#ext(view.getUint32(this.#need(4)));
      case 0xca:
        return view.getFloat32(this.#need(4));
      case 0xcb:
        return view.getFloat64(this.#need(8));
      case 0xcc:
        return this.#bytes[this.#need(1)];
      case 0xcd:
        return view.getUint16(this.#need(2));
      case 0xce:
        return view.getUint32(this.#need(4));
      case 0xcf:
        return view.getBigUint64(this.#need(8));
      case 0xd0:
        return view.getInt8(this.#need(1));
      case 0xd1:
        return view.getInt16(this.#need(2));
      case 0xd2:
        return view.getInt32(this.#need(4));
      case 0xd3:
        return view.getBigInt64(this.#need(8));
      case 0xd4:
        return this.#ext(1);
      case 0xd5:
        return this.#ext(2);
      case 0xd6:
        return this.#ext(4);
      case 0xd7:
        return this.#ext(8);
      case 0xd8:
        return this.#ext(16);
      case 0xd9:
        return this.#string(this.#bytes[this.#need(1)]);
      case 0xda:
        return this.#string(view.getUint16(this.#need(2)));
      case 0xdb:
        return this.#string(view.getUint32(this.#need(4)));
      case 0xdc:
        return this.#array(view.getUint16(this.#need(2)), depth);
      case 0xdd:
        return this.#array(view.getUint32(this.#need(4)), depth);
      case 0xde:
        return this.#map(view.getUint16(this.#need(2)), depth);
      case 0xdf:
        return this.#map(view.getUint32(this.#need(4)), depth);
      default:
        throw new PayloadDecodeError(`byte 0x${b.toString(16)} starts no MessagePack value`);
    }
  }

  #string(length: number): string {
    const at = this.#need(length);
    const bytes = this.#bytes;
    const stop = at + length;
    if (length <= SHORT_STRING_BYTES) {
      // ASCII eight bytes per call (measured ~2x a byte-per-call loop from 8 bytes up, and ahead
      // of `fromCharCode.apply` on a view below ~30); anything else goes to the UTF-8 decoder.
      const cc = String.fromCharCode;
      let s = "";
      let i = at;
      for (; i + 8 <= stop; i += 8) {
        const b0 = bytes[i], b1 = bytes[i + 1], b2 = bytes[i + 2], b3 = bytes[i + 3];
        const b4 = bytes[i + 4], b5 = bytes[i + 5], b6 = bytes[i + 6], b7 = bytes[i + 7];
        if ((b0 | b1 | b2 | b3 | b4 | b5 | b6 | b7) >= 0x80) return this.#utf8(at, length);
        s += cc(b0, b1, b2, b3, b4, b5, b6, b7);
      }
      for (; i < stop; i++) {
        const c = bytes[i];
        if (c >= 0x80) return this.#utf8(at, length);
        s += cc(c);
      }
      return s;
    }
    for (let i = at; i < stop; i++) if (bytes[i] >= 0x80) return this.#utf8(at, length);
    let s = "";
    for (let i = at; i < stop; i += APPLY_CHUNK_BYTES) {
      const part = bytes.subarray(i, Math.min(stop, i + APPLY_CHUNK_BYTES));
      s += String.fromCharCode.apply(null, part as unknown as number[]);
    }
    return s;
  }

  #utf8(at: number, length: number): string {
    try {
      return utf8Decode(this.#bytes, at, length);
    } catch {
      throw new PayloadDecodeError("a string is not valid UTF-8");
    }
  }

  /**
   * The fixstr key of `length` bytes after the type byte at the position,
   * from a direct-mapped cache keyed by its bytes (compared, so a collision
   * is only a miss).
   */
  #cachedKey(length: number): string {
    const at = this.#pos + 1;
    if (at + length > this.#end) return this.#value(0) as string; // reports the overrun
    const bytes = this.#bytes;
    let h = length;
    for (let i = 0; i < length; i++) h = Math.imul(h ^ bytes[at + i], 0x01000193);
    const slot = (h >>> 0) & (KEY_CACHE_SLOTS - 1);
    const cached = this.#keyBytes[slot];
    if (cached !== undefined && cached.length === length) {
      let same = true;
      for (let i = 0; i < length; i++) {
        if (cached[i] !== bytes[at + i]) {
          same = false;
          break;
        }
      }
      if (same) {
        this.#pos = at + length;
        return this.#keyText[slot];
      }
    }
    this.#pos = at;
    const key = this.#string(length);
    this.#keyBytes[slot] = bytes.slice(at, at + length);
    this.#keyText[slot] = key;
    return key;
  }

  #binary(length: number): Uint8Array {
    const at = this.#need(length);
    // A copy: a view would keep the whole read chunk alive and alias it.
    return this.#bytes.slice(at, at + length);
  }

  #array(length: number, depth: number): unknown[] {
    // Each element takes at least one byte: a lying length cannot allocate past the input.
    if (length > this.#end - this.#pos) {
      throw new PayloadDecodeError("an array length overruns the payload");
    }
    const out = new Array(length);
    for (let i = 0; i < length; i++) out[i] = this.#value(depth + 1);
    return out;
  }

  #map(length: number, depth: number): Record<string, unknown> {
    if (length * 2 > this.#end - this.#pos) {
      throw new PayloadDecodeError("a map length overruns the payload");
    }
    const out: Record<string, unknown> = {};
    for (let i = 0; i < length; i++) {
      // Keys repeat from event to event: a short fixstr key comes from the cache.
      const b = this.#bytes[this.#pos];
      const key = b >= 0xa0 && b <= 0xa0 + KEY_CACHE_BYTES_MAX
        ? this.#cachedKey(b & 0x1f)
        : this.#value(depth + 1);
      if (typeof key !== "string" && typeof key !== "number") {
        throw new PayloadDecodeError("a map key is neither a string nor a number");
      }
      if (key === "__proto__") {
        throw new PayloadDecodeError('the map key "__proto__" is not allowed');
      }
      out[key] = this.#value(depth + 1);
    }
    return out;
  }

  #ext(length: number): Date {
    const type = this.#view.getInt8(this.#need(1));
    const at = this.#need(length);
    if (type !== EXT_TIMESTAMP) throw new PayloadDecodeError(`unknown extension type ${type}`);
    const view = this.#view;
    let sec: number;
    let nsec: number;
    if (length === 4) {
      sec = view.getUint32(at);
      nsec = 0;
    } else if (length === 8) {
      const hi = view.getUint32(at);
      nsec = hi >>> 2;
      sec = (hi & 0x3) * TWO_POW_32 + view.getUint32(at + 4);
    } else if (length === 12) {
      nsec = view.getUint32(at);
      sec = Number(view.getBigInt64(at + 4));
    } else throw new PayloadDecodeError(`a timestamp of ${length} bytes`);
    return new Date(sec * 1000 + nsec / 1e6);
  }
}

let sharedEncoder: PayloadEncoder | undefined;
let sharedDecoder: PayloadDecoder | undefined;

/**
 * Validate and encode one payload into a new array (for tools and other
 * backends; a store uses its own {@linkcode PayloadEncoder}).
 */
export function encodePayload(payload: unknown): Uint8Array {
  return (sharedEncoder ??= new PayloadEncoder()).encode(payload).slice();
}

/** Decode one payload (throws {@linkcode PayloadDecodeError} on malformed bytes). */
export function decodePayload(bytes: Uint8Array): unknown {
  return (sharedDecoder ??= new PayloadDecoder()).decode(bytes, 0, bytes.length);
}
