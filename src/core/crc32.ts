/**
 * CRC-32 as zlib computes it (IEEE 802.3 polynomial, reflected, initial and
 * final XOR 0xFFFFFFFF), in plain TypeScript: the checksum of every frame,
 * segment header and sidecar. The core is web-standard, so it cannot import
 * `node:zlib`; the results, including the continuation argument, are the same.
 * A runtime may register its own for long inputs ({@linkcode setNativeCrc32}).
 *
 * Slicing-by-16: sixteen 256-entry tables fold 16 input bytes into the CRC per
 * step, so the loop does one dependent step per 16 bytes instead of one per
 * byte. On Deno 2.9 (V8) it measured as fast as slicing-by-8 at 60 B and
 * 5-25% faster from 200 B to 1 MiB (about 0.8 ns per byte; bench/crc32_bench.ts
 * compares it with node:zlib). Bytes are read one at a time (no word views),
 * so a call allocates nothing and the result does not depend on byte order.
 *
 * @module
 */

/** The CRC-32 polynomial 0x04C11DB7, bit-reversed (zlib's "reflected" form). */
const POLYNOMIAL_REFLECTED = 0xedb88320;
/** Initial value and final XOR of the CRC register. */
const REGISTER_XOR = 0xffffffff;
/** Entries in one table: one per byte value. */
const TABLE_ENTRIES = 256;
/** Tables, so input bytes folded in per step of the main loop. */
const SLICES = 16;
/** Bytes folded per step of the tail step that follows the main loop. */
const HALF_SLICES = 8;
const BYTE_MASK = 0xff;
const BITS_PER_BYTE = 8;

/**
 * All tables in one array, table k at k * TABLE_ENTRIES: table 0 is the
 * classic byte-at-a-time table, table k the CRC of a byte followed by k zero
 * bytes. One array was measured faster than sixteen separate ones. The
 * WebAssembly twin (`crc32_ranges.ts`) loads the same tables; read only.
 */
export const SLICING_TABLES: Int32Array = buildTables();
const TABLES = SLICING_TABLES;

// Offsets of tables 1..15 in TABLES.
const T1 = 1 * TABLE_ENTRIES;
const T2 = 2 * TABLE_ENTRIES;
const T3 = 3 * TABLE_ENTRIES;
const T4 = 4 * TABLE_ENTRIES;
const T5 = 5 * TABLE_ENTRIES;
const T6 = 6 * TABLE_ENTRIES;
const T7 = 7 * TABLE_ENTRIES;
const T8 = 8 * TABLE_ENTRIES;
const T9 = 9 * TABLE_ENTRIES;
const T10 = 10 * TABLE_ENTRIES;
const T11 = 11 * TABLE_ENTRIES;
const T12 = 12 * TABLE_ENTRIES;
const T13 = 13 * TABLE_ENTRIES;
const T14 = 14 * TABLE_ENTRIES;
const T15 = 15 * TABLE_ENTRIES;

function buildTables(): Int32Array {
  const tables = new Int32Array(SLICES * TABLE_ENTRIES);
  for (let n = 0; n < TABLE_ENTRIES; n++) {
    let c = n;
    for (let bit = 0; bit < BITS_PER_BYTE; bit++) {
      c = c & 1 ? (c >>> 1) ^ POLYNOMIAL_REFLECTED : c >>> 1;
    }
    tables[n] = c;
  }
  for (let k = 1; k < SLICES; k++) {
    for (let n = 0; n < TABLE_ENTRIES; n++) {
      const previous = tables[(k - 1) * TABLE_ENTRIES + n];
      tables[k * TABLE_ENTRIES + n] = tables[previous & BYTE_MASK] ^ (previous >>> BITS_PER_BYTE);
    }
  }
  return tables;
}

/** A runtime's own CRC-32 (zlib's), for long inputs; registered by the runtime's module. */
export type NativeCrc32 = (data: Uint8Array, value: number) => number;

/**
 * Inputs at least this long go to the runtime's CRC-32 when one is
 * registered. A frame (tens to hundreds of bytes) stays here: below ~200
 * bytes the call costs more than it saves; from 1 KiB a native zlib measured
 * 6× faster and 16× at 1 MiB (bench/crc32_bench.ts), which is what opening
 * and closing a store (sidecars of megabytes) spend.
 */
export const NATIVE_CRC32_MIN_BYTES = 512;

let native: NativeCrc32 | undefined;

/** The registered native CRC-32, if any (for `crc32_ranges.ts`). */
export function nativeCrc32(): NativeCrc32 | undefined {
  return native;
}

/**
 * Register the runtime's CRC-32 for long inputs (`src/fs/deno.ts` registers
 * `node:zlib`'s); it must compute exactly this CRC, continuation included.
 * `undefined` removes it. The core stays web-standard: without one, every
 * input takes the TypeScript path. Returns the one registered before.
 */
export function setNativeCrc32(fn: NativeCrc32 | undefined): NativeCrc32 | undefined {
  const before = native;
  native = fn;
  return before;
}

/**
 * CRC-32 of `data`, equal to `node:zlib`'s `crc32(data, value)`.
 *
 * @param data The bytes to checksum.
 * @param value The CRC of the bytes before `data`, to continue a checksum over
 *   several pieces; 0 (the default) starts a new one.
 * @returns The CRC as an unsigned 32-bit integer.
 *
 * @example
 * ```ts
 * import { crc32 } from "./crc32.ts";
 * const bytes = new TextEncoder().encode("123456789");
 * console.log(crc32(bytes).toString(16)); // cbf43926
 *
 * // In pieces: each call continues from the CRC of the bytes before it.
 * const head = crc32(bytes.subarray(0, 4));
 * if (crc32(bytes.subarray(4), head) !== crc32(bytes)) throw new Error("continuation differs");
 * ```
 */
export function crc32(data: Uint8Array, value = 0): number {
  if (native !== undefined && data.length >= NATIVE_CRC32_MIN_BYTES) return native(data, value);
  return update(data, 0, data.length, value);
}

/**
 * CRC-32 of `buf[start .. end)`, without the `subarray` a call to
 * {@linkcode crc32} would need: `crc32Range(buf, a, b, v)` equals
 * `crc32(buf.subarray(a, b), v)`. For checking frames in place.
 *
 * @param buf The buffer holding the bytes.
 * @param start Index of the first byte, inclusive.
 * @param end Index after the last byte; `start <= end <= buf.length`.
 * @param value The CRC of the bytes before `start`; 0 starts a new one.
 * @returns The CRC as an unsigned 32-bit integer.
 * @throws {RangeError} When `start` and `end` are not integers with
 *   `0 <= start <= end <= buf.length`.
 *
 * @example
 * ```ts
 * import { crc32, crc32Range } from "./crc32.ts";
 * const frame = new TextEncoder().encode("....123456789");
 * console.log(crc32Range(frame, 4, frame.length).toString(16)); // cbf43926
 * if (crc32Range(frame, 4, frame.length) !== crc32(frame.subarray(4))) throw new Error("differs");
 * ```
 */
export function crc32Range(buf: Uint8Array, start: number, end: number, value = 0): number {
  if (
    !Number.isInteger(start) || !Number.isInteger(end) || start < 0 || start > end ||
    end > buf.length
  ) {
    throw new RangeError(
      `crc32Range: expected integers 0 <= start <= end <= ${buf.length} (the buffer's length), ` +
        `found start ${start}, end ${end}`,
    );
  }
  if (native !== undefined && end - start >= NATIVE_CRC32_MIN_BYTES) {
    return native(buf.subarray(start, end), value);
  }
  return update(buf, start, end, value);
}

/** The CRC of `d[start .. end)` continued from `value`; bounds already checked. */
function update(d: Uint8Array, start: number, end: number, value: number): number {
  const t = TABLES;
  let c = value ^ REGISTER_XOR;
  let i = start;
  // Byte i+15 is the last one read by a step; compare without adding in the loop.
  const lastSliceStart = end - SLICES;
  for (; i <= lastSliceStart; i += SLICES) {
    c ^= d[i] | (d[i + 1] << 8) | (d[i + 2] << 16) | (d[i + 3] << 24);
    c = t[T15 + (c & BYTE_MASK)] ^ t[T14 + ((c >>> 8) & BYTE_MASK)] ^
      t[T13 + ((c >>> 16) & BYTE_MASK)] ^ t[T12 + (c >>> 24)] ^
      t[T11 + d[i + 4]] ^ t[T10 + d[i + 5]] ^ t[T9 + d[i + 6]] ^ t[T8 + d[i + 7]] ^
      t[T7 + d[i + 8]] ^ t[T6 + d[i + 9]] ^ t[T5 + d[i + 10]] ^ t[T4 + d[i + 11]] ^
      t[T3 + d[i + 12]] ^ t[T2 + d[i + 13]] ^ t[T1 + d[i + 14]] ^ t[d[i + 15]];
  }
  // 8..15 bytes left: one slicing-by-8 step before going byte by byte.
  if (i <= end - HALF_SLICES) {
    c ^= d[i] | (d[i + 1] << 8) | (d[i + 2] << 16) | (d[i + 3] << 24);
    c = t[T7 + (c & BYTE_MASK)] ^ t[T6 + ((c >>> 8) & BYTE_MASK)] ^
      t[T5 + ((c >>> 16) & BYTE_MASK)] ^ t[T4 + (c >>> 24)] ^
      t[T3 + d[i + 4]] ^ t[T2 + d[i + 5]] ^ t[T1 + d[i + 6]] ^ t[d[i + 7]];
    i += HALF_SLICES;
  }
  for (; i < end; i++) c = t[(c ^ d[i]) & BYTE_MASK] ^ (c >>> 8);
  return (c ^ REGISTER_XOR) >>> 0;
}
