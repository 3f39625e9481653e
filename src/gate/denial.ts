/**
 * {@linkcode Denial}: why a gate said no, and where to look.
 *
 * @module
 */

/** The code a {@linkcode Denial} carries when its constructor is given none. */
const DEFAULT_CODE = "DENIED";

type Entry = readonly [key: string, value: string];

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * A gate's refusal: which gate, a message a person can act on, a machine-readable
 * code, and string context pairs.
 *
 * A Denial is immutable: {@linkcode Denial.prototype.withContext} returns a new
 * Denial and leaves the receiver untouched, so a denial can be shared or reused
 * as a template without one caller's context leaking into another's.
 *
 * Good messages name the file to investigate, e.g.
 * `"Investigate: src/log/writer.ts"`.
 *
 * @example Building a denial with context
 * ```ts
 * import { Denial } from "@seed/batpak";
 * import assert from "node:assert/strict";
 *
 * const denial = new Denial("query_latency", "Query took 80ms. Investigate: src/index/index.ts")
 *   .withContext("query_ms", "80")
 *   .withContext("max_ms", "50");
 *
 * assert.equal(denial.code, "DENIED");
 * assert.deepEqual(Object.keys(denial.context), ["query_ms", "max_ms"]);
 * assert.equal(
 *   denial.toString(),
 *   "[query_latency] Query took 80ms. Investigate: src/index/index.ts (query_ms=80, max_ms=50)",
 * );
 * ```
 */
export class Denial {
  /** Name of the gate that denied. */
  readonly gate: string;
  /** What went wrong, for a person: ideally naming the file to investigate. */
  readonly message: string;
  /** Machine-readable reason; `"DENIED"` unless given, `"GATE_DEFECT"` for a broken gate. */
  readonly code: string;
  /**
   * Context pairs, in the order they were added. The object is frozen.
   *
   * One JavaScript caveat: an object lists integer-like keys (`"0"`, `"42"`)
   * before all others, whatever the insertion order. {@linkcode Denial.prototype.toString}
   * keeps the true insertion order regardless.
   */
  readonly context: Readonly<Record<string, string>>;
  /** The true insertion order, which `context` cannot keep for integer-like keys. */
  #entries: readonly Entry[];

  /**
   * Create a denial with no context.
   *
   * @param gate Name of the gate that denied.
   * @param message What went wrong and where to look.
   * @param code Machine-readable reason; defaults to `"DENIED"`.
   *
   * @example Default and explicit codes
   * ```ts
   * import { Denial } from "@seed/batpak";
   * import assert from "node:assert/strict";
   *
   * assert.equal(new Denial("quota", "over quota").code, "DENIED");
   * assert.equal(new Denial("quota", "over quota", "QUOTA").code, "QUOTA");
   * ```
   */
  constructor(gate: string, message: string, code: string = DEFAULT_CODE) {
    this.gate = gate;
    this.message = message;
    this.code = code;
    this.#entries = [];
    this.context = Object.freeze({});
  }

  /**
   * Return a new Denial with `key` set to `value` in its context; this Denial is
   * not changed. Setting a key that is already present replaces its value and
   * keeps its original position.
   *
   * @param key Context key.
   * @param value Context value.
   * @returns A new Denial with the extra context.
   *
   * @example Chaining, and the receiver staying unchanged
   * ```ts
   * import { Denial } from "@seed/batpak";
   * import assert from "node:assert/strict";
   *
   * const base = new Denial("write_throughput", "too slow");
   * const detailed = base.withContext("events_per_sec", "12").withContext("min", "1000");
   *
   * assert.deepEqual(base.context, {});
   * assert.deepEqual(detailed.context, { events_per_sec: "12", min: "1000" });
   * ```
   */
  withContext(key: string, value: string): Denial {
    const entry: Entry = [String(key), String(value)];
    const at = this.#entries.findIndex(([k]) => k === entry[0]);
    const entries = at === -1
      ? [...this.#entries, entry]
      : this.#entries.map((e, i) => (i === at ? entry : e));

    const next = new Denial(this.gate, this.message, this.code);
    next.#entries = entries;
    // fromEntries defines own properties, so even "__proto__" is stored as a plain key.
    (next as Mutable<Denial>).context = Object.freeze(Object.fromEntries(entries));
    return next;
  }

  /**
   * Render as `[gate] message (k=v, ...)`; the parenthesised part is omitted
   * when there is no context.
   *
   * @returns The one-line rendering.
   *
   * @example
   * ```ts
   * import { Denial } from "@seed/batpak";
   * import assert from "node:assert/strict";
   *
   * assert.equal(String(new Denial("g", "no")), "[g] no");
   * assert.equal(String(new Denial("g", "no").withContext("a", "1")), "[g] no (a=1)");
   * ```
   */
  toString(): string {
    const head = `[${this.gate}] ${this.message}`;
    if (this.#entries.length === 0) return head;
    return `${head} (${this.#entries.map(([k, v]) => `${k}=${v}`).join(", ")})`;
  }
}
