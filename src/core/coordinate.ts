import { InvalidCoordinateError } from "./errors.ts";

/**
 * Maximum length of an entity or scope, in UTF-8 bytes.
 *
 * @example
 * ```ts
 * import { Coordinate, COORDINATE_BYTES_MAX, InvalidCoordinateError } from "@seed/batpak";
 * new Coordinate("é".repeat(COORDINATE_BYTES_MAX / 2), "s"); // 2 bytes each: exactly the limit
 * try {
 *   new Coordinate("x".repeat(COORDINATE_BYTES_MAX + 1), "s");
 * } catch (e) {
 *   console.log(e instanceof InvalidCoordinateError); // true
 * }
 * ```
 */
export const COORDINATE_BYTES_MAX = 1024;

const encoder = new TextEncoder();
// C0 controls, DEL and C1 controls; NUL included.
// deno-lint-ignore no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Check one part of a coordinate and return it, or throw
 * {@linkcode InvalidCoordinateError} saying what was wrong.
 */
export function validateCoordinatePart(part: "entity" | "scope", value: unknown): string {
  if (typeof value !== "string") {
    throw new InvalidCoordinateError(`${part} must be a string, found ${typeof value}`);
  }
  if (value.length === 0) throw new InvalidCoordinateError(`${part} must not be empty`);
  // UTF-8 is at most 3 bytes per UTF-16 unit: skip the encode for short strings.
  if (value.length * 3 > COORDINATE_BYTES_MAX) {
    const bytes = encoder.encode(value).length;
    if (bytes > COORDINATE_BYTES_MAX) {
      throw new InvalidCoordinateError(
        `${part} is ${bytes} UTF-8 bytes; the maximum is ${COORDINATE_BYTES_MAX}`,
      );
    }
  }
  // Stored as UTF-8: a lone surrogate would be read back as U+FFFD, so "a\ud800" and
  // "a\udc00" would become one entity after a reopen, and the rebuild fail on its sequences.
  if (!value.isWellFormed()) {
    throw new InvalidCoordinateError(`${part} contains a lone UTF-16 surrogate`);
  }
  const bad = CONTROL_CHARS.exec(value);
  if (bad) {
    const code = bad[0].charCodeAt(0).toString(16).padStart(4, "0");
    throw new InvalidCoordinateError(
      `${part} contains control character U+${code} at index ${bad.index}`,
    );
  }
  return value;
}

/**
 * Where an event belongs: the entity whose stream it extends, and the scope
 * (a tenant, aggregate type or ownership domain) it is filed under.
 *
 * @example
 * ```ts
 * import { Coordinate } from "@seed/batpak";
 * const coord = new Coordinate("order:42", "shop");
 * console.log(coord.entity, coord.scope); // order:42 shop
 * ```
 */
export class Coordinate {
  /** The entity: the stream this event extends. */
  readonly entity: string;
  /** The scope: the domain the entity lives in (fences guard a scope). */
  readonly scope: string;
  /** Brand: only a constructed (validated) Coordinate has it, never a Proxy or a look-alike. */
  readonly #checked = true;

  /**
   * Build a coordinate. Both parts must be non-empty, at most
   * {@linkcode COORDINATE_BYTES_MAX} UTF-8 bytes, with no control characters;
   * otherwise {@linkcode InvalidCoordinateError} is thrown. The coordinate is
   * frozen.
   */
  constructor(entity: string, scope: string) {
    this.entity = validateCoordinatePart("entity", entity);
    this.scope = validateCoordinatePart("scope", scope);
    Object.freeze(this);
  }

  /**
   * True when `value` is a Coordinate built by the constructor (so its parts
   * were validated and cannot have changed): a Proxy or an object with
   * Coordinate's prototype is not.
   */
  static is(value: unknown): value is Coordinate {
    return typeof value === "object" && value !== null && #checked in value;
  }

  /** `entity@scope`, for messages. */
  toString(): string {
    return `${this.entity}@${this.scope}`;
  }
}
