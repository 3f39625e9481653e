/**
 * Gates: named, synchronous checks that stand between a proposal and the action
 * it asks for. This module knows nothing about the store.
 *
 * - {@linkcode Gate} / {@linkcode gate}: one check, returning `undefined` or a {@linkcode Denial}.
 * - {@linkcode GateSet}: runs gates in push order; `evaluate` stops at the first
 *   denial and issues a {@linkcode Receipt}, `evaluateAll` collects every denial.
 * - {@linkcode Proposal}: the payload that rides through the gates.
 *
 * A gate that throws or returns garbage becomes a `"GATE_DEFECT"` denial, never a crash.
 *
 * @example
 * ```ts
 * import { Denial, gate, GateSet, Proposal } from "@seed/batpak";
 * import assert from "node:assert/strict";
 *
 * const gates = new GateSet<{ coldStartMs: number }>().push(
 *   gate("cold_start", (c) =>
 *     c.coldStartMs <= 2000
 *       ? undefined
 *       : new Denial("cold_start", "Slow open. Investigate: src/log/recovery.ts")
 *         .withContext("cold_start_ms", String(c.coldStartMs))),
 * );
 *
 * const verdict = gates.evaluate({ coldStartMs: 40 }, new Proposal(40));
 * assert.ok(verdict.ok);
 * assert.deepEqual(verdict.receipt.intoParts(), [40, ["cold_start"]]);
 * ```
 *
 * @module
 */

export { Denial } from "./denial.ts";
export { type Gate, gate, GateSet, type Verdict } from "./gate.ts";
export { Proposal, Receipt } from "./proposal.ts";
