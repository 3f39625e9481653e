/**
 * A 16-bit event kind: a 4-bit category and a 12-bit type.
 *
 * @module
 */

import { describeValue } from "./describe.ts";
import { InvalidArgumentError, ReservedKindError } from "./errors.ts";

/** A u16 event kind: `category << 12 | type`. Build one with {@linkcode EventKind.custom}. */
export type EventKind = number & { readonly __brand: "EventKind" };

/** Number of distinct categories (4 bits). */
export const KIND_CATEGORY_MAX = 0xf;
/** Largest type number within a category (12 bits). */
export const KIND_TYPE_MAX = 0xfff;
/** Category of the store's own system events (fences, cursor checkpoints, denials). */
export const SYSTEM_CATEGORY = 0x0;
/** Bits of a kind below its category. */
export const CATEGORY_SHIFT = 12;

/** True when `kind` (a u16) is one of the store's own system events. */
export function isSystemKind(kind: number): boolean {
  return ((kind >>> CATEGORY_SHIFT) & KIND_CATEGORY_MAX) === SYSTEM_CATEGORY;
}
/** Category reserved for effects recorded by the store. */
export const EFFECT_CATEGORY = 0xd;

function checkField(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(
      `event kind ${name} must be an integer in 0..0x${max.toString(16)}, found ${value}`,
    );
  }
}

/**
 * Constructors and accessors for {@linkcode EventKind}.
 *
 * @example
 * ```ts
 * import { EventKind } from "@seed/batpak";
 * const created = EventKind.custom(0x1, 0x001);
 * console.log(EventKind.category(created), EventKind.type(created)); // 1 1
 * ```
 */
export const EventKind: {
  /** Build a kind; `RangeError` outside 0..0xF / 0..0xFFF. */
  custom(category: number, type: number): EventKind;
  /** The 4-bit category of a kind. */
  category(kind: EventKind): number;
  /** The 12-bit type of a kind. */
  type(kind: EventKind): number;
  /** True when the kind's category is reserved for the store (0x0 or 0xD). */
  isReserved(kind: EventKind): boolean;
} = {
  custom(category: number, type: number): EventKind {
    checkField("category", category, KIND_CATEGORY_MAX);
    checkField("type", type, KIND_TYPE_MAX);
    return ((category << 12) | type) as EventKind;
  },
  category(kind: EventKind): number {
    return (kind >>> 12) & KIND_CATEGORY_MAX;
  },
  type(kind: EventKind): number {
    return kind & KIND_TYPE_MAX;
  },
  isReserved(kind: EventKind): boolean {
    const category = (kind >>> 12) & KIND_CATEGORY_MAX;
    return category === SYSTEM_CATEGORY || category === EFFECT_CATEGORY;
  },
};

/** True when `value` is an integer that fits an {@linkcode EventKind}. */
export function isEventKind(value: unknown): value is EventKind {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= 0xffff;
}

/** Throw unless `kind` is an EventKind outside the reserved categories. */
export function checkUserKind(kind: unknown, where = "append"): EventKind {
  if (!isEventKind(kind)) {
    throw new InvalidArgumentError(
      `${where}: kind must be an EventKind (u16), found ${describeValue(kind)}`,
    );
  }
  if (EventKind.isReserved(kind)) throw new ReservedKindError(EventKind.category(kind));
  return kind;
}
