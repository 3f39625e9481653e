/**
 * src/core/blake3.ts's WebAssembly path: the module is what its generator
 * and assembler produce, this runtime takes it, it hashes exactly as the
 * TypeScript path at every length and offset, and where WebAssembly is
 * refused the TypeScript path gives the same digests.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  BLAKE3_CHUNK_BYTES,
  blake3Range,
  blake3UsesWasm,
  forceTypeScriptBlake3,
} from "../../src/core/blake3.ts";
import { toHex } from "../../src/core/ids.ts";
import { assemble, BLAKE3_MODULE, moduleSource } from "../../tools/build_wasm.ts";
import { blake3Wat } from "../../tools/blake3_wat.ts";
import { withWebAssemblyRefused } from "../fixtures/wasm_refused.ts";

function digest(src: Uint8Array, start: number, end: number, typescript: boolean): string {
  const before = forceTypeScriptBlake3(typescript);
  try {
    const out = new Uint8Array(32);
    blake3Range(src, start, end, out, 0);
    return toHex(out);
  } finally {
    forceTypeScriptBlake3(before);
  }
}

Deno.test("blake3 wasm: src/core/blake3.wat is what tools/blake3_wat.ts generates", async () => {
  assert.equal(
    await Deno.readTextFile(BLAKE3_MODULE.wat),
    blake3Wat(),
    "run `deno task build:wasm`",
  );
});

Deno.test("blake3 wasm: src/core/_blake3_wasm.ts is what blake3.wat assembles to", async () => {
  const have = await Deno.readTextFile(BLAKE3_MODULE.ts);
  assert.equal(have, moduleSource(BLAKE3_MODULE, await assemble(BLAKE3_MODULE)));
});

Deno.test("blake3 wasm: this runtime takes the WebAssembly path", () => {
  assert.equal(blake3UsesWasm(), true);
  const before = forceTypeScriptBlake3(true);
  assert.equal(blake3UsesWasm(), false);
  forceTypeScriptBlake3(before);
});

Deno.test("blake3 wasm: equals the TypeScript path at every length 0..1024, at unaligned offsets", () => {
  const src = new Uint8Array(BLAKE3_CHUNK_BYTES + 8);
  for (let i = 0; i < src.length; i++) src[i] = (i * 167 + 13) & 255;
  for (let n = 0; n <= BLAKE3_CHUNK_BYTES; n++) {
    const at = n & 7;
    assert.equal(digest(src, at, at + n, false), digest(src, at, at + n, true), `length ${n}`);
  }
});

Deno.test("blake3 wasm: random inputs and ranges, digest over its own input, both paths alike", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 1100 }),
      fc.nat(1100),
      fc.nat(BLAKE3_CHUNK_BYTES),
      (bytes, a, n) => {
        const start = Math.min(a, bytes.length);
        const end = Math.min(start + n, bytes.length);
        const want = digest(bytes, start, end, true);
        assert.equal(digest(bytes, start, end, false), want);
        // Written over the input it came from (the copy into the module's memory comes first).
        const own = new Uint8Array(Math.max(bytes.length, start + 32));
        own.set(bytes);
        blake3Range(own, start, end, own, start);
        assert.equal(toHex(own.subarray(start, start + 32)), want);
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("blake3 wasm: where WebAssembly is refused (a CSP without wasm-unsafe-eval), TypeScript gives the same digests", async () => {
  await withWebAssemblyRefused(async () => {
    // A fresh instance of the module (its own "not loaded yet" state), loaded while refused (as
    // in a runtime without SIMD, whose compile fails the same way).
    const fresh: typeof import("../../src/core/blake3.ts") = await import(
      new URL("../../src/core/blake3.ts?refused", import.meta.url).href
    );
    assert.equal(fresh.blake3UsesWasm(), false);
    const abc = new TextEncoder().encode("..abc..");
    const out = new Uint8Array(32);
    fresh.blake3Range(abc, 2, 5, out, 0);
    assert.equal(toHex(out), "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85");
    const long = new Uint8Array(700).map((_, i) => i & 255);
    fresh.blake3Range(long, 0, 700, out, 0);
    assert.equal(toHex(out), digest(long, 0, 700, false));
  });
  assert.equal(blake3UsesWasm(), true, "the shared instance is unaffected");
});
