import assert from "node:assert/strict";
import fc from "fast-check";
import { hashInto, hashWasm } from "../../src/core/hash.ts";
import { blake3Small } from "../../src/core/blake3.ts";
import { toHex } from "../../src/core/ids.ts";

Deno.test("blake3: known vectors (empty input, 'abc')", () => {
  const out = new Uint8Array(32);
  blake3Small(new Uint8Array(0), out, 0);
  assert.equal(toHex(out), "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262");
  blake3Small(new TextEncoder().encode("abc"), out, 0);
  assert.equal(toHex(out), "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85");
});

Deno.test("blake3: the TypeScript path equals hash-wasm at every length 0..1024 and beyond", () => {
  const data = new Uint8Array(3000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + 7) & 255;
  const out = new Uint8Array(32);
  for (let n = 0; n <= 1100; n++) {
    hashInto(data.subarray(0, n), out, 0);
    assert.equal(toHex(out), toHex(hashWasm(data.subarray(0, n))), `length ${n}`);
  }
});

Deno.test("blake3: random inputs agree with hash-wasm (property)", () => {
  const out = new Uint8Array(40);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 1500 }), fc.nat(8), (bytes, at) => {
      hashInto(bytes, out, at);
      assert.equal(toHex(out.subarray(at, at + 32)), toHex(hashWasm(bytes)));
    }),
    { numRuns: 500 },
  );
});
