/**
 * src/core/blake3.ts's two paths against each other and against hash-wasm,
 * one group per input size (the TypeScript path the baseline):
 *
 *   deno bench -A bench/blake3_bench.ts
 *
 * 40 B is a small payload's hash (one block); 100–200 B an event body's
 * (two to four blocks); 500 B and 1 KiB longer bodies. Every input starts at
 * an odd offset of a larger buffer, as a frame's body does in a segment.
 */

import { blake3Range, blake3UsesWasm, forceTypeScriptBlake3 } from "../src/core/blake3.ts";
import { hashWasm } from "../src/core/hash.ts";

const SIZES = [40, 100, 130, 200, 500, 1024];
const UNALIGNED_OFFSET = 3;

if (!blake3UsesWasm()) throw new Error("this runtime refused the BLAKE3 WebAssembly module");
const buf = new Uint8Array(4096).map((_, i) => (i * 167 + 13) & 255);
const out = new Uint8Array(32);
let sink = 0; // every digest is folded in, so no call is dead code

for (const bytes of SIZES) {
  const group = `${bytes} B`;
  const end = UNALIGNED_OFFSET + bytes;
  Deno.bench(`blake3.ts TypeScript, ${group}`, { group, baseline: true }, () => {
    const before = forceTypeScriptBlake3(true);
    blake3Range(buf, UNALIGNED_OFFSET, end, out, 0);
    forceTypeScriptBlake3(before);
    sink ^= out[0];
  });
  Deno.bench(`blake3.ts WebAssembly SIMD, ${group}`, { group }, () => {
    blake3Range(buf, UNALIGNED_OFFSET, end, out, 0);
    sink ^= out[0];
  });
  Deno.bench(`hash-wasm blake3, ${group}`, { group }, () => {
    sink ^= hashWasm(buf.subarray(UNALIGNED_OFFSET, end))[0];
  });
}

addEventListener("unload", () => {
  if (sink === 0.5) console.log(sink); // never true; keeps `sink` live
});
