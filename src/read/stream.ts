/**
 * `readStream`: exactly one entity's events, with payloads, in either
 * direction, from a sequence on, at most so many — through the entity's
 * postings, so it costs what it returns.
 *
 * @module
 */

import { describeValue } from "../core/describe.ts";
import { InvalidArgumentError } from "../core/errors.ts";
import type { ReadStreamOptions, StoredEvent } from "../core/types.ts";
import { type EventSource, readEvents } from "./events.ts";
import { visiblePostings } from "./visibility.ts";

function bad(what: string, expected: string, found: unknown): never {
  throw new InvalidArgumentError(
    `readStream: ${what} must be ${expected}, found ${describeValue(found)}`,
  );
}

/** The events of `entity` that `options` selects (see `Store.readStream`). */
export function readStream(
  s: EventSource,
  entity: unknown,
  options: unknown,
): StoredEvent[] {
  if (typeof entity !== "string") bad("entity", "a string", entity);
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    bad("options", "an object", options);
  }
  const { from, maxCount, direction = "forwards" } = (options ?? {}) as ReadStreamOptions;
  if (direction !== "forwards" && direction !== "backwards") {
    bad("direction", '"forwards" or "backwards"', direction);
  }
  if (from !== undefined && (!Number.isSafeInteger(from) || from < 1)) {
    bad("from", "an integer ≥ 1", from);
  }
  if (maxCount !== undefined && (!Number.isSafeInteger(maxCount) || maxCount < 0)) {
    bad("maxCount", "an integer ≥ 0", maxCount);
  }
  const limit = maxCount ?? Infinity;
  const id = s.index.entities.lookup(entity);
  if (id < 0) return [];
  const gs = visiblePostings(s, id);
  const all = s.index.entities.postings[id].length;
  // Nothing hidden: sequence n is at position n - 1. Otherwise (truncated, expired, deleted)
  // positions are found by sequence, by binary search over the visible postings.
  if (gs.length === all) {
    if (direction === "forwards") {
      const start = Math.min((from ?? 1) - 1, all);
      return readEvents(s, gs, start, Math.min(all, start + limit));
    }
    const top = Math.min(from ?? all, all);
    return readEvents(s, gs, Math.max(0, top - limit), top).reverse();
  }
  // First position whose sequence is ≥ n: sequence n is the entity's posting n - 1, so the
  // first visible posting at or after that one.
  const postings = s.index.entities.postings[id];
  const atOrAfter = (n: number) => {
    if (n - 1 >= all) return gs.length;
    const g = postings.items[n - 1];
    let lo = 0;
    let hi = gs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (gs[mid] < g) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  if (direction === "forwards") {
    const start = atOrAfter(from ?? 1);
    return readEvents(s, gs, start, Math.min(gs.length, start + limit));
  }
  const top = from === undefined ? gs.length : atOrAfter(from + 1);
  return readEvents(s, gs, Math.max(0, top - limit), top).reverse();
}
