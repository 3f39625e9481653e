/**
 * The read side's view of what is gone: the index's
 * {@linkcode Visibility} rules applied to queries, entity streams and
 * projections of one store.
 *
 * @module
 */

import type { Region } from "../core/region.ts";
import { queryIndex } from "../index/query.ts";
import type { Hidden } from "../index/visibility.ts";
import type { EventSource } from "./events.ts";

export { type Hidden, Visibility } from "../index/visibility.ts";

/** The hidden-event predicate of `s` now, or `undefined` when nothing is hidden. */
export function hiddenNow(s: EventSource): Hidden | undefined {
  const state = s.lifecycle;
  return state.hides ? s.visibility.hidden(s.index, state, s.now()) : undefined;
}

/** {@linkcode queryIndex} over the events `s` still returns. */
export function queryVisible(
  s: EventSource,
  region: Region,
  after: number,
  limit: number,
): number[] {
  return queryIndex(s.index, region, after, limit, hiddenNow(s));
}

/**
 * The global sequences of entity `id`'s events that are still returned, in
 * sequence order: a view of its postings when nothing is hidden.
 */
export function visiblePostings(s: EventSource, id: number): Uint32Array {
  const postings = s.index.entities.postings[id];
  const all = postings.items.subarray(0, postings.length);
  const state = s.lifecycle;
  if (!state.hides) return all;
  const { from, policies } = s.visibility.entityFrom(s.index, state, id);
  // Truncations and deletions hide a prefix: sequence n is at position n - 1.
  const kept = from === 1 ? all : all.subarray(Math.min(from - 1, all.length));
  if (!policies || kept.length === 0) return kept;
  const hidden = s.visibility.hidden(s.index, state, s.now())!;
  return kept.filter((g) => !hidden(g));
}
