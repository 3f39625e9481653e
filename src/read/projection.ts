/**
 * Cached projections: each (projection, entity) pair keeps its state and how
 * far into the entity's stream it has folded; a call applies only newer
 * events.
 *
 * @module
 */

import type { EventKind } from "../store/kind.ts";
import type { StoreInternals } from "../store/store.ts";
import type { EventSourced, Freshness } from "../store/types.ts";
import { InvalidArgumentError } from "../store/errors.ts";

interface Cached {
  state: unknown;
  /** Events of the entity's stream folded so far. */
  upto: number;
  /** True once a relevant event was applied. */
  relevant: boolean;
  /** Clock time of the last catch-up. */
  atMs: number;
}

/** Projection states per projection object and entity. */
export class ProjectionCache {
  readonly #cache = new WeakMap<EventSourced<unknown>, Map<string, Cached>>();

  /** Fold `entity` with `projection`, reusing and extending the cached state. */
  project<T>(
    s: StoreInternals,
    entity: string,
    projection: EventSourced<T>,
    freshness: Freshness,
  ): T | undefined {
    if (
      typeof projection !== "object" || projection === null ||
      typeof projection.initial !== "function" || typeof projection.apply !== "function"
    ) {
      throw new InvalidArgumentError(
        "project: projection must have initial() and apply(state, event)",
      );
    }
    let staleMs = -1;
    if (freshness !== "consistent") {
      const ms = (freshness as { maybeStaleMs?: unknown })?.maybeStaleMs;
      if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) {
        throw new InvalidArgumentError(
          `project: freshness must be "consistent" or { maybeStaleMs: number ≥ 0 }`,
        );
      }
      staleMs = ms;
    }
    const index = s.index;
    const eid = index.entities.lookup(entity);
    if (eid < 0) return undefined;
    const p = projection as EventSourced<unknown>;
    let perEntity = this.#cache.get(p);
    if (!perEntity) this.#cache.set(p, perEntity = new Map());
    const now = s.settings.clock();
    const cached = perEntity.get(entity);
    if (cached && staleMs >= 0 && now - cached.atMs <= staleMs) {
      return cached.relevant ? cached.state as T : undefined;
    }
    const postings = index.entities.postings[eid];
    const kinds = projection.kinds as readonly EventKind[] | undefined;
    let state = cached ? cached.state : projection.initial();
    let relevant = cached?.relevant ?? false;
    for (let i = cached?.upto ?? 0; i < postings.length; i++) {
      const g = postings.items[i];
      if (kinds !== undefined && !kinds.includes(index.kindOf(g) as EventKind)) continue;
      state = projection.apply(state as T, s.readEvent(g));
      relevant = true;
    }
    perEntity.set(entity, { state, upto: postings.length, relevant, atMs: now });
    return relevant ? state as T : undefined;
  }
}
