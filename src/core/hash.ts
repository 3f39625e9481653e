/**
 * BLAKE3 (32-byte digest) for the per-entity hash chain. Inputs of one chunk
 * (≤ 1 KiB, most events) are hashed by `blake3.ts` (our WebAssembly SIMD
 * module, or TypeScript where WebAssembly is refused); longer ones through
 * hash-wasm, whose WASM module is instantiated once at import (top-level
 * await), so hashing itself is synchronous.
 *
 * @module
 */

// deno-lint-ignore no-import-prefix -- importers by path or URL do not see our import map
import { createBLAKE3 } from "npm:hash-wasm@^4.13.0";
import { BLAKE3_CHUNK_BYTES, blake3Range } from "./blake3.ts";

/** Bytes of an event hash. */
export const HASH_BYTES = 32;

const hasher = await createBLAKE3(HASH_BYTES * 8);

/** BLAKE3 of `data`, written into `out` at `at`. */
export function hashInto(data: Uint8Array, out: Uint8Array, at: number): void {
  hashRange(data, 0, data.length, out, at);
}

/**
 * BLAKE3 of `src[start .. end)`, written into `out` at `at`: one chunk or
 * less is hashed in place (no slice, no allocation), longer ranges through
 * hash-wasm.
 */
export function hashRange(
  src: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
  at: number,
): void {
  if (end - start <= BLAKE3_CHUNK_BYTES) {
    blake3Range(src, start, end, out, at);
    return;
  }
  hasher.init();
  hasher.update(src.subarray(start, end));
  out.set(hasher.digest("binary"), at);
}

/** BLAKE3 through hash-wasm only (the reference the TypeScript path is tested against). */
export function hashWasm(data: Uint8Array): Uint8Array {
  hasher.init();
  hasher.update(data);
  return hasher.digest("binary");
}
