/**
 * src/core/crc32.ts against `node:zlib`'s crc32 (the reference it replaces):
 * known vectors, every length up to a few slicing steps, and random buffers,
 * subarrays, ranges and continuation chains (fast-check).
 */

import assert from "node:assert/strict";
import { crc32 as zlibCrc32 } from "node:zlib";
import fc from "fast-check";
import { crc32, crc32Range, NATIVE_CRC32_MIN_BYTES, setNativeCrc32 } from "../../src/core/crc32.ts";

/** The longest input of the random properties: past 64 KiB, several slicing tails. */
const LENGTH_MAX = 70_000;
/** Exhaustive lengths: every combination of 16-byte steps, the 8-byte step and the byte tail. */
const EXHAUSTIVE_LENGTH_MAX = 300;
const UINT32_MAX = 0xffff_ffff;

/** Deterministic bytes from a seed (xorshift32), so a failing case replays from its seed. */
function bytesFrom(seed: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x;
  }
  return out;
}

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

Deno.test("crc32: known vectors", () => {
  assert.equal(crc32(ascii("123456789")), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
  assert.equal(crc32(ascii("The quick brown fox jumps over the lazy dog")), 0x414fa339);
  assert.equal(crc32(new Uint8Array(32)), 0x190a55ad); // 32 zero bytes
  assert.equal(crc32(new Uint8Array(32).fill(0xff)), 0xff6cab0b);
  assert.equal(crc32Range(ascii("xx123456789yy"), 2, 11), 0xcbf43926);
});

Deno.test("crc32: empty input returns the value it continues from", () => {
  for (const value of [0, 1, 0xcbf43926, UINT32_MAX]) {
    assert.equal(crc32(new Uint8Array(0), value), value);
    assert.equal(crc32Range(new Uint8Array(4), 2, 2, value), value);
  }
});

Deno.test("crc32: equals node:zlib at every length 0..300, at every offset mod 16", () => {
  const buf = bytesFrom(0x5eed, EXHAUSTIVE_LENGTH_MAX + 16);
  for (let at = 0; at < 16; at++) {
    for (let n = 0; n <= EXHAUSTIVE_LENGTH_MAX; n++) {
      const sub = buf.subarray(at, at + n);
      const expected = zlibCrc32(sub);
      assert.equal(crc32(sub), expected, `length ${n} at ${at}`);
      assert.equal(crc32Range(buf, at, at + n), expected, `range length ${n} at ${at}`);
    }
  }
});

Deno.test("crc32: small random inputs and start values equal node:zlib (property)", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(UINT32_MAX), (bytes, value) => {
      assert.equal(crc32(bytes), zlibCrc32(bytes));
      assert.equal(crc32(bytes, value), zlibCrc32(bytes, value));
    }),
    { numRuns: 1000 },
  );
});

Deno.test("crc32: random subarrays and ranges up to 70,000 bytes equal node:zlib (property)", () => {
  fc.assert(
    fc.property(
      fc.integer(),
      fc.integer({ min: 0, max: LENGTH_MAX }),
      fc.nat(LENGTH_MAX),
      fc.nat(LENGTH_MAX),
      fc.nat(UINT32_MAX),
      (seed, length, a, b, value) => {
        const buf = bytesFrom(seed, length);
        const start = Math.min(a, b) % (length + 1);
        const end = start + (Math.max(a, b) % (length - start + 1));
        const sub = buf.subarray(start, end);
        assert.equal(crc32(buf), zlibCrc32(buf));
        assert.equal(crc32(sub, value), zlibCrc32(sub, value));
        assert.equal(crc32Range(buf, start, end, value), zlibCrc32(sub, value));
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("crc32: a chain split at random points equals one call over the whole (property)", () => {
  fc.assert(
    fc.property(
      fc.integer(),
      fc.integer({ min: 0, max: LENGTH_MAX }),
      fc.array(fc.nat(LENGTH_MAX), { maxLength: 12 }),
      fc.nat(UINT32_MAX),
      (seed, length, cuts, value) => {
        const buf = bytesFrom(seed, length);
        const points = [0, ...cuts.map((c) => c % (length + 1)).sort((x, y) => x - y), length];
        let chained = value;
        let chainedRange = value;
        let reference = value;
        for (let k = 1; k < points.length; k++) {
          const piece = buf.subarray(points[k - 1], points[k]);
          chained = crc32(piece, chained);
          chainedRange = crc32Range(buf, points[k - 1], points[k], chainedRange);
          reference = zlibCrc32(piece, reference);
        }
        assert.equal(reference, zlibCrc32(buf, value));
        assert.equal(chained, reference);
        assert.equal(chainedRange, reference);
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("crc32: the result is an unsigned 32-bit integer", () => {
  const crc = crc32(ascii("123456789")); // top bit set
  assert.ok(Number.isInteger(crc) && crc >= 0 && crc <= UINT32_MAX);
});

Deno.test("crc32Range: rejects a range outside the buffer, naming what it found", () => {
  const buf = new Uint8Array(10);
  const cases: Array<[number, number]> = [[-1, 4], [5, 4], [0, 11], [0.5, 4], [0, NaN]];
  for (const [start, end] of cases) {
    assert.throws(
      () => crc32Range(buf, start, end),
      (e: unknown) =>
        e instanceof RangeError && e.message.includes("<= 10") &&
        e.message.includes(`start ${start}, end ${end}`),
      `start ${start}, end ${end}`,
    );
  }
});

Deno.test("crc32: a registered native CRC is used from NATIVE_CRC32_MIN_BYTES on, with the same result", () => {
  const calls: number[] = [];
  const data = new Uint8Array(4096);
  for (let i = 0; i < data.length; i++) data[i] = (i * 131 + 7) & 255;
  const lengths = [0, 1, 100, NATIVE_CRC32_MIN_BYTES - 1, NATIVE_CRC32_MIN_BYTES, 1000, 4096];
  const both = (n: number) => [
    crc32(data.subarray(0, n)),
    crc32Range(data, 3, Math.min(data.length, 3 + n), 77),
  ];
  const before = setNativeCrc32(undefined);
  try {
    const plain = lengths.map(both);
    setNativeCrc32((d, v) => (calls.push(d.length), zlibCrc32(d, v)));
    assert.deepEqual(lengths.map(both), plain);
    assert.ok(calls.length > 0 && calls.every((n) => n >= NATIVE_CRC32_MIN_BYTES), `${calls}`);
  } finally {
    setNativeCrc32(before);
  }
});
