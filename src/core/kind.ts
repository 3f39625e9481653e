/**
 * A 16-bit event kind: a 4-bit category and a 12-bit type.
 *
 * @module
 */

import { describeValue } from "./describe.ts";
import { InvalidArgumentError, ReservedKindError } from "./errors.ts";
import { utf8Length } from "./utf8.ts";

/**
 * A u16 event kind: `category << 12 | type`. Build one with
 * {@linkcode EventKind.custom}, or a named kind that carries its payload type
 * with {@linkcode EventKind.define}.
 */
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
  /**
   * A named kind whose payloads have type `P` (see {@linkcode TypedKind}):
   * `append` checks payloads against `P`, {@linkcode TypedKind.is} narrows
   * events read back to it, and `options.version` / `options.upcast` evolve
   * its schema. Bad input throws `InvalidArgumentError` (a reserved category:
   * `ReservedKindError`).
   */
  define<P>(category: number, type: number, name: string, options?: KindOptions): TypedKind<P>;
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
  define<P>(category: number, type: number, name: string, options?: KindOptions): TypedKind<P> {
    return new TypedKind<P>(category, type, name, options);
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

/** Longest name of a {@linkcode TypedKind}, UTF-8 bytes. */
export const KIND_NAME_BYTES_MAX = 128;
/** Highest schema version a {@linkcode TypedKind} can declare. */
export const SCHEMA_VERSION_MAX = 0xffff;

// C0 controls, DEL and C1 controls.
// deno-lint-ignore no-control-regex
const NAME_CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Turns a payload of one schema version into the shape of the next. The
 * parameter is typed by the function you write (`(v1: DepositedV1) => …`);
 * the store calls it with the stored payload.
 *
 * @example
 * ```ts
 * import type { Upcaster } from "@seed/batpak";
 * const cents: Upcaster = (v1: { amount: number }) => ({ cents: v1.amount * 100 });
 * console.log(typeof cents); // function
 * ```
 */
export type Upcaster = (payload: never) => unknown;

/**
 * Options of {@linkcode EventKind.define}: the kind's current schema version
 * and, for every older version `v` (1 .. `version` − 1), a function from a
 * version-`v` payload to a version-`v + 1` payload.
 *
 * @example
 * ```ts
 * import { EventKind, type KindOptions } from "@seed/batpak";
 * const options: KindOptions = {
 *   version: 2,
 *   upcast: { 1: (v1: { amount: number }) => ({ cents: v1.amount * 100 }) },
 * };
 * console.log(EventKind.define<{ cents: number }>(0x1, 4, "Deposited", options).version); // 2
 * ```
 */
export interface KindOptions {
  /**
   * The current schema version (default 1, at most
   * {@linkcode SCHEMA_VERSION_MAX}). Appends write it into each event;
   * events written before (at an older version, or with no version: 1) are
   * upcast when read.
   */
  version?: number;
  /** One upcaster per older version: exactly the keys 1 .. `version` − 1. */
  upcast?: Readonly<Record<number, Upcaster>>;
}

/**
 * What {@linkcode TypedKind.is} looks at: any backend's `StoredEvent`.
 *
 * @example
 * ```ts
 * import { EventKind, type KindedEvent } from "@seed/batpak";
 * const Deposited = EventKind.define<{ amount: number }>(0x1, 4, "Deposited");
 * const event: KindedEvent = { kind: Deposited.code, payload: { amount: 5 } };
 * console.log(Deposited.is(event)); // true
 * ```
 */
export interface KindedEvent {
  /** The event's kind. */
  readonly kind: number;
  /** Its payload. */
  readonly payload: unknown;
  /** Schema version of `payload` (absent: 1). */
  readonly schemaVersion?: number;
  /** `true` when the payload was redacted. */
  readonly redacted?: true;
}

declare const payloadType: unique symbol;

function defineError(message: string): InvalidArgumentError {
  return new InvalidArgumentError(`EventKind.define: ${message}`);
}

function checkName(name: unknown): string {
  if (typeof name !== "string" || name.length === 0) {
    throw defineError(`name must be a non-empty string, found ${describeValue(name)}`);
  }
  if (!name.isWellFormed()) throw defineError(`name has a lone UTF-16 surrogate`);
  if (NAME_CONTROL_CHARS.test(name) || name.trim() !== name) {
    throw defineError(
      `name must not hold control characters or start or end with a space, found ${
        describeValue(name)
      }`,
    );
  }
  const bytes = utf8Length(name);
  if (bytes > KIND_NAME_BYTES_MAX) {
    throw defineError(`name is ${bytes} UTF-8 bytes; the maximum is ${KIND_NAME_BYTES_MAX}`);
  }
  return name;
}

function checkUpcasters(version: number, upcast: unknown): Readonly<Record<number, Upcaster>> {
  const out: Record<number, Upcaster> = {};
  if (upcast === undefined) {
    if (version > 1) {
      throw defineError(`version ${version} needs upcast for versions 1..${version - 1}`);
    }
    return Object.freeze(out);
  }
  if (typeof upcast !== "object" || upcast === null || Array.isArray(upcast)) {
    throw defineError(`options.upcast must be an object, found ${describeValue(upcast)}`);
  }
  const given = { ...upcast } as Record<string, unknown>; // one read of each key
  for (const key of Object.keys(given)) {
    const v = Number(key);
    if (!Number.isInteger(v) || String(v) !== key || v < 1 || v >= version) {
      throw defineError(
        `options.upcast has the key ${JSON.stringify(key)}; the keys are the older versions 1..${
          version - 1
        }`,
      );
    }
  }
  for (let v = 1; v < version; v++) {
    const f = given[v];
    if (typeof f !== "function") {
      throw defineError(
        `options.upcast[${v}] must be a function from a version-${v} payload to version ${
          v + 1
        }, found ${describeValue(f)}`,
      );
    }
    out[v] = f as Upcaster;
  }
  return Object.freeze(out);
}

/**
 * A named event kind whose payloads have type `P`. Build one with
 * {@linkcode EventKind.define}. Pass it wherever a kind goes (`append`,
 * batch items, `Region.withKinds`, `defineProjection`'s `kinds`):
 * `append` checks the payload against `P` at compile time, and
 * {@linkcode TypedKind.is} narrows an event read back to `P` — no casts.
 * The number itself is {@linkcode TypedKind.code} (`event.kind ===
 * Deposited.code`; comparing `event.kind === Deposited` does not compile).
 *
 * Its name is recorded by the store on the first append (in `kinds.dat`,
 * beside the log), so `deno task cli dump` and `tail` print
 * `Deposited (0x1004)`; a store refuses a second name for one kind number
 * (`KindConflictError`). Its schema version and upcasters take effect in a
 * store whose `StoreConfig.kinds` lists it.
 *
 * @example Append and read back typed payloads
 * ```ts
 * import { Coordinate, EventKind, Store } from "@seed/batpak";
 * const Deposited = EventKind.define<{ amount: number }>(0x1, 0x004, "Deposited");
 * const store = Store.open(Deno.makeTempDirSync());
 * store.append(new Coordinate("acct:1", "bank"), Deposited, { amount: 10 });
 * let total = 0;
 * for (const e of store.readStream("acct:1")) if (Deposited.is(e)) total += e.payload.amount;
 * console.log(total, String(Deposited)); // 10 Deposited (0x1004)
 * store.close();
 * ```
 */
export class TypedKind<P> {
  /** Type-level only (never set): the payload type. */
  declare readonly [payloadType]?: P;
  /** The u16 kind number written into each event. */
  readonly code: EventKind;
  /** The kind's name (what the CLI prints). */
  readonly name: string;
  /** The current schema version (1 when not versioned). */
  readonly version: number;
  /** For each older version `v`, the function from a version-`v` payload to `v + 1`. */
  readonly upcast: Readonly<Record<number, Upcaster>>;

  /** Prefer {@linkcode EventKind.define}; this validates the same way. */
  constructor(category: number, type: number, name: string, options?: KindOptions) {
    for (
      const [field, value, max] of [["category", category, KIND_CATEGORY_MAX], [
        "type",
        type,
        KIND_TYPE_MAX,
      ]] as const
    ) {
      if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > max) {
        throw defineError(
          `${field} must be an integer in 0..0x${max.toString(16)}, found ${describeValue(value)}`,
        );
      }
    }
    const code = ((category << CATEGORY_SHIFT) | type) as EventKind;
    if (EventKind.isReserved(code)) throw new ReservedKindError(category);
    this.name = checkName(name);
    if (options !== undefined && (typeof options !== "object" || options === null)) {
      throw defineError(`options must be an object, found ${describeValue(options)}`);
    }
    const { version = 1, upcast } = { ...options };
    if (
      typeof version !== "number" || !Number.isInteger(version) || version < 1 ||
      version > SCHEMA_VERSION_MAX
    ) {
      throw defineError(
        `options.version must be an integer in 1..${SCHEMA_VERSION_MAX}, found ${
          describeValue(version)
        }`,
      );
    }
    this.code = code;
    this.version = version;
    this.upcast = checkUpcasters(version, upcast);
    Object.freeze(this);
  }

  /** The 4-bit category. */
  get category(): number {
    return EventKind.category(this.code);
  }

  /** The 12-bit type. */
  get type(): number {
    return EventKind.type(this.code);
  }

  /**
   * True (and `event.payload` narrowed to `P`) when `event` is of this kind,
   * its payload is in this kind's current schema version (reads through a
   * store that registered the kind are upcast to it), and it is not
   * redacted (a redacted event has no payload).
   */
  is<E extends KindedEvent>(event: E): event is E & { readonly payload: P } {
    return typeof event === "object" && event !== null && event.kind === this.code &&
      event.redacted !== true && (event.schemaVersion ?? 1) === this.version;
  }

  /** `Deposited (0x1004)`, or `Deposited v3 (0x1004)` when versioned. */
  toString(): string {
    const v = this.version > 1 ? ` v${this.version}` : "";
    return `${this.name}${v} (0x${this.code.toString(16).padStart(4, "0")})`;
  }
}

/** The kind number of a plain kind or a {@linkcode TypedKind} (anything else is returned as is). */
export function kindCode(kind: unknown): unknown {
  return kind instanceof TypedKind ? kind.code : kind;
}
