/**
 * Region queries over the index: a scope or an entity prefix walks its
 * postings, so a query costs what it returns, not the size of the store.
 *
 * @module
 */

import type { Index } from "./index.ts";
import type { Region } from "../store/region.ts";

/** Global sequences of the region after `after`, at most `limit`, ascending. */
export function queryIndex(index: Index, region: Region, after: number, limit: number): number[] {
  const out: number[] = [];
  if (limit === 0) return out;
  const filterKind = region.kinds !== undefined || region.category !== undefined;
  const push = (g: number): boolean => {
    if (!filterKind || region.matchesKind(index.kindOf(g))) out.push(g);
    return out.length < limit;
  };
  if (region.scope !== undefined) {
    const scopeId = index.scopes.lookup(region.scope);
    if (scopeId < 0) return out;
    const postings = index.scopes.postings[scopeId];
    const prefix = region.entityPrefix;
    for (let i = postings.firstAfter(after); i < postings.length; i++) {
      const g = postings.items[i];
      if (prefix !== undefined && !index.entities.names[index.entityOf(g)].startsWith(prefix)) {
        continue;
      }
      if (!push(g)) break;
    }
    return out;
  }
  if (region.entityPrefix !== undefined && region.entityPrefix !== "") {
    const ids = index.entities.withPrefix(region.entityPrefix);
    if (ids.length === 1) {
      const postings = index.entities.postings[ids[0]];
      for (let i = postings.firstAfter(after); i < postings.length; i++) {
        if (!push(postings.items[i])) break;
      }
      return out;
    }
    // Merge the postings of every matching entity (a heap would bound work by limit; sorting is simpler and cheap).
    let total = 0;
    const starts = ids.map((e) => {
      const p = index.entities.postings[e];
      const s = p.firstAfter(after);
      total += p.length - s;
      return s;
    });
    const merged = new Uint32Array(total);
    let w = 0;
    for (let k = 0; k < ids.length; k++) {
      const p = index.entities.postings[ids[k]];
      merged.set(p.items.subarray(starts[k], p.length), w);
      w += p.length - starts[k];
    }
    merged.sort();
    for (let i = 0; i < merged.length; i++) if (!push(merged[i])) break;
    return out;
  }
  for (let g = after + 1; g <= index.count; g++) if (!push(g)) break;
  return out;
}
