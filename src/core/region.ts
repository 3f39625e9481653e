import type { EventKind } from "./kind.ts";
import { isEventKind, KIND_CATEGORY_MAX } from "./kind.ts";
import { InvalidArgumentError } from "./errors.ts";

/**
 * A read filter: all events, an entity prefix, or one scope, optionally
 * narrowed to some kinds or one category. Immutable; the `with*` methods
 * return a new region.
 *
 * @example
 * ```ts
 * import { EventKind, Region } from "@seed/batpak";
 * const placed = EventKind.custom(0x1, 1);
 * const orders = Region.entity("order:").withKinds(placed);
 * console.log(orders.entityPrefix); // order:
 * ```
 */
export class Region {
  /** Entity prefix to match, if any. */
  readonly entityPrefix: string | undefined;
  /** Exact scope to match, if any. */
  readonly scope: string | undefined;
  /** Kinds to keep, if narrowed. */
  readonly kinds: readonly EventKind[] | undefined;
  /** Category to keep, if narrowed. */
  readonly category: number | undefined;

  private constructor(
    entityPrefix: string | undefined,
    scope: string | undefined,
    kinds: readonly EventKind[] | undefined,
    category: number | undefined,
  ) {
    this.entityPrefix = entityPrefix;
    this.scope = scope;
    this.kinds = kinds;
    this.category = category;
  }

  /** Every event. */
  static all(): Region {
    return new Region(undefined, undefined, undefined, undefined);
  }

  /** Events whose entity starts with `prefix` (an exact entity is its own prefix). */
  static entity(prefix: string): Region {
    if (typeof prefix !== "string") {
      throw new InvalidArgumentError(
        `Region.entity prefix must be a string, found ${typeof prefix}`,
      );
    }
    return new Region(prefix, undefined, undefined, undefined);
  }

  /** Events filed under exactly this scope. */
  static scope(scope: string): Region {
    if (typeof scope !== "string" || scope.length === 0) {
      throw new InvalidArgumentError(
        `Region.scope needs a non-empty string, found ${String(scope)}`,
      );
    }
    return new Region(undefined, scope, undefined, undefined);
  }

  /** Keep only events of these kinds. */
  withKinds(...kinds: EventKind[]): Region {
    for (const k of kinds) {
      if (!isEventKind(k)) {
        throw new InvalidArgumentError(`Region.withKinds: ${String(k)} is not an EventKind`);
      }
    }
    return new Region(this.entityPrefix, this.scope, [...kinds], this.category);
  }

  /** Keep only events whose kind is in this category (0..0xF). */
  withCategory(category: number): Region {
    if (!Number.isInteger(category) || category < 0 || category > KIND_CATEGORY_MAX) {
      throw new InvalidArgumentError(
        `Region.withCategory: category must be an integer in 0..15, found ${category}`,
      );
    }
    return new Region(this.entityPrefix, this.scope, this.kinds, category);
  }

  /** True when an event with these fields is in the region. */
  matches(entity: string, scope: string, kind: number): boolean {
    if (this.entityPrefix !== undefined && !entity.startsWith(this.entityPrefix)) return false;
    if (this.scope !== undefined && scope !== this.scope) return false;
    return this.matchesKind(kind);
  }

  /** True when the kind passes the kind and category filters. */
  matchesKind(kind: number): boolean {
    if (this.kinds !== undefined && !this.kinds.includes(kind as EventKind)) return false;
    if (this.category !== undefined && ((kind >>> 12) & KIND_CATEGORY_MAX) !== this.category) {
      return false;
    }
    return true;
  }
}
