/**
 * UUIDv7 event ids: 48-bit millisecond timestamp, version 7, a 12-bit
 * counter (monotonic within a millisecond) and 62 random bits.
 *
 * @module
 */

import { InvalidArgumentError } from "./errors.ts";

/**
 * A UUIDv7 in canonical lowercase form, time-ordered.
 *
 * @example
 * ```ts
 * import { Coordinate, type EventId, EventKind, Store } from "@seed/batpak";
 * const store = Store.open(Deno.makeTempDirSync());
 * const coord = new Coordinate("a", "s");
 * const first: EventId = store.append(coord, EventKind.custom(1, 1), {}).eventId;
 * const second: EventId = store.append(coord, EventKind.custom(1, 1), {}).eventId;
 * console.log(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/.test(first), first < second); // true true
 * store.close();
 * ```
 */
export type EventId = string;

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const COUNTER_MAX = 0xfff;
const RANDOM_POOL_WORDS = 1024;

/** Four big-endian u32 words of a UUID. */
export type IdWords = [number, number, number, number];

/** Fills a byte array with random bytes: `crypto.getRandomValues`, or a seeded source in a simulation. */
export type RandomSource = (bytes: Uint8Array) => void;

/** The default {@linkcode RandomSource}: the platform's cryptographic generator. */
export const cryptoRandom: RandomSource = (bytes) => {
  crypto.getRandomValues(bytes);
};

/**
 * Generates monotonic UUIDv7 ids. The caller passes the (checked) time;
 * when it stalls or goes backwards the last timestamp is reused with the
 * counter incremented; when the counter runs out the timestamp advances by
 * 1 ms, so ids are strictly increasing within one generator. Randomness is
 * injected, so a simulation replays ids from its seed.
 */
export class IdGenerator {
  readonly #random: RandomSource;
  #lastMs = -1;
  #counter = 0;
  #pool = new Uint32Array(RANDOM_POOL_WORDS);
  #poolBytes = new Uint8Array(this.#pool.buffer);
  #poolAt = RANDOM_POOL_WORDS;
  /** Words of the last generated id. */
  readonly words: IdWords = [0, 0, 0, 0];

  /** `random` fills byte arrays (default: `crypto.getRandomValues`). */
  constructor(random: RandomSource = cryptoRandom) {
    this.#random = random;
  }

  /** Never generate an id at or below this timestamp/counter (used after reopen). */
  observe(words: IdWords): void {
    const ms = words[0] * 0x10000 + (words[1] >>> 16);
    const counter = words[1] & COUNTER_MAX;
    if (ms > this.#lastMs || (ms === this.#lastMs && counter > this.#counter)) {
      this.#lastMs = ms;
      this.#counter = counter;
    }
  }

  #randomWord(): number {
    if (this.#poolAt === RANDOM_POOL_WORDS) {
      this.#random(this.#poolBytes);
      this.#poolAt = 0;
    }
    return this.#pool[this.#poolAt++];
  }

  /**
   * Generate the next id into {@linkcode IdGenerator.words}, for time
   * `nowMs` (checked by the caller: finite, 0..2^48-1).
   */
  next(nowMs: number): void {
    const now = Math.floor(nowMs);
    if (now > this.#lastMs) {
      this.#lastMs = now;
      this.#counter = 0;
    } else if (this.#counter < COUNTER_MAX) {
      this.#counter++;
    } else {
      this.#lastMs++;
      this.#counter = 0;
    }
    const ms = this.#lastMs;
    const w = this.words;
    w[0] = Math.floor(ms / 0x10000) >>> 0;
    w[1] = (((ms & 0xffff) << 16) | 0x7000 | this.#counter) >>> 0;
    w[2] = ((this.#randomWord() & 0x3fffffff) | 0x80000000) >>> 0;
    w[3] = this.#randomWord();
  }
}

/** Format four words as a canonical UUID string. */
export function formatId(w0: number, w1: number, w2: number, w3: number): EventId {
  return HEX[w0 >>> 24] + HEX[(w0 >>> 16) & 255] + HEX[(w0 >>> 8) & 255] + HEX[w0 & 255] + "-" +
    HEX[w1 >>> 24] + HEX[(w1 >>> 16) & 255] + "-" + HEX[(w1 >>> 8) & 255] + HEX[w1 & 255] + "-" +
    HEX[w2 >>> 24] + HEX[(w2 >>> 16) & 255] + "-" + HEX[(w2 >>> 8) & 255] + HEX[w2 & 255] +
    HEX[w3 >>> 24] + HEX[(w3 >>> 16) & 255] + HEX[(w3 >>> 8) & 255] + HEX[w3 & 255];
}

/** Parse a canonical UUID into words, or `undefined` when it is not one. */
export function parseId(id: unknown): IdWords | undefined {
  if (typeof id !== "string" || id.length !== 36) return undefined;
  // A char-code walk: hot get() parses an id per call, and regex + slices + parseInt cost ~1 µs.
  const words: IdWords = [0, 0, 0, 0];
  let nibbles = 0;
  for (let i = 0; i < 36; i++) {
    const c = id.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 0x2d) return undefined; // "-"
      continue;
    }
    const v = c >= 0x30 && c <= 0x39
      ? c - 0x30
      : c >= 0x61 && c <= 0x66
      ? c - 0x57
      : c >= 0x41 && c <= 0x46
      ? c - 0x37
      : -1;
    if (v < 0) return undefined;
    const w = nibbles >>> 3;
    words[w] = ((words[w] << 4) | v) >>> 0;
    nibbles++;
  }
  return words;
}

/** Parse an id argument or throw {@linkcode InvalidArgumentError} naming it. */
export function requireId(name: string, id: unknown): IdWords {
  const words = parseId(id);
  if (!words) {
    throw new InvalidArgumentError(`${name} must be a UUID string, found ${JSON.stringify(id)}`);
  }
  return words;
}

/** Write words big-endian into 16 bytes of `out` at `at`. */
export function idToBytes(w: IdWords, out: Uint8Array, at = 0): void {
  for (let i = 0; i < 4; i++) {
    const v = w[i];
    out[at + i * 4] = v >>> 24;
    out[at + i * 4 + 1] = (v >>> 16) & 255;
    out[at + i * 4 + 2] = (v >>> 8) & 255;
    out[at + i * 4 + 3] = v & 255;
  }
}

/** Read four big-endian words from 16 bytes. */
export function bytesToId(b: Uint8Array, at = 0): IdWords {
  const dv = new DataView(b.buffer, b.byteOffset + at, 16);
  return [dv.getUint32(0), dv.getUint32(4), dv.getUint32(8), dv.getUint32(12)];
}

export { fromHex, toHex } from "./utf8.ts";
