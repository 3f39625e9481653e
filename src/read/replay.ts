/**
 * `Store.replay`: every event of a region, in global order, to a visitor,
 * without the id and hash texts a full read makes (see
 * {@linkcode ReplayedEvent}). The frames are read, CRC-checked, matched to
 * the index and chained exactly as a cursor's are (`forEachEvent` with the
 * store's text-less `EventText`, upcast as every read is); the region is asked for a page of global
 * sequences at a time, so nothing but one page is held, whatever the region's
 * size.
 *
 * @module
 */

import { InvalidArgumentError, StoreClosedError } from "../core/errors.ts";
import type { Region } from "../core/region.ts";
import type { ReplayedEvent, StoredEvent } from "../core/types.ts";
import { type EventSource, forEachDecoded } from "./events.ts";
import { upcastEvent } from "./upcast.ts";
import { queryVisible } from "./visibility.ts";

/** Global sequences asked of the index at a time (one page's worth of memory). */
export const REPLAY_PAGE_EVENTS = 4096;

/** Receives one replayed event. */
export type ReplayVisitor = (event: ReplayedEvent) => void;

/**
 * Visit the events of `region` after global sequence `after`, at most
 * `limit`, that exist when the call starts (an event the visitor appends is
 * not visited: a replay ends). A deletion, truncation or redaction made
 * while it runs — by the visitor, say — takes effect at once, as for a
 * cursor. Returns the last visited global sequence (`after` when none): the
 * `after` that resumes it. A visitor that throws ends the replay with its
 * error; the events before it were visited. The visitor is called
 * synchronously: one that returns a promise (an `async` function) ends the
 * replay at its first event with an `InvalidArgumentError`, rather than
 * running unawaited and out of order.
 */
export function replayEvents(
  s: EventSource,
  region: Region,
  visit: ReplayVisitor,
  after: number,
  limit: number,
): number {
  const last = s.index.count;
  const lifecycle = s.lifecycle; // one object per store, changed in place
  const kinds = s.kinds;
  let position = after;
  let left = limit;
  let version = -1;
  // Once the lifecycle changes, the rest of the page is not delivered; the next page is asked
  // again from the last visited event, under the new state.
  let stale = false;
  const done = (event: StoredEvent, schema: number) => {
    if (stale) return;
    if (lifecycle.version !== version || s.closed) {
      if (s.closed) throw new StoreClosedError();
      stale = true;
      return;
    }
    if (kinds !== undefined || schema > 1) upcastEvent(kinds, event, schema);
    position = event.globalSequence;
    left--;
    const returned: unknown = visit(event);
    if (typeof (returned as PromiseLike<unknown> | undefined)?.then === "function") {
      throw new InvalidArgumentError(
        "replay: visit returned a promise; a replay calls it synchronously and awaits nothing " +
          "(for asynchronous work use a cursor or subscribe)",
      );
    }
  };
  while (left > 0 && position < last) {
    version = lifecycle.version;
    stale = false;
    const gs = queryVisible(s, region, position, Math.min(REPLAY_PAGE_EVENTS, left));
    let n = gs.length;
    while (n > 0 && gs[n - 1] > last) n--;
    if (n === 0) break;
    forEachDecoded(s, gs, 0, n, s.replayText, done);
  }
  return position;
}
