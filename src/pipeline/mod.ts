/**
 * Gated writes: {@linkcode Pipeline} evaluates a {@linkcode GateSet} before
 * each append and records every denial as a system event for audit.
 *
 * @example
 * ```ts
 * import { Coordinate, Denial, EventKind, gate, GateSet, Pipeline, Store } from "@seed/batpak";
 * import assert from "node:assert/strict";
 *
 * const store = Store.open(Deno.makeTempDirSync());
 * const gates = new GateSet<{ open: boolean }>().push(
 *   gate("market_open", (c) => (c.open ? undefined : new Denial("market_open", "closed"))),
 * );
 * const pipeline = new Pipeline(store, gates);
 * const order = new Coordinate("order:1", "market");
 * assert.ok(!pipeline.append({ open: false }, order, EventKind.custom(1, 1), { qty: 1 }).ok);
 * assert.ok(pipeline.append({ open: true }, order, EventKind.custom(1, 1), { qty: 1 }).ok);
 * assert.equal(store.stream("order:1").length, 1);
 * store.close();
 * ```
 *
 * @module
 */

export { Pipeline, type PipelineResult } from "./pipeline.ts";
