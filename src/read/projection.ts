/**
 * Cached projections. Each (projection object, entity) pair keeps its state
 * and how far into the entity's stream it has folded, so a call applies only
 * the events appended since the previous one. A stream only grows at its
 * end, which is what makes the incremental fold equal to a fresh one.
 *
 * The cache holds at most {@linkcode PROJECTION_CACHE_ENTITIES_MAX} entities
 * per projection object, least recently used dropped first; it is keyed
 * weakly by the projection object, so dropping the projection frees its
 * states.
 *
 * @module
 */

import { InvalidArgumentError, StoreClosedError } from "../core/errors.ts";
import { isEventKind } from "../core/kind.ts";

import type { EventSourced, Freshness, StoredEvent } from "../core/types.ts";
import { type EventSource, forEachEvent } from "./events.ts";
import { visiblePostings } from "./visibility.ts";

/** Cached states kept per projection object (least recently used evicted). */
export const PROJECTION_CACHE_ENTITIES_MAX = 4096;

interface Cached {
  state: unknown;
  /** Global sequence of the last event of the entity's stream folded so far (0: none). */
  upto: number;
  /** The first event it folded, and the lifecycle version then: either changed (a
   * truncation, deletion or expiry hid events already folded) → fold afresh. */
  first: number;
  version: number;
  /** True once a relevant event was applied. */
  relevant: boolean;
  /** Clock time of the last catch-up, ms. */
  atMs: number;
}

/** Reads and validates a projection's `kinds` once per projection object. */
const kindSets = new WeakMap<EventSourced<unknown>, Set<number> | null>();

function relevantKinds(p: EventSourced<unknown>): Set<number> | null {
  let set = kindSets.get(p);
  if (set !== undefined) return set;
  const kinds = p.kinds as unknown;
  if (kinds === undefined) set = null;
  else {
    if (!Array.isArray(kinds) || !kinds.every(isEventKind)) {
      throw new InvalidArgumentError("project: projection.kinds must be an array of EventKind");
    }
    set = new Set(kinds as number[]);
  }
  kindSets.set(p, set);
  return set;
}

function staleLimitMs(freshness: unknown): number {
  if (freshness === "consistent") return -1;
  const ms = (freshness as { maybeStaleMs?: unknown } | null)?.maybeStaleMs;
  if (typeof freshness !== "object" || typeof ms !== "number" || Number.isNaN(ms) || ms < 0) {
    throw new InvalidArgumentError(
      `project: freshness must be "consistent" or { maybeStaleMs: number ≥ 0 }`,
    );
  }
  return ms;
}

/** First position in the ascending `gs` whose value is above `g`. */
function firstAbove(gs: Uint32Array, g: number): number {
  let lo = 0;
  let hi = gs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (gs[mid] <= g) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Projection states of one store. */
export class ProjectionCache {
  readonly #cache = new WeakMap<EventSourced<unknown>, Map<string, Cached>>();

  /** Fold `entity` with `projection`, reusing and extending the cached state. */
  project<T>(
    s: EventSource,
    entity: string,
    projection: EventSourced<T>,
    freshness: Freshness,
  ): T | undefined {
    if (s.closed) throw new StoreClosedError();
    if (typeof entity !== "string") {
      throw new InvalidArgumentError(`project: entity must be a string, found ${typeof entity}`);
    }
    if (
      typeof projection !== "object" || projection === null ||
      typeof projection.initial !== "function" || typeof projection.apply !== "function"
    ) {
      throw new InvalidArgumentError(
        "project: projection must have initial() and apply(state, event)",
      );
    }
    const staleMs = staleLimitMs(freshness);
    const p = projection as EventSourced<unknown>;
    const kinds = relevantKinds(p);
    const index = s.index;
    const eid = index.entities.lookup(entity);
    if (eid < 0) return undefined;
    let perEntity = this.#cache.get(p);
    if (!perEntity) this.#cache.set(p, perEntity = new Map());
    const now = s.now();
    const version = s.lifecycle.version;
    const cached = perEntity.get(entity);
    if (cached) {
      // Re-insert: Map order is the LRU order.
      perEntity.delete(entity);
      perEntity.set(entity, cached);
      if (staleMs >= 0 && now - cached.atMs <= staleMs && cached.version === version) {
        return cached.relevant ? cached.state as T : undefined;
      }
    }
    const visible = visiblePostings(s, eid);
    const first = visible.length > 0 ? visible[0] : 0;
    const reuse = cached?.version === version && cached.first === first ? cached : undefined;
    let from = 0;
    if (reuse) {
      from = firstAbove(visible, reuse.upto);
      if (from === visible.length) {
        reuse.atMs = now;
        return reuse.relevant ? reuse.state as T : undefined;
      }
    }
    const to = visible.length;
    const upto = to > 0 ? visible[to - 1] : 0;
    let gs: ArrayLike<number> = visible;
    let start = from;
    let end = to;
    if (kinds) {
      const wanted: number[] = [];
      for (let i = from; i < to; i++) {
        const g = visible[i];
        if (kinds.has(index.kindOf(g))) wanted.push(g);
      }
      gs = wanted;
      start = 0;
      end = wanted.length;
    }
    let state = reuse ? reuse.state : projection.initial();
    const relevant = (reuse?.relevant ?? false) || end > start;
    try {
      forEachEvent(s, gs, start, end, (event: StoredEvent) => {
        state = projection.apply(state as T, event);
      });
    } catch (e) {
      // apply may have mutated the cached state before failing: fold afresh next time.
      perEntity.delete(entity);
      throw e;
    }
    perEntity.set(entity, { state, upto, first, version, relevant, atMs: now });
    if (perEntity.size > PROJECTION_CACHE_ENTITIES_MAX) {
      perEntity.delete(perEntity.keys().next().value!);
    }
    return relevant ? state as T : undefined;
  }
}
