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
 * A projection made by {@linkcode defineProjection} is keyed by its name
 * instead: every object of that name shares one cache, so a definition
 * written inline at the call site (a new object each call) still applies
 * only new events. A plain `{ initial, apply }` literal is keyed by its
 * identity: written inline, each call is a new object and folds the whole
 * stream again (hold it in a constant, or name it). At most
 * {@linkcode PROJECTION_NAMES_MAX} names are kept, least recently used
 * dropped first.
 *
 * @module
 */

import { InvalidArgumentError, StoreClosedError } from "../core/errors.ts";
import { type EventKind, isEventKind, kindCode, type TypedKind } from "../core/kind.ts";
import { describeValue } from "../core/describe.ts";
import { kindHex } from "../core/kind_registry.ts";

import type { EventSourced, Freshness, StoredEvent } from "../core/types.ts";
import { type EventSource, forEachEvent } from "./events.ts";
import { visiblePostings } from "./visibility.ts";

/** Cached states kept per projection object (least recently used evicted). */
export const PROJECTION_CACHE_ENTITIES_MAX = 4096;
/** Projection names whose states a store keeps (least recently used evicted). */
export const PROJECTION_NAMES_MAX = 1024;

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

/**
 * A projection with a name ({@linkcode defineProjection}): the store caches
 * its states by the name, not by the object.
 *
 * @example
 * ```ts
 * import { defineProjection, type NamedProjection } from "@seed/batpak";
 * const count: NamedProjection<number> = defineProjection("count", {
 *   initial: () => 0,
 *   apply: (n) => n + 1,
 * });
 * console.log(count.name); // count
 * ```
 */
export interface NamedProjection<T> extends EventSourced<T> {
  /** Identifies the fold in a store's projection cache. */
  readonly name: string;
}

/**
 * What {@linkcode defineProjection} takes: an {@linkcode EventSourced}
 * whose `kinds` may also be typed kinds (`EventKind.define`).
 *
 * @example
 * ```ts
 * import { EventKind, type ProjectionDefinition } from "@seed/batpak";
 * const Deposited = EventKind.define<{ amount: number }>(0x1, 4, "Deposited");
 * const sum: ProjectionDefinition<number> = {
 *   kinds: [Deposited],
 *   initial: () => 0,
 *   apply: (total, e) => Deposited.is(e) ? total + e.payload.amount : total,
 * };
 * console.log(sum.initial()); // 0
 * ```
 */
export interface ProjectionDefinition<T> {
  /** Kinds the projection cares about; absent = all. */
  readonly kinds?: readonly (EventKind | TypedKind<unknown>)[];
  /** The state before any event. */
  initial(): T;
  /** Fold one event into the state. */
  apply(state: T, event: StoredEvent): T;
}

const namedProjections = new WeakSet<object>();

/**
 * A projection cached by `name` in each store: `store.project(entity,
 * defineProjection("balance", { … }))` applies only the events appended
 * since the previous call even when the definition is written inline (a
 * new object each call). The name identifies the fold: definitions that
 * share a name must fold alike (the latest call's `apply` folds the new
 * events into the cached state) and have the same `kinds` (otherwise
 * `project` throws `InvalidArgumentError`); give a changed fold a new name.
 * `kinds` may be typed kinds; bad input throws `InvalidArgumentError`.
 *
 * @example A counting apply shows the second call applies only the new event
 * ```ts
 * import { Coordinate, defineProjection, EventKind, Store } from "@seed/batpak";
 * const Deposited = EventKind.define<{ amount: number }>(0x1, 4, "Deposited");
 * const store = Store.open(Deno.makeTempDirSync());
 * const acct = new Coordinate("acct:1", "bank");
 * let applied = 0;
 * const balance = () =>
 *   store.project("acct:1", defineProjection("balance", {
 *     kinds: [Deposited],
 *     initial: () => 0,
 *     apply: (sum: number, e) => (applied++, Deposited.is(e) ? sum + e.payload.amount : sum),
 *   }));
 * store.append(acct, Deposited, { amount: 10 });
 * store.append(acct, Deposited, { amount: 5 });
 * console.log(balance(), applied); // 15 2
 * store.append(acct, Deposited, { amount: 1 });
 * console.log(balance(), applied); // 16 3
 * store.close();
 * ```
 */
export function defineProjection<T>(
  name: string,
  definition: ProjectionDefinition<T>,
): NamedProjection<T> {
  if (typeof name !== "string" || name.length === 0) {
    throw new InvalidArgumentError(
      `defineProjection: name must be a non-empty string, found ${describeValue(name)}`,
    );
  }
  if (typeof definition !== "object" || definition === null) {
    throw new InvalidArgumentError(
      `defineProjection: the definition must be { initial, apply, kinds? }, found ${
        describeValue(definition)
      }`,
    );
  }
  const { kinds, initial, apply } = definition; // one read of each
  if (typeof initial !== "function" || typeof apply !== "function") {
    throw new InvalidArgumentError(
      `defineProjection: "${name}" must have initial() and apply(state, event)`,
    );
  }
  let codes: EventKind[] | undefined;
  if (kinds !== undefined) {
    const given: unknown = kinds;
    if (!Array.isArray(given)) {
      throw new InvalidArgumentError(
        `defineProjection: "${name}".kinds must be an array of kinds, found ${
          describeValue(given)
        }`,
      );
    }
    codes = given.map((k: unknown, i) => {
      const code = kindCode(k);
      if (!isEventKind(code)) {
        throw new InvalidArgumentError(
          `defineProjection: "${name}".kinds[${i}] must be an EventKind, found ${describeValue(k)}`,
        );
      }
      return code;
    });
  }
  const p: NamedProjection<T> = Object.freeze(
    codes === undefined
      ? { name, initial, apply }
      : { name, kinds: Object.freeze(codes), initial, apply },
  );
  namedProjections.add(p);
  return p;
}

/** The cached states of one name. */
interface Named<C> {
  /** Its kinds, as a canonical key. */
  kinds: string;
  perEntity: Map<string, C>;
}

function kindsKey(kinds: Set<number> | null): string {
  return kinds === null ? "all" : [...kinds].sort((a, b) => a - b).map(kindHex).join(", ");
}

/**
 * Where a store keeps its projection states (`C` per entity): by name for a
 * {@linkcode defineProjection}, else by the projection object's identity.
 * Every backend's projection cache keys through this, so a name means the
 * same fold, and a name reused with other kinds fails the same way,
 * everywhere.
 */
export class ProjectionStates<C> {
  readonly #byIdentity = new WeakMap<EventSourced<unknown>, Map<string, C>>();
  readonly #named = new Map<string, Named<C>>();

  /**
   * The per-entity states of `p` (whose kinds `checkProjectArgs` read);
   * `InvalidArgumentError` when `p`'s name was used with other kinds.
   */
  of(p: EventSourced<unknown>, kinds: Set<number> | null): Map<string, C> {
    if (!namedProjections.has(p)) {
      let perEntity = this.#byIdentity.get(p);
      if (!perEntity) this.#byIdentity.set(p, perEntity = new Map());
      return perEntity;
    }
    const name = (p as NamedProjection<unknown>).name;
    const key = kindsKey(kinds);
    let named = this.#named.get(name);
    if (named !== undefined) {
      if (named.kinds !== key) {
        throw new InvalidArgumentError(
          `project: the projection "${name}" was used with kinds [${named.kinds}] and now ` +
            `[${key}]; a name identifies one fold (give this one another name)`,
        );
      }
      this.#named.delete(name); // re-inserted: Map order is the LRU order
    } else named = { kinds: key, perEntity: new Map() };
    this.#named.set(name, named);
    if (this.#named.size > PROJECTION_NAMES_MAX) {
      this.#named.delete(this.#named.keys().next().value!);
    }
    return named.perEntity;
  }
}

/**
 * The arguments of `project` checked, before anything is read: `entity` a
 * string, `projection` with `initial()` and `apply()` (and valid `kinds`),
 * `freshness` `"consistent"` or `{ maybeStaleMs ≥ 0 }`. Returns how stale a
 * cached state may be (-1: not at all) and the projection's kinds (`null`:
 * all). Throws `InvalidArgumentError`.
 */
export function checkProjectArgs(
  entity: unknown,
  projection: unknown,
  freshness: unknown,
): { staleMs: number; kinds: Set<number> | null } {
  if (typeof entity !== "string") {
    throw new InvalidArgumentError(`project: entity must be a string, found ${typeof entity}`);
  }
  const p = projection as EventSourced<unknown> | null;
  if (
    typeof p !== "object" || p === null || typeof p.initial !== "function" ||
    typeof p.apply !== "function"
  ) {
    throw new InvalidArgumentError(
      "project: projection must have initial() and apply(state, event)",
    );
  }
  const staleMs = staleLimitMs(freshness);
  return { staleMs, kinds: relevantKinds(p) };
}

/** Projection states of one store. */
export class ProjectionCache {
  readonly #states = new ProjectionStates<Cached>();

  /** Fold `entity` with `projection`, reusing and extending the cached state. */
  project<T>(
    s: EventSource,
    entity: string,
    projection: EventSourced<T>,
    freshness: Freshness,
  ): T | undefined {
    if (s.closed) throw new StoreClosedError();
    const { staleMs, kinds } = checkProjectArgs(entity, projection, freshness);
    const p = projection as EventSourced<unknown>;
    const index = s.index;
    const eid = index.entities.lookup(entity);
    if (eid < 0) return undefined;
    const perEntity = this.#states.of(p, kinds);
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
