/**
 * {@linkcode Gate}, {@linkcode GateSet} and the {@linkcode gate} helper.
 *
 * A gate is a named, synchronous check over a context. A GateSet runs gates in
 * push order and fails closed: a gate that throws, or returns something that is
 * neither `undefined` nor a {@linkcode Denial}, is reported as a denial with
 * code `"GATE_DEFECT"` instead of crashing the caller.
 *
 * @module
 */

import { Denial } from "./denial.ts";
import { type Proposal, Receipt } from "./proposal.ts";

/** Code of the denial reported for a gate that threw or returned a non-Denial. */
const GATE_DEFECT = "GATE_DEFECT";

/** Fallback when even `Object.prototype.toString` fails on a value (a hostile Proxy). */
const UNPRINTABLE = "<unprintable value>";

/**
 * A named check over a context of type `Ctx`. Return `undefined` to pass, or a
 * {@linkcode Denial} to refuse. Gates must be synchronous and should not throw;
 * a GateSet turns a throw into a `"GATE_DEFECT"` denial.
 *
 * @typeParam Ctx What the gate inspects.
 *
 * @example A gate as a class
 * ```ts
 * import { Denial, type Gate, GateSet } from "@seed/batpak";
 * import assert from "node:assert/strict";
 *
 * class MaxLatencyGate implements Gate<{ latencyMs: number }> {
 *   readonly name = "max_latency";
 *   constructor(private readonly maxMs: number) {}
 *   evaluate(ctx: { latencyMs: number }): Denial | undefined {
 *     if (ctx.latencyMs <= this.maxMs) return undefined;
 *     return new Denial(this.name, "Too slow. Investigate: src/index/index.ts")
 *       .withContext("latency_ms", String(ctx.latencyMs));
 *   }
 * }
 *
 * const gates = new GateSet<{ latencyMs: number }>().push(new MaxLatencyGate(50));
 * assert.deepEqual(gates.evaluateAll({ latencyMs: 10 }), []);
 * assert.equal(gates.evaluateAll({ latencyMs: 90 })[0].context.latency_ms, "90");
 * ```
 */
export interface Gate<Ctx> {
  /** Stable name; it appears in receipts and denials. */
  readonly name: string;
  /** Optional one-line explanation of what the gate guards. */
  readonly description?: string;
  /** Return `undefined` to pass or a {@linkcode Denial} to refuse. */
  evaluate(ctx: Ctx): Denial | undefined;
}

/**
 * Outcome of {@linkcode GateSet.prototype.evaluate}: a receipt when every gate
 * passed, otherwise the first denial.
 *
 * @typeParam T The proposal's payload type.
 *
 * @example
 * ```ts
 * import { GateSet, Proposal, type Verdict } from "@seed/batpak";
 * import assert from "node:assert/strict";
 *
 * const verdict: Verdict<string> = new GateSet<void>().evaluate(undefined, new Proposal("x"));
 * if (verdict.ok) {
 *   assert.equal(verdict.receipt.payload, "x");
 * } else {
 *   assert.fail(String(verdict.denial));
 * }
 * ```
 */
export type Verdict<T> =
  | { readonly ok: true; readonly receipt: Receipt<T> }
  | { readonly ok: false; readonly denial: Denial };

/**
 * Build a {@linkcode Gate} from a function.
 *
 * @typeParam Ctx What the gate inspects.
 * @param name The gate's name.
 * @param evaluate Returns `undefined` to pass or a {@linkcode Denial} to refuse.
 * @param description Optional one-line explanation.
 * @returns A frozen gate object.
 *
 * @example
 * ```ts
 * import { Denial, gate, GateSet, Proposal } from "@seed/batpak";
 * import assert from "node:assert/strict";
 *
 * const positive = gate<number>(
 *   "positive",
 *   (n) => (n > 0 ? undefined : new Denial("positive", `expected > 0, found ${n}`)),
 *   "rejects zero and negatives",
 * );
 *
 * const gates = new GateSet<number>().push(positive);
 * assert.ok(gates.evaluate(3, new Proposal("ok")).ok);
 * assert.equal(gates.evaluateAll(-1)[0].message, "expected > 0, found -1");
 * ```
 */
export function gate<Ctx>(
  name: string,
  evaluate: (ctx: Ctx) => Denial | undefined,
  description?: string,
): Gate<Ctx> {
  checkName(name, "gate()");
  if (typeof evaluate !== "function") {
    throw new TypeError(
      `gate("${name}"): expected evaluate to be a function, found ${describe(evaluate)}`,
    );
  }
  const built: Gate<Ctx> = description === undefined
    ? { name, evaluate }
    : { name, description, evaluate };
  return Object.freeze(built);
}

/** A pushed gate and the name it had when pushed, so a renaming getter cannot rewrite history. */
interface Entry<Ctx> {
  readonly gate: Gate<Ctx>;
  readonly name: string;
}

/**
 * An ordered list of gates.
 *
 * {@linkcode GateSet.prototype.evaluate} stops at the first denial and otherwise
 * issues a {@linkcode Receipt}; {@linkcode GateSet.prototype.evaluateAll} runs
 * every gate and collects every denial. Both run gates in push order and never
 * throw because of a gate: a gate that throws, or returns anything other than
 * `undefined` or a Denial, yields a denial with code `"GATE_DEFECT"`, the gate's
 * name, and the offending value under context key `"thrown"` or `"returned"`.
 *
 * @typeParam Ctx What the gates inspect.
 *
 * @example Stop at the first denial, or collect them all
 * ```ts
 * import { Denial, gate, GateSet, Proposal } from "@seed/batpak";
 * import assert from "node:assert/strict";
 *
 * type Ctx = { eventsPerSec: number; queryUs: number };
 * const gates = new GateSet<Ctx>()
 *   .push(gate("write_throughput", (c) =>
 *     c.eventsPerSec >= 1000
 *       ? undefined
 *       : new Denial("write_throughput", "Slow writes. Investigate: src/log/writer.ts")))
 *   .push(gate("query_latency", (c) =>
 *     c.queryUs <= 500
 *       ? undefined
 *       : new Denial("query_latency", "Slow queries. Investigate: src/index/index.ts")));
 *
 * const good = gates.evaluate({ eventsPerSec: 5000, queryUs: 20 }, new Proposal("run"));
 * assert.ok(good.ok);
 * assert.deepEqual(good.receipt.gatesPassed, ["write_throughput", "query_latency"]);
 *
 * const bad = { eventsPerSec: 1, queryUs: 9999 };
 * const first = gates.evaluate(bad, new Proposal("run"));
 * assert.ok(!first.ok);
 * assert.equal(first.denial.gate, "write_throughput");
 * assert.deepEqual(gates.evaluateAll(bad).map((d) => d.gate), ["write_throughput", "query_latency"]);
 * ```
 *
 * @example A throwing gate is a denial, not a crash
 * ```ts
 * import { gate, GateSet } from "@seed/batpak";
 * import assert from "node:assert/strict";
 *
 * const gates = new GateSet<void>().push(gate("flaky", () => {
 *   throw new Error("boom");
 * }));
 * const [denial] = gates.evaluateAll(undefined);
 * assert.equal(denial.code, "GATE_DEFECT");
 * assert.equal(denial.gate, "flaky");
 * assert.equal(denial.context.thrown, "Error: boom");
 * ```
 */
export class GateSet<Ctx> {
  #entries: Entry<Ctx>[] = [];

  /**
   * Append a gate; it runs after every gate pushed before it.
   *
   * @param gate The gate to add. Its name must be a non-empty string.
   * @returns This set, for chaining.
   * @throws {TypeError} When `gate` has no non-empty string `name` or no `evaluate` function.
   *
   * @example
   * ```ts
   * import { gate, GateSet } from "@seed/batpak";
   * import assert from "node:assert/strict";
   *
   * const gates = new GateSet<void>().push(gate("a", () => undefined)).push(gate("b", () => undefined));
   * assert.equal(gates.size, 2);
   * ```
   */
  push(gate: Gate<Ctx>): this {
    if (typeof gate !== "object" || gate === null) {
      throw new TypeError(`GateSet.push: expected a Gate object, found ${describe(gate)}`);
    }
    const name = gate.name;
    checkName(name, "GateSet.push");
    if (typeof gate.evaluate !== "function") {
      throw new TypeError(
        `GateSet.push: expected gate "${name}" to have an evaluate() method, found ${
          describe(gate.evaluate)
        }`,
      );
    }
    this.#entries.push({ gate, name });
    return this;
  }

  /**
   * Run the gates in push order, stopping at the first denial.
   *
   * @typeParam T The proposal's payload type.
   * @param ctx What the gates inspect.
   * @param proposal The payload to carry into the receipt.
   * @returns `{ ok: true, receipt }` listing every gate passed in push order,
   * or `{ ok: false, denial }` with the first denial. An empty set passes with
   * no gate names.
   *
   * @example
   * ```ts
   * import { Denial, gate, GateSet, Proposal } from "@seed/batpak";
   * import assert from "node:assert/strict";
   *
   * const gates = new GateSet<number>()
   *   .push(gate("even", (n) => (n % 2 === 0 ? undefined : new Denial("even", "odd"))));
   *
   * const verdict = gates.evaluate(3, new Proposal("payload"));
   * assert.ok(!verdict.ok);
   * assert.equal(String(verdict.denial), "[even] odd");
   * ```
   */
  evaluate<T>(ctx: Ctx, proposal: Proposal<T>): Verdict<T> {
    const passed: string[] = [];
    // Snapshot: a gate that pushes onto this set must not change the current run.
    for (const entry of this.#entries.slice()) {
      const denial = runGate(entry, ctx);
      if (denial !== undefined) return { ok: false, denial };
      passed.push(entry.name);
    }
    return { ok: true, receipt: new Receipt(proposal.payload, passed) };
  }

  /**
   * Run every gate in push order and collect every denial.
   *
   * @param ctx What the gates inspect.
   * @returns The denials, in push order; empty when every gate passed.
   *
   * @example
   * ```ts
   * import { Denial, gate, GateSet } from "@seed/batpak";
   * import assert from "node:assert/strict";
   *
   * const no = (name: string) => gate<void>(name, () => new Denial(name, "no"));
   * const gates = new GateSet<void>().push(no("first")).push(no("second"));
   * assert.deepEqual(gates.evaluateAll(undefined).map((d) => d.gate), ["first", "second"]);
   * ```
   */
  evaluateAll(ctx: Ctx): Denial[] {
    const denials: Denial[] = [];
    for (const entry of this.#entries.slice()) {
      const denial = runGate(entry, ctx);
      if (denial !== undefined) denials.push(denial);
    }
    return denials;
  }

  /**
   * Number of gates pushed.
   *
   * @example
   * ```ts
   * import { GateSet } from "@seed/batpak";
   * import assert from "node:assert/strict";
   *
   * assert.equal(new GateSet<void>().size, 0);
   * ```
   */
  get size(): number {
    return this.#entries.length;
  }

  /**
   * Names of the gates, in push order.
   *
   * @returns A fresh array; changing it does not affect the set.
   *
   * @example
   * ```ts
   * import { gate, GateSet } from "@seed/batpak";
   * import assert from "node:assert/strict";
   *
   * const gates = new GateSet<void>().push(gate("a", () => undefined)).push(gate("b", () => undefined));
   * assert.deepEqual(gates.names(), ["a", "b"]);
   * ```
   */
  names(): string[] {
    return this.#entries.map((e) => e.name);
  }
}

/** Run one gate, turning a throw or a malformed return into a GATE_DEFECT denial. */
function runGate<Ctx>({ gate, name }: Entry<Ctx>, ctx: Ctx): Denial | undefined {
  let result: unknown;
  try {
    result = gate.evaluate(ctx);
  } catch (thrown) {
    const shown = render(thrown);
    return new Denial(
      name,
      `Gate "${name}" threw ${shown}; a gate must return a Denial or undefined, never throw. ` +
        `Investigate: the evaluate() of gate "${name}".`,
      GATE_DEFECT,
    ).withContext("thrown", shown);
  }
  if (result === undefined || isDenial(result)) return result as Denial | undefined;

  const shown = describe(result);
  let hint = "";
  if (isThenable(result)) {
    // Already reported as a defect; a later rejection must not crash the process.
    try {
      result.then(undefined, () => {});
    } catch {
      // A thenable whose then() throws has nothing left to reject.
    }
    hint = " Gates are synchronous; evaluate() must not be async.";
  } else if (result === null) {
    hint = " Return undefined to pass.";
  }
  return new Denial(
    name,
    `Gate "${name}" returned ${shown}; expected a Denial or undefined.${hint} ` +
      `Investigate: the evaluate() of gate "${name}".`,
    GATE_DEFECT,
  ).withContext("returned", shown);
}

function checkName(name: unknown, where: string): asserts name is string {
  if (typeof name !== "string" || name.length === 0) {
    throw new TypeError(`${where}: expected a non-empty string gate name, found ${describe(name)}`);
  }
}

// Both predicates may meet a hostile Proxy whose traps throw; they answer false instead.

function isDenial(value: unknown): boolean {
  try {
    return value instanceof Denial;
  } catch {
    return false;
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  try {
    return (typeof value === "object" || typeof value === "function") && value !== null &&
      typeof (value as { then?: unknown }).then === "function";
  } catch {
    return false;
  }
}

/** Render any value without ever throwing: strings as-is, errors as `Name: message`. */
function render(value: unknown): string {
  try {
    if (typeof value === "string") return value;
    if (typeof value === "function") return `function ${value.name || "(anonymous)"}`;
    if (isThenable(value)) return "a Promise";
    if (Array.isArray(value)) return JSON.stringify(value);
    const text = String(value);
    if (text === "[object Object]") return JSON.stringify(value) ?? text;
    return text;
  } catch {
    // Null-prototype objects, cycles, BigInts inside objects, hostile Proxies.
    try {
      return Object.prototype.toString.call(value);
    } catch {
      return UNPRINTABLE;
    }
  }
}

/** Like {@linkcode render}, but says what type was found: `string "x"`, `number 42`, `null`. */
function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === "string") return `string ${JSON.stringify(value)}`;
  if (isThenable(value)) return "a Promise";
  if (typeof value === "function") return render(value);
  return `${typeof value} ${render(value)}`;
}
