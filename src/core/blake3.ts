/**
 * BLAKE3 for inputs of one chunk (≤ 1024 bytes), in plain TypeScript.
 *
 * Most event bodies are a few hundred bytes; for them a JavaScript
 * compression loop beats a call into WebAssembly (measured ~1.5 µs per
 * 100-byte hash through hash-wasm's wrapper, dominated by call and copy
 * overhead; its raw WASM export, called directly, measured no faster than
 * this file). Longer inputs go to hash-wasm (see `hash.ts`). Both produce the
 * standard 32-byte BLAKE3 digest; `tests/core/hash_test.ts` checks them
 * against each other.
 *
 * {@linkcode blake3Range} hashes a range of a buffer in place: message words
 * are read straight from it (only a partial last block is copied, into a
 * zero-padded scratch block), so a hash allocates nothing. That halved the
 * cost of a one-block hash against slicing the input first.
 *
 * @module
 */

/** Largest input hashed here: one BLAKE3 chunk. */
export const BLAKE3_CHUNK_BYTES = 1024;

const IV = new Int32Array([
  0x6a09e667,
  0xbb67ae85,
  0x3c6ef372,
  0xa54ff53a,
  0x510e527f,
  0x9b05688c,
  0x1f83d9ab,
  0x5be0cd19,
]);
const BLOCK_BYTES = 64;
const CHUNK_START = 1;
const CHUNK_END = 2;
const ROOT = 8;
const ROUNDS = 7;
// Message word permutation between rounds: 2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8
// (applied in compress() as register moves).

const IV_0 = IV[0] | 0;
const IV_1 = IV[1] | 0;
const IV_2 = IV[2] | 0;
const IV_3 = IV[3] | 0;
const IV_4 = IV[4] | 0;
const IV_5 = IV[5] | 0;
const IV_6 = IV[6] | 0;
const IV_7 = IV[7] | 0;
const cv = new Int32Array(8);
const block = new Uint8Array(BLOCK_BYTES);

// One compression with the 16 state words and 16 message words in locals (G inlined, the
// permutation as moves): V8 keeps them in registers. A G function over arrays was ~2x slower,
// and a schedule table lookup per message word another ~2x.
// The 64-byte block is read from src[at ..] (little-endian words), so no copy is needed.
function compress(src: Uint8Array, at: number, blockLength: number, flags: number): void {
  let v0 = cv[0];
  let v1 = cv[1];
  let v2 = cv[2];
  let v3 = cv[3];
  let v4 = cv[4];
  let v5 = cv[5];
  let v6 = cv[6];
  let v7 = cv[7];
  let v8 = IV_0;
  let v9 = IV_1;
  let v10 = IV_2;
  let v11 = IV_3;
  let v12 = 0; // chunk counter: always chunk 0 here
  let v13 = 0;
  let v14 = blockLength;
  let v15 = flags;
  let m0 = src[at + 0] | (src[at + 1] << 8) | (src[at + 2] << 16) |
    (src[at + 3] << 24);
  let m1 = src[at + 4] | (src[at + 5] << 8) | (src[at + 6] << 16) |
    (src[at + 7] << 24);
  let m2 = src[at + 8] | (src[at + 9] << 8) | (src[at + 10] << 16) |
    (src[at + 11] << 24);
  let m3 = src[at + 12] | (src[at + 13] << 8) | (src[at + 14] << 16) |
    (src[at + 15] << 24);
  let m4 = src[at + 16] | (src[at + 17] << 8) | (src[at + 18] << 16) |
    (src[at + 19] << 24);
  let m5 = src[at + 20] | (src[at + 21] << 8) | (src[at + 22] << 16) |
    (src[at + 23] << 24);
  let m6 = src[at + 24] | (src[at + 25] << 8) | (src[at + 26] << 16) |
    (src[at + 27] << 24);
  let m7 = src[at + 28] | (src[at + 29] << 8) | (src[at + 30] << 16) |
    (src[at + 31] << 24);
  let m8 = src[at + 32] | (src[at + 33] << 8) | (src[at + 34] << 16) |
    (src[at + 35] << 24);
  let m9 = src[at + 36] | (src[at + 37] << 8) | (src[at + 38] << 16) |
    (src[at + 39] << 24);
  let m10 = src[at + 40] | (src[at + 41] << 8) | (src[at + 42] << 16) |
    (src[at + 43] << 24);
  let m11 = src[at + 44] | (src[at + 45] << 8) | (src[at + 46] << 16) |
    (src[at + 47] << 24);
  let m12 = src[at + 48] | (src[at + 49] << 8) | (src[at + 50] << 16) |
    (src[at + 51] << 24);
  let m13 = src[at + 52] | (src[at + 53] << 8) | (src[at + 54] << 16) |
    (src[at + 55] << 24);
  let m14 = src[at + 56] | (src[at + 57] << 8) | (src[at + 58] << 16) |
    (src[at + 59] << 24);
  let m15 = src[at + 60] | (src[at + 61] << 8) | (src[at + 62] << 16) |
    (src[at + 63] << 24);
  for (let r = 0; r < ROUNDS; r++) {
    v0 = (v0 + v4 + m0) | 0;
    v12 ^= v0;
    v12 = (v12 >>> 16) | (v12 << 16);
    v8 = (v8 + v12) | 0;
    v4 ^= v8;
    v4 = (v4 >>> 12) | (v4 << 20);
    v0 = (v0 + v4 + m1) | 0;
    v12 ^= v0;
    v12 = (v12 >>> 8) | (v12 << 24);
    v8 = (v8 + v12) | 0;
    v4 ^= v8;
    v4 = (v4 >>> 7) | (v4 << 25);
    v1 = (v1 + v5 + m2) | 0;
    v13 ^= v1;
    v13 = (v13 >>> 16) | (v13 << 16);
    v9 = (v9 + v13) | 0;
    v5 ^= v9;
    v5 = (v5 >>> 12) | (v5 << 20);
    v1 = (v1 + v5 + m3) | 0;
    v13 ^= v1;
    v13 = (v13 >>> 8) | (v13 << 24);
    v9 = (v9 + v13) | 0;
    v5 ^= v9;
    v5 = (v5 >>> 7) | (v5 << 25);
    v2 = (v2 + v6 + m4) | 0;
    v14 ^= v2;
    v14 = (v14 >>> 16) | (v14 << 16);
    v10 = (v10 + v14) | 0;
    v6 ^= v10;
    v6 = (v6 >>> 12) | (v6 << 20);
    v2 = (v2 + v6 + m5) | 0;
    v14 ^= v2;
    v14 = (v14 >>> 8) | (v14 << 24);
    v10 = (v10 + v14) | 0;
    v6 ^= v10;
    v6 = (v6 >>> 7) | (v6 << 25);
    v3 = (v3 + v7 + m6) | 0;
    v15 ^= v3;
    v15 = (v15 >>> 16) | (v15 << 16);
    v11 = (v11 + v15) | 0;
    v7 ^= v11;
    v7 = (v7 >>> 12) | (v7 << 20);
    v3 = (v3 + v7 + m7) | 0;
    v15 ^= v3;
    v15 = (v15 >>> 8) | (v15 << 24);
    v11 = (v11 + v15) | 0;
    v7 ^= v11;
    v7 = (v7 >>> 7) | (v7 << 25);
    v0 = (v0 + v5 + m8) | 0;
    v15 ^= v0;
    v15 = (v15 >>> 16) | (v15 << 16);
    v10 = (v10 + v15) | 0;
    v5 ^= v10;
    v5 = (v5 >>> 12) | (v5 << 20);
    v0 = (v0 + v5 + m9) | 0;
    v15 ^= v0;
    v15 = (v15 >>> 8) | (v15 << 24);
    v10 = (v10 + v15) | 0;
    v5 ^= v10;
    v5 = (v5 >>> 7) | (v5 << 25);
    v1 = (v1 + v6 + m10) | 0;
    v12 ^= v1;
    v12 = (v12 >>> 16) | (v12 << 16);
    v11 = (v11 + v12) | 0;
    v6 ^= v11;
    v6 = (v6 >>> 12) | (v6 << 20);
    v1 = (v1 + v6 + m11) | 0;
    v12 ^= v1;
    v12 = (v12 >>> 8) | (v12 << 24);
    v11 = (v11 + v12) | 0;
    v6 ^= v11;
    v6 = (v6 >>> 7) | (v6 << 25);
    v2 = (v2 + v7 + m12) | 0;
    v13 ^= v2;
    v13 = (v13 >>> 16) | (v13 << 16);
    v8 = (v8 + v13) | 0;
    v7 ^= v8;
    v7 = (v7 >>> 12) | (v7 << 20);
    v2 = (v2 + v7 + m13) | 0;
    v13 ^= v2;
    v13 = (v13 >>> 8) | (v13 << 24);
    v8 = (v8 + v13) | 0;
    v7 ^= v8;
    v7 = (v7 >>> 7) | (v7 << 25);
    v3 = (v3 + v4 + m14) | 0;
    v14 ^= v3;
    v14 = (v14 >>> 16) | (v14 << 16);
    v9 = (v9 + v14) | 0;
    v4 ^= v9;
    v4 = (v4 >>> 12) | (v4 << 20);
    v3 = (v3 + v4 + m15) | 0;
    v14 ^= v3;
    v14 = (v14 >>> 8) | (v14 << 24);
    v9 = (v9 + v14) | 0;
    v4 ^= v9;
    v4 = (v4 >>> 7) | (v4 << 25);
    // Permute the message words for the next round (register moves, no table lookups).
    const p0 = m2;
    const p1 = m6;
    const p2 = m3;
    const p3 = m10;
    const p4 = m7;
    const p5 = m0;
    const p6 = m4;
    const p7 = m13;
    const p8 = m1;
    const p9 = m11;
    const p10 = m12;
    const p11 = m5;
    const p12 = m9;
    const p13 = m14;
    const p14 = m15;
    const p15 = m8;
    m0 = p0;
    m1 = p1;
    m2 = p2;
    m3 = p3;
    m4 = p4;
    m5 = p5;
    m6 = p6;
    m7 = p7;
    m8 = p8;
    m9 = p9;
    m10 = p10;
    m11 = p11;
    m12 = p12;
    m13 = p13;
    m14 = p14;
    m15 = p15;
  }
  cv[0] = v0 ^ v8;
  cv[1] = v1 ^ v9;
  cv[2] = v2 ^ v10;
  cv[3] = v3 ^ v11;
  cv[4] = v4 ^ v12;
  cv[5] = v5 ^ v13;
  cv[6] = v6 ^ v14;
  cv[7] = v7 ^ v15;
}

/**
 * BLAKE3-256 of `src[start .. end)` (at most {@linkcode BLAKE3_CHUNK_BYTES}
 * bytes), written into `out[outAt .. outAt + 32)`, without slicing or
 * copying the input. `out` may be `src` (the digest is written last).
 *
 * @example
 * ```ts
 * import { blake3Range } from "./blake3.ts";
 * const buf = new TextEncoder().encode("..abc..");
 * const out = new Uint8Array(32);
 * blake3Range(buf, 2, 5, out, 0); // BLAKE3("abc")
 * console.log(out[0].toString(16)); // 64
 * ```
 */
export function blake3Range(
  src: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
  outAt: number,
): void {
  if (end - start > BLAKE3_CHUNK_BYTES || start < 0 || end < start || end > src.length) {
    throw new RangeError(
      `blake3Range takes 0 <= start <= end <= ${src.length} and at most ` +
        `${BLAKE3_CHUNK_BYTES} bytes, found start ${start}, end ${end}`,
    );
  }
  cv[0] = IV_0;
  cv[1] = IV_1;
  cv[2] = IV_2;
  cv[3] = IV_3;
  cv[4] = IV_4;
  cv[5] = IV_5;
  cv[6] = IV_6;
  cv[7] = IV_7;
  let at = start;
  let flags = CHUNK_START;
  for (; end - at > BLOCK_BYTES; at += BLOCK_BYTES) {
    compress(src, at, BLOCK_BYTES, flags);
    flags = 0;
  }
  const len = end - at;
  if (len === BLOCK_BYTES) compress(src, at, BLOCK_BYTES, flags | CHUNK_END | ROOT);
  else {
    // A partial (or empty) last block: zero-padded in the scratch block.
    const b = block;
    let i = 0;
    for (; i < len; i++) b[i] = src[at + i];
    for (; i < BLOCK_BYTES; i++) b[i] = 0;
    compress(b, 0, len, flags | CHUNK_END | ROOT);
  }
  for (let i = 0; i < 8; i++) {
    const w = cv[i];
    const p = outAt + i * 4;
    out[p] = w;
    out[p + 1] = w >>> 8;
    out[p + 2] = w >>> 16;
    out[p + 3] = w >>> 24;
  }
}

/**
 * BLAKE3-256 of `data` (at most {@linkcode BLAKE3_CHUNK_BYTES} bytes),
 * written into `out` at `at`.
 *
 * @example
 * ```ts
 * import { blake3Small } from "./blake3.ts";
 * const out = new Uint8Array(32);
 * blake3Small(new TextEncoder().encode("abc"), out, 0);
 * console.log(out[0].toString(16)); // 64
 * ```
 */
export function blake3Small(data: Uint8Array, out: Uint8Array, at: number): void {
  if (data.length > BLAKE3_CHUNK_BYTES) {
    throw new RangeError(`blake3Small takes at most ${BLAKE3_CHUNK_BYTES} bytes`);
  }
  blake3Range(data, 0, data.length, out, at);
}
