/**
 * `EventKind.custom` throws `RangeError` (the documented exception to typed
 * `StoreError`s) outside 0..0xF / 0..0xFFF.
 */

import assert from "node:assert/strict";
import { EventKind } from "../../mod.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

Deno.test("EventKind.custom throws RangeError outside 0..0xF / 0..0xFFF", () => {
  for (
    const [c, t] of [
      [16, 0],
      [-1, 0],
      [0, 0x1000],
      [1, -1],
      [1.5, 0],
      [1, 0.5],
      [NaN, 1],
      ["1", 1],
      [1, null],
    ]
  ) {
    assert.throws(() => EventKind.custom(c as Any, t as Any), RangeError, `${c}, ${t}`);
  }
  assert.equal(EventKind.custom(0xf, 0xfff), 0xffff);
});
