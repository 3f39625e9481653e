/**
 * `Store.replay`: every event of a region, in global order, to a visitor,
 * without the id and hash texts a full read makes (see
 * {@linkcode ReplayedEvent}). The frames are read, CRC-checked, matched to
 * the index and chained exactly as a cursor's are (`forEachEvent` with the
 * store's text-less `EventText`); the region is asked for a page of global
 * sequences at a time, so nothing but one page is held, whatever the region's
 * size.
 *
 * @module
 */

import { StoreClosedError } from "../core/errors.ts";
import type { Region } from "../core/region.ts";
import type { ReplayedEvent } from "../core/types.ts";
import { type EventSource, forEachEvent } from "./events.ts";
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
 * error; the events before it were visited.
 */
export function replayEvents(
  s: EventSource,
  region: Region,
  visit: ReplayVisitor,
  after: number,
  limit: number,
): number {
  const last = s.index.count;
  let position = after;
  let left = limit;
  while (left > 0 && position < last) {
    const version = s.lifecycle.version;
    const gs = queryVisible(s, region, position, Math.min(REPLAY_PAGE_EVENTS, left));
    let n = gs.length;
    while (n > 0 && gs[n - 1] > last) n--;
    if (n === 0) break;
    // Once the lifecycle changes, the rest of the page is not delivered; the next page is asked
    // again from the last visited event, under the new state.
    let stale = false;
    forEachEvent(s, gs, 0, n, (event) => {
      if (stale) return;
      if (s.closed) throw new StoreClosedError();
      if (s.lifecycle.version !== version) {
        stale = true;
        return;
      }
      position = event.globalSequence;
      left--;
      visit(event);
    }, s.replayText);
  }
  return position;
}
