/**
 * Guaranteed cursors and named cursor checkpoints.
 *
 * A cursor is a position (the last delivered global sequence) plus a small
 * page of events already read after it (bounded in count and bytes). The
 * log only grows at its end, so a page read earlier stays exactly the next
 * events of the region: nothing appended later can belong before them.
 * When the page runs out the index is asked again from the position, which
 * is how events appended while iterating are seen. The position moves only
 * when an event is delivered, so a failed read is retried, never skipped.
 *
 * A checkpoint is a `CursorCheckpoint` system event (entity
 * `$cursor:<name>`, scope `$system`): it lives in the log, so it survives
 * reopen and crash like any event, and is durable once a later sync covers
 * it.
 *
 * @module
 */

import { queryIndex } from "../index/query.ts";
import { Coordinate, validateCoordinatePart } from "../core/coordinate.ts";
import { InvalidArgumentError, StoreClosedError, type StoreError } from "../core/errors.ts";
import type { Region } from "../core/region.ts";
import type { StoreInternals } from "../store/store.ts";
import {
  CURSOR_ENTITY_PREFIX,
  type CursorPayload,
  SYSTEM_SCOPE,
  SystemKind,
} from "../core/system.ts";
import type { Cursor, StoredEvent } from "../core/types.ts";
import { readEvents, readPage } from "./_events.ts";

/** Events a cursor reads ahead in one go for `poll()`. */
export const CURSOR_PAGE_EVENTS = 256;
/** A read-ahead page stops growing once its frames reach this many bytes. */
export const CURSOR_PAGE_BYTES = 256 * 1024;

function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v);
  if (typeof v === "number" || typeof v === "bigint" || typeof v === "boolean") return String(v);
  return v === null ? "null" : typeof v;
}

/**
 * Check a start position for a cursor or subscription: an integer from 0
 * to the end of the log. A position past the end would silently skip the
 * events that later fill the gap.
 */
export function checkPosition(s: StoreInternals, where: string, position: unknown): number {
  if (typeof position !== "number" || !Number.isInteger(position) || position < 0) {
    throw new InvalidArgumentError(
      `${where} must be an integer ≥ 0, found ${describe(position)}`,
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
  readonly #s: StoreInternals;
  readonly #region: Region;
  #position: number;
  /** Events read ahead of the position, not yet delivered (a bounded page). */
  #ahead: StoredEvent[] = [];
  #next = 0;

  constructor(internals: StoreInternals, region: Region, after: number) {
    this.#s = internals;
    this.#region = region;
    this.#position = after;
  }

  /** The last delivered global sequence (the `after` it started from, before any). */
  get position(): number {
    return this.#position;
  }

  #assertOpen(): void {
    if (this.#s.isClosed()) throw new StoreClosedError();
  }

  /** The next event of the region, or `undefined` when caught up. */
  poll(): StoredEvent | undefined {
    this.#assertOpen();
    if (this.#next === this.#ahead.length) {
      const gs = queryIndex(this.#s.index, this.#region, this.#position, CURSOR_PAGE_EVENTS);
      this.#ahead = readPage(this.#s, gs, 0, CURSOR_PAGE_EVENTS, CURSOR_PAGE_BYTES);
      this.#next = 0;
      if (this.#ahead.length === 0) return undefined;
    }
    const event = this.#ahead[this.#next++];
    this.#position = event.globalSequence;
    return event;
  }

  /** Up to `max` next events of the region, in order; empty when caught up. */
  pollBatch(max: number): StoredEvent[] {
    if (typeof max !== "number" || !Number.isSafeInteger(max) || max < 1) {
      throw new InvalidArgumentError(
        `pollBatch: max must be an integer ≥ 1, found ${describe(max)}`,
      );
    }
    this.#assertOpen();
    const ready = Math.min(max, this.#ahead.length - this.#next);
    let events = this.#ahead.slice(this.#next, this.#next + ready);
    if (ready < max) {
      const from = ready > 0 ? events[ready - 1].globalSequence : this.#position;
      const more = readEvents(this.#s, queryIndex(this.#s.index, this.#region, from, max - ready));
      events = ready > 0 ? events.concat(more) : more;
      this.#ahead = [];
      this.#next = 0;
    } else this.#next += ready;
    if (events.length > 0) this.#position = events[events.length - 1].globalSequence;
    return events;
  }
}

function checkName(name: unknown, where: string): string {
  if (typeof name !== "string" || name.length === 0) {
    throw new InvalidArgumentError(
      `${where}: cursor name must be a non-empty string, found ${describe(name)}`,
    );
  }
  try {
    validateCoordinatePart("entity", CURSOR_ENTITY_PREFIX + name);
  } catch (e) {
    throw new InvalidArgumentError(
      `${where}: cursor name ${describe(name)} is not usable: ${(e as StoreError).message} ` +
        `(it is stored as the entity "${CURSOR_ENTITY_PREFIX}<name>")`,
    );
  }
  return name;
}

/**
 * Save `position` as the checkpoint of cursor `name` (a system event).
 * Writes nothing when the checkpoint already holds that position.
 */
export function saveCursor(s: StoreInternals, name: unknown, position: unknown): void {
  const n = checkName(name, "saveCursor");
  const p = checkPosition(s, "saveCursor: position", position);
  if (s.system.cursors.get(n) === p) return;
  const payload: CursorPayload = { name: n, position: p };
  s.appendSystem(
    new Coordinate(CURSOR_ENTITY_PREFIX + n, SYSTEM_SCOPE),
    SystemKind.CursorCheckpoint,
    payload,
  );
}

/** The saved position of cursor `name`, or `undefined` when none was saved. */
export function loadCursor(s: StoreInternals, name: unknown): number | undefined {
  return s.system.cursors.get(checkName(name, "loadCursor"));
}
