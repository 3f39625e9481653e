/**
 * The harness's only source of randomness: a seeded mulberry32 generator
 * with integer helpers. Same seed, same choices, on every machine.
 *
 * @module
 */

/** Largest seed (seeds are uint32). */
export const SEED_MAX = 0xffff_ffff;

/** A seeded pseudo-random generator of integers. */
export class Prng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** The next uint32 (mulberry32). */
  nextU32(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A uniform integer in `lo..hi`, both included. */
  int(lo: number, hi: number): number {
    const span = hi - lo + 1;
    // Multiply-shift instead of modulo: no float, negligible bias for spans this small.
    return lo + Math.floor(this.nextU32() * span / 0x1_0000_0000);
  }

  /** True one time in `n`. */
  oneIn(n: number): boolean {
    return this.int(1, n) === 1;
  }

  /** `bytes` random bytes as lowercase hex. */
  hex(bytes: number): string {
    let out = "";
    for (let i = 0; i < bytes; i++) out += this.int(0, 255).toString(16).padStart(2, "0");
    return out;
  }
}

/** FNV-1a of a label, to give each scenario its own stream from one seed. */
export function labelHash(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** The seed of one scenario's stream: the user's seed mixed with the scenario label. */
export function scenarioSeed(seed: number, label: string): number {
  return (seed ^ labelHash(label)) >>> 0;
}
