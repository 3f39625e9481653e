/**
 * Projections on PostgreSQL: the same fold and cache semantics as the
 * embedded store (the same argument checks, states kept per entity by the
 * projection's name or identity through the embedded `ProjectionStates`,
 * incremental, at most {@linkcode PROJECTION_CACHE_ENTITIES_MAX} entities per
 * projection, least recently used evicted), reading only the entity's events
 * past the cached sequence, a page at a time.
 *
 * @module
 */

import type { EventSourced, Freshness, StoredEvent } from "../core/types.ts";
import { checkProjectArgs, ProjectionStates } from "./_engine.ts";

/** Cached states kept per projection object. */
export const PROJECTION_CACHE_ENTITIES_MAX = 4096;
/** Events read per page while folding. */
export const PROJECTION_PAGE_EVENTS = 512;

interface Cached {
  state: unknown;
  /** The entity's last sequence folded so far. */
  upto: number;
  relevant: boolean;
  atMs: number;
}

/** What a fold reads. */
export interface ProjectionSource {
  /** The entity's last sequence (0 when it has none). */
  lastSequence(entity: string): Promise<number>;
  /** Events of the entity with sequence in (after, upto], of these kinds (all when null), in order. */
  page(
    entity: string,
    after: number,
    upto: number,
    kinds: readonly number[] | null,
    limit: number,
  ): Promise<StoredEvent[]>;
  /** Now, epoch ms (for `maybeStaleMs`). */
  now(): number;
}

/** Projection states of one store. */
export class ProjectionCache {
  readonly #states = new ProjectionStates<Cached>();

  /** Check the arguments of `project` (before any read); returns the staleness limit. */
  check(entity: unknown, projection: unknown, freshness: unknown): number {
    return checkProjectArgs(entity, projection, freshness).staleMs;
  }

  /** Fold `entity` with `projection`, reusing and extending the cached state. */
  async project<T>(
    src: ProjectionSource,
    entity: string,
    projection: EventSourced<T>,
    freshness: Freshness,
  ): Promise<T | undefined> {
    const { staleMs, kinds: kindSet } = checkProjectArgs(entity, projection, freshness);
    const kinds = kindSet === null ? null : [...kindSet];
    const p = projection as EventSourced<unknown>;
    const perEntity = this.#states.of(p, kindSet);
    const now = src.now();
    const cached = perEntity.get(entity);
    if (cached) {
      perEntity.delete(entity);
      perEntity.set(entity, cached);
      if (staleMs >= 0 && now - cached.atMs <= staleMs) {
        return cached.relevant ? cached.state as T : undefined;
      }
    }
    const last = await src.lastSequence(entity);
    if (last === 0) return undefined;
    const from = cached?.upto ?? 0;
    let state = cached ? cached.state : projection.initial();
    let relevant = cached?.relevant ?? false;
    let after = from;
    try {
      while (after < last) {
        const page = await src.page(entity, after, last, kinds, PROJECTION_PAGE_EVENTS);
        for (const event of page) {
          state = projection.apply(state as T, event);
          relevant = true;
        }
        if (page.length < PROJECTION_PAGE_EVENTS) break;
        after = page[page.length - 1].sequence;
      }
    } catch (e) {
      // apply may have changed the cached state before failing: fold afresh next time.
      perEntity.delete(entity);
      throw e;
    }
    perEntity.set(entity, { state, upto: last, relevant, atMs: now });
    if (perEntity.size > PROJECTION_CACHE_ENTITIES_MAX) {
      perEntity.delete(perEntity.keys().next().value!);
    }
    return relevant ? state as T : undefined;
  }
}
