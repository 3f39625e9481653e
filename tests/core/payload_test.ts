/**
 * The payload codec: the decoder reads what @msgpack/msgpack wrote, to the
 * same value (property), and strings and keys keep a leading U+FEFF.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { decode, encode } from "@msgpack/msgpack";
import { encodePayload, PayloadDecoder } from "../../src/core/payload.ts";

Deno.test("payload decoder: reads what @msgpack/msgpack wrote, to the same value (property)", () => {
  const value = fc.letrec((tie) => ({
    v: fc.oneof(
      { depthSize: "small" },
      fc.integer(),
      fc.integer({ min: -(2 ** 31), max: 2 ** 32 - 1 }),
      fc.double(),
      fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }),
      fc.string(),
      fc.string({ unit: "binary" }),
      fc.string({ minLength: 20, maxLength: 300 }),
      fc.constantFrom(null, true, false, "__proto__", "é"),
      fc.uint8Array({ maxLength: 8 }),
      fc.date({ noInvalidDate: true }),
      fc.array(tie("v"), { maxLength: 5 }),
      fc.dictionary(fc.oneof(fc.string(), fc.constantFrom("__proto__", "ü", "")), tie("v"), {
        maxKeys: 5,
      }),
    ),
  })).v;
  // Old stores were written with @msgpack/msgpack: our decoder must read them to exactly what
  // the library returns — except for a leading U+FEFF, which the library's TextDecoder strips
  // from long strings and ours keeps (checked below).
  const leadingBom = (v: unknown): boolean =>
    typeof v === "string"
      ? v.startsWith("\uFEFF")
      : typeof v === "object" && v !== null && !(v instanceof Uint8Array) && !(v instanceof Date)
      ? Object.entries(v).some(([k, x]) => k.startsWith("\uFEFF") || leadingBom(x))
      : false;
  const outcome = (f: () => unknown) => {
    try {
      return { value: f() };
    } catch {
      return { error: true };
    }
  };
  const decoder = new PayloadDecoder();
  fc.assert(
    fc.property(value, fc.nat(4), (v, pad) => {
      const bytes = encode(v, { useBigInt64: true, ignoreUndefined: true });
      const framed = new Uint8Array(bytes.length + 2 * pad);
      framed.set(bytes, pad);
      const ours = outcome(() => decoder.decode(framed, pad, pad + bytes.length));
      const theirs = outcome(() => decode(bytes, { useBigInt64: true }));
      if (leadingBom(v)) return;
      assert.deepStrictEqual(ours, theirs);
    }),
    { numRuns: 2000 },
  );
  // Arbitrary bytes: whatever ours accepts, the library accepts as the same value (ours is
  // stricter: invalid UTF-8 and unknown extensions are errors, not U+FFFD or ExtData).
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
      const ours = outcome(() => decoder.decode(bytes, 0, bytes.length));
      if ("error" in ours) return;
      assert.deepStrictEqual(ours, outcome(() => decode(bytes, { useBigInt64: true })));
    }),
    { numRuns: 5000 },
  );
});

Deno.test("payload codec: strings and keys keep a leading U+FEFF, short and long", () => {
  const decoder = new PayloadDecoder();
  for (const n of [0, 1, 30, 200, 5000]) {
    const text = "\uFEFF" + "x".repeat(n);
    const v = { [text]: text, list: [text, "\uFEFF\uFEFF" + "é".repeat(n)] };
    const bytes = encodePayload(v);
    assert.deepStrictEqual(decoder.decode(bytes, 0, bytes.length), v, `length ${n}`);
  }
});

Deno.test("payload decoder: strings of every length 0..80, ASCII or with one non-ASCII character at any position, come back exact", () => {
  const decoder = new PayloadDecoder();
  for (let n = 0; n <= 80; n++) {
    const ascii = Array.from({ length: n }, (_, i) => String.fromCharCode(32 + ((i * 7) % 95)))
      .join("");
    const variants = [ascii];
    for (let at = 0; at < n; at++) {
      variants.push(ascii.slice(0, at) + "é" + ascii.slice(at + 1));
      variants.push(ascii.slice(0, at) + "\u007f" + ascii.slice(at + 1)); // highest ASCII
    }
    for (const text of variants) {
      const bytes = encodePayload([text]);
      assert.deepStrictEqual(decoder.decode(bytes, 0, bytes.length), [text], JSON.stringify(text));
      assert.deepStrictEqual(decode(bytes), [text]);
    }
  }
});
