/**
 * BLAKE3 (32-byte digest) for the per-entity hash chain, via hash-wasm.
 * The WASM module is instantiated once at import (top-level await), so
 * hashing itself is synchronous.
 *
 * @module
 */

import { createBLAKE3 } from "hash-wasm";

/** Bytes of an event hash. */
export const HASH_BYTES = 32;

const hasher = await createBLAKE3(HASH_BYTES * 8);

/** BLAKE3 of `data`, written into `out` at `at`. */
export function hashInto(data: Uint8Array, out: Uint8Array, at: number): void {
  hasher.init();
  hasher.update(data);
  out.set(hasher.digest("binary"), at);
}
