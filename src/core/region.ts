import type { EventKind, TypedKind } from "./kind.ts";
import { CATEGORY_SHIFT, isEventKind, isSystemKind, KIND_CATEGORY_MAX, kindCode } from "./kind.ts";
import { InvalidArgumentError } from "./errors.ts";

/**
 * A read filter: all events, one entity's stream, an entity prefix, or one
 * scope, optionally narrowed to some kinds or one category. User events
 * only, unless {@linkcode Region.withSystem} asks for the store's own
 * (fences, denials). Immutable (frozen); the `with*` methods return a new
 * region.
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
  /** Exact entity to match, if any ({@linkcode Region.stream}). */
  readonly entity: string | undefined;
  /** Entity prefix to match, if any. */
  readonly entityPrefix: string | undefined;
  /** Exact scope to match, if any. */
  readonly scope: string | undefined;
  /** Kinds to keep, if narrowed. */
  readonly kinds: readonly EventKind[] | undefined;
  /** Category to keep, if narrowed. */
  readonly category: number | undefined;
  /** True when the store's own events (category 0x0) are included. */
  readonly includeSystem: boolean;

  private constructor(
    entity: string | undefined,
    entityPrefix: string | undefined,
    scope: string | undefined,
    kinds: readonly EventKind[] | undefined,
    category: number | undefined,
    includeSystem: boolean,
  ) {
    this.entity = entity;
    this.entityPrefix = entityPrefix;
    this.scope = scope;
    this.kinds = kinds === undefined ? undefined : Object.freeze([...kinds]);
    this.category = category;
    this.includeSystem = includeSystem;
    Object.freeze(this);
  }

  /** Every user event. */
  static all(): Region {
    return new Region(undefined, undefined, undefined, undefined, undefined, false);
  }

  /**
   * Events whose entity starts with `prefix`: a PREFIX match, so
   * `Region.entity("acct:1")` also matches `"acct:10"`. For exactly one
   * entity use {@linkcode Region.stream}.
   */
  static entity(prefix: string): Region {
    if (typeof prefix !== "string") {
      throw new InvalidArgumentError(
        `Region.entity prefix must be a string, found ${typeof prefix}`,
      );
    }
    return new Region(undefined, prefix, undefined, undefined, undefined, false);
  }

  /**
   * The events of exactly this entity.
   *
   * @example
   * ```ts
   * import { Coordinate, EventKind, Region, Store } from "@seed/batpak";
   * const store = Store.open(Deno.makeTempDirSync());
   * const kind = EventKind.custom(1, 1);
   * store.append(new Coordinate("acct:1", "bank"), kind, 1);
   * store.append(new Coordinate("acct:10", "bank"), kind, 10);
   * console.log(store.query(Region.stream("acct:1")).length); // 1
   * console.log(store.query(Region.entity("acct:1")).length); // 2
   * store.close();
   * ```
   */
  static stream(entity: string): Region {
    if (typeof entity !== "string" || entity.length === 0) {
      throw new InvalidArgumentError(
        `Region.stream needs a non-empty entity string, found ${String(entity)}`,
      );
    }
    return new Region(entity, undefined, undefined, undefined, undefined, false);
  }

  /** Events filed under exactly this scope. */
  static scope(scope: string): Region {
    if (typeof scope !== "string" || scope.length === 0) {
      throw new InvalidArgumentError(
        `Region.scope needs a non-empty string, found ${String(scope)}`,
      );
    }
    return new Region(undefined, undefined, scope, undefined, undefined, false);
  }

  /** Keep only events of these kinds (plain or typed, `EventKind.define`). */
  withKinds(...kinds: (EventKind | TypedKind<unknown>)[]): Region {
    const codes = kinds.map(kindCode);
    for (let i = 0; i < codes.length; i++) {
      if (!isEventKind(codes[i])) {
        throw new InvalidArgumentError(`Region.withKinds: ${String(kinds[i])} is not an EventKind`);
      }
    }
    return new Region(
      this.entity,
      this.entityPrefix,
      this.scope,
      codes as EventKind[],
      this.category,
      this.includeSystem,
    );
  }

  /** Keep only events whose kind is in this category (0..0xF). */
  withCategory(category: number): Region {
    if (!Number.isInteger(category) || category < 0 || category > KIND_CATEGORY_MAX) {
      throw new InvalidArgumentError(
        `Region.withCategory: category must be an integer in 0..15, found ${category}`,
      );
    }
    return new Region(
      this.entity,
      this.entityPrefix,
      this.scope,
      this.kinds,
      category,
      this.includeSystem,
    );
  }

  /**
   * Include the store's own events (category 0x0: ownership fences, gate
   * denials), for audit. Without it every region holds user events only.
   *
   * @example
   * ```ts
   * import { Region, Store } from "@seed/batpak";
   * const store = Store.open(Deno.makeTempDirSync());
   * store.ownership("orders").claim("worker-a", 60_000);
   * console.log(store.query(Region.all()).length); // 0
   * console.log(store.query(Region.all().withSystem()).length); // 1
   * store.close();
   * ```
   */
  withSystem(): Region {
    return new Region(this.entity, this.entityPrefix, this.scope, this.kinds, this.category, true);
  }

  /** True when an event with these fields is in the region. */
  matches(entity: string, scope: string, kind: number): boolean {
    if (this.entity !== undefined && entity !== this.entity) return false;
    if (this.entityPrefix !== undefined && !entity.startsWith(this.entityPrefix)) return false;
    if (this.scope !== undefined && scope !== this.scope) return false;
    return this.matchesKind(kind);
  }

  /** True when the kind passes the kind, category and system filters. */
  matchesKind(kind: number): boolean {
    if (
      !this.includeSystem && isSystemKind(kind) && !this.#asksForSystem()
    ) {
      return false;
    }
    if (this.kinds !== undefined && !this.kinds.includes(kind as EventKind)) return false;
    if (
      this.category !== undefined &&
      ((kind >>> CATEGORY_SHIFT) & KIND_CATEGORY_MAX) !== this.category
    ) {
      return false;
    }
    return true;
  }

  /** A kind or category filter that names category 0 asks for system events by itself. */
  #asksForSystem(): boolean {
    if (this.category === 0) return true;
    return this.kinds?.some(isSystemKind) ?? false;
  }
}
