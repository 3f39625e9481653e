/**
 * The kinds one store registered (`StoreConfig.kinds`): their names,
 * schema versions and upcasters. Per store, never process-wide: two stores
 * in one process see only their own.
 *
 * @module
 */

import { describeValue } from "./describe.ts";
import { InvalidArgumentError, KindConflictError } from "./errors.ts";
import { TypedKind } from "./kind.ts";

/** `0x1004`. */
export function kindHex(kind: number): string {
  return "0x" + kind.toString(16).padStart(4, "0");
}

/** `"Deposited" v3`, as errors name a definition. */
function label(kind: TypedKind<unknown>): string {
  return `"${kind.name}" v${kind.version}`;
}

/** The kinds a store registered, by number and by name. */
export class KindRegistry {
  readonly #byCode = new Map<number, TypedKind<unknown>>();
  readonly #byName = new Map<string, TypedKind<unknown>>();

  private constructor() {}

  /** An empty registry. */
  static readonly EMPTY: KindRegistry = new KindRegistry();

  /**
   * Validate `StoreConfig.kinds` (an array of {@linkcode TypedKind}):
   * `InvalidArgumentError` for anything else, `KindConflictError` for two
   * definitions of one number (or of one name) that disagree. The same
   * definition twice is fine.
   */
  static from(kinds: unknown): KindRegistry {
    if (kinds === undefined) return KindRegistry.EMPTY;
    if (!Array.isArray(kinds)) {
      throw new InvalidArgumentError(
        `config.kinds must be an array of kinds from EventKind.define, found ${
          describeValue(kinds)
        }`,
      );
    }
    const r = new KindRegistry();
    for (let i = 0; i < kinds.length; i++) {
      const k: unknown = kinds[i];
      if (!(k instanceof TypedKind)) {
        throw new InvalidArgumentError(
          `config.kinds[${i}] must be a kind from EventKind.define, found ${describeValue(k)}`,
        );
      }
      const same = r.#byCode.get(k.code);
      if (same !== undefined && (same.name !== k.name || same.version !== k.version)) {
        throw new KindConflictError(
          k.code,
          label(same),
          label(k),
          `config.kinds defines kind ${kindHex(k.code)} twice: as ${label(same)} and as ${
            label(k)
          }`,
        );
      }
      const named = r.#byName.get(k.name);
      if (named !== undefined && named.code !== k.code) {
        throw new KindConflictError(
          k.code,
          `${kindHex(named.code)}`,
          `${kindHex(k.code)}`,
          `config.kinds names two kinds "${k.name}": ${kindHex(named.code)} and ${kindHex(k.code)}`,
        );
      }
      if (same === undefined) {
        r.#byCode.set(k.code, k);
        r.#byName.set(k.name, k);
      }
    }
    return r;
  }

  /** Registered kinds. */
  get size(): number {
    return this.#byCode.size;
  }

  /** The registered definition of kind number `code`, if any. */
  get(code: number): TypedKind<unknown> | undefined {
    return this.#byCode.get(code);
  }

  /** Every registered definition. */
  definitions(): TypedKind<unknown>[] {
    return [...this.#byCode.values()];
  }
}
