/**
 * Guaranteed cursors.
 *
 * A cursor is a position (the last delivered global sequence) plus a small
 * page of events already read after it (bounded in count and bytes). The
 * log only grows at its end, so a page read earlier stays exactly the next
 * events of the region: nothing appended later can belong before them.
 * When the page runs out the index is asked again from the position, which
 * is how events appended while iterating are seen. The position moves only
 * when an event is delivered, so a failed read is retried, never skipped.
 *
 * Saved positions (`saveCursor`/`loadCursor`) are kept beside the log, not
 * in it (src/engine/cursors.ts); {@linkcode checkCursorName} and
 * {@linkcode checkPosition} check their arguments.
 *
 * @module
 */

import { describeValue } from "../core/describe.ts";
import { InvalidArgumentError, StoreClosedError } from "../core/errors.ts";
import type { Region } from "../core/region.ts";
import type { Cursor, StoredEvent } from "../core/types.ts";
import { COORDINATE_BYTES_MAX } from "../core/coordinate.ts";
import { type EventSource, readEvents, readPage } from "./events.ts";
import { queryVisible } from "./visibility.ts";

/** Events a cursor reads ahead in one go for `poll()`. */
export const CURSOR_PAGE_EVENTS = 256;
/** A read-ahead page stops growing once its frames reach this many bytes. */
export const CURSOR_PAGE_BYTES = 256 * 1024;

/**
 * Check a start position for a cursor or subscription: an integer from 0
 * to the end of the log. A position past the end would silently skip the
 * events that later fill the gap.
 */
export function checkPosition(s: EventSource, where: string, position: unknown): number {
  if (typeof position !== "number" || !Number.isInteger(position) || position < 0) {
    throw new InvalidArgumentError(
      `${where} must be an integer ≥ 0, found ${describeValue(position)}`,
    );
  }
  if (position > s.index.count) {
    throw new InvalidArgumentError(
      `${where} is ${position}, past the end of the log (last global sequence ${s.index.count})`,
    );
  }
  return position;
}

/** A cursor over a region: global order, never skips, never repeats. */
export class GuaranteedCursor implements Cursor {
  readonly #s: EventSource;
  readonly #region: Region;
  #position: number;
  /** Events read ahead of the position, not yet delivered (a bounded page). */
  #ahead: StoredEvent[] = [];
  #next = 0;
  /** The lifecycle version the page was read at: a deletion since drops it (takes effect at once). */
  #aheadVersion = -1;

  constructor(source: EventSource, region: Region, after: number) {
    this.#s = source;
    this.#region = region;
    this.#position = after;
  }

  /** The last delivered global sequence (the `after` it started from, before any). */
  get position(): number {
    return this.#position;
  }

  #assertOpen(): void {
    if (this.#s.closed) throw new StoreClosedError();
  }

  /** The next event of the region, or `undefined` when caught up. */
  poll(): StoredEvent | undefined {
    this.#assertOpen();
    this.#dropStalePage();
    if (this.#next === this.#ahead.length) {
      const gs = queryVisible(this.#s, this.#region, this.#position, CURSOR_PAGE_EVENTS);
      this.#ahead = readPage(this.#s, gs, 0, CURSOR_PAGE_EVENTS, CURSOR_PAGE_BYTES);
      this.#aheadVersion = this.#s.lifecycle.version;
      this.#next = 0;
      if (this.#ahead.length === 0) return undefined;
    }
    const event = this.#ahead[this.#next++];
    this.#position = event.globalSequence;
    return event;
  }

  #dropStalePage(): void {
    if (this.#next < this.#ahead.length && this.#aheadVersion !== this.#s.lifecycle.version) {
      this.#ahead = [];
      this.#next = 0;
    }
  }

  /** Up to `max` next events of the region, in order; empty when caught up. */
  pollBatch(max: number): StoredEvent[] {
    if (typeof max !== "number" || !Number.isSafeInteger(max) || max < 1) {
      throw new InvalidArgumentError(
        `pollBatch: max must be an integer ≥ 1, found ${describeValue(max)}`,
      );
    }
    this.#assertOpen();
    this.#dropStalePage();
    const ready = Math.min(max, this.#ahead.length - this.#next);
    let events = this.#ahead.slice(this.#next, this.#next + ready);
    if (ready < max) {
      const from = ready > 0 ? events[ready - 1].globalSequence : this.#position;
      const more = readEvents(this.#s, queryVisible(this.#s, this.#region, from, max - ready));
      events = ready > 0 ? events.concat(more) : more;
      this.#ahead = [];
      this.#next = 0;
    } else this.#next += ready;
    if (events.length > 0) this.#position = events[events.length - 1].globalSequence;
    return events;
  }
}

/**
 * Check a cursor name: a non-empty, well-formed string without control
 * characters, at most {@linkcode COORDINATE_BYTES_MAX} UTF-8 bytes.
 */
export function checkCursorName(name: unknown, where: string): string {
  if (typeof name !== "string" || name.length === 0) {
    throw new InvalidArgumentError(
      `${where}: cursor name must be a non-empty string, found ${describeValue(name)}`,
    );
  }
  // deno-lint-ignore no-control-regex
  if (!name.isWellFormed() || /[\u0000-\u001f\u007f-\u009f]/.test(name)) {
    throw new InvalidArgumentError(
      `${where}: cursor name ${describeValue(name)} has a control character or a lone surrogate`,
    );
  }
  if (new TextEncoder().encode(name).length > COORDINATE_BYTES_MAX) {
    throw new InvalidArgumentError(
      `${where}: cursor name is longer than ${COORDINATE_BYTES_MAX} UTF-8 bytes`,
    );
  }
  return name;
}
