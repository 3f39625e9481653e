/**
 * Find an interned name by its UTF-8 bytes without decoding them: the
 * recovery scan sees every event's entity and scope as bytes, and decoding
 * two strings per event cost more than the rest of the scan.
 *
 * @module
 */

/** FNV-1a over `buf[at .. at+length]`. */
export function hashBytes(buf: Uint8Array, at: number, length: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < length; i++) {
    h ^= buf[at + i];
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Name bytes → id, over ids whose bytes `bytesOf` returns. */
export class BytesIndex {
  readonly #bytesOf: (id: number) => Uint8Array;
  readonly #byHash = new Map<number, number | number[]>();

  /** `bytesOf(id)` returns the UTF-8 bytes of name `id`. */
  constructor(bytesOf: (id: number) => Uint8Array) {
    this.#bytesOf = bytesOf;
  }

  #matches(id: number, buf: Uint8Array, at: number, length: number): boolean {
    const b = this.#bytesOf(id);
    if (b.length !== length) return false;
    for (let i = 0; i < length; i++) if (b[i] !== buf[at + i]) return false;
    return true;
  }

  /** The id whose bytes equal `buf[at .. at+length]` (hash `h`), or -1. */
  find(buf: Uint8Array, at: number, length: number, h: number): number {
    const hit = this.#byHash.get(h);
    if (hit === undefined) return -1;
    if (typeof hit === "number") return this.#matches(hit, buf, at, length) ? hit : -1;
    for (const id of hit) if (this.#matches(id, buf, at, length)) return id;
    return -1;
  }

  /**
   * The id of the name at `buf[at .. at+length]`; when unknown, `create()`
   * interns it and the new id is recorded.
   */
  resolve(buf: Uint8Array, at: number, length: number, create: () => number): number {
    const h = hashBytes(buf, at, length);
    let id = this.find(buf, at, length, h);
    if (id < 0) {
      id = create();
      this.add(h, id);
    }
    return id;
  }

  /** Record that name `id` hashes to `h`. */
  add(h: number, id: number): void {
    const hit = this.#byHash.get(h);
    if (hit === undefined) this.#byHash.set(h, id);
    else if (typeof hit === "number") this.#byHash.set(h, [hit, id]);
    else hit.push(id);
  }
}
