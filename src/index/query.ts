/**
 * Region queries over the index, costing what they return rather than the
 * size of the store:
 *
 * - an entity prefix finds its entities through a sorted entity table
 *   (kept up to date incrementally as entities appear) and walks their
 *   postings; several entities are merged with a heap, so the work is
 *   bounded by `limit`, not by the entities' total length;
 * - a scope walks that scope's postings; with an entity prefix as well, the
 *   smaller of the two candidate sets is walked and the other filters;
 * - `Region.all()` walks global sequences from `after`;
 * - kind and category filters are checked on the index's kind column.
 *
 * System events (category 0x0: ownership fences, cursor checkpoints, gate
 * denials) are part of the log, so `Region.all()` includes them and its
 * global sequences are gapless. A region narrowed to an entity prefix or a
 * scope is about the user's data and leaves them out, unless its kind or
 * category filter asks for category 0 explicitly.
 *
 * @module
 */

import { CATEGORY_SHIFT, SYSTEM_CATEGORY } from "../core/kind.ts";
import { type Dimension, type Index, PAGE_BITS, PAGE_ROWS, type Postings } from "./index.ts";
import type { Region } from "../core/region.ts";

const PAGE_MASK = PAGE_ROWS - 1;

/** Up to this many new names are inserted into the sorted table one by one; more re-sorts it. */
const SORTED_INSERT_MAX = 64;
/** Cost, in posting steps, charged for positioning in one entity's postings. */
const SEEK_COST = 24;

/** A sorted view of a dimension's names, extended as names are added. */
interface SortedNames {
  ids: number[];
  /** Names covered (the dimension's `names.length` when last brought up to date). */
  covered: number;
  /** The last prefix looked up and its answer, while no name was added: cursors and
   * subscriptions ask the same question at every page. */
  lastPrefix?: string;
  lastIds?: number[];
  lastMember?: Uint8Array;
}

const sortedTables = new WeakMap<Dimension, SortedNames>();

function compareNames(names: string[], a: number, b: number): number {
  const x = names[a];
  const y = names[b];
  return x < y ? -1 : x > y ? 1 : 0;
}

/** First position in `ids` whose name is not below `key`. */
function lowerBound(names: string[], ids: number[], key: string): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (names[ids[mid]] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function sortedIds(dim: Dimension): number[] {
  const names = dim.names;
  let t = sortedTables.get(dim);
  if (!t) sortedTables.set(dim, t = { ids: [], covered: 0 });
  if (t.covered === names.length) return t.ids;
  t.lastPrefix = t.lastIds = t.lastMember = undefined;
  if (names.length - t.covered <= SORTED_INSERT_MAX) {
    for (let id = t.covered; id < names.length; id++) {
      t.ids.splice(lowerBound(names, t.ids, names[id]), 0, id);
    }
  } else {
    t.ids = names.map((_, i) => i).sort((a, b) => compareNames(names, a, b));
  }
  t.covered = names.length;
  return t.ids;
}

/**
 * Ids of the names in `dim` that start with `prefix`, in name order. Names
 * with a common prefix are contiguous in code-unit order, so this is one
 * binary search plus the matches. The array may be shared with later calls:
 * do not modify it.
 */
export function idsWithPrefix(dim: Dimension, prefix: string): number[] {
  const names = dim.names;
  if (prefix === "") return names.map((_, i) => i);
  const ids = sortedIds(dim);
  const t = sortedTables.get(dim)!;
  if (t.lastPrefix === prefix && t.lastIds) return t.lastIds;
  const out: number[] = [];
  for (let i = lowerBound(names, ids, prefix); i < ids.length; i++) {
    const id = ids[i];
    if (!names[id].startsWith(prefix)) break;
    out.push(id);
  }
  t.lastPrefix = prefix;
  t.lastIds = out;
  t.lastMember = undefined;
  return out;
}

/** A membership table (by id) of `idsWithPrefix(dim, prefix)`, memoized with it. */
function membersWithPrefix(dim: Dimension, prefix: string, ids: number[]): Uint8Array {
  const t = sortedTables.get(dim)!;
  if (t.lastPrefix === prefix && t.lastIds === ids && t.lastMember) return t.lastMember;
  const member = new Uint8Array(dim.names.length);
  for (const id of ids) member[id] = 1;
  if (t.lastPrefix === prefix && t.lastIds === ids) t.lastMember = member;
  return member;
}

/** True when the region includes the store's own events (explicitly, or by its kind filter). */
function includesSystem(region: Region): boolean {
  if (region.includeSystem || region.category === SYSTEM_CATEGORY) return true;
  return region.kinds?.some((k) => (k >>> CATEGORY_SHIFT) === SYSTEM_CATEGORY) ?? false;
}

/** A min-heap of postings cursors keyed by their current global sequence. */
class MergeHeap {
  readonly keys: number[] = [];
  readonly lists: Postings[] = [];
  readonly at: number[] = [];

  push(list: Postings, at: number): void {
    let i = this.keys.length;
    this.keys.push(list.items[at]);
    this.lists.push(list);
    this.at.push(at);
    while (i > 0) {
      const parent = (i - 1) >>> 1;
      if (this.keys[parent] <= this.keys[i]) break;
      this.#swap(i, parent);
      i = parent;
    }
  }

  get size(): number {
    return this.keys.length;
  }

  /** Take the smallest global sequence and advance its list. */
  pop(): number {
    const g = this.keys[0];
    const list = this.lists[0];
    const next = this.at[0] + 1;
    if (next < list.length) {
      this.keys[0] = list.items[next];
      this.at[0] = next;
    } else {
      const last = this.keys.length - 1;
      this.#swap(0, last);
      this.keys.pop();
      this.lists.pop();
      this.at.pop();
    }
    this.#down(0);
    return g;
  }

  #down(i: number): void {
    const n = this.keys.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) return;
      const r = l + 1;
      const m = r < n && this.keys[r] < this.keys[l] ? r : l;
      if (this.keys[i] <= this.keys[m]) return;
      this.#swap(i, m);
      i = m;
    }
  }

  #swap(a: number, b: number): void {
    const k = this.keys[a];
    this.keys[a] = this.keys[b];
    this.keys[b] = k;
    const l = this.lists[a];
    this.lists[a] = this.lists[b];
    this.lists[b] = l;
    const t = this.at[a];
    this.at[a] = this.at[b];
    this.at[b] = t;
  }
}

/**
 * Global sequences of the events in `region` with `globalSequence > after`,
 * at most `limit`, ascending. `hidden`, when given, leaves out the events it
 * is true for (deleted, truncated, expired: `src/read/visibility.ts`); the
 * limit counts only the events returned.
 */
export function queryIndex(
  index: Index,
  region: Region,
  after: number,
  limit: number,
  hidden?: (g: number) => boolean,
): number[] {
  const out: number[] = [];
  if (limit <= 0 || after >= index.count) return out;
  const kindFiltered = region.kinds !== undefined || region.category !== undefined;
  const dropSystem = !includesSystem(region);
  const keep = (g: number): boolean => {
    if (hidden !== undefined && hidden(g)) return false;
    if (!kindFiltered && !dropSystem) return true;
    const kind = index.kindOf(g);
    if (dropSystem && (kind >>> CATEGORY_SHIFT) === SYSTEM_CATEGORY) return false;
    return !kindFiltered || region.matchesKind(kind);
  };

  let scopeId = -1;
  let scopePostings: Postings | undefined;
  if (region.scope !== undefined) {
    scopeId = index.scopes.lookup(region.scope);
    if (scopeId < 0) return out;
    scopePostings = index.scopes.postings[scopeId];
  }
  const prefix = region.entityPrefix;
  let entityIds: number[] | undefined;
  if (region.entity !== undefined) {
    const id = index.entities.lookup(region.entity);
    if (id < 0 || (prefix !== undefined && !region.entity.startsWith(prefix))) return out;
    entityIds = [id];
  } else if (prefix !== undefined && prefix !== "") {
    entityIds = idsWithPrefix(index.entities, prefix);
    if (entityIds.length === 0) return out;
  }

  // Choose what to walk: a scope's postings, the matching entities' postings, or the whole log.
  let entityCost = Infinity;
  if (entityIds) {
    entityCost = entityIds.length * SEEK_COST;
    for (const id of entityIds) entityCost += index.entities.postings[id].length;
  }
  const scopeCost = scopePostings ? scopePostings.length : Infinity;
  const logCost = index.count - after;

  if (scopePostings && scopeCost <= entityCost) {
    const names = index.entities.names;
    const p = scopePostings;
    for (let i = p.firstAfter(after); i < p.length; i++) {
      const g = p.items[i];
      if (prefix !== undefined && !names[index.entityOf(g)].startsWith(prefix)) continue;
      if (region.entity !== undefined && names[index.entityOf(g)] !== region.entity) continue;
      if (keep(g) && out.push(g) >= limit) break;
    }
    return out;
  }
  if (entityIds && (entityCost <= logCost || entityIds.length === 1)) {
    const inScope = (g: number): boolean => scopeId < 0 || index.scopeOf(g) === scopeId;
    if (entityIds.length === 1) {
      const p = index.entities.postings[entityIds[0]];
      if (scopeId < 0 && !kindFiltered) {
        // The common stream query, without two closure calls per event (1.06x in a same-process
        // A/B of a 1K-event entity: the rest is building the entries).
        const items = p.items;
        for (let i = p.firstAfter(after); i < p.length; i++) {
          const g = items[i];
          const r = g - 1;
          if (dropSystem) {
            const kind = index.page(r >>> PAGE_BITS).kind[r & PAGE_MASK];
            if ((kind >>> CATEGORY_SHIFT) === SYSTEM_CATEGORY) continue;
          }
          if (hidden !== undefined && hidden(g)) continue;
          if (out.push(g) >= limit) break;
        }
        return out;
      }
      for (let i = p.firstAfter(after); i < p.length; i++) {
        const g = p.items[i];
        if (inScope(g) && keep(g) && out.push(g) >= limit) break;
      }
      return out;
    }
    const heap = new MergeHeap();
    for (const id of entityIds) {
      const p = index.entities.postings[id];
      const at = p.firstAfter(after);
      if (at < p.length) heap.push(p, at);
    }
    while (heap.size > 0) {
      const g = heap.pop();
      if (inScope(g) && keep(g) && out.push(g) >= limit) break;
    }
    return out;
  }
  // Many matching entities covering much of the log: one pass over the log is cheaper.
  const member = entityIds && prefix !== undefined
    ? membersWithPrefix(index.entities, prefix, entityIds)
    : undefined;
  for (let g = after + 1; g <= index.count; g++) {
    if (member && member[index.entityOf(g)] === 0) continue;
    if (scopeId >= 0 && index.scopeOf(g) !== scopeId) continue;
    if (keep(g) && out.push(g) >= limit) break;
  }
  return out;
}
