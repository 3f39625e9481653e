/**
 * {@linkcode Proposal} (what is asked for) and {@linkcode Receipt} (proof that
 * the gates let it through).
 *
 * @module
 */

/**
 * A payload waiting to pass a {@linkcode GateSet}. Gates judge the context, not
 * the payload; the payload rides along and comes back inside the receipt.
 *
 * @typeParam T The payload type.
 *
 * @example
 * ```ts
 * import { Proposal } from "@seed/batpak";
 * import assert from "node:assert/strict";
 *
 * const proposal = new Proposal({ amount: 5 });
 * assert.deepEqual(proposal.payload, { amount: 5 });
 * ```
 */
export class Proposal<T> {
  /** The value the caller wants to act on once the gates agree. */
  readonly payload: T;

  /**
   * Wrap a payload.
   *
   * @param payload The value to carry through the gates.
   *
   * @example
   * ```ts
   * import { Proposal } from "@seed/batpak";
   * import assert from "node:assert/strict";
   *
   * assert.equal(new Proposal(42).payload, 42);
   * ```
   */
  constructor(payload: T) {
    this.payload = payload;
  }
}

/**
 * Proof that a proposal passed every gate of a {@linkcode GateSet}: the payload,
 * and the names of the gates it passed, in the order they ran.
 *
 * Receipts are produced by {@linkcode GateSet.prototype.evaluate}. Code that
 * receives a receipt may rely on it only when it came from there; one built by
 * hand proves nothing.
 *
 * @typeParam T The payload type.
 *
 * @example Getting a receipt from a GateSet
 * ```ts
 * import { Denial, gate, GateSet, Proposal } from "@seed/batpak";
 * import assert from "node:assert/strict";
 *
 * const gates = new GateSet<{ balance: number }>().push(
 *   gate("non_negative", (ctx) =>
 *     ctx.balance >= 0 ? undefined : new Denial("non_negative", "overdrawn")),
 * );
 *
 * const verdict = gates.evaluate({ balance: 10 }, new Proposal("withdraw 5"));
 * assert.ok(verdict.ok);
 * const [payload, passed] = verdict.receipt.intoParts();
 * assert.equal(payload, "withdraw 5");
 * assert.deepEqual(passed, ["non_negative"]);
 * ```
 */
export class Receipt<T> {
  /** The payload of the proposal that passed. */
  readonly payload: T;
  /** Names of the gates passed, in push order. Frozen. */
  readonly gatesPassed: readonly string[];

  /**
   * Not for casual use: receipts are issued by {@linkcode GateSet.prototype.evaluate}.
   * Constructing one by hand skips every gate.
   *
   * @param payload The payload that passed.
   * @param gatesPassed Names of the gates passed, in order; copied.
   *
   * @example What GateSet does internally
   * ```ts
   * import { Receipt } from "@seed/batpak";
   * import assert from "node:assert/strict";
   *
   * const receipt = new Receipt("payload", ["a", "b"]);
   * assert.deepEqual(receipt.gatesPassed, ["a", "b"]);
   * ```
   */
  constructor(payload: T, gatesPassed: readonly string[]) {
    this.payload = payload;
    this.gatesPassed = Object.freeze([...gatesPassed]);
  }

  /**
   * Split into the payload and a fresh, mutable copy of the gate names.
   *
   * @returns `[payload, gateNames]`.
   *
   * @example
   * ```ts
   * import { GateSet, Proposal } from "@seed/batpak";
   * import assert from "node:assert/strict";
   *
   * const verdict = new GateSet<void>().evaluate(undefined, new Proposal(7));
   * assert.ok(verdict.ok);
   * assert.deepEqual(verdict.receipt.intoParts(), [7, []]);
   * ```
   */
  intoParts(): [T, string[]] {
    return [this.payload, [...this.gatesPassed]];
  }
}
