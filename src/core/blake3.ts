/**
 * BLAKE3 for inputs of one chunk (≤ 1024 bytes), in plain TypeScript.
 *
 * Most event bodies are a few hundred bytes; for them a JavaScript
 * compression loop beats a call into WebAssembly (measured ~1.5 µs per
 * 100-byte hash through hash-wasm, dominated by call and copy overhead).
 * Longer inputs go to hash-wasm (see `hash.ts`). Both produce the standard
 * 32-byte BLAKE3 digest; `tests/hash_test.ts` checks them against each other.
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
const cv = new Int32Array(8);
const m = new Int32Array(16);
const block = new Uint8Array(BLOCK_BYTES);

// One compression with the 16 state words and 16 message words in locals (G inlined, the
// permutation as moves): V8 keeps them in registers. A G function over arrays was ~2x slower,
// and a schedule table lookup per message word another ~2x.
function compress(blockLength: number, flags: number): void {
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
  let m0 = m[0];
  let m1 = m[1];
  let m2 = m[2];
  let m3 = m[3];
  let m4 = m[4];
  let m5 = m[5];
  let m6 = m[6];
  let m7 = m[7];
  let m8 = m[8];
  let m9 = m[9];
  let m10 = m[10];
  let m11 = m[11];
  let m12 = m[12];
  let m13 = m[13];
  let m14 = m[14];
  let m15 = m[15];
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

function loadWords(src: Uint8Array, at: number): void {
  for (let i = 0; i < 16; i++) {
    const p = at + i * 4;
    m[i] = src[p] | (src[p + 1] << 8) | (src[p + 2] << 16) | (src[p + 3] << 24);
  }
}

/**
 * BLAKE3-256 of `data` (at most {@linkcode BLAKE3_CHUNK_BYTES} bytes),
 * written into `out` at `at`.
 */
export function blake3Small(data: Uint8Array, out: Uint8Array, at: number): void {
  const n = data.length;
  if (n > BLAKE3_CHUNK_BYTES) {
    throw new RangeError(`blake3Small takes at most ${BLAKE3_CHUNK_BYTES} bytes`);
  }
  cv.set(IV);
  const blocks = n === 0 ? 1 : Math.ceil(n / BLOCK_BYTES);
  for (let b = 0; b < blocks; b++) {
    const start = b * BLOCK_BYTES;
    const last = b === blocks - 1;
    const len = last ? n - start : BLOCK_BYTES;
    if (len === BLOCK_BYTES) loadWords(data, start);
    else {
      block.fill(0);
      block.set(data.subarray(start, start + len));
      loadWords(block, 0);
    }
    let flags = 0;
    if (b === 0) flags |= CHUNK_START;
    if (last) flags |= CHUNK_END | ROOT;
    compress(len, flags);
  }
  for (let i = 0; i < 8; i++) {
    const w = cv[i];
    const p = at + i * 4;
    out[p] = w & 255;
    out[p + 1] = (w >>> 8) & 255;
    out[p + 2] = (w >>> 16) & 255;
    out[p + 3] = w >>> 24;
  }
}
