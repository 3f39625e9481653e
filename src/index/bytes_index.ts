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

/** Slots of the recent-names cache (2^12). */
const RECENT_BITS = 12;
const NO_NAME: Uint8Array = new Uint8Array(0);
/** Recent names up to this long are kept inline (most entity and scope names). */
const RECENT_INLINE_BYTES = 32;

/** The recent-names slot of the name at `buf[at .. at+length]`. */
function recentSlot(buf: Uint8Array, at: number, length: number): number {
  let f = length;
  if (length >= 3) {
    f ^= (buf[at + length - 1] << 8) ^ (buf[at + length - 2] << 16) ^ (buf[at + length - 3] << 24);
  }
  return Math.imul(f, 0x9e3779b1) >>> (32 - RECENT_BITS);
}

/**
 * Name bytes → id, over ids whose bytes `bytesOf` returns. A small cache of
 * recent names, keyed by a fingerprint of a name's length and last three
 * bytes, answers most lookups of a scan with one comparison (no hash over
 * the whole name, no map lookup: 10% of a rebuild); a miss takes the hash.
 */
export class BytesIndex {
  readonly #bytesOf: (id: number) => Uint8Array;
  readonly #byHash = new Map<number, number | number[]>();
  readonly #recentId = new Int32Array(1 << RECENT_BITS).fill(-1);
  readonly #recentBytes: Uint8Array[] = new Array(1 << RECENT_BITS).fill(NO_NAME);
  /**
   * The recent names of up to {@linkcode RECENT_INLINE_BYTES} bytes again,
   * inline: slot k's bytes at k * RECENT_INLINE_BYTES, its length in
   * `#recentLength` (-1: none inline). One flat array keeps a hit to one
   * cache line: with many entities interleaved, chasing each name's own
   * array was 11% of a 1M-event rebuild.
   */
  readonly #recentInline = new Uint8Array((1 << RECENT_BITS) * RECENT_INLINE_BYTES);
  readonly #recentLength = new Int32Array(1 << RECENT_BITS).fill(-1);

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
   * The id of the name at `buf[at .. at+length]`, or -1 when unknown (then
   * intern it and {@linkcode remember} it). No callback: a closure per call
   * was an allocation per event of a scan.
   */
  lookup(buf: Uint8Array, at: number, length: number): number {
    const slot = recentSlot(buf, at, length);
    if (this.#recentLength[slot] === length) {
      const inline = this.#recentInline;
      const from = slot * RECENT_INLINE_BYTES;
      let i = 0;
      while (i < length && inline[from + i] === buf[at + i]) i++;
      if (i === length) return this.#recentId[slot];
    } else if (length > RECENT_INLINE_BYTES) {
      const recent = this.#recentBytes[slot];
      if (recent.length === length && this.#recentId[slot] >= 0) {
        let i = 0;
        while (i < length && recent[i] === buf[at + i]) i++;
        if (i === length) return this.#recentId[slot];
      }
    }
    const id = this.find(buf, at, length, hashBytes(buf, at, length));
    if (id >= 0) this.#recent(slot, id);
    return id;
  }

  /** Make `id` slot `slot`'s recent name. */
  #recent(slot: number, id: number): void {
    const bytes = this.#bytesOf(id);
    this.#recentId[slot] = id;
    this.#recentBytes[slot] = bytes;
    if (bytes.length <= RECENT_INLINE_BYTES) {
      this.#recentInline.set(bytes, slot * RECENT_INLINE_BYTES);
      this.#recentLength[slot] = bytes.length;
    } else this.#recentLength[slot] = -1;
  }

  /** Record that the name at `buf[at .. at+length]` is the new id `id`. */
  remember(buf: Uint8Array, at: number, length: number, id: number): void {
    this.add(hashBytes(buf, at, length), id);
    this.#recent(recentSlot(buf, at, length), id);
  }

  /** Record that name `id` hashes to `h`. */
  add(h: number, id: number): void {
    const hit = this.#byHash.get(h);
    if (hit === undefined) this.#byHash.set(h, id);
    else if (typeof hit === "number") this.#byHash.set(h, [hit, id]);
    else hit.push(id);
  }
}
