/**
 * Guaranteed cursors: pull-based, global order, never skip, never repeat.
 *
 * @module
 */

import { queryIndex } from "../index/query.ts";
import { InvalidArgumentError } from "../store/errors.ts";
import type { Region } from "../store/region.ts";
import type { StoreInternals } from "../store/store.ts";
import type { Cursor, StoredEvent } from "../store/types.ts";

/** A cursor that re-queries the index from its position on every poll. */
export class GuaranteedCursor implements Cursor {
  readonly #s: StoreInternals;
  readonly #region: Region;
  #position: number;

  constructor(internals: StoreInternals, region: Region, after: number) {
    this.#s = internals;
    this.#region = region;
    this.#position = after;
  }

  /** The last delivered global sequence. */
  get position(): number {
    return this.#position;
  }

  /** The next event of the region, or `undefined` when caught up. */
  poll(): StoredEvent | undefined {
    const [g] = queryIndex(this.#s.index, this.#region, this.#position, 1);
    if (g === undefined) return undefined;
    const event = this.#s.readEvent(g);
    this.#position = g;
    return event;
  }

  /** Up to `max` next events. */
  pollBatch(max: number): StoredEvent[] {
    if (!Number.isInteger(max) || max < 1) {
      throw new InvalidArgumentError(`pollBatch: max must be an integer ≥ 1, found ${String(max)}`);
    }
    const gs = queryIndex(this.#s.index, this.#region, this.#position, max);
    const out: StoredEvent[] = [];
    for (const g of gs) {
      out.push(this.#s.readEvent(g));
      this.#position = g;
    }
    return out;
  }
}
