/**
 * A discrete-event scheduler on the simulated clock: actions run in
 * (time, insertion) order, so equal times never depend on anything but the
 * order the scenario scheduled them in. An action that calls the store is a
 * {@linkcode Sim}: it runs to its end (all its calls) before the next starts.
 *
 * @module
 */

import type { Sim } from "./_sim.ts";
import type { SimWorld } from "./_world.ts";

/** A scheduled action: plain code, or a {@linkcode Sim} that calls the store. */
export type Action = () => Sim<void> | void;

interface Entry {
  atMs: number;
  seq: number;
  run: Action;
}

/** Runs scheduled actions in time order, moving the world's clock to each. */
export class Scheduler {
  readonly #world: SimWorld;
  readonly #queue: Entry[] = [];
  #seq = 0;

  constructor(world: SimWorld) {
    this.#world = world;
  }

  /** Run `run` at simulated `atMs` (never earlier than now). */
  at(atMs: number, run: Action): void {
    const entry = { atMs: Math.max(atMs, this.#world.nowMs), seq: this.#seq++, run };
    // Binary search for the first entry strictly later: ties keep insertion order.
    let lo = 0;
    let hi = this.#queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#queue[mid].atMs <= entry.atMs) lo = mid + 1;
      else hi = mid;
    }
    this.#queue.splice(lo, 0, entry);
  }

  /** Run `run` `delayMs` from now. */
  after(delayMs: number, run: Action): void {
    this.at(this.#world.nowMs + delayMs, run);
  }

  /** Run actions due at or before `endMs`, or until `stop()` says so. */
  *runUntil(endMs: number, stop: () => boolean = () => false): Sim<void> {
    while (this.#queue.length > 0 && this.#queue[0].atMs <= endMs && !stop()) {
      const entry = this.#queue.shift()!;
      this.#world.nowMs = entry.atMs;
      const sim = entry.run();
      if (sim) yield* sim;
    }
  }
}
