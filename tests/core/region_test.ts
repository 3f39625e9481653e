/**
 * `Region` builders reject wrong types and out-of-range kinds with
 * `InvalidArgumentError`.
 */

import assert from "node:assert/strict";
import { InvalidArgumentError, Region } from "../../mod.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

Deno.test("Region builders reject wrong types and out-of-range kinds with InvalidArgumentError", () => {
  const cases: (() => unknown)[] = [
    () => Region.entity(42 as Any),
    () => Region.entity(null as Any),
    () => Region.scope("" as Any),
    () => Region.scope(1 as Any),
    () => Region.all().withKinds(-1 as Any),
    () => Region.all().withKinds(0x10000 as Any),
    () => Region.all().withKinds(1.5 as Any),
    () => Region.all().withKinds("1" as Any),
    () => Region.all().withCategory(16),
    () => Region.all().withCategory(-1),
    () => Region.all().withCategory(NaN),
    () => Region.all().withCategory("1" as Any),
  ];
  for (const f of cases) assert.throws(f, InvalidArgumentError, f.toString());
});
