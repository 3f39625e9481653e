/**
 * Which events the read side still returns: the store's
 * {@linkcode LifecycleState} (deleted streams, truncations, per-scope
 * retention) turned into a predicate over global sequences, rebuilt only
 * when that state changes or new entities appear. With nothing deleted,
 * truncated or retained there is no predicate at all, so reads pay nothing.
 *
 * Redacted events are not hidden: they are returned without their payload.
 *
 * @module
 */

import type { LifecycleState, RetentionPolicy } from "../core/lifecycle.ts";
import type { Index, Postings } from "./index.ts";

/** A predicate: true when the event with global sequence `g` is gone. */
export type Hidden = (g: number) => boolean;

/** True when `g`, one of `postings`, has a sequence below `n` (it sits before position `n - 1`). */
function before(postings: Postings, g: number, n: number): boolean {
  if (n - 1 >= postings.length) return true;
  return n > 1 && g < postings.items[n - 1];
}

/** The visibility rules of one store, cached between reads. */
export class Visibility {
  #version = -1;
  #entities = -1;
  #unresolved = 0;
  /** Entity id → first sequence still returned (`Infinity`: deleted). */
  #from = new Map<number, number>();
  /** Scope id → retention policy. */
  #policies = new Map<number, RetentionPolicy>();

  #refresh(index: Index, state: LifecycleState): void {
    if (
      this.#version === state.version &&
      (this.#unresolved === 0 || this.#entities === index.entities.names.length)
    ) return;
    this.#version = state.version;
    this.#entities = index.entities.names.length;
    this.#unresolved = 0;
    const from = new Map<number, number>();
    const resolve = (entity: string, first: number) => {
      const id = index.entities.lookup(entity);
      if (id < 0) {
        this.#unresolved++;
        return;
      }
      from.set(id, Math.max(from.get(id) ?? 1, first));
    };
    for (const [entity, before] of state.truncated) resolve(entity, before);
    for (const entity of state.deleted) resolve(entity, Infinity);
    const policies = new Map<number, RetentionPolicy>();
    for (const [scope, policy] of state.retention) {
      const id = index.scopes.lookup(scope);
      if (id >= 0) policies.set(id, policy);
      else this.#unresolved++;
    }
    this.#from = from;
    this.#policies = policies;
  }

  /**
   * The predicate for a read at time `nowMs`, or `undefined` when nothing
   * is hidden. Valid until the lifecycle state or the index changes.
   */
  hidden(index: Index, state: LifecycleState, nowMs: number): Hidden | undefined {
    if (!state.hides) return undefined;
    this.#refresh(index, state);
    const from = this.#from;
    const policies = this.#policies;
    const noPolicies = policies.size === 0;
    // Sequence n of an entity is at position n - 1 of its postings, so "the
    // sequence of g is below n" is "g is below the n-th posting" (no search).
    return (g: number): boolean => {
      const [page, r] = index.row(g);
      const entity = page.ent[r];
      const first = from.get(entity);
      if (first !== undefined && before(index.entities.postings[entity], g, first)) return true;
      if (noPolicies) return false;
      const policy = policies.get(page.scp[r]);
      if (policy === undefined) return false;
      if (policy.maxAgeMs !== undefined && index.timestampOf(g) < nowMs - policy.maxAgeMs) {
        return true;
      }
      if (policy.maxCount === undefined) return false;
      const postings = index.entities.postings[entity];
      return before(postings, g, postings.length - policy.maxCount + 1);
    };
  }

  /**
   * For entity `id`: the first sequence still returned when only
   * truncations and deletions apply (`Infinity`: deleted), and whether
   * retention policies exist (then each event must be checked).
   */
  entityFrom(index: Index, state: LifecycleState, id: number): { from: number; policies: boolean } {
    this.#refresh(index, state);
    return { from: this.#from.get(id) ?? 1, policies: this.#policies.size > 0 };
  }

  /** Why `g` is hidden (for error messages), or `undefined` when it is not. */
  static reason(index: Index, state: LifecycleState, g: number, nowMs: number): string | undefined {
    const [page, r] = index.row(g);
    const entity = index.entities.names[page.ent[r]];
    if (state.deleted.has(entity)) return `its stream "${entity}" was deleted`;
    const truncated = state.truncated.get(entity);
    if (truncated !== undefined && index.sequenceOf(g) < truncated) {
      return `its stream "${entity}" was truncated before sequence ${truncated}`;
    }
    const policy = state.retention.get(index.scopes.names[page.scp[r]]);
    if (policy?.maxAgeMs !== undefined && index.timestampOf(g) < nowMs - policy.maxAgeMs) {
      return `it is older than its scope's retention (maxAgeMs ${policy.maxAgeMs})`;
    }
    if (
      policy?.maxCount !== undefined &&
      index.sequenceOf(g) <= index.lastSequence(page.ent[r]) - policy.maxCount
    ) {
      return `it is beyond its scope's retention (maxCount ${policy.maxCount})`;
    }
    return undefined;
  }
}
