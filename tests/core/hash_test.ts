import assert from "node:assert/strict";
import fc from "fast-check";
import { hashInto, hashRange, hashWasm } from "../../src/core/hash.ts";
import { blake3Range, blake3Small, forceTypeScriptBlake3 } from "../../src/core/blake3.ts";
import { toHex } from "../../src/core/ids.ts";

/** Runs `fn` through the WebAssembly path (where this runtime has it) and the TypeScript one. */
function bothPaths(fn: () => void): void {
  for (const typescript of [false, true]) {
    const before = forceTypeScriptBlake3(typescript);
    try {
      fn();
    } finally {
      forceTypeScriptBlake3(before);
    }
  }
}

Deno.test("blake3: known vectors (empty input, 'abc'), both paths", () =>
  bothPaths(() => {
    const out = new Uint8Array(32);
    blake3Small(new Uint8Array(0), out, 0);
    assert.equal(toHex(out), "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262");
    blake3Small(new TextEncoder().encode("abc"), out, 0);
    assert.equal(toHex(out), "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85");
  }));

Deno.test("blake3: both paths equal hash-wasm at every length 0..1024 and beyond", () =>
  bothPaths(() => {
    const data = new Uint8Array(3000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31 + 7) & 255;
    const out = new Uint8Array(32);
    for (let n = 0; n <= 1100; n++) {
      hashInto(data.subarray(0, n), out, 0);
      assert.equal(toHex(out), toHex(hashWasm(data.subarray(0, n))), `length ${n}`);
    }
  }));

Deno.test("blake3: random inputs agree with hash-wasm (property), both paths", () =>
  bothPaths(() => {
    const out = new Uint8Array(40);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1500 }), fc.nat(8), (bytes, at) => {
        hashInto(bytes, out, at);
        assert.equal(toHex(out.subarray(at, at + 32)), toHex(hashWasm(bytes)));
      }),
      { numRuns: 500 },
    );
  }));

Deno.test("blake3: a range hashed in place equals the sliced input's hash, also written over its own buffer, both paths", () =>
  bothPaths(() => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 1400 }),
        fc.nat(1400),
        fc.nat(1400),
        fc.nat(40),
        (bytes, a, b, outAt) => {
          const start = Math.min(a, b, bytes.length);
          const end = Math.min(Math.max(a, b), bytes.length);
          const want = toHex(hashWasm(bytes.subarray(start, end)));
          const out = new Uint8Array(outAt + 32);
          hashRange(bytes, start, end, out, outAt);
          assert.equal(toHex(out.subarray(outAt)), want);
          // The digest may overwrite the input it came from.
          const own = new Uint8Array(Math.max(bytes.length, end + 32));
          own.set(bytes);
          hashRange(own, start, end, own, start);
          assert.equal(toHex(own.subarray(start, start + 32)), want);
        },
      ),
      { numRuns: 500 },
    );
  }));

Deno.test("blake3: blake3Range refuses a range out of bounds or over one chunk", () => {
  const buf = new Uint8Array(2048);
  const out = new Uint8Array(32);
  assert.throws(() => blake3Range(buf, 0, 1025, out, 0), RangeError);
  assert.throws(() => blake3Range(buf, 10, 5, out, 0), RangeError);
  assert.throws(() => blake3Range(buf, -1, 5, out, 0), RangeError);
  assert.throws(() => blake3Range(new Uint8Array(8), 0, 9, out, 0), RangeError);
});
