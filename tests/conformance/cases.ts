/**
 * The conformance suite of the `EventStore` contract (`../shared/API.md`,
 * "One contract on every backend"): one list of cases, written against the
 * interface only, that every backend must pass — the embedded store on disk
 * and in memory, PostgreSQL, a browser worker. Runner-agnostic and
 * web-standard (no `node:` or `Deno` imports): a runner registers each case
 * with its own test function, giving it an `open` that returns the store
 * under test (empty at the case's first call, the same data at later calls)
 * and a {@linkcode ConformanceContext} whose clock that store reads.
 *
 * ```ts ignore
 * for (const c of CONFORMANCE_CASES) {
 *   Deno.test(c.name, async () => {
 *     const ctx = newContext({ gaplessGlobalSequence: true, concurrentHandles: false });
 *     const dir = Deno.makeTempDirSync();
 *     await c.run(() => Promise.resolve(Store.open({ dataDir: dir, clock: ctx.clock.now })), ctx);
 *   });
 * }
 * ```
 *
 * @module
 */

import { badInputCases } from "./cases_bad_input.ts";
import { ownershipCases } from "./cases_ownership.ts";
import { readCases } from "./cases_read.ts";
import { writeCases } from "./cases_write.ts";
import {
  type BackendFeatures,
  type ConformanceCase,
  type ConformanceContext,
  ManualClock,
} from "./_support.ts";

export { AssertionError } from "./assert.ts";
export { type BackendFeatures, type ConformanceCase, type ConformanceContext, ManualClock };

/** Every case, in a stable order: writes, reads, ownership, bad input. */
export const CONFORMANCE_CASES: readonly ConformanceCase[] = [
  ...writeCases,
  ...readCases,
  ...ownershipCases,
  ...badInputCases,
];

/** A fresh context (its own clock) for one case. */
export function newContext(features: BackendFeatures): ConformanceContext {
  return { clock: new ManualClock(), features };
}
