/**
 * Entity and scope names as the log stores them: UTF-8 bytes, encoded once
 * per name and kept by id, so an append copies bytes instead of encoding
 * strings, and the recovery scan finds a name by its bytes without decoding
 * it.
 *
 * @module
 */

import { utf8Encode } from "../core/utf8.ts";
import { BytesIndex, hashBytes } from "../index/bytes_index.ts";
import type { Dimension } from "../index/index.ts";

/** UTF-8 bytes of every name of one dimension, by id. */
export class NameBytes {
  readonly #dim: () => Dimension;
  readonly #bytes: Uint8Array[] = [];

  /** `dim` returns the dimension (the index can be replaced while restoring). */
  constructor(dim: () => Dimension) {
    this.#dim = dim;
  }

  /** Forget every name (the index was replaced by an empty one). */
  reset(): void {
    this.#bytes.length = 0;
  }

  /** The bytes of name `id`. */
  bytes(id: number): Uint8Array {
    let b = this.#bytes[id];
    if (b === undefined) b = this.#bytes[id] = utf8Encode(this.#dim().names[id]);
    return b;
  }

  /** The id of `name`, interning it (and its bytes) when new. */
  intern(name: string): number {
    const dim = this.#dim();
    const id = dim.intern(name);
    if (this.#bytes[id] === undefined) this.#bytes[id] = utf8Encode(name);
    return id;
  }

  /** An index from name bytes to ids over every name known now (for a scan). */
  byBytes(): BytesIndex {
    const index = new BytesIndex((id) => this.bytes(id));
    const n = this.#dim().names.length;
    for (let id = 0; id < n; id++) {
      const b = this.bytes(id);
      index.add(hashBytes(b, 0, b.length), id);
    }
    return index;
  }
}
