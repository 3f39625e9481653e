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
  const postings = s.index.entities.postings[id];
  const last = postings.length;
  if (direction === "forwards") {
    const start = Math.min((from ?? 1) - 1, last);
    return readEvents(s, postings.items, start, Math.min(last, start + limit));
  }
  const top = Math.min(from ?? last, last);
  const start = Math.max(0, top - limit);
  return readEvents(s, postings.items, start, top).reverse();
}
