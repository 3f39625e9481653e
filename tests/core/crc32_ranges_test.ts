/**
 * src/core/crc32_ranges.ts: the batched CRC (WebAssembly, and its
 * TypeScript fallback) against crc32Range range by range, and the embedded
 * module against its WebAssembly text source.
 */

import assert from "node:assert/strict";
import { crc32 as zlibCrc32 } from "node:zlib";
import fc from "fast-check";
import { crc32Range, NATIVE_CRC32_MIN_BYTES, setNativeCrc32 } from "../../src/core/crc32.ts";
import {
  crc32Ranges,
  crc32RangesUseWasm,
  forceTypeScriptCrc32Ranges,
} from "../../src/core/crc32_ranges.ts";
import { assemble, CRC32_MODULE, moduleSource } from "../../tools/build_wasm.ts";
import { withWebAssemblyRefused } from "../fixtures/wasm_refused.ts";

/** Runs `fn` once through the WebAssembly loop and once through the TypeScript one. */
function bothPaths(fn: (path: string) => void): void {
  for (const ts of [false, true]) {
    const before = forceTypeScriptCrc32Ranges(ts);
    try {
      fn(ts ? "typescript" : "wasm");
    } finally {
      forceTypeScriptCrc32Ranges(before);
    }
  }
}

/** The per-range reference: `crc32Range` of each pair. */
function expected(buf: Uint8Array, bounds: Int32Array, n: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < n; k++) out.push(crc32Range(buf, bounds[2 * k], bounds[2 * k + 1]));
  return out;
}

Deno.test("crc32Ranges: src/core/_crc32_wasm.ts is what crc32.wat assembles to", async () => {
  const have = await Deno.readTextFile(CRC32_MODULE.ts);
  assert.equal(
    have,
    moduleSource(CRC32_MODULE, await assemble(CRC32_MODULE)),
    "run `deno task build:wasm`",
  );
});

Deno.test("crc32Ranges: this runtime takes the WebAssembly path", () => {
  assert.equal(crc32RangesUseWasm(), true);
  const before = forceTypeScriptCrc32Ranges(true);
  assert.equal(crc32RangesUseWasm(), false);
  forceTypeScriptCrc32Ranges(before);
});

Deno.test("crc32Ranges: equals crc32Range for random buffers and ranges, both paths", () => {
  const range = fc.tuple(fc.nat(), fc.nat());
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 5_000 }),
      fc.array(range, { maxLength: 40 }),
      fc.boolean(),
      (buf, raw, withNative) => {
        const bounds = new Int32Array(raw.length * 2);
        raw.forEach(([a, b], k) => {
          const x = a % (buf.length + 1);
          const y = b % (buf.length + 1);
          bounds[2 * k] = Math.min(x, y);
          bounds[2 * k + 1] = Math.max(x, y);
        });
        const want = expected(buf, bounds, raw.length);
        // With a native CRC registered, long ranges go to it (here node:zlib's).
        const before = setNativeCrc32(withNative ? zlibCrc32 : undefined);
        try {
          bothPaths((path) => {
            const out = new Uint32Array(raw.length);
            crc32Ranges(buf, bounds, raw.length, out);
            assert.deepEqual([...out], want, path);
          });
        } finally {
          setNativeCrc32(before);
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("crc32Ranges: thousands of adjacent frames, a span past the scratch memory, every length", () => {
  // 3,000 ranges (several calls of 1,024) over 3 MiB (more than the module's first memory).
  const buf = new Uint8Array(3 * 1024 * 1024);
  for (let at = 0; at < buf.length; at += 65_536) {
    crypto.getRandomValues(buf.subarray(at, at + 65_536));
  }
  const n = 3_000;
  const bounds = new Int32Array(2 * n);
  let at = 0;
  for (let k = 0; k < n; k++) {
    const length = k < 600 ? k : 1 + ((k * 7919) % 1_000); // every length 0..599, then a spread
    bounds[2 * k] = at;
    bounds[2 * k + 1] = at + length;
    at += length + (k % 3);
  }
  bounds[2 * (n - 1)] = buf.length - 100; // the last one at the far end
  bounds[2 * n - 1] = buf.length;
  const want = expected(buf, bounds, n);
  bothPaths((path) => {
    const out = new Uint32Array(n);
    crc32Ranges(buf, bounds, n, out);
    assert.deepEqual([...out], want, path);
  });
  assert.ok(NATIVE_CRC32_MIN_BYTES < 1_000, "some ranges were long enough for the native CRC");
});

Deno.test("crc32Ranges: a range outside the buffer or too few bounds is a RangeError", () => {
  const buf = new Uint8Array(100);
  const out = new Uint32Array(4);
  bothPaths((path) => {
    for (const [start, end] of [[-1, 10], [10, 5], [0, 101], [101, 101]]) {
      assert.throws(
        () => crc32Ranges(buf, Int32Array.of(0, 10, start, end), 2, out),
        RangeError,
        `${path}: [${start}, ${end})`,
      );
    }
    assert.throws(() => crc32Ranges(buf, Int32Array.of(0, 10), 2, out), RangeError, path);
    assert.throws(() => crc32Ranges(buf, Int32Array.of(0, 10), 1, new Uint32Array(0)), RangeError);
  });
});

Deno.test("crc32Ranges: where WebAssembly is refused (a CSP without wasm-unsafe-eval), TypeScript gives the same CRCs", async () => {
  await withWebAssemblyRefused(async () => {
    // A fresh instance of the module (its own "not loaded yet" state), loaded while refused.
    const fresh: typeof import("../../src/core/crc32_ranges.ts") = await import(
      new URL("../../src/core/crc32_ranges.ts?refused", import.meta.url).href
    );
    assert.equal(fresh.crc32RangesUseWasm(), false);
    const buf = new TextEncoder().encode("..123456789..abc");
    const out = new Uint32Array(2);
    fresh.crc32Ranges(buf, Int32Array.of(2, 11, 13, 16), 2, out);
    assert.deepEqual([...out], [0xcbf43926, crc32Range(buf, 13, 16)]);
  });
  assert.equal(crc32RangesUseWasm(), true, "the shared instance is unaffected");
});
